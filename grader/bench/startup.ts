// npm run bench: where grading time goes. Prints the bare start time of every reference server
// (spawn until the port listens, median of a few runs), the wall time of a full
// `--solutions --track all` run at several --jobs settings, and the ratio between the two.
import getPort from 'get-port';
import { execa } from 'execa';
import path from 'node:path';
import { loadCourse, REPO_ROOT } from '../src/course/course.ts';
import { grade } from '../src/pipeline.ts';
import { isListening } from '../src/probes/proc/listen-table.ts';
import { RunningServer } from '../src/server/server.ts';
import type { Track } from '../src/report/model.ts';

const REPEAT = 3;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function bareStart(dir: string, track: Track): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const server = await RunningServer.start({ dir, track, port: await getPort({ host: '127.0.0.1' }), env: { BACKLOG: '5' }, readyTimeoutMs: 15_000 });
    times.push(server.startMs);
    await server.stop();
  }
  return median(times);
}

/** The tsx CLI puts a wrapper process in front of the server; measured for comparison. */
async function tsxCliStart(dir: string): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < REPEAT; i++) {
    const port = await getPort({ host: '127.0.0.1' });
    const t0 = performance.now();
    const child = execa(path.join(REPO_ROOT, 'node_modules/.bin/tsx'), ['server.ts'], { cwd: dir, env: { PORT: String(port), BACKLOG: '5' }, detached: true, reject: false });
    while (!(await isListening(port))) await new Promise((r) => setTimeout(r, 5));
    times.push(performance.now() - t0);
    process.kill(-child.pid!, 'SIGKILL');
    await child;
  }
  return Math.round(median(times));
}

const course = await loadCourse();
const solutions = path.join(REPO_ROOT, 'solutions');
let sum = 0;
console.log('bare start (spawn → listening), median of %d:', REPEAT);
for (const ex of course) {
  for (const track of ex.tracks) {
    const ms = await bareStart(path.join(solutions, ex.id), track);
    sum += ms;
    console.log(`  ${ex.id.padEnd(12)} ${track}  ${String(ms).padStart(5)} ms`);
  }
}
console.log(`  sum of bare starts: ${sum} ms`);
console.log(`  for comparison, the tsx CLI wrapper (01-sockets ts): ${await tsxCliStart(path.join(solutions, '01-sockets'))} ms`);

console.log('\nfull run: --solutions --track all');
for (const jobs of [1, 2, 4]) {
  const t0 = performance.now();
  const result = await grade({ target: solutions, track: 'all', jobs });
  const wall = Math.round(performance.now() - t0);
  const checks = result.exercises.reduce((n, e) => n + e.checks.length, 0);
  console.log(`  --jobs ${jobs}: ${String(wall).padStart(6)} ms wall, ${result.score}/${result.maxScore} points, ${checks} checks, wall / sum of starts = ${(wall / sum).toFixed(1)}`);
  for (const e of result.exercises) {
    const slowest = [...e.checks].sort((a, b) => b.durationMs - a.durationMs)[0]!;
    if (jobs === 1) console.log(`      ${e.id} [${e.track}] ${e.durationMs} ms (start ${e.server?.startMs} ms; slowest check ${slowest.id} ${slowest.durationMs} ms)`);
  }
}
