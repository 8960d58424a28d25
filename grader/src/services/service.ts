import type { Rng } from '../rng.ts';

// A fixture service: a helper server an exercise's server talks to (a slow upstream, later a cache
// or backends). The runner starts an exercise's services for each graded unit before the student's
// server, hands their addresses to it through the environment, resets them before every check and
// stops them with the unit. What a service records is what concurrency checks grade from.

export interface FixtureService {
  /** The name checks ask for it by (`ctx.service('upstream')`). */
  readonly name: string;
  /** Variables that tell the student's server where the service is (`UPSTREAM_URL`, ...). */
  env(): Record<string, string>;
  /** Back to its first behaviour with an empty record; whatever it still holds is let go. */
  reset(): void | Promise<void>;
  stop(): Promise<void>;
}

export interface ServiceSetup {
  rng: Rng;
}
