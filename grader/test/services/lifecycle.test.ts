import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { defineCheck, defineExercise, fail, pass, type CheckContext } from '../../src/checks/define.ts';
import { gradeUnit } from '../../src/runner.ts';
import type { Exercise } from '../../src/course/course.ts';
import type { FixtureService } from '../../src/services/service.ts';
import { descendants, treeEvidence, zombies } from '../../src/probes/proc/inspect.ts';
import { tempDirs } from '../support/temp.ts';

// The runner's side of fixture services and process checks, against a real forking server: each
// unit's services are started before the server and told to it, reset before every check, stopped
// with the unit; cleanups run after a check even when it times out; signals reach only the
// server's own processes; the inspector sees children, zombies and who holds which socket.

const tempDir = tempDirs();
const runnerOpts = { seed: 's', ioTimeoutMs: 2000, checkTimeoutMs: 5000, readyTimeoutMs: 10_000, deadline: Date.now() + 60_000 };

// A forking server: each connection gets a child that keeps the listener (the classic leak), answers
// with its pid and exits; children are reaped only on GET /reap, so zombies stay until then.
const FORKING = String.raw`
import os, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(os.environ["PORT"]))); s.listen(16)
print("env", os.environ.get("MARK", "-"), flush=True)
while True:
    c, _ = s.accept()
    head = c.recv(4096).decode("latin-1")
    if head.startswith("GET /reap"):
        while True:
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0: break
            except ChildProcessError: break
    hold = head.startswith("GET /hold")
    if os.fork() == 0:
        if hold:
            c.recv(1)  # until the client closes
        body = str(os.getpid()).encode()
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
        c.close(); os._exit(0)
    c.close()
`;

function unitFor(source: string): { exercise: Exercise; track: 'py'; dir: string } {
  const dir = path.join(tempDir('lifecycle'), '99-probe');
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'server.py'), source);
  return { exercise: { id: '99-probe', title: 'probe', tracks: ['py'], checks: [], env: {}, dir }, track: 'py', dir };
}

class CountingService implements FixtureService {
  readonly name = 'counter';
  resets = 0;
  stopped = false;
  env() {
    return { COUNTER_ADDR: 'here' };
  }
  reset() {
    this.resets++;
  }
  async stop() {
    this.stopped = true;
  }
}

const get = async (ctx: CheckContext, target: string) => {
  const conn = await ctx.connect();
  await conn.send(ctx.request({ target }));
  return { conn, res: await conn.readResponse() };
};

describe('fixture services and process checks in the runner', () => {
  it.concurrent('starts services before the server, resets them before each check, stops them with the unit', async () => {
    const service = new CountingService();
    const seen: string[] = [];
    const definition = defineExercise({
      id: '99-probe',
      rules: [],
      services: async () => [service],
      checks: [
        defineCheck({ id: 'one', title: 'one', points: 1, run: async (ctx) => {
          seen.push(`one: resets ${service.resets}, env ${ctx.env.COUNTER_ADDR}, same ${ctx.service('counter') === service}`);
          ctx.defer(() => seen.push('one: first cleanup, run last'));
          ctx.defer(() => seen.push('one: second cleanup, run first'));
          return pass('ok');
        } }),
        defineCheck({ id: 'two', title: 'two', points: 1, timeoutMs: 300, run: async (ctx) => {
          seen.push(`two: resets ${service.resets}`);
          ctx.defer(() => seen.push('two: cleanup after its timeout'));
          await new Promise((r) => setTimeout(r, 5000));
          return pass('never');
        } }),
        defineCheck({ id: 'three', title: 'three', points: 1, run: async (ctx) => {
          expect(() => ctx.service('nothing')).toThrow(/"nothing"/);
          return pass(`resets ${service.resets}`);
        } }),
      ],
    });
    const ex = await gradeUnit(unitFor(FORKING), definition, runnerOpts);
    expect(ex.checks.map((c) => c.status)).toEqual(['pass', 'fail', 'pass']);
    expect(seen).toEqual(['one: resets 1, env here, same true', 'one: second cleanup, run first', 'one: first cleanup, run last', 'two: resets 2', 'two: cleanup after its timeout']);
    expect(ex.checks[2]!.evidence.message).toBe('resets 3');
    expect(service.stopped).toBe(true);
  });

  it.concurrent('sees children, the listener they keep, client sockets and zombies; signals only the server\'s own processes', async () => {
    const definition = defineExercise({
      id: '99-probe',
      rules: [],
      checks: [
        defineCheck({ id: 'looks', title: 'looks', points: 1, run: async (ctx) => {
          const held = await ctx.connect();
          await held.send(ctx.request({ target: '/hold' }));
          // Until the parent has closed its copy of the client (just after the fork), both hold it.
          const { ok, snapshot } = await ctx.proc.waitFor((s) => descendants(s).length === 1 && s.processes[0]?.fds?.clients === 0, { timeoutMs: 5000 });
          if (!ok) return fail('no child seen');
          const child = descendants(snapshot)[0]!;
          const root = snapshot.processes[0]!;
          expect(root.pid).toBe(snapshot.rootPid);
          expect(root.fds).toMatchObject({ listener: true, clients: 0 });
          expect(child.fds).toMatchObject({ listener: true, clients: 1 });
          expect(snapshot.listeners).toHaveLength(1);
          expect(snapshot.connections.ESTABLISHED).toBe(1);
          await expect(ctx.sendSignal(1, 'SIGTERM')).rejects.toThrow(/not one of the server's processes/);
          held.close();
          // Two quick requests: their children exit and stay zombies until /reap.
          for (const t of ['/a', '/b']) (await get(ctx, t)).conn.close();
          const z = await ctx.proc.waitFor((s) => zombies(s).length >= 3, { timeoutMs: 5000 });
          const tree = treeEvidence(z.snapshot, 'after three requests', (p) => (p.fds?.listener && p.pid !== z.snapshot.rootPid ? ['holds the listening socket'] : []));
          expect(tree.processes.filter((p) => p.marks?.includes('zombie'))).toHaveLength(3);
          (await get(ctx, '/reap')).conn.close();
          const reaped = await ctx.proc.waitFor((s) => zombies(s).length <= 1, { timeoutMs: 5000 });
          return reaped.ok ? pass('seen') : fail('zombies stayed');
        } }),
        defineCheck({ id: 'restarts-with-env', title: 'env', points: 1, run: async (ctx) => {
          await ctx.restartServer({ MARK: 'changed' });
          (await get(ctx, '/x')).conn.close();
          await new Promise((r) => setTimeout(r, 100));
          return ctx.server.outputTail().includes('env changed') ? pass('changed') : fail(ctx.server.outputTail());
        } }),
        defineCheck({ id: 'fresh-env', title: 'fresh', points: 1, run: async (ctx) => {
          await new Promise((r) => setTimeout(r, 100));
          return ctx.server.outputTail().includes('env -') ? pass('as usual') : fail(ctx.server.outputTail());
        } }),
        defineCheck({ id: 'terminates', title: 'terminates', points: 1, run: async (ctx) => {
          const pid = ctx.server.pid;
          await ctx.sendSignal('server', 'SIGKILL');
          await ctx.server.exited;
          return pass(`stopped ${pid}`);
        } }),
        defineCheck({ id: 'fresh-start', title: 'after', points: 1, run: async (ctx) => ((await get(ctx, '/y')).res.status === 200 ? pass('answered') : fail('no')) }),
      ],
    });
    const ex = await gradeUnit(unitFor(FORKING), definition, runnerOpts);
    expect(ex.checks.map((c) => `${c.id}:${c.status}:${c.evidence.message}`)).toEqual([
      'looks:pass:seen',
      'restarts-with-env:pass:changed',
      'fresh-env:pass:as usual',
      expect.stringMatching(/^terminates:pass:stopped \d+$/),
      'fresh-start:pass:answered',
    ]);
    expect(ex.server?.starts).toBe(4);
  });
});
