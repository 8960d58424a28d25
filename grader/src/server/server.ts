import { execa, type ResultPromise } from 'execa';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Track } from '../report/model.ts';
import { isListening } from '../probes/proc/listen-table.ts';
import { processGroup, signalGroup } from '../probes/proc/processes.ts';
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
}

export interface ExitInfo {
  exitCode?: number;
  signal?: string;
}

/** Why a server could not be started; becomes the evidence of every check of its exercise. */
export class StartError extends Error {
  constructor(
    readonly code: 'server-exited' | 'never-listened' | 'spawn-failed' | 'missing-server-file',
    message: string,
    readonly output: string,
  ) {
    super(message);
  }
}

export interface StopReport {
  /** Processes that outlived SIGTERM and the grace period, killed with SIGKILL. */
  leftBehind: string[];
}

const POLL_MS = 10;
const TERM_GRACE_MS = 3000;

/** A student's server running as its own process group. */
export class RunningServer {
  exit: ExitInfo | undefined;
  readonly exited: Promise<ExitInfo>;

  private constructor(
    readonly pid: number,
    readonly port: number,
    readonly command: string,
    readonly startMs: number,
    private readonly output: OutputTail,
    exited: Promise<ExitInfo>,
  ) {
    this.exited = exited;
    exited.then((e) => (this.exit = e));
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
    const command = [cmd.file === process.execPath ? 'node' : path.basename(cmd.file), ...cmd.args.map(shorten)].join(' ');
    const output = new OutputTail();
    const t0 = performance.now();
    let child: ResultPromise;
    try {
      child = execa(cmd.file, cmd.args, {
        cwd: opts.dir,
        env: { ...serverBaseEnv(), ...opts.env, PORT: String(opts.port) },
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
    const exited = child.then(
      (r) => ({ exitCode: r.exitCode, signal: r.signal }),
      (e: { exitCode?: number; signal?: string }) => ({ exitCode: e.exitCode, signal: e.signal }),
    );
    const pid = child.pid;
    if (pid === undefined) {
      const e = await exited;
      throw new StartError('spawn-failed', `could not start ${command} (${describeExit(e)})`, output.text());
    }
    liveGroups.add(pid);
    const server = new RunningServer(pid, opts.port, command, 0, output, exited);

    const deadline = Date.now() + opts.readyTimeoutMs;
    for (;;) {
      if (server.exit) {
        await server.stop();
        throw new StartError('server-exited', `the server exited before listening on port ${opts.port} (${describeExit(server.exit)})`, output.text());
      }
      if (await isListening(opts.port)) break;
      if (Date.now() > deadline) {
        await server.stop();
        throw new StartError('never-listened', `the server did not listen on 127.0.0.1:${opts.port} within ${opts.readyTimeoutMs / 1000} s`, output.text());
      }
      // Quick polls while a normal server starts, then slower: each read of the kernel's socket
      // table costs CPU that a slow-starting server on a small machine needs.
      await within(exited, Date.now() - deadline + opts.readyTimeoutMs < 1000 ? POLL_MS : POLL_MS * 10);
    }
    (server as { startMs: number }).startMs = Math.round(performance.now() - t0);
    return server;
  }

  /** SIGTERM to the whole group, then SIGKILL to whatever is still there after a grace period. */
  async stop(): Promise<StopReport> {
    signalGroup(this.pid, 'SIGTERM');
    const deadline = Date.now() + TERM_GRACE_MS;
    let members = await processGroup(this.pid);
    while (members.some((p) => p.state !== 'Z') && Date.now() < deadline) {
      await sleep(POLL_MS * 2);
      members = await processGroup(this.pid);
    }
    const leftBehind = members.filter((p) => p.state !== 'Z').map((p) => `pid ${p.pid} (parent ${p.ppid}): ${p.command}`);
    if (leftBehind.length) signalGroup(this.pid, 'SIGKILL');
    await within(this.exited, TERM_GRACE_MS);
    liveGroups.delete(this.pid);
    return { leftBehind };
  }
}

export function describeExit(e: ExitInfo): string {
  if (e.signal) return `killed by ${e.signal}`;
  return `exit code ${e.exitCode ?? 'unknown'}`;
}

function shorten(arg: string): string {
  return arg.startsWith('file://') ? 'tsx' : arg;
}

/** The grader's environment, less what would change how the student's runtime behaves. */
function serverBaseEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || k === 'NODE_OPTIONS' || k.startsWith('VITEST') || k.startsWith('npm_')) continue;
    env[k] = v;
  }
  env.PYTHONDONTWRITEBYTECODE = '1';
  return env;
}
