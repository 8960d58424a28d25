import path from 'node:path';
import { REPO_ROOT } from '../../src/course/course.ts';
import { grade, type GradeOptions } from '../../src/pipeline.ts';
import type { CheckResult, ExerciseResult, RunResult } from '../../src/report/model.ts';
import type { Track } from '../../src/report/model.ts';

export const repoPath = (...parts: string[]) => path.join(REPO_ROOT, ...parts);

/** Grades one exercise of a target folder in one track, with a fixed seed so failures reproduce. */
export async function gradeOne(target: string, exercise: string, track: Track, extra: Partial<GradeOptions> = {}): Promise<ExerciseResult> {
  const result: RunResult = await grade({ target: repoPath(target), exercises: [exercise], track, seed: 'test-seed', jobs: 1, ...extra });
  return result.exercises[0]!;
}

export const failedIds = (ex: ExerciseResult): string[] => ex.checks.filter((c) => c.status !== 'pass' && c.status !== 'skipped').map((c) => c.id);

/** What a student reads about a failed check, as one string to match evidence against: its code, evidence and hint, and the cases that failed. */
export const evidenceText = (c: CheckResult): string =>
  JSON.stringify({ code: c.code, evidence: c.evidence, hint: c.hint, cases: (c.cases ?? []).filter((k) => k.status !== 'pass') });
