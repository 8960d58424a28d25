import { describe, expect, it } from 'vitest';
import { rngFor } from '../src/rng.ts';
import { gradeDir, withFault } from './support/broken.ts';
import { failedIds } from './support/grade.ts';

describe('the same submission gets the same result', () => {
  it('draws the same probes from the same seed, and different ones from another', () => {
    const draw = (seed: string) => Array.from({ length: 5 }, () => rngFor(seed, 'check-id').word());
    expect(draw('a1')).toEqual(draw('a1'));
    expect(draw('a1')).not.toEqual(draw('b2'));
    expect(rngFor('a1', 'one').word()).not.toBe(rngFor('a1', 'two').word());
  });

  it('grades a broken server the same way three times over', async () => {
    const runs = await withFault('sockets-single-recv', async ({ dir }) => {
      const results = [];
      for (let i = 0; i < 3; i++) results.push(await gradeDir(dir, '01-sockets', 'py', { seed: `run${i}` }));
      return results;
    });
    expect(runs.map((r) => r.score)).toEqual([runs[0]!.score, runs[0]!.score, runs[0]!.score]);
    expect(runs.map(failedIds)).toEqual([['reads-whole-request'], ['reads-whole-request'], ['reads-whole-request']]);
  });
});
