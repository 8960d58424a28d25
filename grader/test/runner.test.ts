import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defineCheck, defineExercise, fail, pass } from '../src/checks/define.ts';
import { loadCourse } from '../src/course/course.ts';
import { gradeUnit } from '../src/runner.ts';
import sockets from '../src/checks/01-sockets.ts';
import { gradeOne, repoPath } from './support/grade.ts';

const runnerOpts = { seed: 's', ioTimeoutMs: 2000, checkTimeoutMs: 5000, readyTimeoutMs: 10_000, deadline: Date.now() + 60_000 };
const scratch = mkdtempSync(path.join(os.tmpdir(), 'serverlab-runner-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const sockets01 = async () => (await loadCourse()).find((e) => e.id === '01-sockets')!;

/** A 01 server that refuses to start on its Nth start (counted in a file beside it), and is the reference otherwise. */
function failsOnStart(n: number): string {
  const dir = path.join(scratch, `fails-on-start-${n}`, '01-sockets');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'server.py'), `import os, runpy, sys
count = os.path.join(os.path.dirname(os.path.abspath(__file__)), "starts")
n = int(open(count).read()) + 1 if os.path.exists(count) else 1
open(count, "w").write(str(n))
if n == ${n}:
    sys.exit("refusing start " + str(n))
runpy.run_path(${JSON.stringify(repoPath('solutions/01-sockets/server.py'))}, run_name="__main__")
`);
  return dir;
}

const answering = (id: string) => defineCheck({ id, title: `${id} answers`, points: 1, run: async (ctx) => {
  const conn = await ctx.connect();
  await conn.send(ctx.request({ target: `/${id}` }));
  const res = await conn.readResponse();
  return res.status === 200 ? pass('answered') : fail(`status ${res.status}`);
} });

/** A server that, asked for /die-slowly, answers and then dies a second later, still listening meanwhile. */
function diesSlowly(): string {
  const dir = path.join(scratch, 'dies-slowly', '01-sockets');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'server.py'), `import os, socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(os.environ["PORT"])))
s.listen(8)
while True:
    c, _ = s.accept()
    head = b""
    while b"\\r\\n\\r\\n" not in head:
        data = c.recv(4096)
        if not data:
            break
        head += data
    c.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\nConnection: close\\r\\n\\r\\nok")
    c.close()
    if head.startswith(b"GET /die-slowly "):
        time.sleep(1)
        sys.exit("died slowly")
    if head.startswith(b"GET /stop-listening "):
        s.close()
        time.sleep(6)
        sys.exit("stopped listening, then exited")
`);
  return dir;
}

/** A check that asks diesSlowly() for `target`, which sets off its crash, then one that must be answered. */
async function gradeAfterSlowCrash(target: string) {
  const unit = { exercise: await sockets01(), track: 'py' as const, dir: diesSlowly() };
  const setsOff = defineCheck({ id: 'sets-off', title: `sets off a slow crash with ${target}`, points: 1, run: async (ctx) => {
    const conn = await ctx.connect();
    await conn.send(ctx.request({ target }));
    await conn.readResponse();
    return fail('the server went on to die', { code: 'connection-reset' });
  } });
  const definition = defineExercise({ id: '01-sockets', rules: [], env: () => ({ BACKLOG: '5' }), checks: [setsOff, answering('next')] });
  return gradeUnit(unit, definition, runnerOpts);
}

describe('the runner', () => {
  it.concurrent('stops starting checks when the run reaches its time bound, and still finishes the report', async () => {
    const ex = await gradeOne('solutions', '01-sockets', 'py', { runTimeoutMs: 1 });
    expect(ex.checks.map((c) => `${c.status}:${c.notRun}`)).toEqual(ex.checks.map(() => 'not-run:run-time-limit'));
    // Where the time runs out depends on the machine: no points lost for it, but no pass either.
    expect([ex.score, ex.maxScore]).toEqual([0, 0]);
  });

  it.concurrent('fails a check that outlives its time limit, and carries on with the next', async () => {
    const unit = { exercise: await sockets01(), track: 'py' as const, dir: repoPath('fixtures/hostile/accepts-never-answers/01-sockets') };
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
    const unit = { exercise: await sockets01(), track: 'py' as const, dir: repoPath('solutions/01-sockets') };
    const definition = defineExercise({
      id: '01-sockets',
      rules: [],
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

  it.concurrent('after a crash, a failed restart costs the one check it was for; the next check gets a fresh start', async () => {
    const unit = { exercise: await sockets01(), track: 'py' as const, dir: failsOnStart(2) };
    const crash = defineCheck({ id: 'crash', title: 'kills the server', points: 1, run: async (ctx) => {
      process.kill(ctx.server.pid, 'SIGKILL');
      await ctx.server.exited;
      return fail('killed');
    } });
    const definition = defineExercise({ id: '01-sockets', rules: [], env: () => ({ BACKLOG: '5' }), checks: [answering('first'), crash, answering('second'), answering('third')] });
    const ex = await gradeUnit(unit, definition, runnerOpts);
    expect(ex.checks.map((c) => `${c.id}:${c.status}`)).toEqual(['first:pass', 'crash:fail', 'second:not-run', 'third:pass']);
    expect(ex.checks[2]!.notRun).toBe('server-did-not-start');
    expect(ex.server?.startFailures.map((f) => `${f.check}:${f.code}`)).toEqual(['second:server-exited']);
    expect(ex.server?.startFailures[0]!.output).toMatch(/refusing start 2/);
    expect(ex.server?.starts).toBe(3);
    expect([ex.score, ex.maxScore]).toEqual([2, 4]);
  });

  it.concurrent("a crash the previous check set off that ends during this one is the previous check's: this one is graded again on a fresh start", async () => {
    const ex = await gradeAfterSlowCrash('/die-slowly');
    expect(ex.checks.map((c) => `${c.id}:${c.status}`)).toEqual(['sets-off:fail', 'next:pass']);
    expect(ex.server?.starts).toBe(2);
  });

  it.concurrent('a server that stopped listening after a crash is waited for before the next check, however slow its exit', async () => {
    const ex = await gradeAfterSlowCrash('/stop-listening');
    expect(ex.checks.map((c) => `${c.id}:${c.status}`)).toEqual(['sets-off:fail', 'next:pass']);
    expect(ex.server?.starts).toBe(2);
  });

  it.concurrent('with --bail, stops at the first check that does not pass', async () => {
    const unit = { exercise: await sockets01(), track: 'py' as const, dir: repoPath('solutions/01-sockets') };
    const definition = defineExercise({
      id: '01-sockets',
      rules: [],
      env: () => ({ BACKLOG: '5' }),
      checks: [answering('first'), defineCheck({ id: 'wrong', title: 'fails', points: 1, run: async () => fail('no') }), answering('second')],
    });
    const ex = await gradeUnit(unit, definition, { ...runnerOpts, bail: true });
    expect(ex.checks.map((c) => `${c.id}:${c.status}:${c.notRun ?? ''}`)).toEqual(['first:pass:', 'wrong:fail:', 'second:not-run:bail']);
  });

  it.runIf(process.platform === 'linux').concurrent('a port another program takes between two starts is not the server being ready: it is started again on another port', async () => {
    const dir = path.join(scratch, 'waits-to-bind', '01-sockets');
    mkdirSync(dir, { recursive: true });
    // With WAIT_FOR set, binds only once that file exists: by then the check holds the port.
    writeFileSync(path.join(dir, 'server.py'), `import os, runpy, time
w = os.environ.get("WAIT_FOR")
for _ in range(1000 if w else 0):
    if os.path.exists(w):
        break
    time.sleep(0.01)
runpy.run_path(${JSON.stringify(repoPath('solutions/01-sockets/server.py'))}, run_name="__main__")
`);
    const flag = path.join(dir, 'bind-now');
    const unit = { exercise: await sockets01(), track: 'py' as const, dir };
    const seen: number[] = [];
    const moves = defineCheck({ id: 'moves', title: 'restarts while another program takes the port', points: 1, timeoutMs: 20_000, run: async (ctx) => {
      const first = ctx.port;
      const restarting = ctx.restartServer({ WAIT_FOR: flag });
      // Takes the port as soon as the old server let go of it, then lets the new one try to bind.
      const other = net.createServer((c) => c.destroy());
      for (let i = 0; i < 500; i++) {
        const ok = await new Promise<boolean>((resolve) => {
          other.once('error', () => resolve(false));
          other.listen(first, '127.0.0.1', () => resolve(true));
        });
        if (ok) break;
        await new Promise((r) => setTimeout(r, 10));
      }
      writeFileSync(flag, '');
      try {
        await restarting;
      } finally {
        other.close();
      }
      seen.push(first, ctx.port);
      const conn = await ctx.connect();
      await conn.send(ctx.request({ target: '/moved' }));
      const res = await conn.readResponse();
      return res.status === 200 ? pass('answered on the new port') : fail(`status ${res.status}`);
    } });
    const definition = defineExercise({ id: '01-sockets', rules: [], env: () => ({ BACKLOG: '5' }), checks: [answering('first'), moves, answering('after')] });
    const ex = await gradeUnit(unit, definition, runnerOpts);
    expect(ex.checks.map((c) => `${c.id}:${c.status}`)).toEqual(['first:pass', 'moves:pass', 'after:pass']);
    expect(seen[1]).not.toBe(seen[0]);
    expect(ex.server?.startFailures).toEqual([]);
  });

  it.concurrent('names a missing server file', async () => {
    const ex = await gradeOne('fixtures/hostile/never-listens', '01-sockets', 'ts');
    expect(ex.server?.startFailures[0]?.code).toBe('missing-server-file');
    expect(ex.server?.startFailures[0]?.message).toMatch(/there is no server\.ts in .*never-listens[/\\]01-sockets/);
    expect(ex.checks.every((c) => c.status === 'not-run' && c.notRun === 'server-did-not-start')).toBe(true);
  });
});
