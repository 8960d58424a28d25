import { afterEach, describe, expect, it } from 'vitest';
import { SlowUpstream, upstreamBody } from '../../src/services/upstream.ts';

// The slow upstream over real sockets: what it holds, what it lets go, and what it records.

let upstream: SlowUpstream;
afterEach(async () => upstream?.stop());

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
});
