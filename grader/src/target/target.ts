import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Exercise } from '../course/course.ts';
import { REPO_ROOT } from '../course/course.ts';
import { ConfigError } from '../config-error.ts';
import type { Track } from '../report/model.ts';

/** One server to grade: an exercise, in one track, from one folder. */
export interface Unit {
  exercise: Exercise;
  track: Track;
  dir: string;
}

export type TrackChoice = Track | 'all';
const TRACKS: readonly string[] = ['ts', 'py', 'all'];

/** `02`, `02-http` and `http` all name the exercise 02-http. */
export function selectExercises(course: Exercise[], names: string[]): Exercise[] {
  if (!names.length) return course;
  const picked = names.map((name) => {
    const found = course.find((ex) => ex.id === name || ex.id.split('-')[0] === name.padStart(2, '0') || ex.id.slice(3) === name);
    if (!found) throw new ConfigError(`unknown exercise "${name}"; known: ${course.map((ex) => ex.id).join(', ')}`);
    return found;
  });
  return [...new Set(picked)];
}

export function parseTrack(value: string): TrackChoice {
  if (!TRACKS.includes(value)) throw new ConfigError(`--track must be ts, py or all, not "${value}"`);
  return value as TrackChoice;
}

/**
 * The student's own default track: "serverlab": { "track": "py" } in the package.json of the
 * folder they run the grader from (falling back to the course's).
 */
export async function defaultTrack(cwd = process.cwd()): Promise<Track> {
  for (const dir of [cwd, REPO_ROOT]) {
    const file = path.join(dir, 'package.json');
    if (!existsSync(file)) continue;
    let value: unknown;
    try {
      value = JSON.parse(await readFile(file, 'utf8'))?.serverlab?.track;
    } catch (e) {
      throw new ConfigError(`${file}: ${(e as Error).message}`);
    }
    if (value === undefined) continue;
    if (value !== 'ts' && value !== 'py') throw new ConfigError(`${file}: field serverlab.track must be "ts" or "py", not ${JSON.stringify(value)}`);
    return value;
  }
  return 'ts';
}

/**
 * The units to grade in `targetDir`. Exercises named on the command line must exist there; without
 * names, the exercises the target has a folder for are graded.
 */
export function resolveUnits(opts: { selected: Exercise[]; named: boolean; targetDir: string; track: TrackChoice }): Unit[] {
  if (!existsSync(opts.targetDir)) throw new ConfigError(`target folder ${opts.targetDir} does not exist`);
  const units: Unit[] = [];
  for (const exercise of opts.selected) {
    const dir = path.join(opts.targetDir, exercise.id);
    if (!existsSync(dir)) {
      if (opts.named) throw new ConfigError(`${path.relative(process.cwd(), dir) || dir}: no such folder in the target`);
      continue;
    }
    const tracks = opts.track === 'all' ? exercise.tracks : [exercise.tracks.includes(opts.track) ? opts.track : exercise.tracks[0]!];
    for (const track of tracks) units.push({ exercise, track, dir });
  }
  if (!units.length) throw new ConfigError(`${opts.targetDir}: no exercise folders to grade (expected folders like 01-sockets/)`);
  return units;
}
