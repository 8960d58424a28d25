import type { Evidence, Exchange } from '../report/model.ts';
import type { RunningServer } from '../server/server.ts';
import type { Rng } from '../rng.ts';
import { RawConnection, type ConnectOptions } from '../probes/raw/connection.ts';
import { isProbeError } from '../probes/errors.ts';

export interface CheckContext {
  port: number;
  server: RunningServer;
  /** Seeded per check: the same seed gives the same probes, whatever order checks run in. */
  rng: Rng;
  /** Aborted when the check's time is up; pass it to every wait. */
  signal: AbortSignal;
  /** The environment the server was started with (PORT, and the exercise's own variables). */
  env: Record<string, string>;
  /** How long a read waits for the next byte before calling the server silent. */
  ioTimeoutMs: number;
  /** Opens a recorded connection to the server; closed by the runner after the check. */
  connect(opts?: Partial<Omit<ConnectOptions, 'port' | 'signal'>>): Promise<RawConnection>;
  /** Stops the server and starts it again on the same port; abandoned if the check runs out of time. */
  restartServer(): Promise<void>;
}

export interface Verdict {
  status: 'pass' | 'fail' | 'partial' | 'skipped';
  /** Fraction of the points earned, for `partial`. */
  fraction?: number;
  code?: string;
  evidence: Evidence;
}

export interface Check {
  /** Stable: reports, hints, broken fixtures and exercise.json refer to it. */
  id: string;
  title: string;
  points: number;
  /** Linux-only observations skip elsewhere; never fail a student for their OS. */
  platforms?: NodeJS.Platform[];
  timeoutMs?: number;
  run(ctx: CheckContext): Promise<Verdict>;
}

export interface ExerciseDefinition {
  id: string;
  /** Variables the server is started with, besides PORT; may draw from the seed. */
  env?(rng: Rng): Record<string, string>;
  checks: Check[];
}

export const defineCheck = (check: Check): Check => check;
export const defineExercise = (exercise: ExerciseDefinition): ExerciseDefinition => exercise;

type Extra = Omit<Evidence, 'message'> & { code?: string };

function evidence(message: string, extra: Extra = {}): { code?: string; evidence: Evidence } {
  const { code, ...rest } = extra;
  return { ...(code ? { code } : {}), evidence: { message, ...rest } };
}

export const pass = (message: string, extra?: Extra): Verdict => ({ status: 'pass', ...evidence(message, extra) });
export const fail = (message: string, extra?: Extra): Verdict => ({ status: 'fail', ...evidence(message, extra) });
export const skip = (message: string): Verdict => ({ status: 'skipped', evidence: { message } });

export interface Part {
  name: string;
  ok: boolean;
  /** Why it failed, in one line. */
  message?: string;
  exchange?: Exchange;
  weight?: number;
}

/**
 * Runs one case of a check. A server that refuses, resets, stays silent or answers malformed bytes
 * fails this case, with the transcript, instead of ending the whole check.
 */
export async function probeCase(name: string, run: () => Promise<Omit<Part, 'name'>>, expected?: string): Promise<Part> {
  try {
    return { name, ...(await run()) };
  } catch (e) {
    if (!isProbeError(e)) throw e;
    const message = expected ? `${e.message}; expected ${expected}` : e.message;
    return { name, ok: false, message, ...(e.exchange ? { exchange: { ...e.exchange, ...(expected ? { expected } : {}) } } : {}) };
  }
}

/** A check made of independent cases: pass when all pass, partial credit by weight otherwise. */
export function fromParts(parts: Part[], code?: string): Verdict {
  const total = parts.reduce((s, p) => s + (p.weight ?? 1), 0);
  const got = parts.filter((p) => p.ok).reduce((s, p) => s + (p.weight ?? 1), 0);
  const failed = parts.filter((p) => !p.ok);
  if (!failed.length) return pass(`all ${parts.length} cases passed: ${parts.map((p) => p.name).join('; ')}`);
  const message = failed.map((p) => `${p.name}: ${p.message ?? 'wrong'}`).join('; ');
  const exchanges = failed.flatMap((p) => (p.exchange ? [{ ...p.exchange, label: p.exchange.label ?? p.name }] : []));
  const extra = { ...(code ? { code } : {}), ...(exchanges.length ? { exchanges } : {}) };
  if (got === 0) return fail(message, extra);
  return { status: 'partial', fraction: got / total, ...evidence(`${failed.length} of ${parts.length} cases failed: ${message}`, extra) };
}
