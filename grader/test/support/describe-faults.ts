import { describe, expect, it } from 'vitest';
import { gradeFault, listFaults } from './broken.ts';
import { evidenceText, failedIds } from './grade.ts';

/** The groups of exercises whose fixtures are graded in one test file each (grader/test/broken/). */
export const FAULT_GROUPS = { http: ['01', '02', '03', '04'], processes: ['05', '06'], threadsAndLoops: ['07', '08', '09', '10', '11', '12'] } as const;

/**
 * A fixture of 07 or 08 takes 50-95 s graded three at a time on a busy 2-core runner: room for
 * twice that, within what the grader's own time limits allow a run.
 */
const FAULT_TIMEOUT_MS = 240_000;

/**
 * Grades every broken fixture of the exercises whose ids start with one of `prefixes`: each must
 * fail exactly the checks its fault.json names, with its evidence words. The patched solution is
 * written to a temporary folder, graded, and removed. A fixture marked "pending" is a fault the
 * grader does not catch yet; its fails name the check that should.
 */
export function describeFaults(prefixes: readonly string[]): void {
  const faults = listFaults().filter((f) => prefixes.some((p) => f.exercise.startsWith(p)));
  const caught = faults.filter((f) => !f.pending);
  describe(`broken fixtures of ${prefixes.join(', ')} fail exactly the checks they break`, () => {
    it('has fixtures to grade', () => expect(caught.length).toBeGreaterThan(0));
    it.concurrent.each(caught)('$name', async (fault) => {
      const ex = await gradeFault(fault.name);
      // A check failed that should not have: its evidence in the message, since a CI log is all there is.
      const surprises = ex.checks.filter((c) => failedIds(ex).includes(c.id) !== fault.fails.includes(c.id));
      const run = `the run: ${ex.checks.map((c) => `${c.id} ${c.status}${c.code ? ` ${c.code}` : ''} ${c.durationMs} ms`).join(', ')}; ${ex.server?.starts} starts${ex.server?.startFailures.length ? `, failed: ${ex.server.startFailures.map((f) => `${f.check}: ${f.message}`).join('; ')}` : ''}`;
      expect(failedIds(ex), [...surprises.map((c) => `${c.id} ${c.status}: ${evidenceText(c)}`), run].join('\n')).toEqual(fault.fails);
      for (const id of fault.fails) {
        const text = evidenceText(ex.checks.find((c) => c.id === id)!);
        // Words for every failed check, or words per check.
        const words = Array.isArray(fault.evidence) ? fault.evidence : (fault.evidence[id] ?? []);
        expect(words.length, `${fault.name}: no evidence words for ${id}`).toBeGreaterThan(0);
        for (const w of words) expect(text).toContain(w);
      }
    }, FAULT_TIMEOUT_MS);
    for (const fault of faults.filter((f) => f.pending)) it.todo(`${fault.name} (pending: ${fault.fails.join(', ')} should catch it)`);
  });
}
