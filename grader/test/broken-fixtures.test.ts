import { describe, expect, it } from 'vitest';
import { EXERCISE_CHECKS } from '../src/checks/index.ts';
import { faultySource, listFaults } from './support/broken.ts';
import { FAULT_GROUPS } from './support/describe-faults.ts';

// Each folder in fixtures/broken/ is one deliberately broken server: a fault.patch against the
// reference solution, and a fault.json saying which checks it must fail and words its evidence must
// contain. Here: every fixture is well-formed, and every check is failed by one. The fixtures are
// graded in grader/test/broken/, a file per group of exercises, so the groups run side by side.

const faults = listFaults();
const caught = faults.filter((f) => !f.pending);

describe('every fixture is well-formed', () => {
  it.each(faults)('$name: its patch applies, and it names checks of its exercise in their order', (fault) => {
    expect(() => faultySource(fault)).not.toThrow();
    expect(fault.fails.length).toBeGreaterThan(0);
    expect(Object.keys(fault.evidence).length).toBeGreaterThan(0);
    // A pending fixture may name a check that is still to be written.
    const ids = EXERCISE_CHECKS[fault.exercise]?.checks.map((c) => c.id) ?? [];
    if (!fault.pending) expect(fault.fails).toEqual(ids.filter((id) => fault.fails.includes(id)));
    // Graded by one of the files in grader/test/broken/.
    expect(Object.values(FAULT_GROUPS).flat().some((p) => fault.exercise.startsWith(p))).toBe(true);
  });
});

describe('every check is failed by at least one broken fixture', () => {
  for (const [exercise, def] of Object.entries(EXERCISE_CHECKS)) {
    it.each(def.checks.map((c) => c.id))(`${exercise}/%s`, (id) => {
      expect(caught.some((f) => f.exercise === exercise && f.fails.includes(id))).toBe(true);
    });
  }
});
