import getPort from 'get-port';
import type { Check, CheckContext, ExerciseDefinition, Verdict } from './checks/define.ts';
import { CRASH_SIGNS } from './checks/codes.ts';
import { ResponseLog } from './checks/responses.ts';
import { ruleRef } from './checks/rules.ts';
import { hintFor } from './hints/hints.ts';
import { isProbeError, ProbeError } from './probes/errors.ts';
import { RawConnection } from './probes/raw/connection.ts';
import { buildRequest } from './probes/raw/request.ts';
import { isListening } from './probes/proc/listen-table.ts';
import { ServerInspector } from './probes/proc/inspect.ts';
import { signalProcess } from './probes/proc/processes.ts';
import type { FixtureService } from './services/service.ts';
import { startUnitServices } from './services/unit-services.ts';
import type { CheckResult, Evidence, ExerciseResult, NotRunReason, RuleRef, ServerReport } from './report/model.ts';
import { rngFor } from './rng.ts';
import { describeExit, RunningServer, SERVER_TAG, StartError, type StartOptions } from './server/server.ts';
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
  /** Stop at the first check that does not pass; the rest are "not run". */
  bail?: boolean;
}

/** Starts on a port another program took before the server could listen, before giving up. */
const PORT_TRIES = 3;

/** A server that failed to start this many times in a row is not started again for this unit. */
const MAX_FAILED_STARTS_IN_A_ROW = 2;

/** Starts the unit's server, runs its checks one by one, stops it. Never throws for a student fault. */
export async function gradeUnit(unit: Unit, definition: ExerciseDefinition, opts: RunnerOptions): Promise<ExerciseResult> {
  const t0 = performance.now();
  const { services, env } = await startUnitServices(unit.exercise, definition, opts.seed, unit.track);
  let port = await getPort({ host: '127.0.0.1' });
  const report: ServerReport = { command: '', starts: 0, leftBehind: [], startFailures: [] };
  let server: RunningServer | undefined;
  let startError: StartError | undefined;
  let failedInARow = 0;
  // Every server this unit started, so none outlives it, even one a timed-out check was restarting.
  const started = new Set<RunningServer>();
  const rules = new Map(definition.rules.map((r) => [r.id, ruleRef(r)]));
  const rule = (id: string): RuleRef => {
    const r = rules.get(id);
    if (!r) throw new Error(`exercise ${definition.id} has no rule "${id}"`);
    return r;
  };
  const responses = new ResponseLog(definition.responseRules ?? []);

  const start = async (forCheck: string, signal?: AbortSignal, envChanges: Record<string, string> = {}) => {
    report.starts++;
    try {
      server = await startOnOwnPort({ dir: unit.dir, track: unit.track, env: { ...env, ...envChanges }, readyTimeoutMs: opts.readyTimeoutMs, signal });
      started.add(server);
      report.command = server.command;
      report.startMs ??= server.startMs;
      startError = undefined;
      failedInARow = 0;
    } catch (e) {
      if (!(e instanceof StartError)) throw e;
      server = undefined;
      startError = e;
      failedInARow++;
      const hint = hintFor(e.code);
      report.startFailures.push({ check: forCheck, code: e.code, message: e.message, ...(e.output ? { output: e.output } : {}), ...(hint ? { hint } : {}) });
    }
  };
  // Another program that takes the port between two starts is not the student's fault: the server
  // is started again on another port, a few times at most.
  const startOnOwnPort = async (o: Omit<StartOptions, 'port'>): Promise<RunningServer> => {
    for (let tries = 1; ; tries++) {
      try {
        return await RunningServer.start({ ...o, port });
      } catch (e) {
        if (!(e instanceof StartError) || e.code !== 'port-taken' || tries >= PORT_TRIES) throw e;
        port = await getPort({ host: '127.0.0.1' });
      }
    }
  };
  const stop = async (s = server) => {
    if (!s) return;
    if (s === server) server = undefined;
    started.delete(s);
    const { leftBehind } = await s.stop();
    report.leftBehind.push(...leftBehind);
    report.outputTail = s.outputTail() || undefined;
  };

  const checks: CheckResult[] = [];
  let stopReason: NotRunReason | undefined;
  try {
    for (const check of definition.checks) {
      const c0 = performance.now();
      const base = { id: check.id, title: check.title, points: check.points };
      if (check.platforms && !check.platforms.includes(process.platform)) {
        checks.push({ ...base, score: 0, status: 'skipped', durationMs: 0, evidence: { message: `skipped on ${process.platform}: this check reads the kernel's view, which only ${check.platforms.join('/')} shows` } });
        continue;
      }
      if (!stopReason && Date.now() > opts.deadline) stopReason = 'run-time-limit';
      if (stopReason) {
        checks.push(notRun(base, stopReason, stopReason === 'bail' ? 'not run: --bail stopped at the first failed check' : 'not run: the grading run reached its time limit'));
        continue;
      }
      const previous = checks.at(-1);
      // A server the previous check brought down can, on a loaded machine, still be exiting: it no
      // longer listens, but its exit has not been seen. It is given time to finish, so this check
      // starts on a fresh server instead of meeting the last one's crash.
      if (server?.alive && previous && sawCrashSigns(previous) && !(await isListening(server.port))) await within(server.exited, DYING_MS);
      // The first start, or a fresh one after a crash: one crash costs one check. A server that
      // never started, or failed twice in a row, is not tried again.
      if (!server || !server.alive) {
        const everStarted = report.starts > report.startFailures.length;
        const retry = everStarted ? failedInARow < MAX_FAILED_STARTS_IN_A_ROW : report.starts === 0;
        if (server) await stop();
        if (retry) await start(check.id);
      }
      if (!server) {
        const e = startError!;
        checks.push({ ...notRun(base, 'server-did-not-start', `not run: ${e.message}`), code: e.code });
        continue;
      }
      // A check that restarted the server with other variables, or signalled it, leaves it to be
      // stopped: the next check gets a server started as usual.
      let fresh = false;
      const restartFor = (signal: AbortSignal, envChanges?: Record<string, string>) => {
        if (envChanges && Object.keys(envChanges).length) fresh = true;
        return restart(check.id, signal, envChanges);
      };
      const attempt = async (running: RunningServer, t: number) => {
        for (const s of services) await s.reset();
        return finish(base, t, await runCheck(check, running, { env, opts, responses, rule, framing: definition.framing, services, track: unit.track, restart: restartFor, signalled: () => (fresh = true), getServer: () => server }));
      };
      const first = server;
      let result = await attempt(first, c0);
      // A crash the previous check set off (it saw a reset or a refusal) can, on a loaded machine,
      // finish only once this check has begun: the exit is that check's, and this one is graded
      // again on a fresh start. A server this check itself brings down goes down again.
      if (result.code === 'server-exited' && previous && sawCrashSigns(previous) && first.exitedAt !== undefined && first.exitedAt - c0 < LATE_CRASH_MS && !fresh) {
        await stop();
        await start(check.id);
        if (server) result = await attempt(server, performance.now());
      }
      checks.push(result);
      if (fresh) await stop();
      if (opts.bail && result.status !== 'pass' && result.status !== 'skipped') stopReason = 'bail';
    }
  } finally {
    await stop();
    for (const s of started) await stop(s);
    for (const s of services) await s.stop();
  }

  async function restart(checkId: string, signal: AbortSignal, envChanges?: Record<string, string>) {
    await stop();
    await start(checkId, signal, envChanges);
    if (!server) throw new ProbeErrorFromStart(startError!);
  }

  // Checks the run's time limit cut off cost nothing; every other check counts.
  const counted = checks.filter((c) => c.status !== 'skipped' && c.status !== 'error' && c.notRun !== 'run-time-limit');
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

function notRun(base: Pick<CheckResult, 'id' | 'title' | 'points'>, reason: NotRunReason, message: string): CheckResult {
  return { ...base, score: 0, status: 'not-run', notRun: reason, durationMs: 0, evidence: { message } };
}

interface RunCheckEnv {
  env: Record<string, string>;
  opts: RunnerOptions;
  responses: ResponseLog;
  framing?: 'content-length';
  services: FixtureService[];
  track: Unit['track'];
  rule(id: string): RuleRef;
  restart(signal: AbortSignal, envChanges?: Record<string, string>): Promise<void>;
  /** The check signalled the server itself: its exit is expected, and the runner stops it after the check. */
  signalled(): void;
  getServer(): RunningServer | undefined;
}

async function runCheck(check: Check, server: RunningServer, r: RunCheckEnv): Promise<Verdict | GraderFault> {
  const timeoutMs = check.timeoutMs ?? r.opts.checkTimeoutMs;
  const controller = new AbortController();
  const connections: RawConnection[] = [];
  const cleanups: (() => unknown)[] = [];
  let signalledServer = false;
  const current = () => r.getServer() ?? server;
  const proc = new ServerInspector(() => ({ pid: current().pid, port: current().port, tag: { name: SERVER_TAG, value: current().tag } }));
  const ctx: CheckContext = {
    checkId: check.id,
    track: r.track,
    // A restart may have had to move to another port (see startOnOwnPort).
    get port() {
      return current().port;
    },
    get server() {
      return r.getServer() ?? server;
    },
    rng: rngFor(r.opts.seed, check.id),
    signal: controller.signal,
    get env() {
      return { ...r.env, PORT: String(current().port) };
    },
    ioTimeoutMs: r.opts.ioTimeoutMs,
    get host() {
      return `127.0.0.1:${current().port}`;
    },
    request: (spec) => buildRequest(current().port, spec),
    rule: r.rule,
    responses: r.responses,
    connect: async (o = {}) => {
      const conn = await RawConnection.open({ idleTimeoutMs: r.opts.ioTimeoutMs, ...(r.framing ? { requireFraming: r.framing } : {}), ...o, port: current().port, signal: controller.signal });
      connections.push(conn);
      return conn;
    },
    restartServer: (envChanges) => r.restart(controller.signal, envChanges),
    service: <T extends FixtureService>(name: string) => {
      const s = r.services.find((x) => x.name === name);
      if (!s) throw new Error(`check ${check.id} asked for a fixture service "${name}" its exercise does not start`);
      return s as T;
    },
    defer: (cleanup) => void cleanups.push(cleanup),
    proc,
    sendSignal: async (target, signal) => {
      const s = current();
      if (target === 'server') {
        signalledServer = true;
        r.signalled();
        signalProcess(s.pid, signal);
        return;
      }
      const ours = await proc.processes();
      if (!ours.some((p) => p.pid === target)) throw new Error(`check ${check.id} tried to signal pid ${target}, which is not one of the server's processes`);
      signalProcess(target, signal);
    },
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
      const evidence = { message: e.message, ...(e.exchange ? { exchanges: [e.exchange] } : {}), ...(e.output ? { output: e.output } : {}) };
      verdict = { status: 'fail', code: e.code, evidence };
    } else if (controller.signal.aborted) verdict = await timedOut;
    else verdict = { fault: e };
  } finally {
    clearTimeout(timer);
    for (const c of connections) c.close();
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch {
        // a cleanup that fails must not hide the verdict
      }
    }
  }
  const now = r.getServer();
  if (signalledServer) return verdict;
  if (now && !('fault' in verdict) && verdict.status !== 'pass' && (await isDying(now, verdict))) {
    verdict = {
      ...verdict,
      code: 'server-exited',
      evidence: { ...verdict.evidence, message: `${verdict.evidence.message} (the server process exited: ${describeExit(now.exit!)})`, output: now.outputTail() },
    };
  } else if (now && !now.alive && !('fault' in verdict)) {
    verdict = { status: 'fail', code: 'server-exited', evidence: { message: `the server process exited during this check (${describeExit(now.exit!)})`, output: now.outputTail() } };
  }
  return verdict;
}

/** How long a server that has stopped listening after a crash is given to exit. */
const DYING_MS = 5000;

/** How soon into a check a server's exit counts as the previous check's crash, still under way. */
const LATE_CRASH_MS = 3000;

/** The check failed in a way a crashing server fails it: a refusal, a reset, an exit. */
function sawCrashSigns(c: CheckResult): boolean {
  const codes = [c.code, ...(c.cases ?? []).map((x) => x.code)];
  return c.status !== 'pass' && codes.some((code) => code === 'server-exited' || (code !== undefined && CRASH_SIGNS.has(code as never)));
}

/**
 * After a failure that looks like a crash (refused, reset, closed without an answer), tells a dying
 * server from a live one: a server the kernel still lists as listening, three times over a fifth of
 * a second, is alive; one that stopped listening is given time to exit.
 */
async function isDying(server: RunningServer, verdict: Verdict): Promise<boolean> {
  if (!server.alive) return true;
  const codes = [verdict.code, ...(verdict.cases ?? []).map((c) => c.code)];
  if (!codes.some((c) => c && CRASH_SIGNS.has(c as never))) return false;
  // A process that is exiting still lists its socket until it is gone, and on a loaded machine its
  // exit (a traceback to print, buffers to flush) takes a while: three looks over a fifth of a second.
  for (let seen = 0; seen < 3; ) {
    if (!server.alive) return true;
    if (await isListening(server.port)) seen++;
    else return (await within(server.exited, 2000)) !== undefined;
    await within(server.exited, 100);
  }
  return !server.alive;
}

/** A restart that fails is the student's fault: it becomes the check's failure, with the output. */
class ProbeErrorFromStart extends ProbeError {
  constructor(e: StartError) {
    super(e.code, `after a restart on the same port: ${e.message}`, undefined, e.output || undefined);
  }
}

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
  return {
    ...base,
    score,
    status,
    durationMs,
    ...(v.code && status !== 'pass' ? { code: v.code } : {}),
    ...(v.cases ? { cases: v.cases } : {}),
    evidence: v.evidence,
    ...(hint ? { hint } : {}),
  };
}

const round = (n: number) => Math.round(n * 100) / 100;
