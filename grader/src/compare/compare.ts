import getPort from 'get-port';
import { EXERCISE_CHECKS } from '../checks/index.ts';
import type { Exercise } from '../course/course.ts';
import { runLoad, type LoadResult } from '../probes/load/run-load.ts';
import { ServerInspector } from '../probes/proc/inspect.ts';
import { threadSwitches, type ProcessInfo } from '../probes/proc/processes.ts';
import { buildRequest } from '../probes/raw/request.ts';
import type { Track } from '../report/model.ts';
import { RunningServer, SERVER_TAG, StartError } from '../server/server.ts';
import type { SlowUpstream } from '../services/upstream.ts';
import { startUnitServices } from '../services/unit-services.ts';

// The lecture's comparison, run by the grader: the same load on several servers (a student's
// 05-09, each a different process model), one server at a time, with what each one cost the
// machine. Nothing here is graded: it measures and reports.

/** The route of each exercise that waits on the upstream; 08 has none. */
export const WAITING_ROUTES: Readonly<Record<string, string>> = { '05-fork': '/upstream/', '06-prefork': '/upstream/', '07-threads': '/upstream/', '09-proxy': '/proxy/' };

export type WorkloadId = 'waiting' | 'cpu';

export interface CompareTarget {
  /** What the report calls it: the folder, as the user named it. */
  label: string;
  exercise: Exercise;
  dir: string;
  track: Track;
}

export interface CompareSettings {
  /** Clients on the route that waits on the upstream. */
  clients: number;
  upstreamDelayMs: number;
  /** Clients asking for /hash at once. */
  cpuClients: number;
  hashRounds: number;
  /** How long each workload is measured, after a short warm-up. */
  seconds: number;
}

export const DEFAULT_SETTINGS: CompareSettings = { clients: 50, upstreamDelayMs: 200, cpuClients: 4, hashRounds: 20_000, seconds: 3 };

/** What the server's processes used during one workload. */
export interface ServerUse {
  /** CPU seconds of every process of the server, those that ended during the run included. */
  cpuSeconds: number;
  /** The most processes, and the most threads summed over them, seen at once. */
  processes: number;
  threads: number;
  /** Context switches of the processes alive at the end, over the run: waits, and preemptions. */
  voluntarySwitches: number;
  involuntarySwitches: number;
}

export interface WorkloadRun {
  workload: WorkloadId;
  /** The request's target, for the first client's first request. */
  example: string;
  clients: number;
  /** Why this workload was not run on this server. */
  skipped?: string;
  load?: Pick<LoadResult, 'requestsPerSecond' | 'completed' | 'durationMs' | 'latency' | 'errors' | 'statuses'>;
  use?: ServerUse;
  /** For the waiting workload: the most requests at the upstream at once. */
  upstreamAtOnce?: number;
}

export interface ComparedServer {
  label: string;
  exercise: string;
  track: Track;
  /** The variables of the exercise that set the model's size (WORKERS, THREADS, ...). */
  sizes: Record<string, string>;
  runs: WorkloadRun[];
  /** Why the server could not be measured at all (it did not start, ...). */
  error?: string;
}

export interface Comparison {
  settings: CompareSettings;
  servers: ComparedServer[];
}

const SIZE_VARIABLES = ['WORKERS', 'THREADS', 'PROCESSES'];
const SAMPLE_MS = 200;

export async function compareServers(targets: CompareTarget[], settings: CompareSettings, onServer?: (s: ComparedServer) => void): Promise<Comparison> {
  const servers: ComparedServer[] = [];
  for (const target of targets) {
    const s = await measureServer(target, settings);
    servers.push(s);
    onServer?.(s);
  }
  return { settings, servers };
}

async function measureServer(t: CompareTarget, settings: CompareSettings): Promise<ComparedServer> {
  const definition = EXERCISE_CHECKS[t.exercise.id];
  const { services, env } = await startUnitServices(t.exercise, definition, 'compare', t.track);
  const sizes = Object.fromEntries(SIZE_VARIABLES.filter((k) => env[k] !== undefined).map((k) => [k, env[k]!]));
  const out: ComparedServer = { label: t.label, exercise: t.exercise.id, track: t.track, sizes, runs: [] };
  let server: RunningServer | undefined;
  try {
    const port = await getPort({ host: '127.0.0.1' });
    try {
      server = await RunningServer.start({ dir: t.dir, track: t.track, port, env, readyTimeoutMs: 15_000 });
    } catch (e) {
      if (!(e instanceof StartError)) throw e;
      out.error = e.message;
      return out;
    }
    const running = server;
    const inspector = new ServerInspector(() => ({ pid: running.pid, port, tag: { name: SERVER_TAG, value: running.tag } }));
    const upstream = services.find((s) => s.name === 'upstream') as SlowUpstream | undefined;
    for (const workload of ['waiting', 'cpu'] as const) {
      for (const s of services) await s.reset();
      out.runs.push(await runWorkload(workload, { t, settings, port, inspector, upstream }));
      if (running.exitedAt !== undefined) {
        out.error = 'the server exited during the run';
        break;
      }
    }
    return out;
  } finally {
    await server?.stop();
    await Promise.all(services.map((s) => s.stop()));
  }
}

interface WorkloadContext {
  t: CompareTarget;
  settings: CompareSettings;
  port: number;
  inspector: ServerInspector;
  upstream?: SlowUpstream;
}

async function runWorkload(workload: WorkloadId, c: WorkloadContext): Promise<WorkloadRun> {
  const { settings, port } = c;
  const prefix = WAITING_ROUTES[c.t.exercise.id];
  const clients = workload === 'waiting' ? settings.clients : settings.cpuClients;
  const target = (client: number, i: number) =>
    workload === 'waiting' ? `${prefix ?? '/upstream/'}compare-${client}-${i}` : `/hash?rounds=${settings.hashRounds}&seed=c${client}r${i}`;
  const run: WorkloadRun = { workload, example: target(0, 0), clients };
  if (workload === 'waiting') {
    if (!prefix || !c.upstream) return { ...run, skipped: `${c.t.exercise.id} has no route that waits on an upstream` };
    c.upstream.setPlan({ kind: 'answer', delayMs: settings.upstreamDelayMs });
  }
  // A few requests first, so the server's first-request costs (imports, JIT, pools) are not measured.
  // Not a timed warm-up: each client waits its turn, and with a pool of 3 threads and 50 clients a
  // client's first answer can take seconds, which would leave a short window empty.
  await runLoad({ port, connections: Math.min(clients, 4), request: (client, i) => buildRequest(port, { target: target(client, i) }), maxRequests: 8, timeoutMs: 10_000 });
  const before = await usage(c.inspector);
  const peak = { processes: before.processes.length, threads: threadsOf(before.processes) };
  const sampler = setInterval(() => {
    void c.inspector.processes().then(
      (all) => {
        const ps = all.filter((p) => p.state !== 'Z');
        peak.processes = Math.max(peak.processes, ps.length);
        peak.threads = Math.max(peak.threads, threadsOf(ps));
      },
      () => {},
    );
  }, SAMPLE_MS);
  let load: LoadResult;
  try {
    load = await runLoad({
      port,
      connections: clients,
      request: (client, i) => buildRequest(port, { target: target(client, i) }),
      durationMs: settings.seconds * 1000,
      // A slow model is what is measured, not an error: only a request that never ends is one.
      timeoutMs: Math.max(10_000, settings.seconds * 1000),
    });
  } finally {
    clearInterval(sampler);
  }
  const after = await usage(c.inspector);
  const { requestsPerSecond, completed, durationMs, latency, errors, statuses } = load;
  return {
    ...run,
    load: { requestsPerSecond, completed, durationMs, latency, errors, statuses },
    use: {
      cpuSeconds: Math.max(0, (after.ticks - before.ticks) / CLOCK_TICKS),
      processes: peak.processes,
      threads: peak.threads,
      ...switchesBetween(before, after),
    },
    ...(workload === 'waiting' && c.upstream ? { upstreamAtOnce: c.upstream.record.maxInFlight } : {}),
  };
}

/** Linux's USER_HZ: the unit of the CPU times in /proc/PID/stat, 100 on every common kernel. */
const CLOCK_TICKS = 100;

const threadsOf = (ps: ProcessInfo[]) => ps.reduce((n, p) => n + p.threads, 0);

interface Usage {
  processes: ProcessInfo[];
  ticks: number;
  /** Context switches so far, by pid. */
  switches: Map<number, { voluntary: number; involuntary: number }>;
}

/** CPU of the live processes plus what the ones that ended left on their waiting parents; switches of the live ones. */
async function usage(inspector: ServerInspector): Promise<Usage> {
  const processes = (await inspector.processes()).filter((p) => p.state !== 'Z');
  const switches = new Map<number, { voluntary: number; involuntary: number }>();
  for (const p of processes) switches.set(p.pid, await threadSwitches(p.pid));
  const ticks = processes.reduce((n, p) => n + (p.cpuTicks ?? 0) + (p.reapedChildTicks ?? 0), 0);
  return { processes, ticks, switches };
}

/** The switches made over the run by the processes alive at its end (from 0 for those born during it). */
function switchesBetween(before: Usage, after: Usage): { voluntarySwitches: number; involuntarySwitches: number } {
  let voluntarySwitches = 0;
  let involuntarySwitches = 0;
  for (const [pid, now] of after.switches) {
    const then = before.switches.get(pid) ?? { voluntary: 0, involuntary: 0 };
    voluntarySwitches += Math.max(0, now.voluntary - then.voluntary);
    involuntarySwitches += Math.max(0, now.involuntary - then.involuntary);
  }
  return { voluntarySwitches, involuntarySwitches };
}
