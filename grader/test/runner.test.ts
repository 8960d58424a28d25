import { describe, expect, it } from 'vitest';
import { defineCheck, defineExercise, pass } from '../src/checks/define.ts';
import { loadCourse } from '../src/course/course.ts';
import { gradeUnit } from '../src/runner.ts';
import sockets from '../src/checks/01-sockets.ts';
import { gradeOne, repoPath } from './support/grade.ts';

const runnerOpts = { seed: 's', ioTimeoutMs: 2000, checkTimeoutMs: 5000, readyTimeoutMs: 10_000, deadline: Date.now() + 60_000 };

describe('the runner', () => {
  it.concurrent('stops starting checks when the run reaches its time bound, and still finishes the report', async () => {
    const ex = await gradeOne('solutions', '01-sockets', 'py', { runTimeoutMs: 1 });
    expect(ex.checks.map((c) => `${c.status}:${c.code}`)).toEqual(ex.checks.map(() => 'error:run-time-limit'));
    // Where the time runs out depends on the machine: no points lost for it, but no pass either.
    expect([ex.score, ex.maxScore]).toEqual([0, 0]);
  });

  it.concurrent('fails a check that outlives its time limit, and carries on with the next', async () => {
    const unit = { exercise: (await loadCourse()).find((e) => e.id === '01-sockets')!, track: 'py' as const, dir: repoPath('fixtures/hostile/accepts-never-answers/01-sockets') };
    // The checks that take the default limit; a few ask for more on purpose.
    const definition = { ...sockets, checks: sockets.checks.filter((c) => c.timeoutMs === undefined) };
    const t0 = Date.now();
    const ex = await gradeUnit(unit, definition, { ...runnerOpts, checkTimeoutMs: 500, ioTimeoutMs: 60_000 });
    expect(ex.checks.map((c) => c.code).filter((code) => code !== undefined)).toEqual(['check-timeout', 'check-timeout', 'check-timeout', 'check-timeout']);
    expect(ex.checks[0]!.evidence.message).toMatch(/did not finish within 0.5 s/);
    expect(ex.checks[0]!.hint).toMatch(/ran out of time/);
    expect(Date.now() - t0).toBeLessThan(20_000);
  });

  it.concurrent('turns an exception in a check into a grader error that costs no points', async () => {
    const unit = { exercise: (await loadCourse()).find((e) => e.id === '01-sockets')!, track: 'py' as const, dir: repoPath('solutions/01-sockets') };
    const definition = defineExercise({
      id: '01-sockets',
      env: () => ({ BACKLOG: '5' }),
      checks: [
        defineCheck({ id: 'fine', title: 'passes', points: 2, run: async () => pass('ok') }),
        defineCheck({ id: 'buggy', title: 'throws', points: 3, run: async () => { throw new TypeError('grader bug'); } }),
      ],
    });
    const ex = await gradeUnit(unit, definition, runnerOpts);
    const buggy = ex.checks.find((c) => c.id === 'buggy')!;
    expect(buggy.status).toBe('error');
    expect(buggy.evidence.message).toBe('grader error: grader bug');
    expect([ex.score, ex.maxScore]).toEqual([2, 2]);
  });

  it.concurrent('names a missing server file', async () => {
    const ex = await gradeOne('fixtures/hostile/never-listens', '01-sockets', 'ts');
    expect(ex.server?.startFailure?.code).toBe('missing-server-file');
    expect(ex.server?.startFailure?.message).toMatch(/there is no server\.ts in .*never-listens[/\\]01-sockets/);
  });
});
