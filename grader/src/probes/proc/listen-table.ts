import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { execa } from 'execa';

export interface ListenRow {
  /** Socket inode: the key to find which process holds it (socket:[inode] in /proc/PID/fd). */
  inode: number;
  /** Connections waiting to be accepted. */
  acceptQueue: number;
  family: 'tcp' | 'tcp6';
}

// The kernel's own list of listening sockets (Linux): readiness without making a connection the
// student's server would have to handle.
export async function listenRows(port: number): Promise<ListenRow[]> {
  const rows: ListenRow[] = [];
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  for (const family of ['tcp', 'tcp6'] as const) {
    let text: string;
    try {
      text = await readFile(`/proc/net/${family}`, 'latin1');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== '0A') continue;
      if (f[1]!.split(':')[1] !== hexPort) continue;
      rows.push({ inode: Number(f[9]), acceptQueue: parseInt(f[4]!.split(':')[1]!, 16), family });
    }
  }
  return rows;
}

/**
 * True when something listens on the port. Linux reads the kernel's table; macOS asks lsof; only
 * where neither works does it connect, a connection the server will see and must survive.
 */
export async function isListening(port: number): Promise<boolean> {
  if (process.platform === 'linux') return (await listenRows(port)).length > 0;
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
