import { renderLatencyChart } from '../report/latency-chart.ts';
import type { Comparison, ComparedServer, WorkloadId, WorkloadRun } from './compare.ts';

// A comparison as text: one table per workload, a row per server, and with `charts` each row's
// latency chart below its table. Pure: the same comparison always gives the same text.

const COLUMNS = ['server', 'answers/s', 'p50 ms', 'p99 ms', 'failed', 'CPU s', 'CPU ms/answer', 'processes', 'threads', 'switches (waits / preempted)'];

const ms = (x: number) => (x >= 100 ? String(Math.round(x)) : String(Number(x.toPrecision(3))));

function heading(c: Comparison, workload: WorkloadId): string {
  const s = c.settings;
  if (workload === 'waiting') {
    const most = Math.round(s.clients / (s.upstreamDelayMs / 1000));
    return `Waiting on the upstream: ${s.clients} clients, each asking again as soon as it has its answer; the upstream takes ${s.upstreamDelayMs} ms, so ${s.clients} / ${s.upstreamDelayMs / 1000} s = ${most} answers per second is the most any model can get.`;
  }
  return `CPU work: ${s.cpuClients} clients asking for /hash?rounds=${s.hashRounds} (${s.hashRounds} SHA-256 rounds each); a model that runs them on both cores answers about twice as many as one that runs one at a time.`;
}

const failed = (r: WorkloadRun) => Object.values(r.load?.errors ?? {}).reduce((a, b) => a + b, 0);

function nameOf(s: ComparedServer): string {
  const sizes = Object.entries(s.sizes).map(([k, v]) => `${k}=${v}`);
  return `${s.label} [${s.track}]${sizes.length ? ` ${sizes.join(' ')}` : ''}`;
}

function row(s: ComparedServer, r: WorkloadRun | undefined, workload: WorkloadId): string[] {
  const name = nameOf(s);
  // The cause is said in the first table that misses the server; the next one points back to it.
  const first = !s.runs.length ? workload === 'waiting' : true;
  if (!r) return [name, first ? `not measured: ${s.error ?? 'the server stopped before this workload'}` : 'not measured (see above)'];
  if (r.skipped || !r.load || !r.use) return [name, `not run: ${r.skipped ?? 'no figures'}`];
  const l = r.load;
  const u = r.use;
  const perAnswer = l.completed ? ms((u.cpuSeconds * 1000) / l.completed) : '-';
  return [name, String(l.requestsPerSecond), ms(l.latency.p50), ms(l.latency.p99), String(failed(r)), u.cpuSeconds.toFixed(2), perAnswer, String(u.processes), String(u.threads), `${u.voluntarySwitches} / ${u.involuntarySwitches}`];
}

function table(rows: string[][]): string[] {
  const full = rows.filter((r) => r.length === COLUMNS.length);
  const widths = COLUMNS.map((c, i) => Math.max(c.length, ...full.map((r) => r[i]!.length)));
  const line = (r: string[]) => (r.length === COLUMNS.length ? r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join('  ') : `${r[0]!.padEnd(widths[0]!)}  ${r[1]}`);
  return [line(COLUMNS), ...rows.map(line)].map((l) => `  ${l.trimEnd()}`);
}

export function formatComparison(c: Comparison, opts: { charts?: boolean } = {}): string {
  const out: string[] = [`compare: ${c.servers.length} server${c.servers.length === 1 ? '' : 's'}, the same load on each, one after another (${c.settings.seconds} s per workload, after 8 requests to warm it up)`];
  for (const workload of ['waiting', 'cpu'] as const) {
    out.push('', heading(c, workload), ...table(c.servers.map((s) => row(s, s.runs.find((r) => r.workload === workload), workload))));
    const atOnce = c.servers.flatMap((s) => {
      const r = s.runs.find((x) => x.workload === workload);
      return r?.upstreamAtOnce !== undefined ? [`${nameOf(s)}: ${r.upstreamAtOnce}`] : [];
    });
    if (atOnce.length) out.push(`  most requests at the upstream at once: ${atOnce.join('; ')}`);
    if (opts.charts) {
      for (const s of c.servers) {
        const r = s.runs.find((x) => x.workload === workload);
        if (r?.load) out.push('', `  ${nameOf(s)}`, ...renderLatencyChart(r.load.latency).map((l) => `    ${l}`));
      }
    }
  }
  out.push(
    '',
    'Context switches: "waits" are the times a thread gave up the CPU to wait (on a socket, a lock, a child),',
    '"preempted" the times the scheduler took it away. Figures of processes that ended during a run are in',
    'the CPU time but not in the switches. Nothing here is graded; run again and the figures move a little.',
  );
  return `${out.join('\n')}\n`;
}
