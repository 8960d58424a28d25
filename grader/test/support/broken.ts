import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { applyPatch, parsePatch, type StructuredPatchHunk } from 'diff';
import { REPO_ROOT } from '../../src/course/course.ts';
import type { GradeOptions } from '../../src/pipeline.ts';
import type { ExerciseResult, Track } from '../../src/report/model.ts';

// The broken fixtures: fixtures/broken/NAME/ holds a fault.json and a fault.patch, a unified diff
// against the reference solution solutions/<exercise>/server.<py|ts>. A fixture becomes a grading
// target only when it is needed: the solution is copied to a temporary folder and the patch is
// applied to it there. A patch that no longer applies (because the solution changed under it)
// is an error that names the fixture and the hunk, so a fault never drifts away from the solution
// it is a fault of.

export const BROKEN_DIR = path.join(REPO_ROOT, 'fixtures/broken');

/** fault.json, plus the fixture's folder name. */
export interface Fault {
  name: string;
  description: string;
  exercise: string;
  track: Track;
  /** Exactly the checks the fixture fails, in the exercise's order. */
  fails: string[];
  /** Words the evidence of every failed check must contain, or words by check id. */
  evidence: string[] | Record<string, string[]>;
  /** The grader does not catch this fault yet: `fails` names the check that should. */
  pending?: boolean;
}

const ENTRY: Record<Track, string> = { py: 'server.py', ts: 'server.ts' };

export function readFault(name: string): Fault {
  const file = path.join(BROKEN_DIR, name, 'fault.json');
  if (!existsSync(file)) throw new Error(`no broken fixture "${name}" (there is no ${path.relative(REPO_ROOT, file)})`);
  return { name, ...(JSON.parse(readFileSync(file, 'utf8')) as Omit<Fault, 'name'>) };
}

/** Every broken fixture, by name. */
export function listFaults(): Fault[] {
  return readdirSync(BROKEN_DIR, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(path.join(BROKEN_DIR, d.name, 'fault.json')))
    .map((d) => readFault(d.name))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The solution file a fixture's patch applies to, relative to the repository. */
export const solutionFile = (fault: Fault): string => path.join('solutions', fault.exercise, ENTRY[fault.track]);

function showHunk(h: StructuredPatchHunk): string {
  return [`@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@`, ...h.lines].join('\n');
}

/** The fixture's server source: the solution with fault.patch applied. Throws if the patch does not apply. */
export function faultySource(fault: Fault): string {
  const entry = ENTRY[fault.track];
  const patchFile = path.join('fixtures/broken', fault.name, 'fault.patch');
  const where = `broken fixture ${fault.name}: ${patchFile}`;
  const patches = parsePatch(readFileSync(path.join(REPO_ROOT, patchFile), 'utf8'));
  const [patch] = patches;
  if (patches.length !== 1 || !patch || patch.hunks.length === 0) throw new Error(`${where} must be a diff of one file, with at least one hunk`);
  if (patch.oldFileName !== `a/${entry}` || patch.newFileName !== `b/${entry}`) {
    throw new Error(`${where} must patch a/${entry} into b/${entry} (track ${fault.track}), not ${patch.oldFileName} into ${patch.newFileName}`);
  }
  const original = readFileSync(path.join(REPO_ROOT, solutionFile(fault)), 'utf8');
  // Hunk by hunk, so that a failure can name the hunk; each later hunk moves by the lines the
  // earlier ones added or removed.
  let text = original;
  let shift = 0;
  for (const [i, hunk] of patch.hunks.entries()) {
    const next = applyPatch(text, { ...patch, hunks: [{ ...hunk, oldStart: hunk.oldStart + shift, newStart: hunk.newStart + shift }] });
    if (next === false) {
      throw new Error(
        `${where}: hunk ${i + 1} of ${patch.hunks.length} no longer applies to ${solutionFile(fault)} ` +
          `(the solution changed; make the patch again from the new solution):\n${showHunk(hunk)}`,
      );
    }
    text = next;
    shift += hunk.newLines - hunk.oldLines;
  }
  if (text === original) throw new Error(`${where} changes nothing`);
  return text;
}

/** A fixture made into a grading target: `dir/<exercise>/server.<ext>`. */
export interface Materialized {
  fault: Fault;
  /** The target folder, to pass as --target. */
  dir: string;
  /** Removes the folder; safe to call more than once. */
  cleanup(): void;
}

/** Writes the fixture's server to a new folder `<tmpdir>/serverlab-broken-NAME-XXXXXX`. */
export function materializeFault(name: string): Materialized {
  const fault = readFault(name);
  const source = faultySource(fault);
  const dir = mkdtempSync(path.join(os.tmpdir(), `serverlab-broken-${name}-`));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  try {
    mkdirSync(path.join(dir, fault.exercise));
    writeFileSync(path.join(dir, fault.exercise, ENTRY[fault.track]), source);
  } catch (e) {
    cleanup();
    throw e;
  }
  return { fault, dir, cleanup };
}

/** Runs `fn` on a materialized fixture and removes the folder afterwards, whatever happens. */
export async function withFault<T>(name: string, fn: (m: Materialized) => Promise<T>): Promise<T> {
  const m = materializeFault(name);
  try {
    return await fn(m);
  } finally {
    m.cleanup();
  }
}

/** Grades a target folder given by an absolute path (gradeOne takes one relative to the repository). */
export async function gradeDir(dir: string, exercise: string, track: Track, extra: Partial<GradeOptions> = {}): Promise<ExerciseResult> {
  // Loaded here, so that materializing a fixture does not load the whole grader.
  const { grade } = await import('../../src/pipeline.ts');
  const result = await grade({ target: dir, exercises: [exercise], track, seed: 'test-seed', jobs: 1, ...extra });
  return result.exercises[0]!;
}

/** Materializes a fixture, grades its exercise in its track (seed "test-seed" unless `extra` says otherwise), and cleans up. */
export function gradeFault(name: string, extra: Partial<GradeOptions> = {}): Promise<ExerciseResult> {
  return withFault(name, ({ fault, dir }) => gradeDir(dir, fault.exercise, fault.track, extra));
}
