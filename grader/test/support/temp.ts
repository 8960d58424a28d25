import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { TEMP_PREFIX } from './leak-guard.ts';

export { TEMP_PREFIX };

/**
 * A maker of temporary folders for one test file: `tempDir('track')` creates
 * `<tmpdir>/serverlab-track-XXXXXX`, and every folder it made is removed once the file's tests are
 * done. Call it at the top level of the test file.
 */
export function tempDirs(): (label: string) => string {
  const made: string[] = [];
  afterAll(() => {
    for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  return (label) => {
    const dir = mkdtempSync(path.join(os.tmpdir(), `${TEMP_PREFIX}${label}-`));
    made.push(dir);
    return dir;
  };
}
