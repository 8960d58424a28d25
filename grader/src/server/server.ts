import { execa, type ResultPromise } from 'execa';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Track } from '../report/model.ts';
import { randomUUID } from 'node:crypto';
import { isListening, listenRows } from '../probes/proc/listen-table.ts';
import { openFds, serverProcesses, signalGroup, signalProcess, socketInode, type ProcessInfo } from '../probes/proc/processes.ts';
import { ENTRY_FILE, hasEntry, launchCommand } from './launch.ts';
import { OutputTail } from './output-tail.ts';
import { liveGroups } from './live-groups.ts';
import { within } from '../time.ts';

export interface StartOptions {
  dir: string;
  track: Track;
  port: number;
  env: Record<string, string>;
  /** How long a server may take to listen; generous, since a loaded CI runner is slow to start Node. */
  readyTimeoutMs: number;
  /** Abandons the start (the check that asked for it ran out of time). */
  signal?: AbortSignal;
}

export interface ExitInfo {
  exitCode?: number;
  signal?: string;
}

/** Why a server could not be started; becomes the evidence of every check of its exercise. */
export class StartError extends Error {
  constructor(
    readonly code: 'server-exited' | 'never-listened' | 'wrong-address' | 'spawn-failed' | 'missing-server-file' | 'start-abandoned' | 'port-taken',
    message: string,
    readonly output: string,
  ) {
    super(message);
  }
}

export interface StopReport {
  /** Processes that outlived SIGTERM and the grace period, and descendants that left the process group; all killed. */
  leftBehind: string[];
}

const POLL_MS = 10;
const TERM_GRACE_MS = 3000;
/** The environment variable that marks every process of one server start, wherever it goes. */
export const SERVER_TAG = 'SERVERLAB_SERVER';

/** A student's server running as its own process group. */
export class RunningServer {
  exit: ExitInfo | undefined;
  /** When it exited, in performance.now() milliseconds. */
  exitedAt: number | undefined;
  readonly exited: Promise<ExitInfo>;

  private constructor(
    readonly pid: number,
    readonly port: number,
    readonly command: string,
    readonly startMs: number,
    private readonly output: OutputTail,
    exited: Promise<ExitInfo>,
    readonly tag: string,
    private readonly child: ResultPromise,
  ) {
    this.exited = exited;
    exited.then((e) => {
      this.exit = e;
      this.exitedAt = performance.now();
    });
  }

  /** The last lines the server printed, stdout and stderr interleaved. */
  outputTail(): string {
    return this.output.text();
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  static async start(opts: StartOptions): Promise<RunningServer> {
    if (!hasEntry(opts.track, opts.dir)) {
      throw new StartError('missing-server-file', `there is no ${ENTRY_FILE[opts.track]} in ${path.relative(process.cwd(), opts.dir) || opts.dir}`, '');
    }
    const cmd = await launchCommand(opts.track, opts.dir);
    const command = cmd.display ?? [cmd.file === process.execPath ? 'node' : path.basename(cmd.file), ...cmd.args.map(shorten)].join(' ');
    const output = new OutputTail();
    const t0 = performance.now();
    const tag = randomUUID();
    let child: ResultPromise;
    try {
      child = execa(cmd.file, cmd.args, {
        cwd: opts.dir,
        env: { ...serverBaseEnv(), ...opts.env, PORT: String(opts.port), [SERVER_TAG]: tag },
        extendEnv: false,
        detached: true, // its own process group, so the whole tree can be signalled at once
        stdin: 'ignore',
        buffer: false,
        reject: false,
        cleanup: false,
      });
    } catch (e) {
      throw new StartError('spawn-failed', `could not start ${command}: ${(e as Error).message}`, '');
    }
    child.stdout?.on('data', (d: Buffer) => output.push(d));
    child.stderr?.on('data', (d: Buffer) => output.push(d));
    // The process's own exit, not execa's result: that also waits for the output pipes to close,
    // which a child holding them can put off for ever.
    const exited = new Promise<ExitInfo>((resolve) => {
      child.once('exit', (code, signal) => resolve({ ...(code !== null ? { exitCode: code } : {}), ...(signal ? { signal } : {}) }));
      child.once('error', () => resolve({}));
    });
    child.catch(() => undefined);
    const pid = child.pid;
    if (pid === undefined) {
      const e = await exited;
      throw new StartError('spawn-failed', `could not start ${command} (${describeExit(e)})`, output.text());
    }
    liveGroups.add(pid);
    const server = new RunningServer(pid, opts.port, command, 0, output, exited, tag, child);

    const deadline = Date.now() + opts.readyTimeoutMs;
    let elsewhereSince: number | undefined;
    let foreign = false;
    for (;;) {
      const fail = async (code: StartError['code'], message: string) => {
        await server.stop();
        return new StartError(code, message, output.text());
      };
      if (server.exit && foreign) throw await fail('port-taken', `another program listened on 127.0.0.1:${opts.port} while the server started, and the server exited (${describeExit(server.exit)})`);
      if (server.exit) throw await fail('server-exited', `the server exited before listening on port ${opts.port} (${describeExit(server.exit)})`);
      if (opts.signal?.aborted) throw await fail('start-abandoned', 'the start was abandoned: the check ran out of time');
      if (await isListening(opts.port)) {
        const own = await server.holdsListener();
        if (own !== false) break;
        foreign = true;
      }
      // Listening on the port, but where 127.0.0.1 cannot reach (::1, 127.0.0.2, another interface).
      const elsewhere = process.platform === 'linux' ? (await listenRows(opts.port)).map((r) => r.address) : [];
      elsewhereSince = elsewhere.length ? (elsewhereSince ?? Date.now()) : undefined;
      if (elsewhereSince !== undefined && Date.now() - elsewhereSince > 1000) {
        throw await fail('wrong-address', `the server listens on ${elsewhere.map((a) => (a.includes(':') ? `[${a}]` : a)).join(', ')} port ${opts.port}, which 127.0.0.1 cannot reach`);
      }
      if (Date.now() > deadline && foreign) throw await fail('port-taken', `another program listened on 127.0.0.1:${opts.port}, and the server did not, within ${opts.readyTimeoutMs / 1000} s`);
      if (Date.now() > deadline) throw await fail('never-listened', `the server did not listen on 127.0.0.1:${opts.port} within ${opts.readyTimeoutMs / 1000} s`);
      // Quick polls while a normal server starts, then slower: each read of the kernel's socket
      // table costs CPU that a slow-starting server on a small machine needs.
      await within(exited, Date.now() - deadline + opts.readyTimeoutMs < 1000 ? POLL_MS : POLL_MS * 10);
    }
    (server as { startMs: number }).startMs = Math.round(performance.now() - t0);
    return server;
  }

  /**
   * Whether one of the server's own processes holds the socket listening on its port (Linux;
   * undefined elsewhere). Between two starts in one unit the port is free, and another program (a
   * second grading job, a fixture service, an outgoing connection) can take it: that listener is not
   * this server being ready.
   */
  private async holdsListener(): Promise<boolean | undefined> {
    if (process.platform !== 'linux') return undefined;
    const listeners = new Set((await listenRows(this.port)).map((r) => r.inode));
    for (const p of await serverProcesses(this.pid, { name: SERVER_TAG, value: this.tag })) {
      if ((await openFds(p.pid))?.some((fd) => listeners.has(socketInode(fd) ?? -1))) return true;
    }
    return false;
  }

  /**
   * SIGTERM to the whole group and to every process carrying this start's tag (descendants that
   * left the group), then SIGKILL to whatever is still there after a grace period.
   */
  async stop(): Promise<StopReport> {
    const members = async () => {
      return (await serverProcesses(this.pid, { name: SERVER_TAG, value: this.tag })).filter((p) => p.state !== 'Z');
    };
    const describe = (p: ProcessInfo) => `pid ${p.pid} (parent ${p.ppid}): ${p.command}`;
    signalGroup(this.pid, 'SIGTERM');
    let alive = await members();
    // Descendants that left the group (setsid) would have outlived a group signal: always named.
    const escaped = alive.filter((p) => p.pgrp !== this.pid).map((p) => `${describe(p)} (had left the server's process group)`);
    for (const p of alive) signalProcess(p.pid, 'SIGTERM');
    const deadline = Date.now() + TERM_GRACE_MS;
    while (alive.length && Date.now() < deadline) {
      await sleep(POLL_MS * 2);
      alive = await members();
    }
    signalGroup(this.pid, 'SIGKILL');
    for (const p of alive) signalProcess(p.pid, 'SIGKILL');
    // Whatever still holds the output pipes must not keep the grader waiting on them.
    this.child.stdout?.destroy();
    this.child.stderr?.destroy();
    await within(this.exited, TERM_GRACE_MS);
    liveGroups.delete(this.pid);
    const survivors = alive.filter((p) => p.pgrp === this.pid).map(describe);
    return { leftBehind: [...survivors, ...escaped] };
  }
}

export function describeExit(e: ExitInfo): string {
  if (e.signal) return `killed by ${e.signal}`;
  return `exit code ${e.exitCode ?? 'unknown'}`;
}

function shorten(arg: string): string {
  return arg.startsWith('file://') ? 'tsx' : arg;
}

/**
 * What the server inherits from the grader: enough to find its runtime and libraries, nothing else
 * (no CI secrets, no NODE_OPTIONS), and a fixed hash seed so Python behaves the same every run.
 */
function serverBaseEnv(): Record<string, string> {
  const keep = /^(PATH|HOME|USER|LOGNAME|SHELL|TMPDIR|TZ|LANG|LC_\w+|PYENV_\w+|VIRTUAL_ENV|CONDA_\w+|SYSTEMROOT|__STRYKER_ACTIVE_MUTANT__)$/;
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && keep.test(k)) env[k] = v;
  env.PYTHONDONTWRITEBYTECODE = '1';
  env.PYTHONHASHSEED = '0';
  return env;
}
