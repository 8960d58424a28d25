// npm run bench: where grading time goes. Prints the bare start time of every reference server
// (spawn until the port listens, median of a few runs) and, for a full `--solutions --track all`
// run at several --jobs settings, its wall time next to its floor.
//
// The FLOOR is what the run would take if the grader cost nothing but what it does on purpose:
// per unit (exercise × track), the starts it made × that server's bare start, plus the waits its
// checks make deliberately. Deliberate waits are measured where they happen, from here, without
// touching the grader:
//
// - split writes: every RawConnection.send with pauseMs or afterFirstPieceMs (for example
//   01-sockets reads-whole-request in 5-byte writes: 500 ms after the first piece, then 3 ms
//   between pieces; 02-http in 3-byte writes: 300 ms, then 2 ms), timed from the first byte to
//   the last;
// - the waits listed in CHECK_WAITS: checks whose whole run is a wait on purpose, and the part of
//   the Date interval the frozen-Date case still has to sleep.
//
// Not in the floor: the probes' own round trips, stopping servers (SIGTERM, then polling until
// they are gone), the grader's CPU time, and compiling TypeScript servers (once per run and
// server file, printed on its own; the full runs here reuse the bundles the bare starts made).
// With --jobs N the floor is that of a perfect packing: the larger of (sum of the units' floors) / N
// and the largest unit's floor. It assumes one core per job: with fewer cores than jobs, starts
// compete for the CPU and wall / floor rises for that reason alone.
import getPort from 'get-port';
import { execa } from 'execa';
import path from 'node:path';
import { loadCourse, REPO_ROOT, type Exercise } from '../src/course/course.ts';
import { EXERCISE_CHECKS } from '../src/checks/index.ts';
import { startUnitServices } from '../src/services/unit-services.ts';
import { FROZEN_DATE_MS } from '../src/checks/every-response.ts';
import { grade } from '../src/pipeline.ts';
import { isListening } from '../src/probes/proc/listen-table.ts';
import { RawConnection, type SendOptions } from '../src/probes/raw/connection.ts';
import { compileServer } from '../src/server/compile.ts';
import { RunningServer, type StartOptions } from '../src/server/server.ts';
import type { Track } from '../src/report/model.ts';

const REPEAT = 5;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Deliberate waits other than split writes, by `exercise/check`: either the whole check is a wait,
 * or the check sleeps a fixed time (mirrored from the check's source: a check that took less than
 * that is reported, since this table is then out of date).
 */
const CHECK_WAITS: Record<string, { ms: 'whole check' | 'rest of the Date interval'; why: string }> = {
  '01-sockets/silent-client': { ms: 'whole check', why: 'a silent client holds a connection until the server gives up on it (its read timeout); then the next client is answered' },
  '02-http/idle-connection': { ms: 'whole check', why: 'an idle or half-sent connection is held while the next client waits for an answer (a one-at-a-time server times the idle one out first)' },
  '02-http/required-headers': { ms: 'rest of the Date interval', why: 'a last GET / at least FROZEN_DATE_MS after the first response must carry a later Date; it sleeps only what the checks before it left of that' },
};

// --- Instrumentation: which unit a port belongs to, and the split writes sent to it.

const unitOfPort = new Map<number, string>();
const splitWriteMs = new Map<string, number>();
const unitKey = (dir: string, track: Track) => `${path.basename(dir)}/${track}`;

const start = RunningServer.start.bind(RunningServer);
RunningServer.start = (opts: StartOptions) => {
  unitOfPort.set(opts.port, unitKey(opts.dir, opts.track));
  return start(opts);
};

/** The port a connection was opened to (RawConnection keeps its ConnectOptions as `opts`). */
function portOf(conn: RawConnection): number {
  const port = (conn as unknown as { opts?: { port?: unknown } }).opts?.port;
  if (typeof port !== 'number') throw new Error('bench: RawConnection no longer keeps its port in `opts`; update portOf() in grader/bench/startup.ts');
  return port;
}

const send = RawConnection.prototype.send;
RawConnection.prototype.send = async function (this: RawConnection, data: string | Buffer, opts: SendOptions = {}) {
  if (!opts.pauseMs && !opts.afterFirstPieceMs) return send.call(this, data, opts);
  const t0 = performance.now();
  try {
    return await send.call(this, data, opts);
  } finally {
    const unit = unitOfPort.get(portOf(this)) ?? 'unknown';
    splitWriteMs.set(unit, (splitWriteMs.get(unit) ?? 0) + performance.now() - t0);
  }
};

// --- Measurements.

/** The server is started as the runner starts it: with its exercise's variables and fixture services. */
async function bareStart(ex: Exercise, dir: string, track: Track): Promise<number> {
  const { services, env } = await startUnitServices(ex, EXERCISE_CHECKS[ex.id], 'bench', track);
  const times: number[] = [];
  try {
    for (let i = 0; i < REPEAT; i++) {
      const server = await RunningServer.start({ dir, track, port: await getPort({ host: '127.0.0.1' }), env: { BACKLOG: '5', ...env }, readyTimeoutMs: 15_000 });
      times.push(server.startMs);
      await server.stop();
    }
  } finally {
    await Promise.all(services.map((s) => s.stop()));
  }
  return median(times);
}

/** Spawn until listening for a command of our own, for comparison with how the grader starts servers. */
async function commandStart(file: string, args: string[], dir: string): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const port = await getPort({ host: '127.0.0.1' });
    const t0 = performance.now();
    const child = execa(file, args, { cwd: dir, env: { PORT: String(port), BACKLOG: '5' }, detached: true, reject: false });
    while (!(await isListening(port))) await new Promise((r) => setTimeout(r, 5));
    times.push(performance.now() - t0);
    process.kill(-child.pid!, 'SIGKILL');
    await child;
  }
  return Math.round(median(times));
}

const course = await loadCourse();
const solutions = path.join(REPO_ROOT, 'solutions');
const bare = new Map<string, number>();

console.log('compile (TypeScript servers, once per run and server file):');
for (const ex of course.filter((e) => e.tracks.includes('ts'))) {
  const t0 = performance.now();
  const compiled = await compileServer(path.join(solutions, ex.id, 'server.ts'));
  const how = compiled.ok ? 'bundled' : `runs under tsx: ${compiled.reason}`;
  console.log(`  ${ex.id.padEnd(12)} ts  ${String(Math.round(performance.now() - t0)).padStart(5)} ms  ${how}`);
}
console.log('  (the first one includes starting the esbuild service)');

console.log('\nbare start (spawn → listening), median of %d:', REPEAT);
for (const ex of course) {
  for (const track of ex.tracks) {
    const ms = await bareStart(ex, path.join(solutions, ex.id), track);
    bare.set(unitKey(ex.id, track), ms);
    console.log(`  ${ex.id.padEnd(12)} ${track}  ${String(ms).padStart(5)} ms`);
  }
}
console.log(`  sum of bare starts: ${[...bare.values()].reduce((a, b) => a + b, 0)} ms`);
const sockets = path.join(solutions, '01-sockets');
const tsx = path.join(REPO_ROOT, 'node_modules/.bin/tsx');
console.log(`  for comparison (01-sockets ts): node --import tsx ${await commandStart(process.execPath, ['--import', 'tsx', 'server.ts'], sockets)} ms, the tsx CLI wrapper ${await commandStart(tsx, ['server.ts'], sockets)} ms`);

console.log('\nfull run: --solutions --track all');
for (const jobs of [1, 2, 4]) {
  splitWriteMs.clear();
  const t0 = performance.now();
  const result = await grade({ target: solutions, track: 'all', jobs });
  const wall = Math.round(performance.now() - t0);
  // A reference solution short of full marks is news: say which check, and what it said.
  for (const e of result.exercises) {
    for (const c of e.checks.filter((c) => c.score < c.points)) {
      const cases = (c.cases ?? []).filter((k) => k.status === 'fail').map((k) => `${k.name}: ${k.message ?? ''}`);
      console.log(`  ! ${e.id}/${e.track} ${c.id} ${c.score}/${c.points}: ${[c.evidence.message, ...cases].join('; ')}`.slice(0, 600));
    }
  }
  const units = result.exercises.map((e) => {
    const key = unitKey(e.id, e.track);
    const starts = e.server?.starts ?? 1;
    const startMs = starts * (bare.get(key) ?? e.server?.startMs ?? 0);
    const split = splitWriteMs.get(key) ?? 0;
    let waits = 0;
    let before = 0;
    for (const c of e.checks) {
      const known = CHECK_WAITS[`${e.id}/${c.id}`];
      if (known) waits += known.ms === 'whole check' ? c.durationMs : Math.min(c.durationMs, Math.max(0, FROZEN_DATE_MS - before));
      before += c.durationMs;
    }
    return { e, key, starts, startMs, split, waits, floor: startMs + split + waits };
  });
  const sum = units.reduce((s, u) => s + u.floor, 0);
  const floor = Math.round(Math.max(sum / jobs, ...units.map((u) => u.floor)));
  const startsMs = units.reduce((s, u) => s + u.startMs, 0);
  const checks = result.exercises.reduce((n, e) => n + e.checks.length, 0);
  console.log(
    `  --jobs ${jobs}: wall ${String(wall).padStart(6)} ms, floor ${String(floor).padStart(6)} ms, wall / floor = ${(wall / floor).toFixed(1)}` +
      `  (floor summed over units: ${Math.round(sum)} ms = starts ${startsMs} ms + deliberate waits ${Math.round(sum - startsMs)} ms; ${result.score}/${result.maxScore} points, ${checks} checks)`,
  );
  if (splitWriteMs.has('unknown')) console.log(`      ${Math.round(splitWriteMs.get('unknown')!)} ms of split writes went to a port no unit had`);
  if (jobs !== 1) continue;
  for (const u of units) {
    const slowest = [...u.e.checks].sort((a, b) => b.durationMs - a.durationMs)[0]!;
    console.log(
      `      ${u.key.padEnd(15)} ${String(u.e.durationMs).padStart(6)} ms, floor ${String(Math.round(u.floor)).padStart(5)} ms` +
        ` (${u.starts} start${u.starts === 1 ? '' : 's'} ${u.startMs} ms, split writes ${Math.round(u.split)} ms, other deliberate waits ${u.waits} ms; slowest check ${slowest.id} ${slowest.durationMs} ms)`,
    );
  }
}

// The untouched stubs: what a student sees first, and what --watch pays on every save.
console.log('\nuntouched stubs (exercises/), every track:');
for (const ex of course) {
  for (const track of ex.tracks) {
    const t0 = performance.now();
    const result = await grade({ target: path.join(REPO_ROOT, 'exercises'), exercises: [ex.id], track, jobs: 1 });
    const e = result.exercises[0]!;
    console.log(`  ${ex.id.padEnd(12)} ${track}  ${String(Math.round(performance.now() - t0)).padStart(6)} ms wall, ${e.durationMs} ms grading, ${e.score}/${e.maxScore}`);
  }
}

// Exit at once: otherwise Node's teardown can spin on a handle the esbuild service leaves behind.
process.exit(0);
