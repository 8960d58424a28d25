import { defineExercise } from './define.ts';
import rules from './rules/07-threads.ts';
import { upstreamServices } from './process-models.ts';

// exercises/07-threads: checks to come.
export default defineExercise({
  id: '07-threads',
  rules,
  services: upstreamServices,
  checks: [],
});
