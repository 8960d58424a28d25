import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import type { Track } from '../report/model.ts';
import schema from '../../schema/exercise.schema.json' with { type: 'json' };
import { ConfigError } from '../config-error.ts';

export interface Exercise {
  id: string;
  title: string;
  summary?: string;
  tracks: Track[];
  checks: string[];
  env: Record<string, string>;
  dir: string;
}

export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const COURSE_DIR = path.join(REPO_ROOT, 'exercises');

const validate = new Ajv({ allErrors: true }).compile(schema);

/** Reads and validates every exercises/NN-name/exercise.json, in curriculum order. */
export async function loadCourse(courseDir = COURSE_DIR): Promise<Exercise[]> {
  const names = (await readdir(courseDir, { withFileTypes: true }))
    .filter((d) => d.isDirectory() && /^\d{2}-/.test(d.name))
    .map((d) => d.name)
    .sort();
  return Promise.all(names.map((name) => loadExercise(path.join(courseDir, name))));
}

async function loadExercise(dir: string): Promise<Exercise> {
  const file = path.join(dir, 'exercise.json');
  const rel = path.relative(process.cwd(), file) || file;
  let data: unknown;
  try {
    data = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (e as Error).message;
    throw new ConfigError(`${rel}: ${why}`);
  }
  if (!validate(data)) {
    const err = validate.errors![0]!;
    const field = err.instancePath ? err.instancePath.slice(1).replaceAll('/', '.') : '(top level)';
    const detail = err.keyword === 'additionalProperties' ? `unknown field "${(err.params as { additionalProperty: string }).additionalProperty}"` : err.message;
    throw new ConfigError(`${rel}: field ${field}: ${detail}`);
  }
  const ex = data as Omit<Exercise, 'dir' | 'env'> & { env?: Record<string, string> };
  if (ex.id !== path.basename(dir)) throw new ConfigError(`${rel}: field id: "${ex.id}" must equal the folder name "${path.basename(dir)}"`);
  return { ...ex, env: ex.env ?? {}, dir };
}
