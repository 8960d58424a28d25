// The load probe beside wrk and autocannon, against one server in the same run: a one-thread Node
// hello server (node:http, a child process on 127.0.0.1). Each tool gets the same connections and
// the same time, one after another, after the server has been warmed up; the order turns each
// round. The probe must not be what limits a measurement, and on two cores every cycle it burns
// is taken from the server it measures: the targets are at least 0.95 of wrk's requests per second
// at no more CPU per request than autocannon.
//
//   node --import tsx grader/bench/load.ts [--duration 5] [--connections 50] [--rounds 1]
//
// CPU: the probe and autocannon each run in a Node process of their own and report that process's
// CPU over the run alone (process.cpuUsage), leaving out Node's start and their module loading;
// wrk's is its whole process (its start costs next to nothing), read from /proc as the CPU of a
// waited-for child of the shell that runs it. The server's CPU over each run is read from /proc.
import { execa } from 'execa';
import getPort from 'get-port';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT } from '../src/course/course.ts';
import { runLoad } from '../src/probes/load/run-load.ts';
import type { LoadResult } from '../src/probes/load/run-load.ts';
import { buildRequest } from '../src/probes/raw/request.ts';
import { isListening } from '../src/probes/proc/listen-table.ts';

const { values } = parseArgs({ options: { duration: { type: 'string', default: '5' }, connections: { type: 'string', default: '50' }, rounds: { type: 'string', default: '1' } } });
const seconds = Number(values.duration);
const connections = Number(values.connections);
const rounds = Number(values.rounds);
if (!(seconds > 0) || !Number.isInteger(connections) || connections < 1 || !Number.isInteger(rounds) || rounds < 1) {
  console.error('usage: node --import tsx grader/bench/load.ts [--duration SECONDS] [--connections N] [--rounds N]');
  process.exit(2);
}

const HELLO_SERVER = `require('node:http').createServer((req, res) => {
  res.writeHead(200, { 'Content-Type': 'text/plain', 'Content-Length': '12' });
  res.end('hello world\\n');
}).listen(Number(process.env.PORT), '127.0.0.1');`;

const AUTOCANNON_CHILD = `const autocannon = require('autocannon');
const c0 = process.cpuUsage();
autocannon({ url: process.env.URL, connections: Number(process.env.CONNECTIONS), duration: Number(process.env.DURATION) }, (err, r) => {
  if (err) { console.error(String(err)); process.exit(1); }
  const cpu = process.cpuUsage(c0);
  console.log(JSON.stringify({ requests: r.requests.total, seconds: r.duration, p50: r.latency.p50, p99: r.latency.p99, cpuMs: (cpu.user + cpu.system) / 1000, errors: r.errors + r.timeouts + r.non2xx }));
});`;

/** The shell runs the tool, then prints its own /proc stat, whose cutime and cstime are the tool's CPU. */
const WITH_CHILD_CPU = `"$@"; status=$?; read -r stat < /proc/$$/stat && printf '\\nserverlab-cpu %s\\n' "$stat"; exit $status`;

const PROBE_CLI = path.join(REPO_ROOT, 'grader/src/probes/load/cli.ts');
/** The probe's warm-up before it measures, as in the checks that use it. */
const WARMUP_MS = 1000;
const WRK = (process.env.PATH ?? '').split(path.delimiter).map((dir) => path.join(dir, 'wrk')).find((p) => existsSync(p));

interface Row {
  tool: string;
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  /** CPU seconds, NaN where it could not be read. */
  cpu: number;
  errors: number;
  serverCpu: number;
  per1k?: number;
}

const clockTicks = Number((await execa('getconf', ['CLK_TCK'], { reject: false })).stdout) || 100;

/** utime + stime of a live process, in seconds (NaN off Linux). */
async function cpuOf(pid: number): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'latin1');
    // Fields after the command's closing parenthesis, from the third (state): utime is the 14th.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / clockTicks;
  } catch {
    return NaN;
  }
}

async function ours(port: number): Promise<Omit<Row, 'serverCpu'>> {
  // A warm-up second, as the checks give it: the probe's own JIT settles before requests count.
  const { stdout } = await execa(process.execPath, ['--import', 'tsx', PROBE_CLI, '--port', String(port), '--connections', String(connections), '--duration-ms', String(seconds * 1000), '--warmup-ms', String(WARMUP_MS)], { cwd: REPO_ROOT });
  const r = JSON.parse(stdout) as LoadResult;
  const errors = Object.values(r.errors).reduce((a, b) => a + b, 0);
  // Its CPU covers the warm-up too, so CPU per request counts the warm-up's requests as well.
  return { tool: 'serverlab load probe', rps: r.requestsPerSecond, p50: r.latency.p50, p99: r.latency.p99, requests: r.completed + r.warmup.completed, cpu: (r.cpu.userMs + r.cpu.systemMs) / 1000, errors };
}

async function autocannon(port: number): Promise<Omit<Row, 'serverCpu'>> {
  const env = { URL: `http://127.0.0.1:${port}/`, CONNECTIONS: String(connections), DURATION: String(seconds) };
  const { stdout } = await execa(process.execPath, ['-e', AUTOCANNON_CHILD], { cwd: REPO_ROOT, env });
  const r = JSON.parse(stdout) as { requests: number; seconds: number; p50: number; p99: number; cpuMs: number; errors: number };
  return { tool: 'autocannon', rps: r.requests / r.seconds, p50: r.p50, p99: r.p99, requests: r.requests, cpu: r.cpuMs / 1000, errors: r.errors };
}

/** "1.23ms", "456.00us", "1.02s" as ms. */
function wrkMs(text: string | undefined): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text ?? '');
  if (!m) return NaN;
  return Number(m[1]) * { us: 0.001, ms: 1, s: 1000 }[m[2] as 'us' | 'ms' | 's'];
}

async function wrk(port: number): Promise<Omit<Row, 'serverCpu'>> {
  // One thread, as the two Node tools have one.
  const args = [WRK!, '-t1', `-c${connections}`, `-d${seconds}s`, '--latency', `http://127.0.0.1:${port}/`];
  const { stdout } = await execa('sh', ['-c', WITH_CHILD_CPU, 'sh', ...args]);
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1]);
  const stat = /serverlab-cpu .*\) (.*)/.exec(stdout)?.[1]?.split(' ');
  const cpu = stat ? (Number(stat[13]) + Number(stat[14])) / clockTicks : NaN;
  const errors = [...stdout.matchAll(/(?:connect|read|write|timeout) (\d+)/g)].reduce((a, m) => a + Number(m[1]), 0) + Number(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1] ?? 0);
  return { tool: 'wrk -t1', rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]), p50: wrkMs(/ 50%\s+(\S+)/.exec(stdout)?.[1]), p99: wrkMs(/ 99%\s+(\S+)/.exec(stdout)?.[1]), requests, cpu, errors };
}

const port = await getPort({ host: '127.0.0.1' });
const server = execa(process.execPath, ['-e', HELLO_SERVER], { env: { PORT: String(port) }, reject: false });
try {
  const deadline = Date.now() + 10_000;
  while (!(await isListening(port))) {
    if (Date.now() > deadline || server.exitCode !== null) throw new Error('bench: the hello server did not listen within 10 s');
    await new Promise((r) => setTimeout(r, 10));
  }
  // Let the server's JIT settle before anything is measured, so the first tool is not the one that pays.
  await runLoad({ port, request: buildRequest(port, { target: '/' }), connections, durationMs: 1500 });

  const tools: Array<[string, (port: number) => Promise<Omit<Row, 'serverCpu'>>]> = [['ours', ours], ['wrk', wrk], ['autocannon', autocannon]];
  if (!WRK) console.log('wrk: not installed, so left out (Debian/Ubuntu: apt-get install wrk; macOS: brew install wrk)');
  const [la1] = os.loadavg();
  console.log(`load: one-thread Node hello server, ${connections} keep-alive connections, ${seconds} s per tool, ${os.cpus().length} cores, load average ${la1!.toFixed(2)} before the first run`);
  console.log('      (latencies in HdrHistogram, its pure-JS build; CPU: see grader/bench/load.ts)');
  const all = new Map<string, Row[]>();
  for (let round = 0; round < rounds; round++) {
    const order = tools.slice(round % tools.length).concat(tools.slice(0, round % tools.length)).filter(([name]) => name !== 'wrk' || WRK);
    const rows = new Map<string, Row>();
    for (const [name, run] of order) {
      const before = await cpuOf(server.pid!);
      const row = await run(port);
      rows.set(name, { ...row, serverCpu: (await cpuOf(server.pid!)) - before });
      all.set(name, [...(all.get(name) ?? []), rows.get(name)!]);
    }
    printTable(rounds > 1 ? `round ${round + 1} (in this order: ${order.map(([n]) => n).join(', ')})` : '', rows);
  }
  if (rounds > 1) printTable(`median of ${rounds} rounds, figure by figure`, new Map([...all].map(([name, rs]) => [name, medianRow(rs)])));
} finally {
  server.kill('SIGKILL');
  await server;
}

function medianRow(rows: Row[]): Row {
  const mid = (pick: (r: Row) => number) => rows.map(pick).sort((a, b) => a - b)[Math.floor(rows.length / 2)]!;
  return { tool: rows[0]!.tool, rps: mid((r) => r.rps), p50: mid((r) => r.p50), p99: mid((r) => r.p99), requests: mid((r) => r.requests), cpu: mid((r) => r.cpu), errors: mid((r) => r.errors), serverCpu: mid((r) => r.serverCpu), per1k: mid(cpuPer1k) };
}

/** CPU ms per 1000 requests (in a median row, the median of the rounds' own figures). */
function cpuPer1k(r: Row): number {
  return r.per1k ?? (r.cpu / r.requests) * 1e6;
}

/** The table, then how the probe compares with the targets. */
function printTable(caption: string, rows: Map<string, Row>): void {
  const num = (n: number, digits: number) => (Number.isFinite(n) ? n.toFixed(digits) : '-');
  const header = ['tool', 'req/s', 'p50 ms', 'p99 ms', 'CPU s', 'CPU ms/1k req', 'server CPU s', 'errors'];
  const body = [...rows.values()].map((r) => [r.tool, num(r.rps, 0), num(r.p50, 2), num(r.p99, 2), num(r.cpu, 2), num(cpuPer1k(r), 1), num(r.serverCpu, 2), String(r.errors)]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  if (caption) console.log(`\n${caption}`);
  for (const line of [header, ...body]) console.log(`  ${line.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ')}`);
  const o = rows.get('ours')!;
  const w = rows.get('wrk');
  const a = rows.get('autocannon')!;
  if (w) console.log(`  ours / wrk requests per second: ${(o.rps / w.rps).toFixed(3)}  (target: at least 0.95) ${o.rps / w.rps >= 0.95 ? 'met' : 'NOT met'}`);
  const ratio = cpuPer1k(o) / cpuPer1k(a);
  console.log(`  ours / autocannon CPU per request: ${Number.isFinite(ratio) ? ratio.toFixed(3) : '-'}  (target: at most 1) ${ratio <= 1 ? 'met' : 'NOT met'}`);
}
