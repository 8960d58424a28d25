// npm run mutate -- EXERCISE: mutation testing of the grader. Stryker changes the TypeScript
// reference solution solutions/<exercise>/server.ts one small edit at a time (a mutant) and runs
// the grader on each; a mutant that still gets full marks survived, which means the grader misses
// that fault. Prints the mutation score, the score without the mutants reviewed as equivalent
// (grader/mutation/equivalent.json), and the surviving mutants.
import { Stryker } from '@stryker-mutator/core';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '../src/config-error.ts';
import { loadCourse, REPO_ROOT } from '../src/course/course.ts';
import { SEED } from '../src/rng.ts';
import { selectExercises } from '../src/target/target.ts';
import { graderCommand, reportFiles, strykerOptions } from './config.ts';
import { entryFor, formatSummary, inLines, linesTheStudentWrites, loadEquivalents, summarize, type MutationReport } from './summary.ts';

const USAGE = `usage: npm run mutate -- EXERCISE [options]

  EXERCISE           01, 01-sockets or sockets (one exercise with a TypeScript solution)
  --concurrency N    graders run at the same time (default 2)
  --seed SEED        the same grader seed for every mutant (default: a fresh one each run)
  --from-report      summarize the last report of EXERCISE again, without running Stryker
  -h, --help         this text`;

const EQUIVALENT_FILE = path.join(REPO_ROOT, 'grader/mutation/equivalent.json');

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { concurrency: { type: 'string' }, seed: { type: 'string' }, 'from-report': { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
    });
  } catch (e) {
    throw new UsageError(`${(e as Error).message.split('\n')[0]} (see --help)`);
  }
  const { values: v, positionals } = parsed;
  if (v.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('name exactly one exercise (see --help)');
  const exercise = selectExercises(await loadCourse(), positionals)[0]!.id;
  const solution = `solutions/${exercise}/server.ts`;
  if (!existsSync(path.join(REPO_ROOT, solution))) throw new UsageError(`${solution} does not exist: only TypeScript solutions are mutated`);
  const concurrency = Number(v.concurrency ?? 2);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 16) throw new UsageError(`--concurrency must be a whole number from 1 to 16, not "${v.concurrency}"`);
  if (v.seed !== undefined && !SEED.test(v.seed)) throw new UsageError(`--seed must be letters and digits, not "${v.seed}"`);

  process.chdir(REPO_ROOT);
  const files = reportFiles(exercise);
  const equivalents = await loadEquivalents(EQUIVALENT_FILE, exercise);
  let wallMs: number | undefined;
  if (!v['from-report']) {
    process.stderr.write(`mutating ${solution} (configuration: ${files.config}); the test is: ${graderCommand({ exercise, seed: v.seed })}\n`);
    await mkdir(path.dirname(files.json), { recursive: true });
    await writeFile(files.config, `${JSON.stringify(strykerOptions({ exercise, concurrency, seed: v.seed }), null, 2)}\n`);
    const t0 = performance.now();
    await new Stryker({ configFile: files.config }).runMutationTest();
    wallMs = performance.now() - t0;
  } else if (!existsSync(files.json)) {
    throw new UsageError(`${files.json} does not exist yet: run npm run mutate -- ${exercise} first`);
  }

  const report = JSON.parse(await readFile(files.json, 'utf8')) as MutationReport;
  const summary = summarize(report, equivalents);
  const stubFile = path.join(REPO_ROOT, `exercises/${exercise}/server.ts`);
  const stub = existsSync(stubFile) ? await readFile(stubFile, 'utf8') : undefined;
  const source = Object.values(report.files)[0]?.source ?? '';
  const student = summarize(report, equivalents, inLines(linesTheStudentWrites(stub, source)));
  await writeFile(files.survivors, `${JSON.stringify(summary.gaps.map(entryFor), null, 2)}\n`);
  process.stdout.write(formatSummary(exercise, summary, wallMs, student));
  process.stdout.write(`\nreports: ${files.html}, ${files.json}; survivors as equivalent entries to review: ${files.survivors}\n`);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e) => {
    const usage = e instanceof UsageError || e instanceof ConfigError;
    process.stderr.write(`mutate: ${usage ? e.message : ((e as Error).stack ?? e)}\n`);
    process.exit(usage ? 2 : 1);
  },
);
