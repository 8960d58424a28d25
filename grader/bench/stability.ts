// npm run bench:stability [-- ROUNDS]: grades every broken fixture and every reference solution
// ROUNDS times with fresh random seeds, and counts verdicts that differ from what is expected
// (a fixture failing exactly its fault.json checks; a solution at full marks). Fixtures marked
// "pending" (faults the grader does not catch yet) are left out.
import path from 'node:path';
import { REPO_ROOT } from '../src/course/course.ts';
import { grade } from '../src/pipeline.ts';
import { listFaults, withFault } from '../test/support/broken.ts';
import { failedIds } from '../test/support/grade.ts';

const rounds = Number(process.argv[2] ?? 3);
const all = listFaults();
const faults = all.filter((f) => !f.pending);
if (faults.length < all.length) console.log(`${all.length - faults.length} pending fixtures left out`);

let runs = 0;
const surprises: string[] = [];
const t0 = performance.now();
for (let round = 1; round <= rounds; round++) {
  const solutions = await grade({ target: path.join(REPO_ROOT, 'solutions'), track: 'all' });
  runs += solutions.exercises.length;
  for (const ex of solutions.exercises) {
    if (ex.score !== ex.maxScore) surprises.push(`round ${round} seed ${solutions.seed}: solutions ${ex.id}[${ex.track}] ${ex.score}/${ex.maxScore}`);
  }
  await Promise.all(
    [0, 1].map(async (worker) => {
      for (const f of faults.filter((_, i) => i % 2 === worker)) {
        const r = await withFault(f.name, ({ dir }) => grade({ target: dir, exercises: [f.exercise], track: f.track }));
        runs++;
        const failed = failedIds(r.exercises[0]!);
        if (failed.join() !== f.fails.join()) surprises.push(`round ${round} seed ${r.seed}: ${f.name} failed [${failed}] instead of [${f.fails}]`);
      }
    }),
  );
  console.log(`round ${round}: ${runs} graded units so far, ${surprises.length} surprises`);
}
console.log(`${runs} graded units in ${((performance.now() - t0) / 1000).toFixed(0)} s; verdicts that differed from the expected: ${surprises.length}`);
for (const s of surprises) console.log(`  ${s}`);
process.exitCode = surprises.length ? 1 : 0;
