import { defineExercise } from './define.ts';
import rules from './rules/05-fork.ts';
import { upstreamServices } from './process-models.ts';

// exercises/05-fork: checks to come.
export default defineExercise({
  id: '05-fork',
  rules,
  services: upstreamServices,
  checks: [],
});
