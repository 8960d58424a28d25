import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import net from 'node:net';
import { execa } from 'execa';

export interface ListenRow {
  /** Local address, as text: 127.0.0.1, 0.0.0.0, ::, ::1, ... */
  address: string;
  /** Socket inode: the key to find which process holds it (socket:[inode] in /proc/PID/fd). */
  inode: number;
  /** Connections waiting to be accepted. */
  acceptQueue: number;
  family: 'tcp' | 'tcp6';
}

interface TcpTableRow {
  family: 'tcp' | 'tcp6';
  /** The state as /proc writes it: 0A LISTEN, 01 ESTABLISHED, 08 CLOSE_WAIT, ... */
  st: string;
  localHex: string;
  localPort: number;
  remotePort: number;
  inode: number;
  txQueue: number;
  rxQueue: number;
}

const TABLES = ['tcp', 'tcp6'] as const;

/** One row of /proc/net/tcp or tcp6, split into the fields used here. */
function parseRow(family: 'tcp' | 'tcp6', line: string, port: number): TcpTableRow | undefined {
  const f = line.trim().split(/\s+/);
  if (f.length < 10) return undefined;
  const [localHex] = f[1]!.split(':');
  const [tx, rx] = f[4]!.split(':');
  return { family, st: f[3]!, localHex: localHex!, localPort: port, remotePort: parseInt(f[2]!.split(':')[1]!, 16), inode: Number(f[9]), txQueue: parseInt(tx!, 16), rxQueue: parseInt(rx!, 16) };
}

/** "  sl: LOCAL:PORT REMOTE:PORT st ...": true when the local port, after the line's second colon, is `portHex`. */
const onPort = (line: string, portHex: string): boolean => {
  const local = line.indexOf(':', line.indexOf(':') + 1);
  return local >= 0 && line.startsWith(portHex, local);
};
const portPattern = (port: number) => `:${port.toString(16).toUpperCase().padStart(4, '0')} `;

/**
 * The rows of the kernel's TCP tables whose local port is `port` (Linux; elsewhere none). The tables
 * list every connection on the machine, thousands after a burst: only the rows of the port are
 * split into fields. Read synchronously: the kernel makes the text as it is read (see processes.ts).
 */
function tcpRows(port: number): TcpTableRow[] {
  const rows: TcpTableRow[] = [];
  const portHex = portPattern(port);
  for (const family of TABLES) {
    let text: string;
    try {
      text = readFileSync(`/proc/net/${family}`, 'latin1');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const row = onPort(line, portHex) ? parseRow(family, line, port) : undefined;
      if (row) rows.push(row);
    }
  }
  return rows;
}

/**
 * The LISTEN rows on `port`. The kernel writes its listening sockets before its connections, and
 * makes the text as it is read: reading stops at the first connection, so a look at the listeners
 * costs a fraction of a millisecond however many connections the machine has (a whole table can
 * take tens of milliseconds to make).
 */
function listenTableRows(port: number): TcpTableRow[] {
  const rows: TcpTableRow[] = [];
  const portHex = portPattern(port);
  const chunk = Buffer.allocUnsafe(16384);
  for (const family of TABLES) {
    let fd: number;
    try {
      fd = openSync(`/proc/net/${family}`, 'r');
    } catch {
      continue;
    }
    try {
      let pending = '';
      let header = true;
      for (let done = false; !done; ) {
        const n = readSync(fd, chunk, 0, chunk.length, null);
        if (!n) break;
        const lines = (pending + chunk.toString('latin1', 0, n)).split('\n');
        pending = lines.pop()!;
        for (const line of lines) {
          if (header) {
            header = false;
            continue;
          }
          if (line.trim().split(/\s+/, 4)[3] !== '0A') {
            done = true;
            break;
          }
          const row = onPort(line, portHex) ? parseRow(family, line, port) : undefined;
          if (row) rows.push(row);
        }
      }
    } finally {
      closeSync(fd);
    }
  }
  return rows;
}

// The kernel's own list of listening sockets (Linux): readiness without making a connection the
// student's server would have to handle. For a listener, the receive queue is the accept queue.
export async function listenRows(port: number): Promise<ListenRow[]> {
  return listenTableRows(port).map((r) => ({ address: hexAddress(r.localHex), inode: r.inode, acceptQueue: r.rxQueue, family: r.family }));
}

/** The bytes queued in the kernel on one connection, from local port to remote port (Linux): unsent, and unread. */
export async function tcpQueues(localPort: number, remotePort: number): Promise<{ txQueue: number; rxQueue: number } | undefined> {
  const row = tcpRows(localPort).find((r) => r.st !== '0A' && r.remotePort === remotePort);
  return row ? { txQueue: row.txQueue, rxQueue: row.rxQueue } : undefined;
}

/** /proc/net/tcp writes addresses as host-order 32-bit words in hex. */
function hexAddress(hex: string): string {
  const words = hex.match(/.{8}/g)!.map((w) => Buffer.from(w, 'hex').reverse());
  if (words.length === 1) return [...words[0]!].join('.');
  const bytes = Buffer.concat(words);
  if (bytes.subarray(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) return `::ffff:${[...bytes.subarray(12)].join('.')}`;
  if (bytes.every((b) => b === 0)) return '::';
  const groups = Array.from({ length: 8 }, (_, i) => bytes.readUInt16BE(i * 2).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

/** Addresses from which a connection to 127.0.0.1 is accepted. */
const reachesLoopback = (row: ListenRow): boolean => ['127.0.0.1', '0.0.0.0', '::', '::ffff:127.0.0.1'].includes(row.address);

/**
 * True when something listens on the port. Linux reads the kernel's table; macOS asks lsof; only
 * where neither works does it connect, a connection the server will see and must survive.
 */
export async function isListening(port: number): Promise<boolean> {
  if (process.platform === 'linux') return (await listenRows(port)).some(reachesLoopback);
  const lsof = await execa('lsof', ['-nP', '-t', `-iTCP:${port}`, '-sTCP:LISTEN'], { reject: false });
  if (lsof.exitCode === 0) return lsof.stdout.trim().length > 0;
  if (lsof.exitCode === 1 && !lsof.stderr) return false;
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * Waits until the server has accepted every connection made to the port (the kernel's accept queue
 * is empty), so that what a client does next happens to a connection the server holds. Linux
 * reads the queue; elsewhere it waits `fallbackMs`. False when the queue did not empty in time.
 */
export async function whenAccepted(port: number, timeoutMs: number, fallbackMs = 100): Promise<boolean> {
  if (process.platform !== 'linux') {
    await new Promise((r) => setTimeout(r, fallbackMs));
    return true;
  }
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await listenRows(port);
    if (rows.every((r) => r.acceptQueue === 0)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 5));
  }
}

const TCP_STATES: Record<string, string> = {
  '01': 'ESTABLISHED', '02': 'SYN_SENT', '03': 'SYN_RECV', '04': 'FIN_WAIT1', '05': 'FIN_WAIT2', '06': 'TIME_WAIT',
  '07': 'CLOSE', '08': 'CLOSE_WAIT', '09': 'LAST_ACK', '0A': 'LISTEN', '0B': 'CLOSING',
};

export interface ConnectionRow {
  /** ESTABLISHED, CLOSE_WAIT, TIME_WAIT, ... */
  state: string;
  /** 0 for a socket no process holds any more (TIME_WAIT). */
  inode: number;
  remotePort: number;
}

/** The server's side of every connection to the port, from the kernel's table (Linux; elsewhere none). */
export async function connectionRows(port: number): Promise<ConnectionRow[]> {
  return connectionTable(port);
}

/** connectionRows, read at once (the table is made by the kernel, without waiting on anything). */
export function connectionTable(port: number): ConnectionRow[] {
  return tcpRows(port).filter((r) => r.st !== '0A').map((r) => ({ state: TCP_STATES[r.st] ?? r.st, inode: r.inode, remotePort: r.remotePort }));
}

// A listening socket keeps the backlog it was given: `ss` is asked once per socket (inode), not on every look.
const backlogs = new Map<string, number | undefined>();

/**
 * The listen backlog the server asked for (capped by the kernel's somaxconn), from `ss`; undefined
 * where it cannot be read. `inodes`, the port's listening sockets, key what was read before.
 */
export async function listenBacklog(port: number, inodes?: number[]): Promise<number | undefined> {
  if (process.platform !== 'linux') return undefined;
  const key = inodes?.length ? `${port}:${inodes.join(',')}` : undefined;
  if (key && backlogs.has(key)) return backlogs.get(key);
  const ss = await execa('ss', ['-ltnH', `sport = :${port}`], { reject: false });
  const m = /^LISTEN\s+\d+\s+(\d+)/m.exec(ss.stdout ?? '');
  const backlog = m ? Number(m[1]) : undefined;
  if (key) {
    if (backlogs.size > 1000) backlogs.clear();
    backlogs.set(key, backlog);
  }
  return backlog;
}
