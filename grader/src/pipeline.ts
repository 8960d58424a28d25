import os from 'node:os';
import path from 'node:path';
import { readFileSync } from 'node:fs';
import { loadCourse, REPO_ROOT } from './course/course.ts';
import { EXERCISE_CHECKS } from './checks/index.ts';
import { ConfigError } from './config-error.ts';
import { gradeUnit } from './runner.ts';
import { hintFor } from './hints/hints.ts';
import { newSeed } from './rng.ts';
import { resolveUnits, selectExercises, type TrackChoice } from './target/target.ts';
import type { ExerciseResult, RunResult } from './report/model.ts';
import { assertValidResult } from './report/validate.ts';
import { killLiveGroupsOnExit } from './server/live-groups.ts';

export interface GradeOptions {
  exercises?: string[];
  /** Folder laid out like exercises/; defaults to the course's own exercises/. */
  target?: string;
  track: TrackChoice;
  seed?: string;
  /** Servers graded at once. */
  jobs?: number;
  /** Percentage of the maximum needed to pass. */
  passPercent?: number;
  ioTimeoutMs?: number;
  checkTimeoutMs?: number;
  readyTimeoutMs?: number;
  /** Bound on the whole run; checks not started by then are "not run", cost nothing, and block passing. */
  runTimeoutMs?: number;
  /** Stop at the first check that does not pass. */
  bail?: boolean;
  courseDir?: string;
  /** Called as each server finishes, for progress on stderr. */
  onExercise?(result: ExerciseResult): void;
}

const VERSION: string = JSON.parse(readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')).version;

// course → target → (server → probes → checks, per unit) → result model
export async function grade(opts: GradeOptions): Promise<RunResult> {
  const t0 = performance.now();
  const startedAt = new Date().toISOString();
  killLiveGroupsOnExit();
  const course = await loadCourse(opts.courseDir);
  for (const ex of course) tieChecks(ex.id, ex.checks);
  const selected = selectExercises(course, opts.exercises ?? []);
  const targetDir = path.resolve(opts.target ?? path.join(REPO_ROOT, 'exercises'));
  const units = resolveUnits({ selected, named: (opts.exercises ?? []).length > 0, targetDir, track: opts.track });
  const seed = opts.seed ?? newSeed();
  const runnerOpts = {
    seed,
    ioTimeoutMs: opts.ioTimeoutMs ?? 4000,
    checkTimeoutMs: opts.checkTimeoutMs ?? 20_000,
    readyTimeoutMs: opts.readyTimeoutMs ?? 15_000,
    deadline: Date.now() + (opts.runTimeoutMs ?? 15 * 60_000),
    bail: opts.bail ?? false,
  };
  let bailed = false;

  const results: ExerciseResult[] = new Array(units.length);
  let next = 0;
  const worker = async () => {
    while (next < units.length) {
      const i = next++;
      const unit = units[i]!;
      // After a failure under --bail, units not yet started are left out of the result.
      if (bailed) continue;
      results[i] = await gradeUnit(unit, EXERCISE_CHECKS[unit.exercise.id]!, runnerOpts);
      if (runnerOpts.bail && results[i]!.checks.some((c) => c.notRun === 'bail' || !['pass', 'skipped'].includes(c.status))) bailed = true;
      opts.onExercise?.(results[i]!);
    }
  };
  const jobs = Math.max(1, Math.min(opts.jobs ?? defaultJobs(), units.length));
  await Promise.all(Array.from({ length: jobs }, worker));

  const graded = results.filter(Boolean);
  const score = round(graded.reduce((s, r) => s + r.score, 0));
  const maxScore = graded.reduce((s, r) => s + r.maxScore, 0);
  const passPercent = opts.passPercent ?? 100;
  const passMark = round((maxScore * passPercent) / 100);
  const all = graded.flatMap((r) => r.checks);
  const graderErrors = all.filter((c) => c.status === 'error').length;
  const unfinished = all.filter((c) => c.notRun === 'run-time-limit').length;
  const result: RunResult = {
    tool: { name: 'serverlab', version: VERSION },
    target: path.relative(process.cwd(), targetDir) || '.',
    seed,
    startedAt,
    durationMs: Math.round(performance.now() - t0),
    platform: `${process.platform}-${process.arch}`,
    score,
    maxScore,
    passPercent,
    passMark,
    passed: score >= passMark && graderErrors === 0 && unfinished === 0 && !bailed,
    graderErrors,
    unfinished,
    bailed,
    hints: hintsFor(graded),
    exercises: graded,
  };
  assertValidResult(result);
  return result;
}

/** Every failure code in the result, from checks, cases and failed starts, with its hint. */
function hintsFor(results: ExerciseResult[]): Record<string, string> {
  const codes = results.flatMap((r) => [
    ...(r.server?.startFailures ?? []).map((f) => f.code),
    ...r.checks.flatMap((c) => [c.code, ...(c.cases ?? []).map((k) => k.code)]),
  ]);
  const hints: Record<string, string> = {};
  for (const code of codes) {
    const hint = code && hintFor(code);
    if (code && hint) hints[code] = hint;
  }
  return hints;
}

/** The checks an exercise.json lists must be exactly the checks the grader has for it. */
function tieChecks(id: string, listed: string[]): void {
  const def = EXERCISE_CHECKS[id];
  if (!def) throw new ConfigError(`exercises/${id}/exercise.json: the grader has no checks for exercise "${id}"`);
  const have = def.checks.map((c) => c.id);
  if (have.join() !== listed.join()) {
    throw new ConfigError(`exercises/${id}/exercise.json: field checks must be [${have.join(', ')}] (in this order), not [${listed.join(', ')}]`);
  }
}

// Servers mostly wait on the network, so two at a time suit a 2-core machine without starving them.
const defaultJobs = () => Math.max(1, Math.min(4, os.availableParallelism()));

const round = (n: number) => Math.round(n * 100) / 100;
