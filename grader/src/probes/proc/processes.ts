import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { execa } from 'execa';

// Files under /proc are made by the kernel as they are read, without waiting on a disk: they are
// read synchronously, which costs a fraction of the CPU of an asynchronous open, stat, read and
// close per file. A grader that looks at a server every few milliseconds takes that CPU from it.

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
  /** The same for its children that have ended and been waited for (Linux). */
  reapedChildTicks?: number;
}

const readProc = (file: string): string | undefined => {
  try {
    return readFileSync(file, 'latin1');
  } catch {
    return undefined; // the process ended while we looked, or is not ours to read
  }
};

const linuxPids = (): number[] => readdirSync('/proc').filter((n) => /^\d+$/.test(n)).map(Number);

/** A process's stat line, without its command line (read only for the processes kept). */
function linuxStat(pid: number): Omit<ProcessInfo, 'command'> & { name: string } | undefined {
  const stat = readProc(`/proc/${pid}/stat`);
  if (!stat) return undefined;
  // The command name may hold spaces and parentheses: split after the last ')'.
  const close = stat.lastIndexOf(')');
  const name = stat.slice(stat.indexOf('(') + 1, close);
  const f = stat.slice(close + 2).split(' ');
  return { pid, name, state: f[0]!, ppid: Number(f[1]), pgrp: Number(f[2]), threads: Number(f[17]), startTime: Number(f[19]), cpuTicks: Number(f[11]) + Number(f[12]), reapedChildTicks: Number(f[13]) + Number(f[14]) };
}

function withCommand({ name, ...p }: Omit<ProcessInfo, 'command'> & { name: string }): ProcessInfo {
  // A zombie's command line is empty: keep the short name.
  const cmdline = readProc(`/proc/${p.pid}/cmdline`)?.split('\0').filter(Boolean).join(' ');
  return { ...p, command: cmdline || name };
}

const linuxProcess = (pid: number): ProcessInfo | undefined => {
  const stat = linuxStat(pid);
  return stat && withCommand(stat);
};

/** Every process whose process group is `pgid`: the server and everything it forked. */
export async function processGroup(pgid: number): Promise<ProcessInfo[]> {
  if (process.platform === 'linux') return linuxPids().flatMap((pid) => {
    const stat = linuxStat(pid);
    return stat && stat.pgrp === pgid ? [withCommand(stat)] : [];
  });
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
  return linuxPids().flatMap((pid) => linuxProcess(pid) ?? []);
}

// A process's environment is fixed when it starts: what one holds for a variable is read once per
// process (pid and start time), not on every look.
const tagValues = new Map<string, string | null>();

function tagValue(name: string, pid: number, startTime: number): string | null {
  const key = `${name}\0${pid}@${startTime}`;
  let value = tagValues.get(key);
  if (value === undefined) {
    const env = readProc(`/proc/${pid}/environ`);
    const at = env === undefined ? -1 : `\0${env}`.indexOf(`\0${name}=`);
    value = env === undefined || at < 0 ? null : env.slice(at + name.length + 1).split('\0', 1)[0]!;
    // A process that was gone or not readable is asked again next time.
    if (env !== undefined) tagValues.set(key, value);
    if (tagValues.size > 50_000) tagValues.clear();
  }
  return value;
}

/**
 * Processes whose environment holds NAME=VALUE, or NAME with any value when `value` is left out
 * (Linux). Every server gets a variable of its own, so descendants that left its process group
 * (setsid, a double fork) are still found. `startedAfter` (clock ticks after boot) leaves out what
 * started before it, which cannot descend from a process started then.
 */
export async function processesTagged(name: string, value?: string, startedAfter = 0): Promise<ProcessInfo[]> {
  if (process.platform !== 'linux') return [];
  return linuxPids().flatMap((pid) => {
    const stat = linuxStat(pid);
    if (!stat || stat.startTime < startedAfter) return [];
    const v = tagValue(name, pid, stat.startTime);
    return v !== null && (value === undefined || v === value) ? [withCommand(stat)] : [];
  });
}

/**
 * A server's processes (Linux; elsewhere its process group): its group, and whatever carries its
 * tag, in one look at /proc. Nothing started before the server can be one of them.
 */
export async function serverProcesses(pgid: number, tag: { name: string; value: string }): Promise<ProcessInfo[]> {
  if (process.platform !== 'linux') return processGroup(pgid);
  // The leader's start time bounds the search only while the leader is the server, not a later
  // process that was given its pid.
  const stat0 = linuxStat(pgid);
  const leader = stat0 && tagValue(tag.name, pgid, stat0.startTime) === tag.value ? stat0 : undefined;
  return linuxPids().flatMap((pid) => {
    const stat = linuxStat(pid);
    if (!stat) return [];
    if (stat.pgrp === pgid) return [withCommand(stat)];
    if (leader && stat.startTime < leader.startTime) return [];
    return tagValue(tag.name, pid, stat.startTime) === tag.value ? [withCommand(stat)] : [];
  });
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
function readStatus(file: string): ProcessStatus {
  const text = readProc(file);
  if (text === undefined) return {};
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
}

/** Memory and context switches from /proc/PID/status (Linux); the switches are its first thread's. */
export async function processStatus(pid: number): Promise<ProcessStatus> {
  return process.platform === 'linux' ? readStatus(`/proc/${pid}/status`) : {};
}

/** Context switches summed over every thread of a process (Linux), from /proc/PID/task/TID/status. */
export async function threadSwitches(pid: number): Promise<{ voluntary: number; involuntary: number }> {
  const total = { voluntary: 0, involuntary: 0 };
  if (process.platform !== 'linux') return total;
  let tids: string[] = [];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    // gone
  }
  for (const tid of tids) {
    const st = readStatus(`/proc/${pid}/task/${tid}/status`);
    total.voluntary += st.voluntarySwitches ?? 0;
    total.involuntary += st.involuntarySwitches ?? 0;
  }
  return total;
}

/** One process by pid (Linux), or undefined when it is gone. */
export const processInfo = async (pid: number): Promise<ProcessInfo | undefined> => (process.platform === 'linux' ? linuxProcess(pid) : undefined);

/**
 * What each open fd of a process points at: `socket:[inode]`, a path, `pipe:[...]` (Linux, from
 * /proc/PID/fd; undefined when the process is gone or not ours to look into).
 */
export async function openFds(pid: number): Promise<string[] | undefined> {
  if (process.platform !== 'linux') return undefined;
  let names: string[];
  try {
    names = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return undefined;
  }
  return names.flatMap((n) => {
    try {
      return [readlinkSync(`/proc/${pid}/fd/${n}`)];
    } catch {
      return []; // closed while we looked
    }
  });
}

/** The inode of a `socket:[inode]` fd target, or undefined for anything else. */
export const socketInode = (target: string): number | undefined => {
  const m = /^socket:\[(\d+)\]$/.exec(target);
  return m ? Number(m[1]) : undefined;
};
