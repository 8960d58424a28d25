import getPort from 'get-port';
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { BAD, DONE, MORE, ResponseReader, type ReadOutcome } from '../../src/probes/load/response-reader.ts';
import { runLoad, type LoadOptions, type LoadResult } from '../../src/probes/load/run-load.ts';
import { buildRequest } from '../../src/probes/raw/request.ts';

// Each test starts a tiny server on 127.0.0.1 that answers well, or resets, stays silent, or
// answers without a length, and runs a small load against it: a few hundred requests at most,
// each run bounded by a count or well under a second.

const servers: net.Server[] = [];
const serverSockets = new Set<net.Socket>();

afterEach(async () => {
  for (const socket of serverSockets) socket.destroy();
  serverSockets.clear();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

async function listen(server: net.Server): Promise<number> {
  server.on('connection', (socket: net.Socket) => {
    serverSockets.add(socket);
    socket.on('close', () => serverSockets.delete(socket));
    socket.on('error', () => {});
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** A raw server: `onData` plays the server's part each time request bytes arrive. */
const rawServer = (onData: (socket: net.Socket) => void) => listen(net.createServer((socket) => socket.on('data', () => onData(socket))));

const tcpSockets = () => process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap').length;

/** Runs the load; checks it ended within `boundMs` and that, once the servers saw the closes, no socket is left open. */
async function load(opts: Omit<LoadOptions, 'request'> & { request?: LoadOptions['request'] }, boundMs: number): Promise<LoadResult> {
  const before = tcpSockets() - serverSockets.size;
  const t0 = performance.now();
  const result = await runLoad({ request: buildRequest(opts.port, { target: '/' }), ...opts });
  expect(performance.now() - t0).toBeLessThan(boundMs);
  for (let i = 0; i < 100 && tcpSockets() > before; i++) await sleep(20);
  expect(tcpSockets()).toBe(before);
  return result;
}

const totalErrors = (r: LoadResult) => Object.values(r.errors).reduce((a, b) => a + b, 0);

describe('runLoad against a server that answers', () => {
  it('sends as many requests as the server counts, and times every response', async () => {
    let seen = 0;
    const paths = new Set<string>();
    const port = await listen(
      http.createServer((req, res) => {
        seen++;
        paths.add(req.url!);
        res.end('hello');
      }),
    );
    const r = await load({ port, connections: 5, maxRequests: 300, warmup: { requests: 20 }, request: (c, i) => buildRequest(port, { target: `/c${c}/${i}` }) }, 10_000);
    expect(r.ended).toBe('requests');
    expect(seen).toBe(r.requests + r.warmup.requests);
    expect(r).toMatchObject({ requests: 300, completed: 300, connections: 5, connects: 5, statuses: { 200: 300 }, warmup: { requests: 20, completed: 20, errors: 0 } });
    expect(totalErrors(r)).toBe(0);
    expect(r.latency.count).toBe(300);
    expect(r.latency.buckets.reduce((n, b) => n + b.count, 0)).toBe(300);
    expect(r.latency.p50).toBeGreaterThan(0);
    expect(r.latency.p50).toBeLessThanOrEqual(r.latency.p99);
    expect(r.latency.p99).toBeLessThanOrEqual(r.latency.max);
    expect(r.requestsPerSecond).toBeGreaterThan(0);
    // Every connection's requests, numbered from 0 on it.
    expect(paths.size).toBe(320);
    for (let c = 0; c < 5; c++) expect(paths.has(`/c${c}/0`)).toBe(true);
  });

  it('reads chunked responses, and HEAD responses that announce a body they do not send', async () => {
    let seen = 0;
    const port = await listen(
      http.createServer((req, res) => {
        seen++;
        res.write('hel');
        res.end('lo');
      }),
    );
    const chunked = await load({ port, connections: 3, maxRequests: 60 }, 10_000);
    expect(chunked).toMatchObject({ completed: 60, statuses: { 200: 60 } });
    const head = await load({ port, connections: 3, maxRequests: 60, request: buildRequest(port, { method: 'HEAD', target: '/' }) }, 10_000);
    expect(head).toMatchObject({ completed: 60, statuses: { 200: 60 } });
    expect(totalErrors(chunked) + totalErrors(head)).toBe(0);
    expect(seen).toBe(120);
  });

  it('counts a status it does not accept as bad-status, by status', async () => {
    const port = await rawServer((s) => s.write('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 4\r\n\r\nbusy'));
    const r = await load({ port, connections: 2, maxRequests: 40 }, 10_000);
    expect(r).toMatchObject({ completed: 40, statuses: { 503: 40 } });
    expect(r.errors['bad-status']).toBe(40);
    expect(totalErrors(r)).toBe(40);
  });

  it('opens a new connection after a response that says Connection: close, without counting an error', async () => {
    const port = await rawServer((s) => s.end('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok'));
    const r = await load({ port, connections: 2, maxRequests: 30 }, 10_000);
    expect(r).toMatchObject({ completed: 30, connects: 30 });
    expect(totalErrors(r)).toBe(0);
  });
});

describe('runLoad against a server that misbehaves: errors by kind, and the run still ends', () => {
  it('counts resets', async () => {
    const port = await rawServer((s) => s.resetAndDestroy());
    const r = await load({ port, connections: 3, maxRequests: 60 }, 10_000);
    expect(r.completed).toBe(0);
    expect(r.errors.reset).toBeGreaterThan(0);
    expect(totalErrors(r)).toBe(60);
    expect(r.errors.reset + r.errors['closed-early']).toBe(60);
  });

  it('counts timeouts from a server that never answers, and ends at its duration', async () => {
    const port = await rawServer(() => {});
    const r = await load({ port, connections: 3, durationMs: 500, timeoutMs: 150 }, 1500);
    expect(r.ended).toBe('duration');
    expect(r.completed).toBe(0);
    // Each connection times out at least twice in 500 ms (every 150 ms, checked every 37 ms).
    expect(r.errors.timeout).toBeGreaterThanOrEqual(6);
    expect(totalErrors(r)).toBe(r.errors.timeout);
  });

  it('counts a response with no length on a keep-alive connection as malformed (no-length)', async () => {
    const port = await rawServer((s) => s.write('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nhello'));
    const r = await load({ port, connections: 2, maxRequests: 20 }, 10_000);
    expect(r.errors.malformed).toBe(20);
    expect(r.malformed).toEqual({ 'no-length': 20 });
    expect(r.completed).toBe(0);
  });

  it('counts a head that is not HTTP as malformed (status-line)', async () => {
    const port = await rawServer((s) => s.write('hello\r\n\r\n'));
    const r = await load({ port, connections: 2, maxRequests: 20 }, 10_000);
    expect(r.malformed).toEqual({ 'status-line': 20 });
  });

  it('counts a close before the response ends as closed-early', async () => {
    const port = await rawServer((s) => s.end('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort'));
    const r = await load({ port, connections: 2, maxRequests: 20 }, 10_000);
    expect(r.errors['closed-early']).toBe(20);
  });

  it('counts refused connects, and ends when its requests are spent', async () => {
    const port = await getPort({ host: '127.0.0.1' });
    const r = await load({ port, connections: 2, maxRequests: 20 }, 5000);
    expect(r).toMatchObject({ ended: 'requests', requests: 20, completed: 0 });
    expect(r.errors.refused).toBe(20);
  });

  it('stops when its signal aborts, closes every socket and rejects with the reason', async () => {
    const port = await rawServer(() => {});
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('check deadline')), 200);
    const before = tcpSockets();
    const t0 = performance.now();
    await expect(runLoad({ port, request: buildRequest(port, { target: '/' }), connections: 4, durationMs: 10_000, signal: controller.signal })).rejects.toThrow('check deadline');
    expect(performance.now() - t0).toBeLessThan(1000);
    for (let i = 0; i < 100 && tcpSockets() > before; i++) await sleep(20);
    expect(tcpSockets()).toBe(before);
  });

  it('rejects with the error of a request function that throws, its sockets closed', async () => {
    const port = await rawServer((s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));
    const before = tcpSockets() - serverSockets.size;
    const request = (_c: number, i: number) => {
      if (i === 3) throw new Error('no such target');
      return buildRequest(port, { target: '/' });
    };
    await expect(runLoad({ port, request, connections: 2, maxRequests: 100 })).rejects.toThrow('no such target');
    for (let i = 0; i < 100 && tcpSockets() > before; i++) await sleep(20);
    expect(tcpSockets()).toBe(before);
  });

  it('refuses to start without a bound', async () => {
    await expect(runLoad({ port: 1, request: Buffer.from('GET / HTTP/1.1\r\n\r\n'), connections: 1 })).rejects.toThrow(/durationMs, maxRequests/);
  });
});

describe('ResponseReader: where a response ends, however its bytes are cut', () => {
  /** Feeds `response` in pieces of `size` bytes; the outcome after each piece. */
  function feed(response: string, size: number, noBody = false): { outcomes: ReadOutcome[]; reader: ResponseReader } {
    const reader = new ResponseReader();
    reader.expect(noBody);
    const bytes = Buffer.from(response, 'latin1');
    const outcomes: ReadOutcome[] = [];
    for (let at = 0; at < bytes.length; at += size) {
      // Each piece in a buffer of its own, with bytes around it, as a shared read buffer has.
      const buf = Buffer.concat([Buffer.from('xx'), bytes.subarray(at, at + size), Buffer.from('yy')]);
      outcomes.push(reader.read(buf, 2, buf.length - 2));
    }
    return { outcomes, reader };
  }

  const ends = (response: string, noBody = false) => {
    for (const size of [1, 2, 3, 7, 1000]) {
      const { outcomes, reader } = feed(response, size, noBody);
      expect(outcomes.slice(0, -1).every((o) => o === MORE), `pieces of ${size}`).toBe(true);
      expect(outcomes.at(-1), `pieces of ${size}`).toBe(DONE);
      expect(reader.status).toBe(200);
    }
  };

  it('ends a Content-Length response after its body', () => ends('HTTP/1.1 200 OK\r\ncontent-LENGTH:  11 \r\nDate: x\r\n\r\nhello world'));
  it('ends a chunked response after its last chunk and trailers', () => ends('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n'));
  it('ends a HEAD response after its head', () => ends('HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n', true));
  it('reads past an interim 100 Continue', () => ends('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'));

  it('ends a response framed by the close only when the connection ends', () => {
    const { outcomes, reader } = feed('HTTP/1.0 200 OK\r\n\r\nuntil the end', 4);
    expect(outcomes.every((o) => o === MORE)).toBe(true);
    expect(reader.closes).toBe(true);
    expect(reader.end()).toBe(DONE);
  });

  it.each([
    ['bytes after the end', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA', 'unexpected-bytes'],
    ['two different lengths', 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok', 'header'],
    ['a length that is not a number', 'HTTP/1.1 200 OK\r\nContent-Length: 2x\r\n\r\nok', 'header'],
    ['a header line without a colon', 'HTTP/1.1 200 OK\r\nContent-Length 2\r\n\r\nok', 'header'],
    ['a chunk size that is not hex', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n', 'chunked'],
    ['a chunk without its CRLF', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nokX', 'chunked'],
    ['a status that is not three digits', 'HTTP/1.1 20 OK\r\nContent-Length: 2\r\n\r\nok', 'status-line'],
  ])('names what is wrong: %s', (_name, response, reason) => {
    for (const size of [1, 1000]) {
      const { outcomes, reader } = feed(response, size);
      expect(outcomes).toContain(BAD);
      expect(reader.reason).toBe(reason);
    }
  });

  it('gives up on a head larger than 64 KiB', () => {
    const { outcomes, reader } = feed(`HTTP/1.1 200 OK\r\nX: ${'a'.repeat(70_000)}`, 8192);
    expect(outcomes.at(-1)).toBe(BAD);
    expect(reader.reason).toBe('head-too-large');
  });
});
