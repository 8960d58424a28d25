import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { EXERCISE_CHECKS } from '../src/checks/index.ts';
import { grade } from '../src/pipeline.ts';
import type { RunResult } from '../src/report/model.ts';
import { repoPath } from './support/grade.ts';

// Every rule an exercise README states is probed by some case, and the README's list of checks is
// the code's: ids, order and points.

const squash = (s: string) => s.replace(/\s+/g, ' ').trim();
const readme = (id: string) => readFileSync(repoPath('exercises', id, 'README.md'), 'utf8');

let solutions: RunResult;
beforeAll(async () => {
  solutions = await grade({ target: repoPath('solutions'), track: 'ts', seed: 'rules-seed', jobs: 2 });
}, 120_000);

describe.each(Object.values(EXERCISE_CHECKS).map((def) => [def.id, def] as const))('%s', (id, def) => {
  const text = squash(readme(id));

  it.each(def.rules.map((r) => [r.id, r] as const))('rule %s is stated in the README, in these words', (_, rule) => {
    expect(text).toContain(squash(rule.readme));
    expect(def.checks.map((c) => c.id)).toContain(rule.check);
  });

  it('every rule is probed by a case of its check, and every case cites a rule of the table', () => {
    const ex = solutions.exercises.find((e) => e.id === id)!;
    const unprobed = def.rules.filter((rule) => {
      const check = ex.checks.find((c) => c.id === rule.check)!;
      // A check without cases probes its rules as a whole.
      if (!check.cases) return false;
      return !check.cases.some((c) => c.rule?.id === rule.id) && !ex.checks.some((c) => c.cases?.some((k) => k.rule?.id === rule.id));
    });
    expect(unprobed.map((r) => r.id)).toEqual([]);
    const known = new Set(def.rules.map((r) => r.id));
    const uncited = ex.checks.flatMap((c) => (c.cases ?? []).filter((k) => k.rule && !known.has(k.rule.id)).map((k) => `${c.id}: ${k.name}`));
    expect(uncited).toEqual([]);
  });

  it("the README's list of checks has the code's ids, order and points", () => {
    const section = readme(id).split(/^## .*What the grader tries.*$/m)[1] ?? '';
    const listed = [...section.matchAll(/\*\*([a-z0-9-]+)\*\* \((\d+) points?/g)].map((m) => `${m[1]} ${m[2]}`);
    expect(listed).toEqual(def.checks.map((c) => `${c.id} ${c.points}`));
    const total = def.checks.reduce((s, c) => s + c.points, 0);
    const words = ['Zero', 'One', 'Two', 'Three', 'Four', 'Five', 'Six', 'Seven', 'Eight', 'Nine', 'Ten', 'Eleven', 'Twelve', 'Thirteen', 'Fourteen', 'Fifteen', 'Sixteen', 'Seventeen', 'Eighteen', 'Nineteen', 'Twenty', 'Twenty-one', 'Twenty-two', 'Twenty-three', 'Twenty-four', 'Twenty-five'];
    expect(squash(section)).toContain(`${words[def.checks.length]} checks, ${total} points in all`);
  });
});
