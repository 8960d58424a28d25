import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import getPort from 'get-port';
import { afterEach, describe, expect, it } from 'vitest';
import { RawConnection } from '../../src/probes/raw/connection.ts';
import { header } from '../../src/probes/raw/parse-response.ts';
import { RunningServer } from '../../src/server/server.ts';
import { SlowUpstream, upstreamBody } from '../../src/services/upstream.ts';
import { unlessRequired } from '../support/peers.ts';
import { repoPath } from '../support/grade.ts';

// 09's reference solutions against a real memcached (Debian's package) instead of the grader's
// cache fixture: a miss is fetched from the upstream and stored where memcached itself has it, the
// next request is a hit the upstream never sees, and a value set by someone else is served as is.

const MEMCACHED = '/usr/bin/memcached';
const stops: (() => unknown)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop();
});

async function startMemcached(): Promise<number> {
  const port = await getPort({ host: '127.0.0.1' });
  // memcached will not run as root unless told which user to become.
  const asRoot = process.getuid?.() === 0 ? ['-u', 'nobody'] : [];
  const child = spawn(MEMCACHED, ['-l', '127.0.0.1', '-p', String(port), '-U', '0', ...asRoot], { stdio: 'ignore' });
  const exited = new Promise((r) => child.once('exit', r));
  stops.push(async () => {
    child.kill('SIGKILL');
    await exited;
  });
  for (const deadline = Date.now() + 5000; ; ) {
    try {
      await memcached(port, 'version\r\n');
      return port;
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`memcached did not listen on ${port}: ${(e as Error).message}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** One command to memcached on a connection of its own; its whole reply (up to END, STORED, VERSION...). */
function memcached(port: number, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let got = '';
    const timer = setTimeout(() => socket.destroy(new Error(`no whole reply to ${JSON.stringify(command)}: ${JSON.stringify(got)}`)), 3000);
    socket.on('data', (d: Buffer) => {
      got += d.toString('latin1');
      if (/(^|\r\n)(END|STORED|NOT_STORED|ERROR|VERSION [^\r\n]*)\r\n$/.test(got)) {
        clearTimeout(timer);
        socket.end();
        resolve(got);
      }
    });
    socket.once('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    socket.write(command, 'latin1');
  });
}

async function get(port: number, target: string) {
  const conn = await RawConnection.open({ port, label: target, idleTimeoutMs: 5000 });
  try {
    await conn.send(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`);
    return await conn.readResponse();
  } finally {
    conn.close();
  }
}

describe.each(['ts', 'py'] as const)('09-proxy reference solution [%s] against a real memcached', (track) => {
  it('fills memcached on a miss, serves the next request from it, and serves what others stored', async (ctx) => {
    const missing = unlessRequired(existsSync(MEMCACHED) ? undefined : `${MEMCACHED} is not installed (Debian's memcached package)`);
    ctx.skip(missing !== undefined, missing);
    const cachePort = await startMemcached();
    const upstream = await SlowUpstream.start();
    stops.push(() => upstream.stop());
    const port = await getPort({ host: '127.0.0.1' });
    const server = await RunningServer.start({
      dir: repoPath('solutions/09-proxy'),
      track,
      port,
      readyTimeoutMs: 15_000,
      env: { ...upstream.env(), CACHE_ADDR: `127.0.0.1:${cachePort}`, UPSTREAM_TIMEOUT_MS: '2000', CACHE_TIMEOUT_MS: '1000' },
    });
    stops.push(() => server.stop());

    const key = `real-${track}-${Math.random().toString(36).slice(2, 8)}`;
    const miss = await get(port, `/cache/${key}`);
    expect(miss.status).toBe(200);
    expect(header(miss, 'x-cache')).toBe('MISS');
    expect(miss.body.toString('latin1')).toBe(upstreamBody(`/${key}`));
    expect(upstream.record.requests.map((r) => r.path)).toEqual([`/${key}`]);
    // The solution stores after it answers: memcached has the value soon after.
    let stored = '';
    for (const deadline = Date.now() + 3000; !stored.startsWith('VALUE') && Date.now() < deadline; await new Promise((r) => setTimeout(r, 50))) stored = await memcached(cachePort, `get ${key}\r\n`);
    expect(stored).toBe(`VALUE ${key} 0 ${upstreamBody(`/${key}`).length}\r\n${upstreamBody(`/${key}`)}\r\nEND\r\n`);

    const hit = await get(port, `/cache/${key}`);
    expect(hit.status).toBe(200);
    expect(header(hit, 'x-cache')).toBe('HIT');
    expect(hit.body.toString('latin1')).toBe(upstreamBody(`/${key}`));
    expect(upstream.record.requests).toHaveLength(1);

    // A value memcached was given by someone else, bytes beyond ASCII included.
    const value = Buffer.from([0x00, 0xff, 0x0d, 0x0a, 0x41, 0x80]);
    expect(await memcached(cachePort, `set other-${key} 0 0 ${value.length}\r\n${value.toString('latin1')}\r\n`)).toBe('STORED\r\n');
    const other = await get(port, `/cache/other-${key}`);
    expect(other.status).toBe(200);
    expect(other.body.equals(value)).toBe(true);
    expect(upstream.record.requests).toHaveLength(1);
  });
});
