import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCourse } from '../../src/course/course.ts';
import { defaultTrack, parseTrack, resolveUnits, selectExercises } from '../../src/target/target.ts';
import { repoPath } from '../support/grade.ts';
import { tempDirs } from '../support/temp.ts';

const tempDir = tempDirs();

describe('choosing exercises', async () => {
  const course = await loadCourse();

  it('accepts the number, the full id and the name', () => {
    for (const name of ['02', '2', '02-http', 'http']) expect(selectExercises(course, [name]).map((e) => e.id)).toEqual(['02-http']);
  });

  it('grades several, once each', () => {
    expect(selectExercises(course, ['02-http', '03', '02']).map((e) => e.id)).toEqual(['02-http', '03-urls']);
  });

  it('names an unknown exercise and lists the known ones', () => {
    expect(() => selectExercises(course, ['99'])).toThrow(/unknown exercise "99"; known: 01-sockets, 02-http, 03-urls/);
  });

  it('grades every track an exercise has with --track all', () => {
    const units = resolveUnits({ selected: selectExercises(course, ['01']), named: true, targetDir: repoPath('solutions'), track: 'all' });
    expect(units.map((u) => u.track)).toEqual(['ts', 'py']);
  });

  it('refuses a named exercise the target has no folder for', () => {
    expect(() => resolveUnits({ selected: selectExercises(course, ['02']), named: true, targetDir: repoPath('fixtures/hostile/exits-at-once'), track: 'py' })).toThrow(/no such folder in the target/);
  });

  it('grades only the folders a target has when no exercise is named', () => {
    const units = resolveUnits({ selected: course, named: false, targetDir: repoPath('fixtures/hostile/exits-at-once'), track: 'py' });
    expect(units.map((u) => u.exercise.id)).toEqual(['01-sockets']);
  });
});

describe('tracks', () => {
  it('rejects an unknown track', () => {
    expect(() => parseTrack('rust')).toThrow(/--track must be ts, py or all, not "rust"/);
  });

  it("reads the student's default from package.json", async () => {
    const dir = tempDir('track');
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ serverlab: { track: 'py' } }));
    expect(await defaultTrack(dir)).toBe('py');
  });

  it('names a bad default', async () => {
    const dir = tempDir('track');
    writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ serverlab: { track: 'go' } }));
    await expect(defaultTrack(dir)).rejects.toThrow(/field serverlab.track must be "ts" or "py", not "go"/);
  });
});
