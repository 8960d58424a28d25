// npm run broken -- NAME [GRADE OPTION...]: one broken fixture's report, by hand. The fixture is
// materialized (the reference solution with its fault.patch applied, in a temporary folder),
// graded with `npm run grade -- --target DIR EXERCISE --track TRACK [GRADE OPTION...]`, and
// removed again. Without NAME, lists the fixtures.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { REPO_ROOT } from '../src/course/course.ts';
import { listFaults, materializeFault, type Materialized } from '../test/support/broken.ts';

const [name, ...gradeArgs] = process.argv.slice(2);

if (!name || name.startsWith('-')) {
  const out = name && name !== '--help' && name !== '-h' ? console.error : console.log;
  out('usage: npm run broken -- NAME [grade options, e.g. --verbose, --json, --seed SEED]\n\nfixtures:');
  for (const f of listFaults()) out(`  ${f.name.padEnd(34)} ${f.exercise} [${f.track}]  ${f.pending ? 'pending, should fail' : 'fails'} ${f.fails.join(', ')}`);
  process.exit(out === console.log ? 0 : 2);
}

let fixture: Materialized;
try {
  fixture = materializeFault(name);
} catch (e) {
  console.error(`serverlab: ${(e as Error).message}`);
  process.exit(2);
}

const { fault } = fixture;
// On stderr, so that --json keeps stdout to the one result document.
console.error(`${fault.name}: ${fault.description}`);
console.error(`${fault.pending ? 'should fail (pending: the grader does not catch it yet)' : 'expected to fail'}: ${fault.fails.join(', ')}\n`);

const child = spawn(
  process.execPath,
  ['--import', 'tsx', path.join(REPO_ROOT, 'grader/src/cli.ts'), '--target', fixture.dir, fault.exercise, '--track', fault.track, ...gradeArgs],
  { cwd: REPO_ROOT, stdio: 'inherit' },
);
// Ctrl-C reaches the grader too (same process group): wait for it to finish, then clean up.
process.on('SIGINT', () => {});
process.on('SIGTERM', () => child.kill('SIGTERM'));
child.on('exit', (code) => {
  fixture.cleanup();
  process.exit(code ?? 1);
});
