import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import type { CheckResult, ExerciseResult } from '../src/report/model.ts';
import { gradeOne, repoPath } from './support/grade.ts';

// Servers that misbehave on purpose (fixtures/hostile/<name>/01-sockets/server.py). Whatever they
// do, grading must end in bounded time with a finished report, a verdict that names what went
// wrong, and no process of theirs left running.

const OPTS = { readyTimeoutMs: 3000, ioTimeoutMs: 1000 };
const BOUND_MS = 60_000;
const CHECK_IDS = ['answers-request', 'closes-connection', 'many-in-a-row', 'reads-whole-request', 'silent-client', 'listen-backlog', 'reuse-address'];
const STATUSES = ['pass', 'fail', 'partial', 'error', 'skipped', 'not-run'];
const onLinux = process.platform === 'linux';

/** Live (non-zombie) processes whose command line mentions `needle`. Linux only. */
function processesMentioning(needle: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    try {
      const cmdline = readFileSync(`/proc/${name}/cmdline`, 'latin1').split('\0').join(' ').trim();
      if (!cmdline.includes(needle)) continue;
      const stat = readFileSync(`/proc/${name}/stat`, 'latin1');
      const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
      if (state !== 'Z') found.push(`${name} ${cmdline}`);
    } catch {
      // gone while we looked
    }
  }
  return found;
}

async function gradeHostile(name: string): Promise<{ ex: ExerciseResult; elapsedMs: number; fixture: string }> {
  const fixture = repoPath('fixtures/hostile', name);
  const t0 = performance.now();
  const ex = await gradeOne(`fixtures/hostile/${name}`, '01-sockets', 'py', OPTS);
  const elapsedMs = performance.now() - t0;

  // Finished: every check is there, once, with a status and a message.
  expect(ex.checks.map((c) => c.id)).toEqual(CHECK_IDS);
  for (const c of ex.checks) {
    expect(STATUSES).toContain(c.status);
    expect(c.evidence.message.length).toBeGreaterThan(0);
    expect(c.status, `${c.id} is a grader error: ${c.evidence.message}`).not.toBe('error');
  }
  expect(elapsedMs).toBeLessThan(BOUND_MS);

  // Nothing of the fixture's still runs once grade() has returned.
  if (onLinux) expect(processesMentioning(fixture)).toEqual([]);
  return { ex, elapsedMs, fixture };
}

const check = (ex: ExerciseResult, id: string): CheckResult => ex.checks.find((c) => c.id === id)!;

describe('the left-behind scan', () => {
  // Without this, "no process mentions the fixture" would also pass if the scan saw nothing at all.
  it.runIf(onLinux)('sees a running process by a path in its command line', async () => {
    const marker = `/tmp/serverlab-scan-probe-${process.pid}`;
    // Node itself, not `python3`: a version-manager shim would show the marker in helper processes too.
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 30_000)', marker], { stdio: 'ignore' });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    try {
      let seen: string[] = [];
      for (let i = 0; i < 100 && !seen.length; i++) {
        seen = processesMentioning(marker);
        if (!seen.length) await sleep(20);
      }
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatch(new RegExp(`^${child.pid} `));
    } finally {
      child.kill('SIGKILL');
      await exited;
    }
    expect(processesMentioning(marker)).toEqual([]);
  });
});

describe('hostile servers get a finished report, a clear verdict, and leave nothing behind', () => {
  it.concurrent('never-listens: every check fails as never-listened, after the ready timeout', async () => {
    const { ex, elapsedMs } = await gradeHostile('never-listens');
    const sf = ex.server?.startFailures[0];
    expect(sf?.code).toBe('never-listened');
    expect(sf?.message).toContain('did not listen');
    expect(sf?.hint).toBeTruthy();
    for (const c of ex.checks) {
      expect(c.status).toBe('not-run');
      expect(c.notRun).toBe('server-did-not-start');
      expect(c.code).toBe('never-listened');
      expect(c.evidence.message).toMatch(/^not run: .*did not listen/);
    }
    expect(ex.score).toBe(0);
    expect(elapsedMs).toBeGreaterThanOrEqual(OPTS.readyTimeoutMs);
    expect(ex.server?.starts).toBe(1);
  });

  it.concurrent('exits-at-once: every check fails as server-exited, with the exit code and what it printed', async () => {
    const { ex } = await gradeHostile('exits-at-once');
    const sf = ex.server?.startFailures[0];
    expect(sf?.code).toBe('server-exited');
    expect(sf?.message).toContain('exit code 3');
    expect(sf?.output).toContain('the configuration file is missing');
    for (const c of ex.checks) {
      expect(c.status).toBe('not-run');
      expect(c.notRun).toBe('server-did-not-start');
      expect(c.code).toBe('server-exited');
      expect(c.evidence.message).toMatch(/^not run: .*exit code 3/);
    }
    expect(ex.score).toBe(0);
    expect(ex.server?.starts).toBe(1);
  });

  it.concurrent('accepts-never-answers: the conversations fail as no-response, the blocked one as blocked-by-silent-client', async () => {
    const { ex } = await gradeHostile('accepts-never-answers');
    for (const id of ['answers-request', 'closes-connection', 'many-in-a-row', 'reads-whole-request', 'reuse-address']) {
      const c = check(ex, id);
      expect(c.status, id).toBe('fail');
      expect(c.code, id).toBe('no-response');
      expect(c.hint, id).toBeTruthy();
    }
    expect(check(ex, 'silent-client').code).toBe('blocked-by-silent-client');
    // It does listen with BACKLOG: the one thing it gets right is credited.
    expect(check(ex, 'listen-backlog').status).toBe(onLinux ? 'pass' : 'skipped');
    expect(ex.server?.leftBehind).toEqual([]);
  });

  it.concurrent('ignores-sigterm: is killed, and the report names the processes that outlived SIGTERM', async () => {
    const { ex, fixture } = await gradeHostile('ignores-sigterm');
    // Answering correctly, it earns every point; stopping it is the grader's business.
    expect(ex.score).toBe(ex.maxScore);
    const left = ex.server?.leftBehind ?? [];
    // Two stops (the restart in reuse-address, then the end), each leaving the server and its child.
    expect(left.length).toBeGreaterThanOrEqual(2);
    for (const p of left) {
      expect(p).toMatch(/^pid \d+ \(parent \d+\): /);
      expect(p).toContain(fixture);
    }
    expect(new Set(left.map((p) => p.split(' ')[1])).size).toBe(left.length);
  });

  it.concurrent('floods-stdout: is graded normally, and only a bounded tail of its output is kept', async () => {
    const { ex } = await gradeHostile('floods-stdout');
    expect(check(ex, 'answers-request').status).toBe('pass');
    expect(ex.score).toBe(ex.maxScore);
    const tail = ex.server?.outputTail ?? '';
    expect(tail).toContain('flood');
    expect(tail.length).toBeLessThan(10 * 1024);
  });

  it.skipIf(!onLinux).concurrent('escapes-group: a descendant that left the process group is found, named and killed', async () => {
    const { ex, fixture } = await gradeHostile('escapes-group');
    expect(ex.score).toBe(ex.maxScore);
    const escaped = (ex.server?.leftBehind ?? []).filter((p) => p.includes("had left the server's process group"));
    expect(escaped.length).toBeGreaterThanOrEqual(1);
    for (const p of escaped) expect(p).toContain(fixture);
  });

  it.skipIf(!onLinux).concurrent('listens-on-ipv6-loopback: named as listening where 127.0.0.1 cannot reach', async () => {
    const { ex, elapsedMs } = await gradeHostile('listens-on-ipv6-loopback');
    expect(ex.server?.startFailures[0]?.code).toBe('wrong-address');
    expect(ex.server?.startFailures[0]?.message).toMatch(/listens on \[::1\] port \d+, which 127\.0\.0\.1 cannot reach/);
    expect(ex.server?.startFailures[0]?.hint).toMatch(/Listen on 127\.0\.0\.1/);
    expect(elapsedMs).toBeLessThan(OPTS.readyTimeoutMs + 10_000);
  });
});
