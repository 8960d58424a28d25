import { execa } from 'execa';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareServers, type Comparison } from '../../src/compare/compare.ts';
import { formatComparison } from '../../src/compare/report.ts';
import { loadCourse, REPO_ROOT } from '../../src/course/course.ts';

// The comparison runs the reference solutions of 07 (a pool of THREADS threads) and 08 (one
// event loop) under a small load: one second per workload, at most 10 clients. What is asserted is
// what the models make certain whatever the machine's speed: a pool of k threads never has more
// than k requests at the upstream, so it cannot answer much faster than k / d.

const CLI = path.join(REPO_ROOT, 'grader/src/compare/cli.ts');
const compareCli = (args: string[]) => execa(process.execPath, ['--import', 'tsx', CLI, ...args], { cwd: REPO_ROOT, reject: false, timeout: 60_000 });

describe('compare', () => {
  it('measures a pool of threads and an event loop under the same load', async () => {
    const course = await loadCourse();
    const pick = (id: string) => ({ label: id, exercise: course.find((e) => e.id === id)!, dir: path.join(REPO_ROOT, 'solutions', id), track: 'py' as const });
    const settings = { clients: 10, upstreamDelayMs: 100, cpuClients: 2, hashRounds: 2000, seconds: 1 };
    const c = await compareServers([pick('07-threads'), pick('08-event-loop')], settings);
    const [pool, loop] = c.servers;

    expect(pool!.error).toBeUndefined();
    const k = Number(pool!.sizes.THREADS);
    const waiting = pool!.runs.find((r) => r.workload === 'waiting')!;
    expect(waiting.upstreamAtOnce).toBe(k);
    expect(waiting.load!.completed).toBeGreaterThan(0);
    expect(waiting.load!.requestsPerSecond).toBeLessThanOrEqual((k / 0.1) * 1.5);
    expect(waiting.use!.threads).toBeGreaterThanOrEqual(k + 1);
    expect(waiting.use!.cpuSeconds).toBeGreaterThan(0);

    expect(loop!.runs.find((r) => r.workload === 'waiting')!.skipped).toMatch(/08-event-loop has no route that waits on an upstream/);
    const cpu = loop!.runs.find((r) => r.workload === 'cpu')!;
    expect(cpu.load!.completed).toBeGreaterThan(0);
    expect(cpu.load!.errors).toEqual(expect.objectContaining({ malformed: 0, 'bad-status': 0 }));
    expect(cpu.use!.processes).toBeGreaterThanOrEqual(1);
  });

  it('prints a table per workload, with what was skipped and why a server was not measured', () => {
    const latency = { count: 20, p50: 101, p90: 103, p99: 150, max: 160, mean: 105, buckets: [{ fromMs: 100, toMs: 200, count: 20 }] };
    const errors = { refused: 0, reset: 0, timeout: 0, malformed: 0, 'closed-early': 0, 'bad-status': 0 };
    const use = { cpuSeconds: 0.5, processes: 1, threads: 4, voluntarySwitches: 120, involuntarySwitches: 7 };
    const c: Comparison = {
      settings: { clients: 50, upstreamDelayMs: 200, cpuClients: 4, hashRounds: 20000, seconds: 3 },
      servers: [
        {
          label: '07',
          exercise: '07-threads',
          track: 'py',
          sizes: { THREADS: '3' },
          runs: [
            { workload: 'waiting', example: '/upstream/compare-0-0', clients: 50, load: { requestsPerSecond: 15, completed: 45, durationMs: 3000, latency, errors, statuses: { 200: 45 } }, use, upstreamAtOnce: 3 },
            { workload: 'cpu', example: '/hash?rounds=20000&seed=c0r0', clients: 4, load: { requestsPerSecond: 20, completed: 60, durationMs: 3000, latency, errors: { ...errors, reset: 2 }, statuses: { 200: 60 } }, use },
          ],
        },
        { label: '08', exercise: '08-event-loop', track: 'py', sizes: {}, runs: [{ workload: 'waiting', example: '/upstream/compare-0-0', clients: 50, skipped: '08-event-loop has no route that waits on an upstream' }] },
        { label: 'mine/09', exercise: '09-proxy', track: 'py', sizes: {}, runs: [], error: 'the server exited before listening on port 4000 (exit code 1)' },
      ],
    };
    const text = formatComparison(c, { charts: true });
    expect(text).toContain('50 / 0.2 s = 250 answers per second is the most any model can get');
    expect(text).toMatch(/07 \[py\] THREADS=3 +15 +101 +150 +0 +0\.50 +11\.1 +1 +4 +120 \/ 7/);
    expect(text).toMatch(/07 \[py\] THREADS=3 +20 +101 +150 +2 /);
    expect(text).toMatch(/08 \[py\] +not run: 08-event-loop has no route that waits on an upstream/);
    expect(text).toContain('most requests at the upstream at once: 07 [py] THREADS=3: 3');
    expect(text).toMatch(/mine\/09 \[py\] +not measured: the server exited before listening on port 4000 \(exit code 1\)\n/);
    expect(text.split('the server exited before listening').length).toBe(2);
    expect(text).toMatch(/mine\/09 \[py\] +not measured \(see above\)\n/);
    expect(text).toContain('latency of 20 responses: p50 101 ms');
    expect(formatComparison(c)).not.toContain('latency of 20 responses');
  });

  it('says which argument it cannot compare, and exits 2', async () => {
    const noTs = await compareCli(['--solutions', '--track', 'ts', '05']);
    expect(noTs.exitCode).toBe(2);
    expect(noTs.stderr).toContain('05: 05-fork has no ts track (it has py)');

    const dir = await mkdtemp(path.join(os.tmpdir(), 'serverlab-compare-'));
    try {
      const mine = path.join(dir, 'my-proxy');
      await execa('mkdir', [mine]);
      await writeFile(path.join(mine, 'server.py'), '');
      const unnamed = await compareCli(['--track', 'py', mine]);
      expect(unnamed.exitCode).toBe(2);
      expect(unnamed.stderr).toContain(`${mine}: which exercise is this server? Name the folder after one (09-threads/) or say --as 09`);
      const flag = await compareCli(['--solutions', '--seconds', '0']);
      expect(flag.exitCode).toBe(2);
      expect(flag.stderr).toContain('--seconds must be a whole number from 1 to 60, not "0"');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
