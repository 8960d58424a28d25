import { describe, expect, it } from 'vitest';
import { EXERCISE_CHECKS } from '../src/checks/index.ts';
import { faultySource, gradeFault, listFaults } from './support/broken.ts';
import { evidenceText, failedIds } from './support/grade.ts';

// Each folder in fixtures/broken/ is one deliberately broken server: a fault.patch against the
// reference solution, and a fault.json saying which checks it must fail and words its evidence must
// contain. The patched solution is written to a temporary folder, graded, and removed. A fixture
// marked "pending" is a fault the grader does not catch yet; its fails name the check that should.

const faults = listFaults();
const caught = faults.filter((f) => !f.pending);
const pending = faults.filter((f) => f.pending);


describe('every fixture is well-formed', () => {
  it.each(faults)('$name: its patch applies, and it names checks of its exercise in their order', (fault) => {
    expect(() => faultySource(fault)).not.toThrow();
    expect(fault.fails.length).toBeGreaterThan(0);
    expect(Object.keys(fault.evidence).length).toBeGreaterThan(0);
    // A pending fixture may name a check that is still to be written.
    const ids = EXERCISE_CHECKS[fault.exercise]?.checks.map((c) => c.id) ?? [];
    if (!fault.pending) expect(fault.fails).toEqual(ids.filter((id) => fault.fails.includes(id)));
  });
});

describe('broken fixtures fail exactly the checks they break', () => {
  it.concurrent.each(caught)('$name', async (fault) => {
    const ex = await gradeFault(fault.name);
    expect(failedIds(ex)).toEqual(fault.fails);
    for (const id of fault.fails) {
      const text = evidenceText(ex.checks.find((c) => c.id === id)!);
      // Words for every failed check, or words per check.
      const words = Array.isArray(fault.evidence) ? fault.evidence : (fault.evidence[id] ?? []);
      expect(words.length, `${fault.name}: no evidence words for ${id}`).toBeGreaterThan(0);
      for (const w of words) expect(text).toContain(w);
    }
  });
  for (const fault of pending) it.todo(`${fault.name} (pending: ${fault.fails.join(', ')} should catch it)`);
});

describe('every check is failed by at least one broken fixture', () => {
  for (const [exercise, def] of Object.entries(EXERCISE_CHECKS)) {
    it.each(def.checks.map((c) => c.id))(`${exercise}/%s`, (id) => {
      expect(caught.some((f) => f.exercise === exercise && f.fails.includes(id))).toBe(true);
    });
  }
});
