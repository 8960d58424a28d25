import { defineExercise } from './define.ts';
import rules from './rules/06-prefork.ts';
import { upstreamServices } from './process-models.ts';

// exercises/06-prefork: checks to come.
export default defineExercise({
  id: '06-prefork',
  rules,
  services: upstreamServices,
  checks: [],
});
