import { mkdirSync, writeFileSync, cpSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { COURSE_DIR, loadCourse } from '../../src/course/course.ts';
import { ConfigError } from '../../src/config-error.ts';
import { EXERCISE_CHECKS } from '../../src/checks/index.ts';
import { grade } from '../../src/pipeline.ts';
import { tempDirs } from '../support/temp.ts';

const tempDir = tempDirs();

function courseWith(id: string, json: unknown): string {
  const dir = tempDir('course');
  mkdirSync(path.join(dir, id));
  writeFileSync(path.join(dir, id, 'exercise.json'), typeof json === 'string' ? json : JSON.stringify(json));
  return dir;
}

const valid = { id: '01-sockets', title: 'Sockets', tracks: ['ts', 'py'], checks: EXERCISE_CHECKS['01-sockets']!.checks.map((c) => c.id) };

describe('the course', () => {
  it('lists every exercise in curriculum order', async () => {
    const ids = (await loadCourse()).map((e) => e.id);
    expect(ids).toEqual([...ids].sort());
    expect(ids).toEqual(expect.arrayContaining(['01-sockets', '02-http', '03-urls']));
  });

  it('ties each exercise.json check list to the checks the grader has', async () => {
    for (const ex of await loadCourse(COURSE_DIR)) {
      expect(ex.checks, ex.id).toEqual(EXERCISE_CHECKS[ex.id]!.checks.map((c) => c.id));
    }
  });

  it('names the file and the field of a schema violation', async () => {
    const dir = courseWith('01-sockets', { ...valid, tracks: ['rust'] });
    await expect(loadCourse(dir)).rejects.toThrow(/01-sockets[/\\]exercise\.json: field tracks\.0: must be equal to one of the allowed values/);
  });

  it('names an unknown field', async () => {
    const dir = courseWith('01-sockets', { ...valid, timeout: 3 });
    await expect(loadCourse(dir)).rejects.toThrow(/exercise\.json: field \(top level\): unknown field "timeout"/);
  });

  it('names a missing required field', async () => {
    const { checks: _omit, ...rest } = valid;
    await expect(loadCourse(courseWith('01-sockets', rest))).rejects.toThrow(/must have required property 'checks'/);
  });

  it('reports a file that is not JSON', async () => {
    await expect(loadCourse(courseWith('01-sockets', '{ "id": '))).rejects.toThrow(ConfigError);
  });

  it('requires the id to match the folder', async () => {
    await expect(loadCourse(courseWith('01-sockets', { ...valid, id: '01-other' }))).rejects.toThrow(/field id: "01-other" must equal the folder name "01-sockets"/);
  });

  it('refuses a check list that differs from the grader', async () => {
    const dir = courseWith('01-sockets', { ...valid, checks: ['answers-request'] });
    const target = tempDir('target');
    cpSync(path.join(COURSE_DIR, '01-sockets'), path.join(target, '01-sockets'), { recursive: true });
    await expect(grade({ courseDir: dir, target, track: 'py' })).rejects.toThrow(/field checks must be \[answers-request, closes-connection/);
  });
});
