import { readFile } from 'node:fs/promises';
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

/** Every row of the kernel's TCP tables (Linux; elsewhere none), read once for all the views below. */
async function tcpTable(): Promise<TcpTableRow[]> {
  const rows: TcpTableRow[] = [];
  for (const family of ['tcp', 'tcp6'] as const) {
    let text: string;
    try {
      text = await readFile(`/proc/net/${family}`, 'latin1');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      const [localHex, localPort] = f[1]!.split(':');
      const [tx, rx] = f[4]!.split(':');
      rows.push({ family, st: f[3]!, localHex: localHex!, localPort: parseInt(localPort!, 16), remotePort: parseInt(f[2]!.split(':')[1]!, 16), inode: Number(f[9]), txQueue: parseInt(tx!, 16), rxQueue: parseInt(rx!, 16) });
    }
  }
  return rows;
}

// The kernel's own list of listening sockets (Linux): readiness without making a connection the
// student's server would have to handle. For a listener, the receive queue is the accept queue.
export async function listenRows(port: number): Promise<ListenRow[]> {
  return (await tcpTable())
    .filter((r) => r.st === '0A' && r.localPort === port)
    .map((r) => ({ address: hexAddress(r.localHex), inode: r.inode, acceptQueue: r.rxQueue, family: r.family }));
}

/** The bytes queued in the kernel on one connection, from local port to remote port (Linux): unsent, and unread. */
export async function tcpQueues(localPort: number, remotePort: number): Promise<{ txQueue: number; rxQueue: number } | undefined> {
  const row = (await tcpTable()).find((r) => r.st !== '0A' && r.localPort === localPort && r.remotePort === remotePort);
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
  return (await tcpTable()).filter((r) => r.st !== '0A' && r.localPort === port).map((r) => ({ state: TCP_STATES[r.st] ?? r.st, inode: r.inode, remotePort: r.remotePort }));
}

/** The listen backlog the server asked for (capped by the kernel's somaxconn), from `ss`; undefined where it cannot be read. */
export async function listenBacklog(port: number): Promise<number | undefined> {
  if (process.platform !== 'linux') return undefined;
  const ss = await execa('ss', ['-ltnH', `sport = :${port}`], { reject: false });
  const m = /^LISTEN\s+\d+\s+(\d+)/m.exec(ss.stdout ?? '');
  return m ? Number(m[1]) : undefined;
}
