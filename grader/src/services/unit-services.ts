import type { ExerciseDefinition } from '../checks/define.ts';
import type { Exercise } from '../course/course.ts';
import type { Track } from '../report/model.ts';
import { rngFor } from '../rng.ts';
import type { FixtureService } from './service.ts';

export interface UnitServices {
  services: FixtureService[];
  /** What the server is started with besides PORT: the exercise's variables, its own, and where its services are. */
  env: Record<string, string>;
}

/**
 * Starts an exercise's fixture services and works out the environment its server is started with,
 * the same way wherever a server of the course is started (the runner, the benches, compare).
 * The caller stops the services.
 */
export async function startUnitServices(exercise: Exercise, definition: ExerciseDefinition | undefined, seed: string, track: Track): Promise<UnitServices> {
  // The services come first: the server is told where they are when it starts.
  const services = (await definition?.services?.({ rng: rngFor(seed, `${exercise.id}/services`) })) ?? [];
  const own = definition?.env?.(rngFor(seed, `${exercise.id}/env`), track) ?? {};
  return { services, env: { ...exercise.env, ...own, ...Object.assign({}, ...services.map((s) => s.env())) } };
}
