import { defineExercise } from './define.ts';
import rules from './rules/08-event-loop.ts';
import { upstreamServices } from './process-models.ts';

// exercises/08-event-loop: checks to come.
export default defineExercise({
  id: '08-event-loop',
  rules,
  services: upstreamServices,
  checks: [],
});
