import type { CaseResult, Evidence, Exchange, RuleRef } from '../report/model.ts';
import type { RunningServer } from '../server/server.ts';
import type { Rng } from '../rng.ts';
import type { RawConnection, ConnectOptions } from '../probes/raw/connection.ts';
import type { RequestSpec } from '../probes/raw/request.ts';
import { isProbeError } from '../probes/errors.ts';
import type { FailureCode } from './codes.ts';
import type { Rule } from './rules.ts';
import type { ResponseLog, ResponseRule } from './responses.ts';
import type { ProcessTree, Track } from '../report/model.ts';
import type { FixtureService, ServiceSetup } from '../services/service.ts';
import type { ServerInspector } from '../probes/proc/inspect.ts';

export interface CheckContext {
  /** The check being run. */
  checkId: string;
  /** The language track of the server being graded. */
  track: Track;
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
  /** Opens a recorded connection to the server; closed by the runner after the check at the latest. */
  connect(opts?: Partial<Omit<ConnectOptions, 'port' | 'signal'>>): Promise<RawConnection>;
  /** Request bytes addressed to this server (Host: 127.0.0.1:PORT unless the spec says otherwise). */
  request(spec: RequestSpec): Buffer;
  /** `127.0.0.1:PORT`, for hand-written request bytes. */
  host: string;
  /** The exercise's rule with this id, as cases cite it; an unknown id is a grader bug. */
  rule(id: string): RuleRef;
  /** Every response any check of this unit has read so far, judged by the exercise's response rules. */
  responses: ResponseLog;
  /**
   * Stops the server and starts it again on the same port; abandoned if the check runs out of time.
   * `env` changes variables for this start only: the next check gets a server started as usual.
   */
  restartServer(env?: Record<string, string>): Promise<void>;
  /** The exercise's fixture service of that name, reset before this check; an unknown name is a grader bug. */
  service<T extends FixtureService>(name: string): T;
  /** Runs after the check, last registered first, even when the check ran out of time. */
  defer(cleanup: () => unknown): void;
  /** Looks at the server's processes, fds, threads and port from outside. */
  proc: ServerInspector;
  /**
   * Sends a signal to the server (`'server'`) or to one of its processes, by pid. A pid that is not
   * the server's is refused. After a signal to the server itself, its exit is not held against the
   * check, and the next check gets a fresh start.
   */
  sendSignal(target: 'server' | number, signal: NodeJS.Signals): Promise<void>;
}

export interface Verdict {
  status: 'pass' | 'fail' | 'partial' | 'skipped';
  /** Fraction of the points earned, for `partial`. */
  fraction?: number;
  code?: FailureCode;
  cases?: CaseResult[];
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
  env?(rng: Rng, track: Track): Record<string, string>;
  /** The README's rules, each tied to the check that probes it. */
  rules: readonly Rule[];
  /** Rules every response must keep, whatever case it answers; checked on every response read. */
  responseRules?: readonly ResponseRule[];
  /** Framing every response must use: a response without Content-Length is then a violation at once. */
  framing?: 'content-length';
  /** The fixture services this exercise's server talks to, started for each graded unit. */
  services?(setup: ServiceSetup): Promise<FixtureService[]>;
  checks: Check[];
}

export const defineCheck = (check: Check): Check => check;
export const defineExercise = (exercise: ExerciseDefinition): ExerciseDefinition => exercise;

type Extra = Omit<Evidence, 'message'> & { code?: FailureCode };

function evidence(message: string, extra: Extra = {}): { code?: FailureCode; evidence: Evidence } {
  const { code, ...rest } = extra;
  return { ...(code ? { code } : {}), evidence: { message, ...rest } };
}

export const pass = (message: string, extra?: Extra): Verdict => ({ status: 'pass', ...evidence(message, extra) });
export const fail = (message: string, extra?: Extra): Verdict => ({ status: 'fail', ...evidence(message, extra) });
export const skip = (message: string): Verdict => ({ status: 'skipped', evidence: { message } });

/** One case of a check, as its code builds it. */
export interface Case {
  name: string;
  ok: boolean;
  /** This case's own failure code: the hint and the grouping in the report follow it. */
  code?: FailureCode;
  rule?: RuleRef;
  /** Why it failed (or what was seen), in one line. */
  message?: string;
  exchange?: Exchange;
  /** The processes the case saw, drawn as a tree in the report. */
  tree?: ProcessTree;
  weight?: number;
}

/**
 * Runs one case. A server that refuses, resets, stays silent or answers malformed bytes fails this
 * case, with its own code and the transcript, instead of ending the whole check.
 */
export async function probeCase(name: string, run: () => Promise<Omit<Case, 'name'>>, meta: { expected?: string; rule?: RuleRef } = {}): Promise<Case> {
  try {
    return { name, ...(meta.rule ? { rule: meta.rule } : {}), ...(await run()) };
  } catch (e) {
    if (!isProbeError(e)) throw e;
    const message = meta.expected ? `${e.message}; expected ${meta.expected}` : e.message;
    const exchange = e.exchange ? { ...e.exchange, ...(meta.expected ? { expected: meta.expected } : {}) } : undefined;
    return { name, ok: false, code: e.code, message, ...(meta.rule ? { rule: meta.rule } : {}), ...(exchange ? { exchange } : {}) };
  }
}

const toResult = (c: Case): CaseResult => ({
  name: c.name,
  status: c.ok ? 'pass' : 'fail',
  ...(c.code && !c.ok ? { code: c.code } : {}),
  ...(c.rule ? { rule: c.rule } : {}),
  ...(c.message ? { message: c.message } : {}),
  ...(c.exchange ? { exchange: c.exchange } : {}),
  ...(c.tree ? { tree: c.tree } : {}),
  ...(c.weight !== undefined ? { weight: c.weight } : {}),
});

/** A check made of independent cases: pass when all pass, partial credit by weight otherwise. */
export function fromCases(cases: Case[]): Verdict {
  const total = cases.reduce((s, p) => s + (p.weight ?? 1), 0);
  const got = cases.filter((p) => p.ok).reduce((s, p) => s + (p.weight ?? 1), 0);
  const failed = cases.filter((p) => !p.ok);
  const results = cases.map(toResult);
  const count = (n: number) => (n === 1 ? '1 case' : `${n} cases`);
  if (!failed.length) return { status: 'pass', cases: results, evidence: { message: cases.length === 1 ? 'its case passed' : `all ${count(cases.length)} passed` } };
  // The check's code is its first failed case's: where that case has none, the cause is not guessed.
  const code = failed[0]!.code;
  const message = failed.length === 1 ? `${failed[0]!.name}: ${failed[0]!.message ?? 'wrong'}` : `${failed.length} of ${count(cases.length)} failed`;
  const base = { ...(code ? { code } : {}), cases: results, evidence: { message } };
  if (got === 0) return { status: 'fail', ...base };
  return { status: 'partial', fraction: got / total, ...base };
}
