import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { headerValues, SlowUpstream, UPSTREAM_BODY_LIMIT, upstreamBody } from '../../src/services/upstream.ts';

// The slow upstream over real sockets: what it holds, what it lets go, and what it records.

let upstream: SlowUpstream;
afterEach(async () => upstream?.stop());

/**
 * A raw connection to the upstream: `send` writes bytes as given; `until` waits for what came back
 * to pass a test; `closed` resolves on close with the error code, if any ('' for a plain close).
 */
async function raw() {
  const socket = net.connect(upstream.port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let got = '';
  let code: string | undefined;
  const waiters: (() => void)[] = [];
  socket.on('data', (d: Buffer) => {
    got += d.toString('latin1');
    for (const w of [...waiters]) w();
  });
  socket.on('error', (e: NodeJS.ErrnoException) => (code = e.code ?? 'error'));
  const closed = new Promise<string>((resolve) => socket.once('close', () => resolve(code ?? '')));
  return {
    send: (bytes: string) => socket.write(Buffer.from(bytes, 'latin1')),
    until: (test: (got: string) => boolean) =>
      new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out with ${JSON.stringify(got)}`)), 5000);
        const check = () => {
          if (!test(got)) return;
          clearTimeout(timer);
          resolve(got);
        };
        waiters.push(check);
        check();
      }),
    closed,
    got: () => got,
    end: () => socket.destroy(),
  };
}

/** A GET that resolves to its body, or to 'failed' when the connection breaks. */
const get = (path: string) =>
  fetch(`${upstream.url}${path}`, { headers: { connection: 'close' } })
    .then((r) => r.text())
    .catch(() => 'failed');

describe('SlowUpstream', () => {
  it('answers at once by default, with a body naming the path, and records the request', async () => {
    upstream = await SlowUpstream.start();
    expect(upstream.env()).toEqual({ UPSTREAM_URL: upstream.url });
    expect(await get('/a')).toBe(upstreamBody('/a'));
    const r = upstream.record;
    expect(r.requests.map((q) => [q.seq, q.method, q.path])).toEqual([[1, 'GET', '/a']]);
    expect(r.requests[0]!.answeredMs).toBeGreaterThanOrEqual(r.requests[0]!.arrivedMs);
    expect(r.maxInFlight).toBe(1);
  });

  it('holds a barrier until N have arrived, then lets them all go together', async () => {
    upstream = await SlowUpstream.start();
    upstream.setPlan({ kind: 'barrier', count: 3, deadlineMs: 10_000 });
    const first = [get('/1'), get('/2')];
    expect(await upstream.whenArrived(2, { timeoutMs: 5000 })).toBe(true);
    expect(upstream.record.held).toBe(2);
    expect(upstream.record.gathered).toBe(false);
    const bodies = await Promise.all([...first, get('/3')]);
    expect(bodies).toEqual(['/1', '/2', '/3'].map(upstreamBody));
    expect(upstream.record.maxInFlight).toBe(3);
    expect(upstream.record.gathered).toBe(true);
  });

  it('lets a barrier go at its deadline with fewer than N, and says so', async () => {
    upstream = await SlowUpstream.start();
    upstream.setPlan({ kind: 'barrier', count: 5, deadlineMs: 200 });
    expect(await get('/lone')).toBe(upstreamBody('/lone'));
    expect(upstream.record.gathered).toBe(false);
    expect(upstream.record.maxInFlight).toBe(1);
  });

  it('answers in reverse order, each answer after the previous one has gone out', async () => {
    upstream = await SlowUpstream.start();
    upstream.setPlan({ kind: 'order', count: 3, order: 'reverse', deadlineMs: 10_000 });
    const done: string[] = [];
    const reqs = ['/x', '/y', '/z'].map(async (p, i) => {
      await upstream.whenArrived(i, { timeoutMs: 5000 });
      done.push(await get(p));
    });
    await Promise.all(reqs);
    expect(done).toEqual(['/z', '/y', '/x'].map(upstreamBody));
    const at = Object.fromEntries(upstream.record.requests.map((r) => [r.path, r.releasedMs!]));
    expect(at['/z']).toBeLessThanOrEqual(at['/y']!);
    expect(at['/y']).toBeLessThanOrEqual(at['/x']!);
  });

  it('holds every request until released, the oldest first', async () => {
    upstream = await SlowUpstream.start();
    upstream.setPlan({ kind: 'hold' });
    const a = get('/a');
    await upstream.whenArrived(1, { timeoutMs: 5000 });
    const b = get('/b');
    await upstream.whenArrived(2, { timeoutMs: 5000 });
    expect(upstream.release(1)).toBe(1);
    expect(await a).toBe(upstreamBody('/a'));
    expect(upstream.record.held).toBe(1);
    expect(upstream.release()).toBe(1);
    expect(await b).toBe(upstreamBody('/b'));
  });

  it('never answers under "never"; a reset cuts what it holds and clears the record', async () => {
    upstream = await SlowUpstream.start();
    upstream.setPlan({ kind: 'never' });
    const a = get('/never');
    await upstream.whenArrived(1, { timeoutMs: 5000 });
    expect(await upstream.whenAnswered(1, { timeoutMs: 150 })).toBe(false);
    upstream.reset();
    expect(await a).toBe('failed');
    expect(upstream.record).toEqual({ requests: [], maxInFlight: 0, inFlight: 0, held: 0 });
  });

  it('marks a request whose caller hung up, and counts it out of flight', async () => {
    upstream = await SlowUpstream.start();
    upstream.setPlan({ kind: 'hold' });
    const ac = new AbortController();
    const a = fetch(`${upstream.url}/gone`, { signal: ac.signal }).catch(() => 'aborted');
    await upstream.whenArrived(1, { timeoutMs: 5000 });
    ac.abort();
    await a;
    expect(await upstream.whenIdle({ timeoutMs: 5000 })).toBe(true);
    expect(upstream.record.requests[0]!.abandoned).toBe(true);
  });

  it('answers after a delay, and a wait gives up at its timeout or its signal', async () => {
    upstream = await SlowUpstream.start();
    upstream.setPlan({ kind: 'answer', delayMs: 100 });
    const t0 = performance.now();
    await get('/slow');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(90);
    expect(await upstream.whenArrived(5, { timeoutMs: 50 })).toBe(false);
    const ac = new AbortController();
    const waiting = upstream.whenArrived(5, { timeoutMs: 60_000, signal: ac.signal });
    ac.abort();
    expect(await waiting).toBe(false);
  });

  it('records what a request carried: the head as read, headers in order with repeats, the body, its connection', async () => {
    upstream = await SlowUpstream.start();
    const c = await raw();
    const head = 'POST /p?q=1&r=%20 HTTP/1.1\r\nHost: up.example:8080\r\nX-Rep: one\r\nConnection: keep-alive, X-Hop\r\nx-rep: two\r\nTransfer-Encoding: chunked\r\nVia: 1.1 proxy\r\n\r\n';
    c.send(head + '5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n');
    await c.until((got) => got.endsWith(upstreamBody('/p?q=1&r=%20')));
    expect(await upstream.whenReceived(1, { timeoutMs: 5000 })).toBe(true);
    c.send('GET /again HTTP/1.1\r\nHost: up.example:8080\r\n\r\n');
    await c.until((got) => got.endsWith(upstreamBody('/again')));
    const other = await fetch(`${upstream.url}/other`, { method: 'PUT', body: 'x'.repeat(UPSTREAM_BODY_LIMIT + 10) }).then((r) => r.text());
    expect(other).toBe(upstreamBody('/other'));
    expect(await upstream.whenReceived(3, { timeoutMs: 5000 })).toBe(true);
    const [post, again, put] = upstream.record.requests;
    expect(post).toMatchObject({ method: 'POST', path: '/p?q=1&r=%20', httpVersion: '1.1', rawHead: head, bodyBytes: 11, bodyComplete: true, connection: 1 });
    expect(post!.body.toString()).toBe('hello world');
    expect(post!.headerList).toEqual([
      ['host', 'up.example:8080'],
      ['x-rep', 'one'],
      ['connection', 'keep-alive, X-Hop'],
      ['x-rep', 'two'],
      ['transfer-encoding', 'chunked'],
      ['via', '1.1 proxy'],
    ]);
    expect(headerValues(post!, 'X-Rep')).toEqual(['one', 'two']);
    expect(headerValues(post!, 'te')).toEqual([]);
    expect(again).toMatchObject({ method: 'GET', connection: 1, bodyBytes: 0, bodyComplete: true });
    expect(put).toMatchObject({ method: 'PUT', connection: 2, bodyBytes: UPSTREAM_BODY_LIMIT + 10, bodyComplete: true });
    expect(put!.body.length).toBe(UPSTREAM_BODY_LIMIT);
    c.end();
  });

  it('answers only once the whole body is in, so a caller that asked for close still sends all of it', async () => {
    upstream = await SlowUpstream.start();
    const c = await raw();
    c.send('POST /late HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5\r\n\r\n123');
    expect(await upstream.whenArrived(1, { timeoutMs: 5000 })).toBe(true);
    expect(await upstream.whenAnswered(1, { timeoutMs: 300 })).toBe(false);
    expect(c.got()).toBe('');
    expect(upstream.record.requests[0]).toMatchObject({ bodyComplete: false });
    c.send('45');
    await c.until((got) => got.endsWith(upstreamBody('/late')));
    expect(upstream.record.requests[0]).toMatchObject({ bodyBytes: 5, bodyComplete: true });
    expect(upstream.record.requests[0]!.body.toString()).toBe('12345');
    expect(await c.closed).toBe('');
  });

  it('a reset lets go of an answer still waiting for its body', async () => {
    upstream = await SlowUpstream.start();
    const c = await raw();
    c.send('POST /never HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n1');
    expect(await upstream.whenArrived(1, { timeoutMs: 5000 })).toBe(true);
    await upstream.reset();
    expect(await c.closed).not.toBeUndefined();
    expect(c.got()).toBe('');
  });

  it('cuts the connection with a reset under "reset", and counts the request out of flight', async () => {
    upstream = await SlowUpstream.start();
    upstream.setPlan({ kind: 'reset' });
    const c = await raw();
    c.send('GET /cut HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(await c.closed).toBe('ECONNRESET');
    expect(c.got()).toBe('');
    expect(await upstream.whenIdle({ timeoutMs: 5000 })).toBe(true);
    const [r] = upstream.record.requests;
    expect(r).toMatchObject({ path: '/cut', cut: true });
    expect(r!.abandoned).toBeUndefined();
    expect(r!.answeredMs).toBeUndefined();
  });

  it('answers with the status, header lines and body a check gives, after its delay', async () => {
    upstream = await SlowUpstream.start();
    upstream.setPlan({
      kind: 'headers',
      status: 203,
      headers: [['Keep-Alive', 'timeout=5'], ['X-Twice', 'a'], ['Proxy-Authenticate', 'Basic'], ['X-Twice', 'b'], ['Connection', 'close']],
      body: 'made',
      delayMs: 100,
    });
    const c = await raw();
    const t0 = performance.now();
    c.send('GET /h HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.closed;
    expect(performance.now() - t0).toBeGreaterThanOrEqual(99);
    const [head, body] = c.got().split('\r\n\r\n');
    const lines = head!.split('\r\n');
    expect(lines[0]).toBe('HTTP/1.1 203 Non-Authoritative Information');
    expect(lines.filter((l) => !l.startsWith('Date:'))).toEqual([
      'HTTP/1.1 203 Non-Authoritative Information',
      'Content-Type: text/plain; charset=utf-8',
      'Content-Length: 4',
      'Keep-Alive: timeout=5',
      'X-Twice: a',
      'Proxy-Authenticate: Basic',
      'X-Twice: b',
      'Connection: close',
    ]);
    expect(body).toBe('made');
    expect(upstream.record.requests[0]!.answeredMs).toBeDefined();

    // Transfer-Encoding given: no Content-Length, and the body goes out chunked.
    upstream.setPlan({ kind: 'headers', headers: [['Transfer-Encoding', 'chunked'], ['TE', 'trailers'], ['Upgrade', 'h2c']] });
    const d = await raw();
    d.send('GET /chunked HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await d.closed;
    const text = d.got();
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(text).toMatch(/\r\nTransfer-Encoding: chunked\r\n/);
    expect(text).toMatch(/\r\nTE: trailers\r\nUpgrade: h2c\r\n/);
    expect(text).not.toMatch(/Content-Length/i);
    const chunk = upstreamBody('/chunked');
    expect(text.endsWith(`\r\n\r\n${chunk.length.toString(16)}\r\n${chunk}\r\n0\r\n\r\n`)).toBe(true);
  });

  it('cuts the connection, and stays up, when a planned answer is one Node refuses to write', async () => {
    // A Trailer header needs a chunked body: Node throws from writeHead, which must not reach the grader.
    upstream = await SlowUpstream.start();
    upstream.setPlan({ kind: 'headers', headers: [['Trailer', 'X-Sum']], delayMs: 10 });
    const c = await raw();
    c.send('GET /refused-reply HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.closed;
    expect(c.got()).toBe('');
    expect(upstream.record.requests[0]!.cut).toBe(true);
    upstream.setPlan({ kind: 'answer' });
    const d = await raw();
    d.send('GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    await d.closed;
    expect(d.got()).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
  });

  it('refuses connections while down, on the same port, and listens again after up() or a reset', async () => {
    upstream = await SlowUpstream.start();
    const port = upstream.port;
    upstream.setPlan({ kind: 'hold' });
    const held = get('/held');
    expect(await upstream.whenArrived(1, { timeoutMs: 5000 })).toBe(true);
    await upstream.down();
    expect(upstream.isDown).toBe(true);
    expect(await held).toBe('failed');
    expect(upstream.record.requests[0]).toMatchObject({ cut: true });
    expect(upstream.record.requests[0]!.abandoned).toBeUndefined();
    const refused = () =>
      new Promise<string>((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        s.once('connect', () => (s.destroy(), resolve('connected')));
        s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
      });
    expect(await refused()).toBe('ECONNREFUSED');
    await upstream.up();
    expect(upstream.isDown).toBe(false);
    expect(upstream.port).toBe(port);
    upstream.setPlan({ kind: 'answer' });
    expect(await get('/back')).toBe(upstreamBody('/back'));
    await upstream.down();
    expect(await refused()).toBe('ECONNREFUSED');
    await upstream.reset();
    expect(upstream.isDown).toBe(false);
    expect(await get('/after-reset')).toBe(upstreamBody('/after-reset'));
  });

  it('records when the caller of a request that is never answered gave up on it', async () => {
    upstream = await SlowUpstream.start();
    upstream.setPlan({ kind: 'never' });
    const c = await raw();
    c.send('GET /wait HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(await upstream.whenArrived(1, { timeoutMs: 5000 })).toBe(true);
    expect(await upstream.whenAbandoned(1, { timeoutMs: 100 })).toBe(false);
    await new Promise((r) => setTimeout(r, 150));
    c.end();
    expect(await upstream.whenAbandoned(1, { timeoutMs: 5000 })).toBe(true);
    const [r] = upstream.record.requests;
    expect(r!.abandoned).toBe(true);
    expect(r!.abandonedMs! - r!.arrivedMs).toBeGreaterThanOrEqual(149);
  });
});
