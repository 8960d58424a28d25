import getPort from 'get-port';
import type { Check, CheckContext, ExerciseDefinition, Verdict } from './checks/define.ts';
import { hintFor } from './hints/hints.ts';
import { isProbeError, ProbeError } from './probes/errors.ts';
import { RawConnection } from './probes/raw/connection.ts';
import type { CheckResult, Evidence, ExerciseResult, ServerReport } from './report/model.ts';
import { rngFor } from './rng.ts';
import { describeExit, RunningServer, StartError } from './server/server.ts';
import type { Unit } from './target/target.ts';
import { within } from './time.ts';

export interface RunnerOptions {
  seed: string;
  /** How long a read waits for the next byte before the server counts as silent. */
  ioTimeoutMs: number;
  /** Default time a check may take; a check can ask for more. */
  checkTimeoutMs: number;
  readyTimeoutMs: number;
  /** Wall-clock time after which no more checks start (the whole run's bound). */
  deadline: number;
}

/** Starts the unit's server, runs its checks one by one, stops it. Never throws for a student fault. */
export async function gradeUnit(unit: Unit, definition: ExerciseDefinition, opts: RunnerOptions): Promise<ExerciseResult> {
  const t0 = performance.now();
  const env = { ...unit.exercise.env, ...(definition.env?.(rngFor(opts.seed, `${unit.exercise.id}/env`)) ?? {}) };
  const port = await getPort({ host: '127.0.0.1' });
  const report: ServerReport = { command: '', starts: 0, leftBehind: [] };
  let server: RunningServer | undefined;
  let startError: StartError | undefined;
  // Every server this unit started, so none outlives it, even one a timed-out check was restarting.
  const started = new Set<RunningServer>();

  const start = async (signal?: AbortSignal) => {
    report.starts++;
    try {
      server = await RunningServer.start({ dir: unit.dir, track: unit.track, port, env, readyTimeoutMs: opts.readyTimeoutMs, signal });
      started.add(server);
      report.command = server.command;
      report.startMs ??= server.startMs;
      startError = undefined;
    } catch (e) {
      if (!(e instanceof StartError)) throw e;
      server = undefined;
      startError = e;
    }
  };
  const stop = async (s = server) => {
    if (!s) return;
    if (s === server) server = undefined;
    started.delete(s);
    const { leftBehind } = await s.stop();
    report.leftBehind.push(...leftBehind);
    report.stderrTail = s.outputTail() || undefined;
  };

  const restart = async (signal: AbortSignal) => {
    await stop();
    await start(signal);
    if (!server) throw new ProbeErrorFromStart(startError!);
  };

  const checks: CheckResult[] = [];
  try {
    await start();
    for (const check of definition.checks) {
      const c0 = performance.now();
      const base = { id: check.id, title: check.title, points: check.points };
      if (check.platforms && !check.platforms.includes(process.platform)) {
        checks.push({ ...base, score: 0, status: 'skipped', durationMs: 0, evidence: { message: `skipped on ${process.platform}: this check reads the kernel's view, which only ${check.platforms.join('/')} shows` } });
        continue;
      }
      if (Date.now() > opts.deadline) {
        // Where a run's time ends depends on the machine: such a check costs no points, but the run cannot pass.
        checks.push({ ...base, score: 0, status: 'error', durationMs: 0, code: 'run-time-limit', evidence: { message: 'not run: the grading run reached its time limit' } });
        continue;
      }
      // A server that died during an earlier check is started again, so one crash costs one check.
      if (server && !server.alive) {
        await stop();
        await start();
      }
      if (!server) {
        // The reason is told once, on the exercise; each check just says it could not run.
        const e = startError!;
        const hint = hintFor(e.code);
        report.startFailure ??= { code: e.code, message: e.message, ...(e.output ? { output: e.output } : {}), ...(hint ? { hint } : {}) };
        checks.push(finish(base, c0, { status: 'fail', code: e.code, evidence: { message: `not run: ${e.message}` } }));
        continue;
      }
      checks.push(finish(base, c0, await runCheck(check, server, { env, opts, restart, getServer: () => server })));
    }
  } finally {
    await stop();
    for (const s of started) await stop(s);
  }

  const counted = checks.filter((c) => c.status !== 'skipped' && c.status !== 'error');
  return {
    id: unit.exercise.id,
    title: unit.exercise.title,
    track: unit.track,
    score: round(counted.reduce((s, c) => s + c.score, 0)),
    maxScore: counted.reduce((s, c) => s + c.points, 0),
    durationMs: Math.round(performance.now() - t0),
    server: report,
    checks,
  };
}

interface RunCheckEnv {
  env: Record<string, string>;
  opts: RunnerOptions;
  restart(signal: AbortSignal): Promise<void>;
  getServer(): RunningServer | undefined;
}

async function runCheck(check: Check, server: RunningServer, r: RunCheckEnv): Promise<Verdict | GraderFault> {
  const timeoutMs = check.timeoutMs ?? r.opts.checkTimeoutMs;
  const controller = new AbortController();
  const connections: RawConnection[] = [];
  const ctx: CheckContext = {
    port: server.port,
    get server() {
      return r.getServer() ?? server;
    },
    rng: rngFor(r.opts.seed, check.id),
    signal: controller.signal,
    env: { ...r.env, PORT: String(server.port) },
    ioTimeoutMs: r.opts.ioTimeoutMs,
    connect: async (o = {}) => {
      const conn = await RawConnection.open({ idleTimeoutMs: r.opts.ioTimeoutMs, ...o, port: server.port, signal: controller.signal });
      connections.push(conn);
      return conn;
    },
    restartServer: () => r.restart(controller.signal),
  };
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<Verdict>((resolve) => {
    timer = setTimeout(() => {
      controller.abort(new Error('check timed out'));
      // What the open connections had seen is the evidence of where the server got stuck.
      const exchanges = connections.slice(-3).map((c) => c.transcript());
      resolve({ status: 'fail', code: 'check-timeout', evidence: { message: `the check did not finish within ${timeoutMs / 1000} s`, ...(exchanges.length ? { exchanges } : {}) } });
    }, timeoutMs);
  });
  let verdict: Verdict | GraderFault;
  const running = check.run(ctx);
  try {
    verdict = await Promise.race([running, timedOut]);
    // An abandoned check is given a moment to notice the abort, so nothing it started runs on.
    if (controller.signal.aborted) await within(running.catch(() => undefined), 2000);
  } catch (e) {
    if (isProbeError(e)) {
      const evidence = { message: e.message, ...(e.exchange ? { exchanges: [e.exchange] } : {}), ...(e.output ? { stderr: e.output } : {}) };
      verdict = { status: 'fail', code: e.code, evidence };
    }
    else if (controller.signal.aborted) verdict = await timedOut;
    else verdict = { fault: e };
  } finally {
    clearTimeout(timer);
    for (const c of connections) c.close();
  }
  // Give a crash a moment to be noticed, so it is named as the cause rather than its symptoms. A
  // refused or cut connection is the usual sign of a dying process: wait longer for that one.
  const current = r.getServer();
  if (current && !('fault' in verdict) && verdict.status !== 'pass') {
    await within(current.exited, verdict.code && CRASH_SIGNS.has(verdict.code) ? 1000 : 50);
    if (!current.alive) {
      verdict = {
        ...verdict,
        code: 'server-exited',
        evidence: { ...verdict.evidence, message: `${verdict.evidence.message} (the server process exited: ${describeExit(current.exit!)})`, stderr: current.outputTail() },
      };
    }
  } else if (current && !current.alive && !('fault' in verdict)) {
    verdict = { status: 'fail', code: 'server-exited', evidence: { message: `the server process exited during this check (${describeExit(current.exit!)})`, stderr: current.outputTail() } };
  }
  return verdict;
}

/** A restart that fails is the student's fault: it becomes the check's failure, with the output. */
class ProbeErrorFromStart extends ProbeError {
  constructor(e: StartError) {
    super(e.code, `after a restart on the same port: ${e.message}`, undefined, e.output || undefined);
  }
}

const CRASH_SIGNS = new Set(['connection-refused', 'connection-reset', 'eof-before-response', 'eof-mid-response']);

interface GraderFault {
  fault: unknown;
}

function finish(base: Pick<CheckResult, 'id' | 'title' | 'points'>, c0: number, v: Verdict | GraderFault): CheckResult {
  const durationMs = Math.round(performance.now() - c0);
  if ('fault' in v) {
    const err = v.fault instanceof Error ? v.fault : new Error(String(v.fault));
    const evidence: Evidence = { message: `grader error: ${err.message}`, values: { stack: (err.stack ?? '').split('\n').slice(0, 6).join('\n') } };
    return { ...base, score: 0, status: 'error', durationMs, code: 'grader-error', evidence };
  }
  const score = v.status === 'pass' ? base.points : v.status === 'partial' ? round(base.points * (v.fraction ?? 0)) : 0;
  const status = v.status === 'partial' && score === 0 ? 'fail' : v.status;
  const hint = status === 'pass' ? undefined : hintFor(v.code);
  return { ...base, score, status, durationMs, ...(v.code ? { code: v.code } : {}), evidence: v.evidence, ...(hint ? { hint } : {}) };
}

const round = (n: number) => Math.round(n * 100) / 100;
