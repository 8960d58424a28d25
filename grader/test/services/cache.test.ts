import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import getPort from 'get-port';
import { afterEach, describe, expect, it } from 'vitest';
import { CACHE_VERSION, SlowCache } from '../../src/services/cache.ts';
import { unlessRequired } from '../support/peers.ts';

// The slow cache over real sockets: memcached's text protocol from a byte stream, the delay and the
// plans, what it records, and its replies set beside a real memcached's.

const MEMCACHED = '/usr/bin/memcached';

let cache: SlowCache | undefined;
const clients: Client[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await cache?.stop();
  cache = undefined;
});

/** A raw connection: bytes written as given, everything received kept. */
class Client {
  got = Buffer.alloc(0);
  closed = false;
  private listeners: (() => void)[] = [];

  private constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => {
      this.got = Buffer.concat([this.got, d]);
      this.poke();
    });
    socket.on('close', () => {
      this.closed = true;
      this.poke();
    });
    socket.on('error', () => {});
  }

  static open(port: number): Promise<Client> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('error', reject);
      socket.once('connect', () => {
        const c = new Client(socket);
        clients.push(c);
        resolve(c);
      });
    });
  }

  send(bytes: string | Buffer): void {
    this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }

  /** Sends the pieces one by one, a pause between them, so that each arrives in a read of its own. */
  async sendSplit(pieces: string[]): Promise<void> {
    for (const p of pieces) {
      this.send(p);
      await sleep(15);
    }
  }

  /** What has come, once `test` holds; rejects if it does not within the time. */
  until(test: (got: string, closed: boolean) => boolean, timeoutMs = 3000): Promise<string> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (!test(this.got.toString('latin1'), this.closed)) return false;
        clearTimeout(timer);
        this.listeners = this.listeners.filter((l) => l !== listener);
        resolve(this.got.toString('latin1'));
        return true;
      };
      const listener = () => void check();
      const timer = setTimeout(() => {
        this.listeners = this.listeners.filter((l) => l !== listener);
        reject(new Error(`timed out with ${JSON.stringify(this.got.toString('latin1'))}${this.closed ? ' (closed)' : ''}`));
      }, timeoutMs);
      if (!check()) this.listeners.push(listener);
    });
  }

  /** Everything received once it ends with `tail`. */
  upTo(tail: string, timeoutMs?: number): Promise<string> {
    return this.until((got) => got.endsWith(tail), timeoutMs);
  }

  whenClosed(timeoutMs?: number): Promise<string> {
    return this.until((_, closed) => closed, timeoutMs);
  }

  close(): void {
    this.socket.destroy();
  }

  private poke(): void {
    for (const l of [...this.listeners]) l();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls a condition on the cache's record, for what happens after a socket event (a close). */
async function eventually(test: () => boolean, timeoutMs = 3000): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!test()) {
    if (Date.now() > end) return false;
    await sleep(10);
  }
  return true;
}

describe('SlowCache', () => {
  it('answers a miss with END, a set with STORED, a hit with its VALUE, and records each command and key', async () => {
    cache = await SlowCache.start();
    expect(cache.env()).toEqual({ CACHE_ADDR: `127.0.0.1:${cache.port}` });
    const c = await Client.open(cache.port);
    c.send('get k\r\n');
    expect(await c.upTo('END\r\n')).toBe('END\r\n');
    c.send('set k 5 0 5\r\nhello\r\n');
    await c.upTo('STORED\r\n');
    c.send('get k\r\n');
    expect(await c.upTo('hello\r\nEND\r\n')).toBe('END\r\nSTORED\r\nVALUE k 5 5\r\nhello\r\nEND\r\n');
    const r = cache.record;
    expect(r.commands.map((x) => [x.seq, x.connection, x.command, x.keys, x.hits, x.reply])).toEqual([
      [1, 1, 'get', ['k'], [false], 'END'],
      [2, 1, 'set', ['k'], undefined, 'STORED'],
      [3, 1, 'get', ['k'], [true], 'VALUE k 5 5'],
    ]);
    expect(r.commands[1]).toMatchObject({ line: 'set k 5 0 5', flags: 5, exptime: 0, bytes: 5 });
    expect(r.commands[1]!.data!.toString()).toBe('hello');
    expect(r.keys.get('k')).toEqual({ hits: 1, misses: 1, sets: 1, deletes: 0 });
    expect(cache.entry('k')).toEqual({ value: Buffer.from('hello'), flags: 5 });
    expect(r.seen).toBe(3);
    for (const x of r.commands) expect(x.repliedMs).toBeGreaterThanOrEqual(x.arrivedMs);
  });

  it('reads commands split across reads and several in one read, and answers them in order', async () => {
    cache = await SlowCache.start({ delayMs: 5 });
    const c = await Client.open(cache.port);
    await c.sendSplit(['se', 't k 0 0', ' 5\r', '\nhel', 'lo', '\r', '\nge', 't k\r\n']);
    expect(await c.upTo('END\r\n')).toBe('STORED\r\nVALUE k 0 5\r\nhello\r\nEND\r\n');
    const d = await Client.open(cache.port);
    d.send('set a 0 0 1\r\n1\r\nget a b\r\ndelete a\r\nget a\r\nversion\r\n');
    expect(await d.upTo(`VERSION ${CACHE_VERSION}\r\n`)).toBe(`STORED\r\nVALUE a 0 1\r\n1\r\nEND\r\nDELETED\r\nEND\r\nVERSION ${CACHE_VERSION}\r\n`);
    const r = cache.record;
    expect(r.commands.map((x) => `${x.connection}:${x.line}`)).toEqual(['1:set k 0 0 5', '1:get k', '2:set a 0 0 1', '2:get a b', '2:delete a', '2:get a', '2:version']);
    expect(r.commands[3]!.hits).toEqual([true, false]);
    const replied = r.commands.filter((x) => x.connection === 2).map((x) => x.repliedMs!);
    expect(replied).toEqual([...replied].sort((a, b) => a - b));
  });

  it('keeps quiet for noreply, and answers a delete with DELETED or NOT_FOUND', async () => {
    cache = await SlowCache.start({ delayMs: 0 });
    const c = await Client.open(cache.port);
    c.send('set k 0 0 2 noreply\r\nhi\r\nget k\r\n');
    expect(await c.upTo('END\r\n')).toBe('VALUE k 0 2\r\nhi\r\nEND\r\n');
    c.send('delete k\r\ndelete k\r\nset j 0 0 1 noreply\r\nj\r\ndelete j noreply\r\nget j\r\n');
    expect(await c.upTo('NOT_FOUND\r\nEND\r\n')).toBe('VALUE k 0 2\r\nhi\r\nEND\r\nDELETED\r\nNOT_FOUND\r\nEND\r\n');
    const r = cache.record;
    expect(r.commands.filter((x) => x.noreply).map((x) => [x.line, x.reply])).toEqual([
      ['set k 0 0 2 noreply', ''],
      ['set j 0 0 1 noreply', ''],
      ['delete j noreply', ''],
    ]);
    expect(r.keys.get('k')).toEqual({ hits: 1, misses: 0, sets: 1, deletes: 1 });
    expect(r.keys.get('j')).toEqual({ hits: 0, misses: 1, sets: 1, deletes: 1 });
  });

  it('answers ERROR to what it does not know, CLIENT_ERROR to a bad line or data block, and hangs up on quit or a runaway line', async () => {
    cache = await SlowCache.start({ delayMs: 0 });
    const c = await Client.open(cache.port);
    c.send('GET k\r\nstats\r\n\r\nset k 0 0\r\n');
    expect(await c.upTo('ERROR\r\nERROR\r\nERROR\r\nERROR\r\n')).toBe('ERROR\r\nERROR\r\nERROR\r\nERROR\r\n');
    const d = await Client.open(cache.port);
    // Two bytes announced, five sent: the two after the first two must be CRLF; the rest is read as a command.
    d.send('set k 0 0 2\r\nhello\r\nset k 0 0 x\r\nget k\r\n');
    expect(await d.upTo('END\r\n')).toBe('CLIENT_ERROR bad data chunk\r\nERROR\r\nCLIENT_ERROR bad command line format\r\nEND\r\n');
    d.send('quit\r\n');
    await d.whenClosed();
    const e = await Client.open(cache.port);
    e.send('x'.repeat(3000));
    expect(await e.whenClosed()).toBe('');
    const r = cache.record;
    expect(r.connections.map((x) => [x.id, x.closedBy, x.closeReason])).toEqual([
      [1, undefined, undefined],
      [2, 'cache', 'quit'],
      [3, 'cache', 'a line of more than 2048 bytes with no newline'],
    ]);
    expect(r.keys.has('k')).toBe(true);
    expect(cache.entry('k')).toBeUndefined();
  });

  it('waits its delay before each reply, and the recorded times agree', async () => {
    cache = await SlowCache.start({ delayMs: 120 });
    expect(cache.delayMs).toBe(120);
    const c = await Client.open(cache.port);
    const t0 = performance.now();
    c.send('get a\r\nget b\r\n');
    await c.upTo('END\r\nEND\r\n');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(119);
    const [a, b] = cache.record.commands;
    // Rounded to the millisecond each, hence the one of slack.
    expect(a!.repliedMs! - a!.arrivedMs).toBeGreaterThanOrEqual(119);
    expect(b!.repliedMs! - b!.arrivedMs).toBeGreaterThanOrEqual(119);
    expect(b!.repliedMs).toBeGreaterThanOrEqual(a!.repliedMs!);
    // A plan's own delay takes the place of the cache's.
    cache.setPlan({ kind: 'answer', delayMs: 300 });
    const t1 = performance.now();
    c.send('get c\r\n');
    await c.upTo('END\r\nEND\r\nEND\r\n');
    expect(performance.now() - t1).toBeGreaterThanOrEqual(299);
    const last = cache.record.commands[2]!;
    expect(last.repliedMs! - last.arrivedMs).toBeGreaterThanOrEqual(299);
  });

  it('holds commands until released, the oldest first; never answers under "never"; hangs up under "close"', async () => {
    cache = await SlowCache.start({ delayMs: 0 });
    cache.setPlan({ kind: 'hold' });
    const a = await Client.open(cache.port);
    const b = await Client.open(cache.port);
    a.send('get a\r\n');
    expect(await cache.whenCommands(1, { timeoutMs: 3000 })).toBe(true);
    b.send('get b\r\n');
    expect(await cache.whenCommands(2, { timeoutMs: 3000 })).toBe(true);
    expect(cache.record.held).toBe(2);
    expect(cache.release(1)).toBe(1);
    expect(await a.upTo('END\r\n')).toBe('END\r\n');
    expect(cache.record.commands.map((x) => x.repliedMs !== undefined)).toEqual([true, false]);
    expect(cache.record.commands[0]!.releasedMs).toBeDefined();
    expect(cache.release()).toBe(1);
    expect(await b.upTo('END\r\n')).toBe('END\r\n');

    cache.setPlan({ kind: 'never' });
    const n = await Client.open(cache.port);
    n.send('get n\r\nversion\r\n');
    expect(await cache.whenCommands(4, { timeoutMs: 3000 })).toBe(true);
    expect(await cache.whenReplied(3, { timeoutMs: 150 })).toBe(false);
    expect(n.got.length).toBe(0);

    cache.setPlan({ kind: 'close' });
    const x = await Client.open(cache.port);
    x.send('get x\r\n');
    expect(await x.whenClosed()).toBe('');
    const r = cache.record;
    expect(r.commands.at(-1)).toMatchObject({ line: 'get x', closed: true });
    expect(r.connections.at(-1)).toMatchObject({ closedBy: 'cache', closeReason: 'on purpose, as a command arrived' });
    expect(r.inFlight).toBe(2);
  });

  it('answers what is due to a client that shut down its side, then hangs up; a held command goes with the connection', async () => {
    cache = await SlowCache.start({ delayMs: 50 });
    const a = await Client.open(cache.port);
    a.send('get a\r\nget b\r\n');
    a.socket.end();
    expect(await a.whenClosed()).toBe('END\r\nEND\r\n');
    cache.setPlan({ kind: 'hold' });
    const b = await Client.open(cache.port);
    b.send('get c\r\n');
    expect(await cache.whenCommands(3, { timeoutMs: 3000 })).toBe(true);
    b.socket.end();
    expect(await b.whenClosed()).toBe('');
    const r = cache.record;
    expect(r.commands.map((x) => [x.line, x.reply, x.dropped])).toEqual([
      ['get a', 'END', undefined],
      ['get b', 'END', undefined],
      ['get c', undefined, true],
    ]);
    expect(r.connections.map((x) => x.closedBy)).toEqual(['client', 'client']);
    expect(r).toMatchObject({ inFlight: 0, held: 0 });
  });

  it('resets to no data and an empty record, cutting connections that wait and keeping idle ones', async () => {
    cache = await SlowCache.start({ delayMs: 0 });
    cache.preload('p', 'v', { flags: 3 });
    const idle = await Client.open(cache.port);
    idle.send('get p\r\n');
    expect(await idle.upTo('END\r\n')).toBe('VALUE p 3 1\r\nv\r\nEND\r\n');
    cache.setPlan({ kind: 'never' });
    const stuck = await Client.open(cache.port);
    stuck.send('get p\r\n');
    expect(await cache.whenCommands(2, { timeoutMs: 3000 })).toBe(true);
    const waiting = cache.whenCommands(99, { timeoutMs: 60_000 });
    cache.reset();
    expect(await waiting).toBe(false);
    await stuck.whenClosed();
    const r = cache.record;
    expect(r).toMatchObject({ commands: [], seen: 0, openConnections: 1, maxConnections: 1, inFlight: 0, maxInFlight: 0, held: 0 });
    expect(r.keys.size).toBe(0);
    expect(r.connections).toEqual([{ id: 1, openedMs: 0, carried: true, commands: 0 }]);
    expect(cache.entry('p')).toBeUndefined();
    idle.send('get p\r\n');
    expect(await idle.upTo('END\r\nEND\r\n')).toBe('VALUE p 3 1\r\nv\r\nEND\r\nEND\r\n');
    expect(cache.record.commands.map((x) => [x.connection, x.hits])).toEqual([[1, [false]]]);
  });

  it('records the most connections open and commands in flight at once, and a short transcript of each connection', async () => {
    cache = await SlowCache.start({ delayMs: 0 });
    cache.setPlan({ kind: 'hold' });
    const cs = [await Client.open(cache.port), await Client.open(cache.port), await Client.open(cache.port)];
    cs.forEach((c, i) => c.send(`get k${i}\r\n`));
    expect(await cache.whenCommands(3, { timeoutMs: 3000 })).toBe(true);
    expect(cache.record.commands.map((x) => x.inFlightAtArrival)).toEqual([1, 2, 3]);
    cache.setPlan({ kind: 'answer', delayMs: 0 });
    cache.release();
    await Promise.all(cs.map((c) => c.upTo('END\r\n')));
    cs[0]!.close();
    expect(await eventually(() => cache!.record.openConnections === 2)).toBe(true);
    const big = 'b'.repeat(5000);
    cs[1]!.send(`set big 0 0 ${big.length}\r\n${big}\r\n`);
    await cs[1]!.upTo('STORED\r\n');
    const r = cache.record;
    expect(r).toMatchObject({ maxConnections: 3, maxInFlight: 3, inFlight: 0, openConnections: 2 });
    expect(r.connections.map((x) => [x.id, x.closedBy, x.commands])).toEqual([
      [1, 'client', 1],
      [2, undefined, 2],
      [3, undefined, 1],
    ]);
    expect(r.commands.at(-1)!.data!.length).toBe(4096);
    const t = cache.transcripts();
    expect(t.map((x) => x.label)).toEqual(['connection 1 to the cache (closed by your server)', 'connection 2 to the cache (still open)', 'connection 3 to the cache (still open)']);
    expect(t[0]).toMatchObject({ sent: 'get k0\r\n', sentBytes: 8, received: 'END\r\n', receivedBytes: 5 });
    expect(t[1]!.sent.length).toBe(1024);
    expect(t[1]!.sentBytes).toBe(8 + 'set big 0 0 5000\r\n'.length + 5002);
    expect(t[1]!.received).toBe('END\r\nSTORED\r\n');
    expect(cache.transcripts({ connections: [3], bytes: 3 })).toEqual([{ label: 'connection 3 to the cache (still open)', sent: 'get', sentBytes: 8, received: 'END', receivedBytes: 5 }]);
    expect(cache.transcripts({ limit: 1 })).toHaveLength(1);
  });

  it('answers byte for byte as a real memcached does', async (ctx) => {
    const missing = unlessRequired(existsSync(MEMCACHED) ? undefined : `${MEMCACHED} is not installed (Debian's memcached package), so there is nothing to compare with`);
    ctx.skip(missing !== undefined, missing);
    const port = await getPort({ host: '127.0.0.1' });
    // memcached will not run as root unless told which user to become.
    const asRoot = process.getuid?.() === 0 ? ['-u', 'nobody'] : [];
    const child = spawn(MEMCACHED, ['-l', '127.0.0.1', '-p', String(port), '-U', '0', ...asRoot], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise((r) => child.once('exit', r));
    try {
      const real = await connectWithin(port, 5000, () => (child.exitCode !== null ? `memcached exited: ${stderr}` : undefined));
      cache = await SlowCache.start({ delayMs: 0 });
      const ours = await Client.open(cache.port);
      const long = 'k'.repeat(251);
      // Each case ends with a sentinel get whose reply nothing else can give, so the whole answer is known to be in.
      const sentinel = 'get zz-sentinel\r\n';
      const sentinelReply = 'VALUE zz-sentinel 0 8\r\nsentinel\r\nEND\r\n';
      const cases = [
        'set zz-sentinel 0 0 8\r\nsentinel\r\n',
        'get k\r\n',
        'set k 0 0 5\r\nhello\r\nget k\r\n',
        'set k 42 0 3\r\nabc\r\nget k k nope\r\n',
        'set e 0 0 0\r\n\r\nget e\r\n',
        'set k 0 0 2 noreply\r\nhi\r\nget k\r\n',
        'delete k\r\ndelete k\r\ndelete k noreply\r\ndelete k 0\r\ndelete k 5\r\n',
        'set k 0 0 3\r\nhello\r\n',
        'set k 0 0 3 noreply\r\nhello\r\n',
        'set k 0 0 abc\r\nhi\r\nset k -1 0 2\r\nhi\r\nset k 0 0 -1\r\n',
        'set k 0 2\r\nhi\r\nset k 0 0 2 noreply extra\r\nhi\r\n',
        'GET k\r\n\r\na\r\nget\r\nstatz\r\n',
        `get ${long}\r\n`,
        `set ${long} 0 0 1\r\nx\r\n`,
        'get k\nset k 0 0 2\nhi\r\nget k \r\n  get   k  \r\n',
        'set k 0 -1 2\r\nhi\r\nget k\r\n',
        'set k 4294967296 0 2\r\nhi\r\nset k 0 0 4294967298\r\nhi\r\nget k\r\n',
        `set a 0 0 1\r\n1\r\nget${Array.from({ length: 30 }, (_, i) => ` x${i}`).join('')} a\r\n`,
      ];
      for (const bytes of cases) {
        const want = await exchange(real, bytes + sentinel, sentinelReply);
        const got = await exchange(ours, bytes + sentinel, sentinelReply);
        expect({ bytes, reply: got }).toEqual({ bytes, reply: want });
      }
      // The same bytes in pieces, each in a read of its own.
      const pieces = ['se', 't s 1 0 4\r', '\nab', 'cd\r\nget', ' s\r\n', sentinel];
      const [want, got] = await Promise.all([real, ours].map((c) => exchange(c, pieces, sentinelReply)));
      expect(got).toBe(want);
      // Both hang up on quit, and on a line that runs past 2048 bytes with no newline.
      for (const bytes of ['quit\r\n', 'z'.repeat(2100)]) {
        const [r, o] = await Promise.all([port, cache.port].map(async (p) => {
          const c = await Client.open(p);
          c.send(bytes);
          return c.whenClosed();
        }));
        expect({ bytes: bytes.slice(0, 10), reply: o }).toEqual({ bytes: bytes.slice(0, 10), reply: r });
      }
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });
});

/** Sends `bytes` (or pieces of them, one by one) on an open client and returns what came back, up to and including `tail`. */
async function exchange(c: Client, bytes: string | string[], tail: string): Promise<string> {
  const from = c.got.length;
  if (typeof bytes === 'string') c.send(bytes);
  else await c.sendSplit(bytes);
  const got = await c.until((all) => all.length > from && all.endsWith(tail));
  return got.slice(from);
}

async function connectWithin(port: number, timeoutMs: number, failed: () => string | undefined): Promise<Client> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await Client.open(port);
    } catch (e) {
      const why = failed();
      if (why || Date.now() > end) throw new Error(why ?? `memcached did not listen on ${port}: ${(e as Error).message}`);
      await sleep(50);
    }
  }
}
