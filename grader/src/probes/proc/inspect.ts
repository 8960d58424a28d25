import { execa } from 'execa';
import type { ProcessNode, ProcessTree } from '../../report/model.ts';
import { connectionTable, listenBacklog, listenRows, type ConnectionRow } from './listen-table.ts';
import { openFds, processStatus, serverProcesses, socketInode, type ProcessInfo } from './processes.ts';

// The server's process tree, seen from outside: which process holds the listening socket, every
// descendant (those that left the process group too, found by the start's tag), each one's state,
// threads, fds (sockets apart, and which socket each is), memory and context switches; the listen
// queue; the connection states on the server's port. Checks reach it through their context and
// can only look: stopping or signalling the server goes through the runner.

export interface FdSummary {
  total: number;
  sockets: number;
  /** Holds the server's listening socket. */
  listener: boolean;
  /** Sockets that are connections to the server's port (clients being served). */
  clients: number;
}

export interface ServerProcess extends ProcessInfo {
  rssKb?: number;
  voluntarySwitches?: number;
  involuntarySwitches?: number;
  fds?: FdSummary;
}

export interface ServerSnapshot {
  rootPid: number;
  /** Every process of the server but tsx's helpers, zombies included, the root first. */
  processes: ServerProcess[];
  /** Inodes of the sockets listening on the port (more than one: several sockets bound with SO_REUSEPORT). */
  listeners: number[];
  /** Connections waiting in the kernel's accept queue. */
  acceptQueue: number;
  backlog?: number;
  /** The server's side of the connections on its port, counted by state. */
  connections: Record<string, number>;
}

export interface InspectTarget {
  pid: number;
  port: number;
  /** The value of the start's tag variable, which every descendant inherits. */
  tag: { name: string; value: string };
}

/** What this platform lets the inspector see; a check that needs more is skipped, never failed. */
export interface InspectorSupport {
  fds: boolean;
  threads: boolean;
  switches: boolean;
  acceptQueue: boolean;
  connections: boolean;
}

/** The longest wait between two looks in waitFor. */
const MAX_INTERVAL_MS = 200;

/** `obj` with `key` computed on first read and kept: a plain, enumerable property from then on. */
function lazily<T extends object, K extends string, V>(obj: T, key: K, compute: () => V): T & Record<K, V> {
  let value: V;
  let done = false;
  return Object.defineProperty(obj, key, {
    enumerable: true,
    configurable: true,
    get: () => {
      if (!done) [value, done] = [compute(), true];
      return value;
    },
  }) as T & Record<K, V>;
}

/** Reads what a snapshot left for later, so what it says is what was there now, not when first asked. */
function settled(s: ServerSnapshot): ServerSnapshot {
  void s.connections;
  for (const p of s.processes) void p.fds?.clients;
  return s;
}

const isHelper = (p: ProcessInfo) => /(^|\/)esbuild(\s|$)/.test(p.command) || /esbuild.*--service/.test(p.command);

export class ServerInspector {
  readonly supports: InspectorSupport;

  constructor(private readonly target: () => InspectTarget) {
    const linux = process.platform === 'linux';
    this.supports = { fds: linux || process.platform === 'darwin', threads: linux, switches: linux, acceptQueue: linux, connections: linux };
  }

  /** Why a check that needs `what` cannot run here, or undefined when it can. */
  unsupported(...what: (keyof InspectorSupport)[]): string | undefined {
    const missing = what.filter((w) => !this.supports[w]);
    if (!missing.length) return undefined;
    return `on ${process.platform} the grader cannot see a process's ${missing.join(', ')} from outside`;
  }

  /** The server's processes, without fds (cheap): the root first, then by pid. */
  async processes(): Promise<ServerProcess[]> {
    const t = this.target();
    return (await serverProcesses(t.pid, t.tag))
      // tsx's esbuild service is not the student's: left out of every count.
      .filter((p) => !isHelper(p))
      .sort((a, b) => (a.pid === t.pid ? -1 : b.pid === t.pid ? 1 : a.pid - b.pid));
  }

  /** Everything at once: processes with fds and status, the listen queue and the connection states. */
  async snapshot(): Promise<ServerSnapshot> {
    return settled(await this.look());
  }

  /**
   * A snapshot whose connection figures (the states on the port, each process's client sockets)
   * are read from the kernel's connection table when first asked for. The table lists every
   * connection on the machine and is the dearest part of a look, which most tests never need
   * while they wait.
   */
  private async look(): Promise<ServerSnapshot> {
    const t = this.target();
    const listen = await listenRows(t.port);
    const listeners = listen.map((r) => r.inode);
    const backlog = await listenBacklog(t.port, listeners);
    let rows: ConnectionRow[] | undefined;
    const table = () => (rows ??= connectionTable(t.port));
    let clientInodes: Set<number> | undefined;
    const clients = () => (clientInodes ??= new Set(table().filter((c) => c.inode).map((c) => c.inode)));
    const procs = await this.processes();
    const darwinFds = process.platform === 'darwin' ? await lsofSockets(procs.map((p) => p.pid), t.port) : undefined;
    const processes = await Promise.all(
      procs.map(async (p): Promise<ServerProcess> => {
        if (p.state === 'Z') return p;
        const [status, fds] = await Promise.all([processStatus(p.pid), openFds(p.pid)]);
        const out: ServerProcess = { ...p, ...status };
        if (fds) {
          const inodes = fds.map(socketInode).filter((i): i is number => i !== undefined);
          out.fds = lazily({ total: fds.length, sockets: inodes.length, listener: inodes.some((i) => listeners.includes(i)) }, 'clients', () => inodes.filter((i) => clients().has(i)).length);
        } else if (darwinFds?.has(p.pid)) out.fds = darwinFds.get(p.pid)!;
        return out;
      }),
    );
    const countStates = () => {
      const connections: Record<string, number> = {};
      for (const c of table()) connections[c.state] = (connections[c.state] ?? 0) + 1;
      return connections;
    };
    const base = { rootPid: t.pid, processes, listeners, acceptQueue: listen.reduce((s, r) => s + r.acceptQueue, 0), ...(backlog !== undefined ? { backlog } : {}) };
    return lazily(base, 'connections', countStates);
  }

  /** CPU time the whole tree has used so far, in clock ticks (Linux). */
  async cpuTicks(): Promise<number> {
    return (await this.processes()).reduce((s, p) => s + (p.cpuTicks ?? 0), 0);
  }

  /**
   * Looks again and again (every `intervalMs`) until `test` holds, or the time or the signal runs
   * out; returns the last snapshot either way, so a failure shows what was last seen.
   */
  async waitFor(test: (s: ServerSnapshot) => boolean, opts: { timeoutMs: number; signal?: AbortSignal; intervalMs?: number }): Promise<{ ok: boolean; snapshot: ServerSnapshot }> {
    const deadline = Date.now() + opts.timeoutMs;
    // Quick looks at first, then further apart: a long wait is for a state that is slow to come,
    // and every look takes CPU from the server being waited on.
    let interval = opts.intervalMs ?? 25;
    for (;;) {
      const snapshot = await this.look();
      if (test(snapshot)) return { ok: true, snapshot: settled(snapshot) };
      if (Date.now() > deadline || opts.signal?.aborted) return { ok: false, snapshot: settled(snapshot) };
      await new Promise((r) => setTimeout(r, interval));
      interval = Math.min(interval * 1.5, Math.max(opts.intervalMs ?? 0, MAX_INTERVAL_MS));
    }
  }
}

/** Live processes of the server other than the root (workers, children); zombies apart. */
export const descendants = (s: ServerSnapshot): ServerProcess[] => s.processes.filter((p) => p.pid !== s.rootPid && p.state !== 'Z');
export const zombies = (s: ServerSnapshot): ServerProcess[] => s.processes.filter((p) => p.state === 'Z');
export const rootOf = (s: ServerSnapshot): ServerProcess | undefined => s.processes.find((p) => p.pid === s.rootPid);

/**
 * The snapshot as the report draws it: a small tree, each process with what matters, and marks the
 * check chose (`zombie`, `holds the listening socket`, ...) on the processes that explain its verdict.
 */
export function treeEvidence(s: ServerSnapshot, caption: string, mark: (p: ServerProcess) => string[] = () => []): ProcessTree {
  const processes: ProcessNode[] = s.processes.map((p) => {
    const marks = [...(p.state === 'Z' ? ['zombie'] : []), ...mark(p)];
    return {
      pid: p.pid,
      ppid: p.ppid,
      state: p.state,
      command: shortCommand(p.command),
      ...(p.state !== 'Z' && p.threads ? { threads: p.threads } : {}),
      ...(p.fds ? { fds: p.fds } : {}),
      ...(p.rssKb !== undefined ? { rssKb: p.rssKb } : {}),
      ...(marks.length ? { marks } : {}),
    };
  });
  const connections = Object.keys(s.connections).length ? { connections: s.connections } : {};
  return { caption, rootPid: s.rootPid, processes, acceptQueue: s.acceptQueue, ...(s.backlog !== undefined ? { backlog: s.backlog } : {}), ...connections };
}

/** `/root/.pyenv/versions/3.11.7/bin/python3 -u /tmp/x/server.py` as `python3 -u server.py`; node's loaders as `--import tsx`. */
export function shortCommand(command: string): string {
  // The grader's loaders (tsx, and tsx for worker threads) read as the one `--import tsx` a student would type.
  const short = command
    .split(' ')
    .map((w) => (w.includes('/') && !w.startsWith('file:') ? w.slice(w.lastIndexOf('/') + 1) || w : w.startsWith('file:') ? 'tsx' : w))
    .join(' ')
    .replace(/(--import tsx )+/, '--import tsx ');
  return short.length > 60 ? `${short.slice(0, 57)}...` : short;
}

/** macOS: each process's sockets on the port, from lsof (listener: no `->` in the name). */
async function lsofSockets(pids: number[], port: number): Promise<Map<number, FdSummary>> {
  const out = new Map<number, FdSummary>();
  if (!pids.length) return out;
  const r = await execa('lsof', ['-nP', '-a', '-p', pids.join(','), '-iTCP', '-F', 'pn'], { reject: false });
  let pid = 0;
  for (const line of (r.stdout ?? '').split('\n')) {
    if (line.startsWith('p')) {
      pid = Number(line.slice(1));
      out.set(pid, { total: 0, sockets: 0, listener: false, clients: 0 });
    } else if (line.startsWith('n') && out.has(pid)) {
      const f = out.get(pid)!;
      f.sockets++;
      f.total++;
      const name = line.slice(1);
      if (!name.includes('->') && name.endsWith(`:${port}`)) f.listener = true;
      else if (name.split('->')[0]!.endsWith(`:${port}`)) f.clients++;
    }
  }
  return out;
}
