import { describe, expect, it } from 'vitest';
import { grade } from '../src/pipeline.ts';
import { repoPath } from './support/grade.ts';

// Every reference solution, in every track it has, earns every point.
describe('reference solutions', () => {
  it('score full marks in both tracks', async () => {
    const result = await grade({ target: repoPath('solutions'), track: 'all', jobs: 2 });
    const lost = result.exercises.flatMap((ex) => ex.checks.filter((c) => c.status !== 'pass' && c.status !== 'skipped').map((c) => `${ex.id}[${ex.track}] ${c.id}: ${c.evidence.message}`));
    expect(lost).toEqual([]);
    expect(result.exercises.length).toBeGreaterThanOrEqual(6);
    expect(result.score).toBe(result.maxScore);
    for (const ex of result.exercises) expect(ex.server?.leftBehind, ex.id).toEqual([]);
  });
});
