import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { EXERCISE_CHECKS } from '../src/checks/index.ts';
import type { Track } from '../src/report/model.ts';
import { evidenceText, failedIds, gradeOne, repoPath } from './support/grade.ts';

// Each folder in fixtures/broken/ is a target with one deliberately broken server and a fault.json
// saying which checks it must fail, and words its evidence must contain.
interface Fault {
  description: string;
  exercise: string;
  track: Track;
  fails: string[];
  evidence: string[];
}

const root = repoPath('fixtures/broken');
const faults = readdirSync(root, { withFileTypes: true })
  .filter((d) => d.isDirectory() && existsSync(`${root}/${d.name}/fault.json`))
  .map((d) => ({ name: d.name, ...(JSON.parse(readFileSync(`${root}/${d.name}/fault.json`, 'utf8')) as Fault) }));

describe('broken fixtures fail exactly the checks they break', () => {
  it.concurrent.each(faults)('$name', async (fault) => {
    const ex = await gradeOne(`fixtures/broken/${fault.name}`, fault.exercise, fault.track);
    expect(failedIds(ex)).toEqual(fault.fails);
    for (const id of fault.fails) {
      const text = evidenceText(ex.checks.find((c) => c.id === id)!);
      for (const words of fault.evidence) expect(text).toContain(words);
    }
  });
});

describe('every check is failed by at least one broken fixture', () => {
  for (const [exercise, def] of Object.entries(EXERCISE_CHECKS)) {
    it.each(def.checks.map((c) => c.id))(`${exercise}/%s`, (id) => {
      expect(faults.some((f) => f.exercise === exercise && f.fails.includes(id))).toBe(true);
    });
  }
});
