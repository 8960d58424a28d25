import type { ExerciseDefinition } from './define.ts';
import sockets from './01-sockets.ts';

// Every exercise's checks, by exercise id. A test ties each list to the exercise's exercise.json.
export const EXERCISE_CHECKS: Record<string, ExerciseDefinition> = {
  [sockets.id]: sockets,
};
