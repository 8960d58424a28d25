// npm run bench:stability [-- ROUNDS] [--exercises 05,06] [--jobs N] [--no-hog]: grades every broken fixture
// and every reference solution ROUNDS times with fresh random seeds, and counts verdicts that differ
// from what is expected (a fixture failing exactly its fault.json checks; a solution at full marks).
// Unless --no-hog, it keeps the machine's other cores busy with a CPU hog it starts itself, so the
// verdicts are shown to hold on a loaded machine, the way a shared CI runner is. Fixtures marked
// "pending" (faults the grader does not catch yet) are left out. N fixtures are graded at once
// (default 2): most of a broken fixture's time is spent waiting out a deadline, not computing.
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '../src/course/course.ts';
import { grade } from '../src/pipeline.ts';
import { listFaults, withFault } from '../test/support/broken.ts';
import { failedIds } from '../test/support/grade.ts';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { exercises: { type: 'string' }, jobs: { type: 'string' }, 'no-hog': { type: 'boolean' } } });
const rounds = Number(positionals[0] ?? 3);
const jobs = Number(values.jobs ?? 2);
if (!Number.isInteger(rounds) || rounds < 1 || !Number.isInteger(jobs) || jobs < 1) {
  console.error('usage: npm run bench:stability [-- ROUNDS] [--exercises 05,06] [--jobs N] [--no-hog] (ROUNDS and N: whole numbers from 1)');
  process.exit(2);
}
const only = values.exercises?.split(',').map((s) => s.trim());
const wanted = (id: string) => !only || only.some((o) => id.startsWith(o));
const all = listFaults().filter((f) => wanted(f.exercise));
const faults = all.filter((f) => !f.pending);
if (faults.length < all.length) console.log(`${all.length - faults.length} pending fixtures left out`);

// One busy loop per core but one: what is left is one core for the grader and the servers.
const hogs = values['no-hog'] ? [] : Array.from({ length: Math.max(1, os.availableParallelism() - 1) }, () => spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' }));
const stopHogs = () => hogs.forEach((h) => h.kill('SIGKILL'));
process.once('exit', stopHogs);
process.once('SIGINT', () => {
  console.log(`stopped in round ${round}: ${runs} graded units, ${surprises.length} surprises`);
  process.exit(130);
});
if (hogs.length) console.log(`${hogs.length} CPU hog${hogs.length > 1 ? 's' : ''} running beside the grader`);

let runs = 0;
const surprises: string[] = [];
// Each one is printed as it happens too: a long run can be stopped and still have told what it saw.
const surprise = (line: string) => {
  surprises.push(line);
  console.log(`  surprise: ${line}`);
};
// The slowest graded units, by their longest time in any round: where a round's wall time goes.
const slowest = new Map<string, number>();
const timed = async <T>(unit: string, run: () => Promise<T>): Promise<T> => {
  const start = performance.now();
  try {
    return await run();
  } finally {
    slowest.set(unit, Math.max(slowest.get(unit) ?? 0, performance.now() - start));
  }
};
const t0 = performance.now();
const hog0 = process.cpuUsage();
let round = 1;
for (; round <= rounds; round++) {
  const gradeSolutions = async () => {
    const solutions = await grade({ target: path.join(REPO_ROOT, 'solutions'), track: 'all', ...(only ? { exercises: only } : {}) });
    runs += solutions.exercises.length;
    for (const ex of solutions.exercises) {
      if (ex.score !== ex.maxScore) {
        const lost = ex.checks.filter((c) => c.status !== 'pass' && c.status !== 'skipped').map((c) => `${c.id}: ${c.evidence.message}`);
        surprise(`round ${round} seed ${solutions.seed}: solutions ${ex.id}[${ex.track}] ${ex.score}/${ex.maxScore} (${lost.join('; ')})`);
      }
    }
  };
  const gradeFault = (f: (typeof faults)[number]) => async () => {
    const r = await withFault(f.name, ({ dir }) => grade({ target: dir, exercises: [f.exercise], track: f.track }));
    runs++;
    const failed = failedIds(r.exercises[0]!);
    if (failed.join() !== f.fails.join()) {
      // What the unexpected verdicts said, so a surprise can be understood without running it again.
      const said = r.exercises[0]!.checks
        .filter((c) => failed.includes(c.id) !== f.fails.includes(c.id))
        .map((c) => `${c.id} ${c.status}: ${[c.evidence.message, ...(c.cases ?? []).filter((x) => x.status === 'fail').map((x) => `${x.name}: ${x.message ?? ''}`)].join(' | ').slice(0, 400)}`);
      surprise(`round ${round} seed ${r.seed}: ${f.name} failed [${failed}] instead of [${f.fails}] (${said.join('; ')})`);
    }
  };
  // Longest first, by the last round's times, so the round does not end waiting on one slow unit.
  const queue = [{ name: 'solutions', run: gradeSolutions }, ...faults.map((f) => ({ name: f.name, run: gradeFault(f) }))].sort((a, b) => (slowest.get(b.name) ?? 0) - (slowest.get(a.name) ?? 0));
  await Promise.all(
    Array.from({ length: jobs }, async () => {
      for (let unit = queue.shift(); unit; unit = queue.shift()) await timed(unit.name, unit.run);
    }),
  );
  console.log(`round ${round}: ${runs} graded units so far, ${surprises.length} surprises (${((performance.now() - t0) / 1000).toFixed(0)} s)`);
}
stopHogs();
const grader = process.cpuUsage(hog0);
console.log(`${runs} graded units in ${((performance.now() - t0) / 1000).toFixed(0)} s (the grader's own CPU: ${((grader.user + grader.system) / 1e6).toFixed(0)} s); verdicts that differed from the expected: ${surprises.length}`);
for (const s of surprises) console.log(`  ${s}`);
const top = [...slowest].sort((a, b) => b[1] - a[1]).slice(0, 12);
console.log(`slowest units (longest round): ${top.map(([unit, ms]) => `${unit} ${(ms / 1000).toFixed(1)} s`).join(', ')}`);
process.exitCode = surprises.length ? 1 : 0;
