import net from 'node:net';
import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { defineCheck, defineExercise, fromCases, probeCase, skip, type Case, type CheckContext } from './define.ts';
import { expectResponse } from './expect.ts';
import { eventually } from './process-models.ts';
import rules from './rules/08-event-loop.ts';
import { header, parseResponse, type ParsedResponse } from '../probes/raw/parse-response.ts';
import { toExchange } from '../probes/raw/transcript.ts';
import type { RawConnection } from '../probes/raw/connection.ts';
import { descendants, rootOf, treeEvidence, type ServerSnapshot } from '../probes/proc/inspect.ts';
import { tcpQueues } from '../probes/proc/listen-table.ts';
import { processInfo } from '../probes/proc/processes.ts';

type TcpQueues = NonNullable<Awaited<ReturnType<typeof tcpQueues>>>;
import { listenRows } from '../probes/proc/listen-table.ts';

// 08-event-loop: one thread serves everyone, so every check asks the same question in another
// way: while one client is slow (sending, reading, or asking for CPU work), is everyone else still
// served? Each is decided by the order of events (an answer that comes while another request is
// still incomplete, unread or computing), never by how fast the machine is.

const MAX_BIG = 50 * 1024 * 1024;
const LETTERS = 'abcdefghijklmnopqrstuvwxyz';
/** Linux counts a process's CPU time in clock ticks of 1/100 s (USER_HZ) on every common platform. */
const TICKS_PER_SECOND = 100;

/** The /hash chain as the README defines it: h_0 = sha256(seed), h_i+1 = sha256(h_i). */
function hashChain(seed: string, rounds: number): string {
  let h = createHash('sha256').update(seed, 'utf8').digest();
  for (let i = 0; i < rounds; i++) h = createHash('sha256').update(h).digest();
  return `${h.toString('hex')}\n`;
}

/** /big's body: byte i is the letter 'a' + i % 26. */
const bigBody = (length: number): Buffer => Buffer.alloc(length, LETTERS);

const isPython = (ctx: CheckContext) => ctx.track === 'py';

/** The head of a GET cut in two: the first part leaves the request unfinished. */
function halves(ctx: CheckContext, target: string): [Buffer, Buffer] {
  const bytes = ctx.request({ target });
  const cut = Math.floor(bytes.length / 2);
  return [bytes.subarray(0, cut), bytes.subarray(cut)];
}

/** Opens `n` connections, each sending the first half of its request, and waits until the server has taken them all. */
async function holdHalfRequests(ctx: CheckContext, n: number, target: (i: number) => string, label: string) {
  // Every connection's reads listen on the check's signal.
  setMaxListeners(4 * n + 50, ctx.signal);
  const held: Array<{ conn: RawConnection; rest: Buffer; target: string }> = [];
  for (let i = 0; i < n; i++) {
    const t = target(i);
    const [first, rest] = halves(ctx, t);
    const conn = await ctx.connect({ label: `${label} ${i + 1}` });
    await conn.send(first);
    held.push({ conn, rest, target: t });
  }
  const accepted = await ctx.proc.waitFor((s) => s.acceptQueue === 0, { timeoutMs: 5000, signal: ctx.signal });
  return { held, accepted };
}

// ---- A client of the grader's own that can stop reading, and shows its kernel queues --------

/**
 * A connection that reads only when told to: paused, it takes nothing from the kernel, so the
 * server's writes fill the socket buffers and then have to wait, as with a slow reader.
 */
class HeldClient {
  private chunks: Buffer[] = [];
  private length = 0;
  ended = false;
  private readonly sent: Buffer[] = [];

  private constructor(
    private readonly socket: net.Socket,
    private readonly port: number,
    readonly label: string,
  ) {
    socket.on('data', (d: Buffer) => {
      this.chunks.push(d);
      this.length += d.length;
    });
    const end = () => {
      this.ended = true;
    };
    socket.on('end', end);
    socket.on('close', end);
    socket.on('error', end);
  }

  static open(ctx: CheckContext, label: string, paused: boolean): Promise<HeldClient> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port: ctx.port, host: '127.0.0.1' });
      if (paused) socket.pause();
      ctx.defer(() => socket.destroy());
      socket.once('connect', () => resolve(new HeldClient(socket, ctx.port, label)));
      socket.once('error', reject);
    });
  }

  get localPort(): number {
    return this.socket.localPort!;
  }

  get receivedBytes(): number {
    return this.length;
  }

  send(bytes: Buffer): void {
    this.sent.push(bytes);
    this.socket.write(bytes);
  }

  resume(): void {
    this.socket.resume();
  }

  /** Both kernel queues of this connection: the server's side (tx) and ours (rx). */
  async queues(): Promise<{ server?: TcpQueues; client?: TcpQueues }> {
    const [server, client] = await Promise.all([tcpQueues(this.port, this.localPort), tcpQueues(this.localPort, this.port)]);
    return { ...(server ? { server } : {}), ...(client ? { client } : {}) };
  }

  /** Something came back, or is waiting in our kernel queue. */
  async heardBack(): Promise<boolean> {
    return this.length > 0 || this.ended || ((await this.queues()).client?.rxQueue ?? 0) > 0;
  }

  /** Waits until a whole response is here (by its Content-Length) or the server closes, or `timeoutMs` passes. */
  async response(timeoutMs: number, signal: AbortSignal): Promise<{ res?: ParsedResponse; problem?: string }> {
    let outcome = this.parse();
    // Parsing again helps only once the stream is as long as the parser said it needs.
    await eventually(() => {
      if (this.ended || (outcome.kind === 'incomplete' && this.length >= (outcome.need ?? 0))) outcome = this.parse();
      return outcome.kind !== 'incomplete' || this.ended;
    }, { timeoutMs, signal, intervalMs: 20 });
    if (outcome.kind === 'complete') return { res: outcome.response };
    if (outcome.kind === 'invalid') return { problem: outcome.message };
    if (!this.ended) return { problem: `no complete response within ${timeoutMs / 1000} s (${this.length} bytes came)` };
    return { problem: `the connection closed after ${this.length} bytes, in the middle of the response (${outcome.part} incomplete)` };
  }

  private parse() {
    const received = Buffer.concat(this.chunks);
    this.chunks = [received];
    return parseResponse(received, 0, { eof: this.ended });
  }

  transcript(expected: string) {
    return toExchange(Buffer.concat(this.sent), Buffer.concat(this.chunks), { label: this.label, port: this.port, expected });
  }
}

// ---- The checks ----------------------------------------------------------------------------

const REASONS: Record<number, string> = { 200: 'OK', 400: 'Bad Request', 404: 'Not Found' };

const routes = defineCheck({
  id: 'answers-routes',
  title: 'Answers /, /pid, /hash and /big, refuses bad numbers, and closes after each response',
  points: 3,
  timeoutMs: 60_000,
  async run(ctx) {
    const pid = ctx.server.pid;
    const w = () => ctx.rng.word(6);
    const seed = w();
    const spaced = [w(), w()];
    const rounds = 20_001 + 2 * ctx.rng.int(0, 5000);
    const big = 70_001 + ctx.rng.int(0, 60_000);
    type Want = { name: string; target: string; status: number; body: string | Buffer; rule: string };
    const wants: Want[] = [
      { name: 'GET / says hello', target: '/', status: 200, body: 'hello\n', rule: 'hello' },
      { name: 'GET /pid names the server process', target: '/pid', status: 200, body: `${pid}\n`, rule: 'pid' },
      { name: 'one round of /hash', target: `/hash?rounds=1&seed=${seed}`, status: 200, body: hashChain(seed, 1), rule: 'hash' },
      { name: `${rounds} rounds of /hash, with a seed holding an escaped space`, target: `/hash?seed=${spaced.join('%20')}&rounds=${rounds}`, status: 200, body: hashChain(spaced.join(' '), rounds), rule: 'hash' },
      { name: '/hash with no seed hashes the empty seed', target: '/hash?rounds=7', status: 200, body: hashChain('', 7), rule: 'hash' },
      ...['0', '10000001', '2.5', 'x5', '5x', '-3', ''].map((r) => ({ name: `/hash with rounds=${r} is refused`, target: `/hash?rounds=${r}&seed=${seed}`, status: 400, body: 'bad request\n', rule: 'numbers' })),
      { name: '/hash with no rounds is refused', target: `/hash?seed=${seed}`, status: 400, body: 'bad request\n', rule: 'numbers' },
      { name: `/big of ${big} bytes`, target: `/big?bytes=${big}`, status: 200, body: bigBody(big), rule: 'big' },
      { name: '/big of 0 bytes', target: '/big?bytes=0', status: 200, body: '', rule: 'big' },
      ...[String(MAX_BIG + 1), 'lots', '1e3'].map((b) => ({ name: `/big with bytes=${b} is refused`, target: `/big?bytes=${b}`, status: 400, body: 'bad request\n', rule: 'numbers' })),
      { name: 'an unknown path is 404', target: `/${w()}`, status: 404, body: 'not found\n', rule: 'not-found' },
      { name: 'a path that only starts like a route is 404', target: '/bigger?bytes=5', status: 404, body: 'not found\n', rule: 'not-found' },
    ];
    const cases: Case[] = [];
    const seen: Array<{ name: string; res: ParsedResponse }> = [];
    // The close is waited for until one response is not followed by it: then once is enough.
    let closes = true;
    for (const want of wants) {
      const c = await expectResponse(ctx, { name: want.name, send: ctx.request({ target: want.target }), status: want.status, body: want.body, closes, rule: want.rule, weight: 1 });
      if (c.code === 'not-closed') closes = false;
      if (c.res) seen.push({ name: want.name, res: c.res });
      const { res: _res, ...rest } = c;
      cases.push(rest);
    }
    const wrong = seen.flatMap(({ name, res }) => {
      const problems: string[] = [];
      if (res.reason !== REASONS[res.status]) problems.push(`the status line says "${res.status} ${res.reason}", not "${res.status} ${REASONS[res.status] ?? '...'}"`);
      const want: Array<[string, string]> = [['content-type', 'text/plain; charset=utf-8'], ['connection', 'close'], ['x-served-by', String(pid)], ['content-length', String(res.body.length)]];
      for (const [n, v] of want) {
        const got = header(res, n);
        if (got !== v) problems.push(got === undefined ? `no ${n} header` : `${n} was "${got}", expected "${v}"`);
      }
      return problems.length ? [`${name}: ${problems.join('; ')}`] : [];
    });
    cases.push({
      name: 'every response carries Content-Type, Content-Length, Connection: close and X-Served-By',
      ok: seen.length > 0 && wrong.length === 0,
      code: wrong.length ? 'wrong-header' : 'no-response',
      rule: ctx.rule('headers'),
      weight: 3,
      message: wrong.length ? `${wrong.length} of ${seen.length} responses: ${wrong[0]}` : seen.length ? `all ${seen.length} did` : 'no response came to look at',
    });
    if (process.platform === 'linux') {
      const addresses = [...new Set((await listenRows(ctx.port)).map((r) => r.address))];
      cases.push({
        name: 'listens on 127.0.0.1 only',
        ok: addresses.length === 1 && addresses[0] === '127.0.0.1',
        code: 'wrong-address',
        rule: ctx.rule('loopback'),
        message: `the kernel shows the port listening on ${addresses.join(', ') || 'nothing'}`,
      });
    }
    return fromCases(cases);
  },
});

const manySlow = defineCheck({
  id: 'many-slow-clients',
  title: '200 clients each half-way through a request: all accepted, a new one answered, then each answered',
  points: 3,
  timeoutMs: 60_000,
  async run(ctx) {
    const n = 200;
    // Each asks for a /big of its own length, so an answer that went to the wrong client shows.
    const base = ctx.rng.int(100, 900);
    const { held, accepted } = await holdHalfRequests(ctx, n, (i) => `/big?bytes=${base + i}`, 'held client');
    const cases: Case[] = [];
    const early = held.filter((h) => h.conn.received.length > 0 || h.conn.eof);
    cases.push({
      name: `all ${n} connections accepted while each waits for the rest of its request`,
      ok: accepted.ok && early.length === 0,
      code: !accepted.ok ? 'left-in-accept-queue' : 'partial-read',
      rule: ctx.rule('accept-all'),
      weight: 2,
      message: !accepted.ok
        ? `${accepted.snapshot.acceptQueue} of the ${n} connections were still waiting in the kernel's accept queue: the server was stuck on a client that had sent half a request`
        : early.length
          ? `${early.length} clients were answered (or closed) before their request was whole`
          : `the accept queue emptied with all ${n} held`,
      tree: treeEvidence(accepted.snapshot, `the server while ${n} clients each held half a request`, (p) => (p.pid === accepted.snapshot.rootPid && accepted.snapshot.acceptQueue ? [`${accepted.snapshot.acceptQueue} left in the accept queue`] : [])),
    });
    cases.push(
      await expectResponse(ctx, {
        name: `a new request is answered while ${n} are held`,
        send: ctx.request({ target: '/' }),
        status: 200,
        body: 'hello\n',
        code: 'stalled-by-client',
        rule: 'many-at-once',
        weight: 2,
        expected: `200 hello, while ${n} other clients are each half-way through a request`,
      }).then(({ res: _res, ...c }) => (c.ok || c.code !== 'no-response' ? c : { ...c, code: 'stalled-by-client' as const, message: `${c.message}, while ${n} other clients each held half a request: the server waits on one of them` })),
    );
    // Last opened first: a server that serves one connection at a time waits on one finished last.
    for (const h of [...held].reverse()) await h.conn.send(h.rest);
    const answers = await Promise.all(held.map((h) => h.conn.readResponse().then((res) => ({ res }), (e: Error) => ({ error: e.message }))));
    const bad = answers
      .map((a, i) => ({ a, i }))
      .filter(({ a, i }) => !('res' in a) || a.res.status !== 200 || !a.res.body.equals(bigBody(base + i)));
    const first = bad[0];
    cases.push({
      name: 'each held client, once its request is whole, gets its own answer',
      ok: bad.length === 0,
      code: first && !('res' in first.a) ? 'no-response' : 'wrong-body',
      rule: ctx.rule('per-connection'),
      weight: 2,
      message: first
        ? `${bad.length} of ${n} got no right answer; the first, ${held[first.i]!.target}: ${'res' in first.a ? `${first.a.res.status} with ${first.a.res.body.length} bytes` : first.a.error}`
        : `all ${n} answered, each with its own /big`,
      ...(first ? { exchange: held[first.i]!.conn.transcript({ expected: `200 with ${base + first.i} bytes of /big` }) } : {}),
    });
    return fromCases(cases);
  },
});

const slowLoris = defineCheck({
  id: 'slow-loris',
  title: 'A client sending its head one byte at a time stalls nobody, and is answered in the end',
  points: 2,
  timeoutMs: 40_000,
  async run(ctx) {
    const fresh = 20;
    const target = `/hash?rounds=3&seed=${ctx.rng.word(8)}`;
    const head = ctx.request({ target });
    const loris = await ctx.connect({ label: 'slow client, one byte at a time' });
    await loris.send(head.subarray(0, 1));
    await ctx.proc.waitFor((s) => s.acceptQueue === 0, { timeoutMs: 5000, signal: ctx.signal });
    let sent = 1;
    let stalled: Case | undefined;
    for (let i = 1; i <= fresh && !stalled; i++) {
      await loris.send(head.subarray(sent, sent + 1));
      sent++;
      const path = i % 2 ? '/' : '/pid';
      const c = await expectResponse(ctx, { name: `new client ${i}`, send: ctx.request({ target: path }), status: 200, body: path === '/' ? 'hello\n' : `${ctx.server.pid}\n` });
      if (!c.ok) stalled = { ...c, code: c.code === 'no-response' ? 'stalled-by-client' : c.code!, message: `new client ${i} of ${fresh}, while the slow client had sent ${sent} of its ${head.length} bytes: ${c.message}` };
    }
    const cases: Case[] = [
      stalled
        ? { ...stalled, name: `${fresh} new clients answered one after another while the slow client is still sending`, rule: ctx.rule('slow-loris'), weight: 2 }
        : { name: `${fresh} new clients answered one after another while the slow client is still sending`, ok: true, rule: ctx.rule('slow-loris'), weight: 2 },
    ];
    const early = loris.received.length > 0 || loris.eof;
    cases.push({
      name: 'the slow client is not answered before its head is whole',
      ok: !early,
      code: 'partial-read',
      rule: ctx.rule('whole-head'),
      message: early ? `after ${sent} of its ${head.length} bytes the server had already answered or closed: a request is whole only at the blank line that ends the head` : 'nothing came back early',
      exchange: loris.transcript({ expected: 'nothing until the blank line at the end of the head' }),
    });
    cases.push(
      await probeCase('the slow client gets its own answer once its head is whole', async () => {
        await loris.send(head.subarray(sent), { chunkSize: 1, pauseMs: 1 });
        const res = await loris.readResponse();
        const want = hashChain(target.split('seed=')[1]!, 3);
        const body = res.body.toString('latin1');
        return { ok: res.status === 200 && body === want, code: 'wrong-body', message: `answered ${res.status} ${JSON.stringify(body.slice(0, 70))}`, exchange: loris.transcript({ expected: `200 ${JSON.stringify(want)}` }) };
      }, { rule: ctx.rule('slow-loris'), expected: 'its answer' }),
    );
    return fromCases(cases);
  },
});

const slowReader = defineCheck({
  id: 'slow-reader',
  title: 'A client that reads nothing of a 50 MiB answer stalls nobody, costs no 50 MiB of memory, and then gets every byte',
  points: 3,
  timeoutMs: 60_000,
  async run(ctx) {
    const why = ctx.proc.unsupported('connections');
    if (why) return skip(why);
    const before = rootOf(await ctx.proc.snapshot())?.rssKb;
    const reader = await HeldClient.open(ctx, 'a client that does not read', true);
    reader.send(ctx.request({ target: `/big?bytes=${MAX_BIG}` }));
    // Both queues of the reader's connection hold bytes: the server wrote until the socket was full.
    const full = await eventually(async () => {
      const q = await reader.queues();
      return (q.server?.txQueue ?? 0) > 0 && (q.client?.rxQueue ?? 0) > 0;
    }, { timeoutMs: 10_000, signal: ctx.signal });
    const cases: Case[] = [];
    let stalled: Case | undefined;
    const targets = ['/', '/pid', `/hash?rounds=2&seed=${ctx.rng.word(5)}`, '/big?bytes=3000', '/', '/pid', '/', '/big?bytes=100'];
    for (const [i, t] of targets.entries()) {
      if (stalled) break;
      const body = t === '/' ? 'hello\n' : t === '/pid' ? `${ctx.server.pid}\n` : t.startsWith('/hash') ? hashChain(t.split('seed=')[1]!, 2) : bigBody(Number(t.split('=')[1]));
      const c = await expectResponse(ctx, { name: `new client ${i + 1}`, send: ctx.request({ target: t }), status: 200, body });
      if (!c.ok) {
        const { res: _res, ...rest } = c;
        stalled = { ...rest, code: c.code === 'no-response' ? 'stalled-by-client' : c.code!, message: `new client ${i + 1} (${t}), while one client left a 50 MiB answer unread: ${c.message}` };
      }
    }
    const name = `${targets.length} new clients answered while one client reads nothing of a ${MAX_BIG / 1024 / 1024} MiB answer`;
    if (!full) cases.push({ name, ok: false, code: 'no-response', rule: ctx.rule('slow-reader'), weight: 2, message: 'the server never filled the reader\'s socket with /big\'s bytes', exchange: reader.transcript('the server sends /big until the socket buffers are full') });
    else cases.push(stalled ? { ...stalled, name, rule: ctx.rule('slow-reader'), weight: 2 } : { name, ok: true, rule: ctx.rule('slow-reader'), weight: 2 });

    const after = rootOf(await ctx.proc.snapshot())?.rssKb;
    const grewMb = before !== undefined && after !== undefined ? (after - before) / 1024 : undefined;
    const limitMb = 20;
    cases.push({
      name: 'memory stays small while the unsent bytes wait',
      ok: grewMb === undefined || grewMb < limitMb,
      code: 'buffers-whole-response',
      rule: ctx.rule('bounded'),
      message: grewMb === undefined ? 'memory could not be read here' : `the server's memory (RSS) grew by ${grewMb.toFixed(1)} MB while the reader read nothing${grewMb < limitMb ? '' : `: the whole answer was made at once, instead of a piece at a time as the socket takes it`}`,
    });

    reader.resume();
    const { res, problem } = await reader.response(40_000, ctx.signal);
    let wrong = problem;
    if (res) {
      const want = bigBody(MAX_BIG);
      if (res.status !== 200) wrong = `answered ${res.status}`;
      else if (!res.body.equals(want)) {
        let at = 0;
        while (at < Math.min(res.body.length, want.length) && res.body[at] === want[at]) at++;
        wrong = `${res.body.length} body bytes came for ${want.length}, and they differ from byte ${at} on: pieces were lost or sent twice (a send that took only part was treated as whole?)`;
      }
    }
    cases.push({
      name: 'the reader, once it reads, gets every byte, right',
      ok: !wrong,
      code: wrong && /closed|no complete/.test(wrong) ? 'eof-mid-response' : 'wrong-body',
      rule: ctx.rule('partial-send'),
      weight: 2,
      message: wrong ? `${wrong}${problem?.includes('closed') ? ': what a send() did not take was never sent' : ''}` : `all ${MAX_BIG} bytes came, each the right letter`,
      exchange: reader.transcript(`200 with ${MAX_BIG} bytes a, b, c, ... z, a, b, ...`),
    });
    return fromCases(cases);
  },
});

const hashOffLoop = defineCheck({
  id: 'hash-does-not-stall',
  title: 'A long /hash computes while a new request is answered, and its answer is right',
  points: 3,
  timeoutMs: 90_000,
  async run(ctx) {
    const cases: Case[] = [];
    const seed = ctx.rng.word(8);
    const rounds = 50_001 + 2 * ctx.rng.int(0, 10_000);
    cases.push(
      await expectResponse(ctx, { name: `${rounds} rounds of /hash, checked`, send: ctx.request({ target: `/hash?rounds=${rounds}&seed=${seed}` }), status: 200, body: hashChain(seed, rounds), rule: 'hash', idleTimeoutMs: 20_000 }).then(
        ({ res: _res, ...c }) => c,
      ),
    );
    const long = 3_000_000;
    const ticks0 = await ctx.proc.cpuTicks();
    const worker = await HeldClient.open(ctx, `/hash with ${long} rounds`, false);
    worker.send(ctx.request({ target: `/hash?rounds=${long}&seed=${ctx.rng.word(8)}` }));
    // The server is computing once it has used a tenth of a second of CPU since the request.
    const busy = await eventually(async () => (await ctx.proc.cpuTicks()) >= ticks0 + 10 || worker.ended, { timeoutMs: 15_000, signal: ctx.signal, intervalMs: 10 });
    const fresh = await expectResponse(ctx, { name: 'a new request while the hash computes', send: ctx.request({ target: '/' }), status: 200, body: 'hello\n', idleTimeoutMs: 45_000 });
    const hashFirst = await worker.heardBack();
    cases.push({
      name: `a new request is answered while a /hash of ${long} rounds computes`,
      ok: busy && fresh.ok && !hashFirst,
      code: hashFirst ? 'stalled-by-work' : fresh.code ?? 'no-response',
      rule: ctx.rule('cpu-slices'),
      weight: 3,
      message: !busy
        ? 'the server never started computing the hash'
        : hashFirst
          ? `the new request (GET /) was answered only after the hash's answer: the hash ran on the loop, and no other client was served until it was done`
          : fresh.ok
            ? 'answered while the hash computed'
            : fresh.message!,
      ...(fresh.exchange ? { exchange: fresh.exchange } : {}),
    });
    const { res, problem } = await worker.response(60_000, ctx.signal);
    const body = res?.body.toString('latin1') ?? '';
    cases.push({
      name: `the /hash of ${long} rounds is answered with 64 hex digits`,
      ok: res?.status === 200 && /^[0-9a-f]{64}\n$/.test(body),
      code: res ? 'wrong-body' : 'no-response',
      rule: ctx.rule('hash'),
      message: problem ?? `answered ${res!.status} ${JSON.stringify(body.slice(0, 80))}`,
      exchange: worker.transcript('200 with 64 hex digits and a newline'),
    });
    return fromCases(cases);
  },
});

/** Snapshots taken until the server has spent `ticks` more CPU (or `timeoutMs` passes): what it ran on while busy. */
async function whileBusy(ctx: CheckContext, since: number, ticks: number, timeoutMs: number): Promise<{ samples: ServerSnapshot[]; busy: boolean }> {
  const samples: ServerSnapshot[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    samples.push(await ctx.proc.snapshot());
    const busy = (await ctx.proc.cpuTicks()) >= since + ticks;
    if ((busy && samples.length >= 3) || Date.now() > deadline || ctx.signal.aborted) return { samples, busy };
    await sleep(25);
  }
}

const oneThread = defineCheck({
  id: 'one-thread',
  title: 'One thread and no child processes, under two loads',
  points: 2,
  timeoutMs: 60_000,
  async run(ctx) {
    const why = ctx.proc.unsupported('threads');
    if (why) return skip(why);
    const py = isPython(ctx);
    const most = 10_000_000;
    // Work, so that a thread or process per request would show: held clients and long hashes.
    const level = async (clients: number, hashes: number, tag: string) => {
      const { held } = await holdHalfRequests(ctx, clients, () => '/', `${tag}: held client`);
      const ticks0 = await ctx.proc.cpuTicks();
      const computing: RawConnection[] = [];
      for (let i = 0; i < hashes; i++) {
        const c = await ctx.connect({ label: `${tag}: /hash ${i + 1}` });
        await c.send(ctx.request({ target: `/hash?rounds=${most}&seed=${ctx.rng.word(6)}` }));
        computing.push(c);
      }
      const seen = await whileBusy(ctx, ticks0, 30, 8000);
      const refused = computing.filter((c) => c.received.length > 0);
      return { ...seen, held, refused, computing, threads: Math.max(...seen.samples.map((s) => rootOf(s)?.threads ?? 0)) };
    };
    const low = await level(10, 1, 'lighter load');
    const high = await level(100, 4, 'heavier load');
    // The hashes left running would cost the next checks their CPU: they get a fresh server.
    for (const c of [...low.held, ...high.held]) c.conn.close();
    await ctx.restartServer();
    const all = [...low.samples, ...high.samples];
    const peak = (l: typeof low) => l.samples.reduce((a, b) => ((rootOf(b)?.threads ?? 0) > (rootOf(a)?.threads ?? 0) ? b : a));
    const cases: Case[] = [];
    const refused = [...low.refused, ...high.refused];
    cases.push({
      name: `the server computes /hash with rounds=${most} (the most allowed) while the threads are counted`,
      ok: refused.length === 0,
      code: 'wrong-status',
      rule: ctx.rule('numbers'),
      message: refused.length ? `a /hash with rounds=${most} was answered at once, not computed` : low.busy && high.busy ? 'it computed' : 'no answer came, but the server did not get to compute either',
      ...(refused[0] ? { exchange: refused[0].transcript({ expected: `no answer yet: ${most} rounds take seconds` }) } : {}),
    });
    const grew = high.threads - low.threads;
    const threadsOk = py ? all.every((s) => rootOf(s)?.threads === 1) : grew <= 1;
    const worst = py ? all.find((s) => rootOf(s)?.threads !== 1) ?? peak(high) : peak(high);
    cases.push({
      name: py ? 'exactly one thread at every look' : 'the thread count does not grow with the load',
      ok: threadsOk,
      code: py ? 'wrong-thread-count' : 'thread-count-grows',
      rule: ctx.rule('one-thread'),
      message: py
        ? threadsOk ? 'one thread throughout' : `the server ran ${rootOf(worst)?.threads} threads: a thread per client (or per request) is not an event loop`
        : `${low.threads} threads with 10 held clients and 1 hash, ${high.threads} with 100 and 4${threadsOk ? '' : ': a thread is started per request'}`,
      tree: treeEvidence(worst, py ? 'the server under load' : 'the server under the heavier load', (p) => (p.pid === worst.rootPid ? [`${rootOf(worst)?.threads} threads`] : [])),
    });
    const forked = all.find((s) => descendants(s).length > 0);
    cases.push({
      name: 'no child processes',
      ok: !forked,
      code: 'process-tree-grows',
      rule: ctx.rule('no-children'),
      message: forked ? `${descendants(forked).length} child processes ran under the server` : 'none',
      ...(forked ? { tree: treeEvidence(forked, 'the server with its children', (p) => (p.pid !== forked.rootPid ? ['child'] : [])) } : {}),
    });
    return fromCases(cases);
  },
});

const noSpin = defineCheck({
  id: 'no-busy-loop',
  title: 'With idle clients and nothing to do, the server sleeps',
  points: 2,
  timeoutMs: 30_000,
  platforms: ['linux'],
  async run(ctx) {
    // A few answered requests first, so a loop that keeps write interest after serving shows too.
    for (const t of ['/', '/pid', '/big?bytes=100000']) {
      const conn = await ctx.connect({ label: `served first: ${t}` });
      await conn.send(ctx.request({ target: t }));
      await conn.readResponse().catch(() => undefined);
    }
    const { held, accepted } = await holdHalfRequests(ctx, 5, () => '/', 'idle client');
    await sleep(200);
    // The main thread's state, looked at again and again: an idle loop sleeps in the selector (S);
    // a spinning one is running or waiting for a CPU (R), however loaded the machine is.
    const t0 = Date.now();
    const ticks0 = await ctx.proc.cpuTicks();
    const looks = 60;
    let running = 0;
    for (let i = 0; i < looks; i++) {
      if ((await mainThreadState(ctx.server.pid)) === 'R') running++;
      await sleep(20, undefined, { signal: ctx.signal });
    }
    const ticks = (await ctx.proc.cpuTicks()) - ticks0;
    const wallS = (Date.now() - t0) / 1000;
    const share = running / looks;
    const limit = 0.25;
    const cases: Case[] = [
      {
        name: `asleep at nearly every look while ${held.length} idle clients are held`,
        ok: share < limit,
        code: 'busy-loop',
        rule: ctx.rule('write-interest'),
        message: `running (R) at ${running} of ${looks} looks, ${ticks / TICKS_PER_SECOND} s of CPU in ${wallS.toFixed(2)} s${share < limit ? '' : ': the loop spins instead of sleeping in the selector'}`,
        tree: treeEvidence(accepted.snapshot, 'the server holding idle clients'),
      },
    ];
    const verdict = fromCases(cases);
    verdict.evidence.measurements = [
      { label: 'looks at which the server was running', value: running, unit: `of ${looks}`, expected: `fewer than ${limit * looks} (a spinning loop: nearly all)` },
      { label: 'CPU time / wall time, idle', value: Math.round((ticks / TICKS_PER_SECOND / wallS) * 1000) / 1000 },
    ];
    return verdict;
  },
});

/** The scheduler state of a process's main thread (R running or runnable, S asleep, ...). */
const mainThreadState = async (pid: number): Promise<string | undefined> => (await processInfo(pid))?.state;

/** How long sockets the server is still closing get to go before a count above the first is a leak. */
const SETTLE_MS = 5000;

const noFdLeak = defineCheck({
  id: 'no-fd-leak',
  title: 'The open sockets do not grow from 50 to 150 connections served and closed',
  points: 2,
  timeoutMs: 60_000,
  async run(ctx) {
    const why = ctx.proc.unsupported('fds', 'connections');
    if (why) return skip(why);
    setMaxListeners(200, ctx.signal);
    const kinds = ['/', '/pid', '/hash?rounds=1&seed=x', '/big?bytes=300000', '/nowhere', 'closes early', 'resets while sent'];
    let served = 0;
    const one = async (i: number) => {
      const kind = kinds[i % kinds.length]!;
      const conn = await ctx.connect({ label: `connection ${i + 1}` });
      if (kind === 'closes early') {
        await conn.send(halves(ctx, '/')[0]);
        await ctx.proc.waitFor((s) => s.acceptQueue === 0, { timeoutMs: 2000, signal: ctx.signal });
        conn.close();
      } else if (kind === 'resets while sent') {
        await conn.send(ctx.request({ target: `/big?bytes=${MAX_BIG}` }));
        await conn.waitForBytes(ctx.ioTimeoutMs);
        conn.reset();
      } else {
        await conn.send(ctx.request({ target: kind }));
        await conn.readResponse().catch(() => undefined);
        conn.close();
      }
      served++;
    };
    const serve = async (n: number) => {
      for (let i = served; i < n; i += 10) await Promise.all(Array.from({ length: Math.min(10, n - i) }, (_, k) => one(i + k)));
      // Every connection is closed on the client's side; a server that closes too leaves none open.
      return ctx.proc.waitFor((s) => !s.connections.ESTABLISHED && !s.connections.CLOSE_WAIT, { timeoutMs: 5000, signal: ctx.signal });
    };
    await serve(10);
    // Sockets only: a runtime's own descriptors (a Worker's event loop, say) come and go.
    const sockets = (s: ServerSnapshot) => rootOf(s)?.fds?.sockets ?? 0;
    const total = (s: ServerSnapshot) => rootOf(s)?.fds?.total ?? 0;
    const at50 = await serve(50);
    let at150 = await serve(150);
    // A socket the server is closing at this moment (a reset it has not handled yet, on a busy
    // machine) is gone a moment later; a leaked one stays however long the grader waits.
    if (sockets(at150.snapshot) - sockets(at50.snapshot) > 2) {
      at150 = await ctx.proc.waitFor((s) => sockets(s) - sockets(at50.snapshot) <= 2, { timeoutMs: SETTLE_MS, signal: ctx.signal });
    }
    const grew = sockets(at150.snapshot) - sockets(at50.snapshot);
    const open = (s: ServerSnapshot) => (s.connections.ESTABLISHED ?? 0) + (s.connections.CLOSE_WAIT ?? 0);
    const verdict = fromCases([
      {
        name: 'no more sockets open after 150 connections than after 50',
        ok: grew <= 2,
        code: 'fd-count-grows',
        rule: ctx.rule('close-finished'),
        message: `${sockets(at50.snapshot)} sockets open after 50 connections, ${sockets(at150.snapshot)} after 150${grew <= 2 ? '' : ` (still, ${SETTLE_MS / 1000} s after the last one closed), and ${open(at150.snapshot)} connections the clients had closed were still open on the server's side (CLOSE_WAIT): a finished socket must be unregistered and closed`}`,
        tree: treeEvidence(at150.snapshot, 'the server after 150 connections, all closed by the clients', (p) => (p.pid === at150.snapshot.rootPid && grew > 2 ? [`${grew} more sockets than after 50`] : [])),
      },
    ]);
    verdict.evidence.measurements = [
      { label: 'sockets after 50 connections', value: sockets(at50.snapshot) },
      { label: 'sockets after 150 connections', value: sockets(at150.snapshot), expected: 'at most 2 more' },
      { label: 'more fds of any kind after 150 connections than after 50', value: total(at150.snapshot) - total(at50.snapshot) },
    ];
    return verdict;
  },
});

export default defineExercise({
  id: '08-event-loop',
  rules,
  framing: 'content-length',
  checks: [routes, manySlow, slowLoris, slowReader, hashOffLoop, oneThread, noSpin, noFdLeak],
});
