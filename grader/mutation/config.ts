// The Stryker configuration for mutating one reference solution, with the grader as the test.
import type { Stryker } from '@stryker-mutator/core';
import path from 'node:path';

export type StrykerOptions = NonNullable<ConstructorParameters<typeof Stryker>[0]>;

/** Where the reports go, relative to the repository root (git-ignored). */
export const REPORT_DIR = 'reports/mutation';

export const reportFiles = (exercise: string) => ({
  /** The Stryker configuration of the last run, as written for it (`npx stryker run FILE` repeats it). */
  config: path.join(REPORT_DIR, `${exercise}.stryker.json`),
  json: path.join(REPORT_DIR, `${exercise}.json`),
  html: path.join(REPORT_DIR, `${exercise}.html`),
  /** The survivors as ready-made equivalent entries (reason left blank), for review. */
  survivors: path.join(REPORT_DIR, `${exercise}-survivors.json`),
});

export interface MutateOptions {
  exercise: string;
  concurrency: number;
  /** A fixed grader seed for every mutant; by default each run draws its own. */
  seed?: string;
}

/** The grader stops at the first failed check: one is enough to kill a mutant. */
export function graderCommand(o: Pick<MutateOptions, 'exercise' | 'seed'>): string {
  return ['npm run -s grade --', o.exercise, '--solutions --track ts --bail', ...(o.seed ? ['--seed', o.seed] : [])].join(' ');
}

export function strykerOptions(o: MutateOptions): StrykerOptions {
  const reports = reportFiles(o.exercise);
  return {
    mutate: [`solutions/${o.exercise}/server.ts`],
    // The command runner: exit status 0 means the grader gave full marks, so the mutant survived.
    // It runs in a copy of the repository (the sandbox), with the mutant chosen by the variable
    // __STRYKER_ACTIVE_MUTANT__, which the grader passes on to the server it starts.
    testRunner: 'command',
    commandRunner: { command: graderCommand(o) },
    coverageAnalysis: 'off',
    // No checkers, no plugins: the grader compiles TypeScript without type-checking it, so a
    // mutant that does not type-check still runs, and the grader sees what it does.
    checkers: [],
    plugins: [],
    concurrency: o.concurrency,
    // A mutant that makes the server hang costs the grader a 4 s read bound per probe and at most
    // 20 s per check (15 s to listen, at start); with --bail it stops at the first failed check.
    // The limit lets such a grader finish and report the failure, rather than be cut off.
    timeoutMS: 60_000,
    timeoutFactor: 2,
    dryRunTimeoutMinutes: 10,
    tempDirName: '.stryker-tmp',
    cleanTempDir: true,
    symlinkNodeModules: true,
    // The grader needs its sources, the exercises' exercise.json and the solutions; not the
    // fixtures, the CI files or earlier reports.
    ignorePatterns: ['/reports', '/fixtures', '/.ci', '/.github', '/.serverlab', '__pycache__', '*.pyc'],
    reporters: ['json', 'html', process.stdout.isTTY ? 'progress' : 'progress-append-only'],
    jsonReporter: { fileName: reports.json },
    htmlReporter: { fileName: reports.html },
    thresholds: { high: 90, low: 75, break: null },
  };
}
