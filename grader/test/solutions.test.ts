import { describe, expect, it } from 'vitest';
import { loadCourse } from '../src/course/course.ts';
import { grade } from '../src/pipeline.ts';
import { repoPath } from './support/grade.ts';

describe('the course as shipped', () => {
  // In three groups side by side, each the units it must contain: a whole course graded in one
  // test would take most of the test time limit on a busy runner.
  const groups: Record<string, string[]> = {
    'messages and gateways': ['01-sockets/ts', '01-sockets/py', '02-http/ts', '02-http/py', '03-urls/ts', '03-urls/py', '04-gateway/ts', '04-gateway/py'],
    'processes and the proxy': ['05-fork/py', '06-prefork/ts', '06-prefork/py', '09-proxy/ts', '09-proxy/py'],
    'threads and the event loop': ['07-threads/ts', '07-threads/py', '08-event-loop/ts', '08-event-loop/py'],
  };
  it.concurrent.each(Object.entries(groups))('reference solutions of %s score full marks in every track, leaving nothing behind', async (_, units) => {
    const exercises = [...new Set(units.map((u) => u.split('/')[0]!))];
    const result = await grade({ target: repoPath('solutions'), track: 'all', exercises, jobs: 1 });
    const lost = result.exercises.flatMap((ex) => ex.checks.filter((c) => c.status !== 'pass' && c.status !== 'skipped').map((c) => `${ex.id}[${ex.track}] ${c.id}: ${c.evidence.message}`));
    expect(lost).toEqual([]);
    expect(result.exercises.map((e) => `${e.id}/${e.track}`).sort()).toEqual([...units].sort());
    expect(result.score).toBe(result.maxScore);
    expect(result.passed).toBe(true);
    for (const ex of result.exercises) expect(ex.server?.leftBehind, ex.id).toEqual([]);
  }, 300_000);

  it('the groups cover every exercise of the course', async () => {
    const course = (await loadCourse()).flatMap((e) => e.tracks.map((t) => `${e.id}/${t}`));
    expect(Object.values(groups).flat().sort()).toEqual(course.sort());
  });

  it.concurrent("untouched stubs fail every check, each with evidence, and the grader doesn't trip", async () => {
    const result = await grade({ target: repoPath('exercises'), track: 'all', jobs: 2 });
    expect(result.graderErrors).toBe(0);
    expect(result.passed).toBe(false);
    for (const ex of result.exercises) {
      for (const c of ex.checks.filter((ch) => ch.status !== 'skipped')) {
        // A stub that exits at once gets no check run; one that listens fails every check.
        const verdict = c.status === 'not-run' ? `not-run:${c.notRun}` : c.status;
        expect(['fail', 'not-run:server-did-not-start'], `${ex.id}[${ex.track}] ${c.id}`).toContain(verdict);
        expect(c.score, `${ex.id}[${ex.track}] ${c.id}`).toBe(0);
        expect(c.evidence.message.length, `${ex.id}[${ex.track}] ${c.id}`).toBeGreaterThan(10);
      }
    }
  });
});
