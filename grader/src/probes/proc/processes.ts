import { readdir, readFile, readlink } from 'node:fs/promises';
import { execa } from 'execa';

export interface ProcessInfo {
  pid: number;
  ppid: number;
  pgrp: number;
  /** One letter: R running, S sleeping, Z zombie, ... */
  state: string;
  threads: number;
  /** Clock ticks after boot: with the pid, it tells a process from a later one that got its pid. */
  startTime: number;
  command: string;
  /** Clock ticks spent running in user and kernel mode (Linux). */
  cpuTicks?: number;
}

const linuxPids = async (): Promise<number[]> => (await readdir('/proc')).filter((n) => /^\d+$/.test(n)).map(Number);

async function linuxProcess(pid: number, pgid?: number): Promise<ProcessInfo | undefined> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'latin1');
    // The command name may hold spaces and parentheses: split after the last ')'.
    const close = stat.lastIndexOf(')');
    const name = stat.slice(stat.indexOf('(') + 1, close);
    const f = stat.slice(close + 2).split(' ');
    if (pgid !== undefined && Number(f[2]) !== pgid) return undefined;
    let command = name;
    try {
      const cmdline = (await readFile(`/proc/${pid}/cmdline`, 'latin1')).split('\0').filter(Boolean).join(' ');
      if (cmdline) command = cmdline;
    } catch {
      // vanished or a zombie: keep the short name
    }
    return { pid, state: f[0]!, ppid: Number(f[1]), pgrp: Number(f[2]), threads: Number(f[17]), startTime: Number(f[19]), cpuTicks: Number(f[11]) + Number(f[12]), command };
  } catch {
    return undefined; // the process ended while we looked
  }
}

/** Every process whose process group is `pgid`: the server and everything it forked. */
export async function processGroup(pgid: number): Promise<ProcessInfo[]> {
  if (process.platform === 'linux') {
    const all = await Promise.all((await linuxPids()).map((pid) => linuxProcess(pid, pgid)));
    return all.filter((p): p is ProcessInfo => p !== undefined);
  }
  const { stdout } = await execa('ps', ['-A', '-o', 'pid=,ppid=,pgid=,stat=,command='], { reject: false });
  return stdout
    .split('\n')
    .map((line) => line.trim().match(/^(\d+)\s+(\d+)\s+(\d+)\s+(\S+)\s+(.*)$/))
    .filter((m): m is RegExpMatchArray => m !== null && Number(m[3]) === pgid)
    .map((m) => ({ pid: Number(m[1]), ppid: Number(m[2]), pgrp: Number(m[3]), state: m[4]![0]!, threads: 1, startTime: 0, command: m[5]! }));
}

/** Every process on the machine (Linux; elsewhere none). */
export async function allProcesses(): Promise<ProcessInfo[]> {
  if (process.platform !== 'linux') return [];
  const all = await Promise.all((await linuxPids()).map((pid) => linuxProcess(pid)));
  return all.filter((p): p is ProcessInfo => p !== undefined);
}

/**
 * Processes whose environment holds NAME=VALUE, or NAME with any value when `value` is left out
 * (Linux). Every server gets a variable of its own, so descendants that left its process group
 * (setsid, a double fork) are still found.
 */
export async function processesTagged(name: string, value?: string): Promise<ProcessInfo[]> {
  if (process.platform !== 'linux') return [];
  const needle = Buffer.from(value === undefined ? `\0${name}=` : `\0${name}=${value}\0`);
  const found = await Promise.all(
    (await linuxPids()).map(async (pid) => {
      try {
        const env = Buffer.concat([Buffer.from([0]), await readFile(`/proc/${pid}/environ`), Buffer.from([0])]);
        return env.includes(needle) ? linuxProcess(pid) : undefined;
      } catch {
        return undefined; // gone, or not ours to read
      }
    }),
  );
  return found.filter((p): p is ProcessInfo => p !== undefined);
}

/** Signals one process; one that is already gone is fine. */
export function signalProcess(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // ESRCH
  }
}

/** Signals a whole process group; a group that is already gone is fine. */
export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: nothing left in the group
  }
}

export interface ProcessStatus {
  rssKb?: number;
  /** Times it gave up the CPU to wait (for I/O, a lock, a sleep). */
  voluntarySwitches?: number;
  /** Times the scheduler took the CPU from it. */
  involuntarySwitches?: number;
}

/** Memory and context switches from a status file of /proc; empty for a process or thread that is gone. */
async function readStatus(file: string): Promise<ProcessStatus> {
  try {
    const text = await readFile(file, 'latin1');
    const field = (name: string) => {
      const m = new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text);
      return m ? Number(m[1]) : undefined;
    };
    const out: ProcessStatus = {};
    const rss = field('VmRSS');
    const vol = field('voluntary_ctxt_switches');
    const invol = field('nonvoluntary_ctxt_switches');
    if (rss !== undefined) out.rssKb = rss;
    if (vol !== undefined) out.voluntarySwitches = vol;
    if (invol !== undefined) out.involuntarySwitches = invol;
    return out;
  } catch {
    return {};
  }
}

/** Memory and context switches from /proc/PID/status (Linux); the switches are its first thread's. */
export async function processStatus(pid: number): Promise<ProcessStatus> {
  return process.platform === 'linux' ? readStatus(`/proc/${pid}/status`) : {};
}

/** Context switches summed over every thread of a process (Linux), from /proc/PID/task/TID/status. */
export async function threadSwitches(pid: number): Promise<{ voluntary: number; involuntary: number }> {
  const total = { voluntary: 0, involuntary: 0 };
  if (process.platform !== 'linux') return total;
  for (const tid of await readdir(`/proc/${pid}/task`).catch(() => [])) {
    const st = await readStatus(`/proc/${pid}/task/${tid}/status`);
    total.voluntary += st.voluntarySwitches ?? 0;
    total.involuntary += st.involuntarySwitches ?? 0;
  }
  return total;
}

/** One process by pid (Linux), or undefined when it is gone. */
export const processInfo = (pid: number): Promise<ProcessInfo | undefined> => (process.platform === 'linux' ? linuxProcess(pid) : Promise.resolve(undefined));

/**
 * What each open fd of a process points at: `socket:[inode]`, a path, `pipe:[...]` (Linux, from
 * /proc/PID/fd; undefined when the process is gone or not ours to look into).
 */
export async function openFds(pid: number): Promise<string[] | undefined> {
  if (process.platform !== 'linux') return undefined;
  let names: string[];
  try {
    names = await readdir(`/proc/${pid}/fd`);
  } catch {
    return undefined;
  }
  const targets = await Promise.all(names.map((n) => readlink(`/proc/${pid}/fd/${n}`).catch(() => undefined)));
  return targets.filter((t): t is string => t !== undefined);
}

/** The inode of a `socket:[inode]` fd target, or undefined for anything else. */
export const socketInode = (target: string): number | undefined => {
  const m = /^socket:\[(\d+)\]$/.exec(target);
  return m ? Number(m[1]) : undefined;
};
