import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FixtureService } from './service.ts';
import { Waiters } from './waiters.ts';

// The slow upstream: an HTTP server the student's server calls on the way to an answer. It can hold
// requests until N have arrived and then let them all go (a barrier), answer them in an order of its
// choosing, hold them until told, never answer, or answer after a delay; and it records every
// request, the most in flight at once, and when each one arrived, was let go and was answered.
// Concurrency is graded from this record: a server that serves one request at a time never gets
// two requests here at once, however fast or slow the machine is.
//
// For a proxy it also keeps what each request carried (its head, its headers in order, its body),
// can cut a connection as a request arrives, answer with headers a check chooses (hop-by-hop ones
// the proxy must not pass on), and stop listening for a while so that connecting is refused.

export interface UpstreamRequest {
  /** 1, 2, 3, ... in order of arrival since the last reset. */
  seq: number;
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  /** Milliseconds after the last reset. */
  arrivedMs: number;
  /** Requests already in flight when this one arrived, itself included. */
  inFlightAtArrival: number;
  releasedMs?: number;
  answeredMs?: number;
  /** The caller hung up before the answer was written. */
  abandoned?: boolean;
  /** When it hung up, in milliseconds after the last reset (a proxy's upstream timeout shows here). */
  abandonedMs?: number;
  /** HTTP version of the request line: '1.1', '1.0'. */
  httpVersion: string;
  /**
   * The request line and the header lines as the parser read them: names in their own case and
   * order, repeats kept, values without the white space around them; at most 16 KiB.
   */
  rawHead: string;
  /** Every header line in order of arrival, repeats kept: [name in lower case, value]. */
  headerList: [string, string][];
  /** The body as received, chunked framing taken off; its first 64 KiB. */
  body: Buffer;
  /** The length of the whole body received so far. */
  bodyBytes: number;
  /** The body has ended (false while it is still coming, or if the caller stopped short). */
  bodyComplete: boolean;
  /** The connection it came on: 1, 2, ... in order of each connection's first request since the last reset. */
  connection: number;
  /** The upstream cut the connection instead of answering (plan `reset`, or `down()`). */
  cut?: boolean;
}

/** What the upstream keeps of each request's head and body. */
export const UPSTREAM_HEAD_LIMIT = 16 * 1024;
export const UPSTREAM_BODY_LIMIT = 64 * 1024;

/** The values of one header in a recorded request, in order (a name in any case). */
export const headerValues = (req: UpstreamRequest, name: string): string[] =>
  req.headerList.filter(([n]) => n === name.toLowerCase()).map(([, v]) => v);

/** A response a check chooses: its status, extra header lines in order (repeats allowed), its body. */
export interface UpstreamReply {
  /** 200 unless given. */
  status?: number;
  /**
   * Sent after Content-Type and Content-Length, which are left out when given here (and
   * Content-Length when Transfer-Encoding is: the body is then chunked).
   */
  headers?: [string, string][];
  /** The usual `from upstream: PATH` unless given. */
  body?: string | Buffer;
}

export type UpstreamPlan =
  /** Answer every request, after `delayMs` (0: at once). */
  | { kind: 'answer'; delayMs?: number }
  /** Hold requests until `count` have arrived, then let them all go; at the deadline, let go what is there. */
  | { kind: 'barrier'; count: number; deadlineMs: number }
  /** Hold until `count` have arrived, then answer them one after the other in this order. */
  | { kind: 'order'; count: number; order: 'reverse' | 'shuffle'; deadlineMs: number; random?: () => number }
  /** Hold every request until `release()` lets it go. */
  | { kind: 'hold' }
  /** Read every request and never answer it (until a reset). */
  | { kind: 'never' }
  /** Cut the connection (a TCP reset) as each request arrives: the caller gets no answer at all. */
  | { kind: 'reset' }
  /** Answer every request with the check's status, headers and body, after `delayMs` (0: at once). */
  | ({ kind: 'headers'; delayMs?: number } & UpstreamReply);

export interface UpstreamRecord {
  requests: UpstreamRequest[];
  maxInFlight: number;
  inFlight: number;
  /** Requests held right now. */
  held: number;
  /** For a barrier or an order: whether `count` requests arrived before the deadline. */
  gathered?: boolean;
}

interface Pending {
  req: UpstreamRequest;
  res: http.ServerResponse;
  timer?: NodeJS.Timeout;
  /** The response the plan chose at arrival; the usual one when absent. */
  reply?: UpstreamReply;
  /** Set while its answer waits for the rest of the body. */
  afterBody?: () => void;
}

export interface UpstreamOptions {
  port?: number;
  /** Called with one line per event, for `npm run fixture -- upstream`. */
  log?: (line: string) => void;
}


/** The body the upstream answers for a path: the student's server passes it on, so a check sees it arrived. */
export const upstreamBody = (path: string): string => `from upstream: ${path}\n`;

export class SlowUpstream implements FixtureService {
  readonly name = 'upstream';
  private plan: UpstreamPlan = { kind: 'answer' };
  private requests: UpstreamRequest[] = [];
  private pending: Pending[] = [];
  /** Answers due, waiting for the rest of their request's body. */
  private awaitingBody = new Set<Pending>();
  private inFlight = 0;
  private maxInFlight = 0;
  private gathered: boolean | undefined;
  private epoch = performance.now();
  private deadline: NodeJS.Timeout | undefined;
  private readonly waiters = new Waiters();
  private connections = new WeakMap<object, number>();
  private connectionCount = 0;
  private downed = false;

  private constructor(
    private readonly server: http.Server,
    readonly port: number,
    private readonly log?: (line: string) => void,
  ) {}

  static async start(opts: UpstreamOptions = {}): Promise<SlowUpstream> {
    const server = http.createServer();
    // Many callers at once, some of them holding their connection open: no limits here.
    server.keepAliveTimeout = 1000;
    server.headersTimeout = 0;
    server.requestTimeout = 0;
    server.maxHeadersCount = 0;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
    });
    const upstream = new SlowUpstream(server, (server.address() as AddressInfo).port, opts.log);
    server.on('request', (req, res) => upstream.arrive(req, res));
    return upstream;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  env(): Record<string, string> {
    return { UPSTREAM_URL: this.url };
  }

  /** Changes what happens to requests from now on; requests already held stay held. */
  setPlan(plan: UpstreamPlan): void {
    clearTimeout(this.deadline);
    this.plan = plan;
    this.gathered = plan.kind === 'barrier' || plan.kind === 'order' ? false : undefined;
    if (plan.kind === 'barrier' || plan.kind === 'order') {
      this.deadline = setTimeout(() => {
        this.say(`deadline: ${this.pending.length} held of the ${plan.count} awaited; letting them go`);
        this.plan = { kind: 'answer' };
        this.releaseHeld(this.pending.length);
      }, plan.deadlineMs);
      this.deadline.unref();
      this.maybeGathered();
    }
  }

  get record(): UpstreamRecord {
    return {
      requests: this.requests.map((r) => ({ ...r })),
      maxInFlight: this.maxInFlight,
      inFlight: this.inFlight,
      held: this.pending.filter((p) => !p.timer).length,
      ...(this.gathered !== undefined ? { gathered: this.gathered } : {}),
    };
  }

  /** Lets the oldest `count` held requests go (all when left out); returns how many went. */
  release(count = Infinity): number {
    return this.releaseHeld(count);
  }

  /** True once `n` requests have arrived since the last reset; false if the time or the signal ran out first. */
  whenArrived(n: number, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<boolean> {
    return this.waiters.when(() => this.requests.length >= n, opts);
  }

  /** True once `n` requests have been answered since the last reset. */
  whenAnswered(n: number, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<boolean> {
    return this.waiters.when(() => this.requests.filter((r) => r.answeredMs !== undefined).length >= n, opts);
  }

  /** True once nothing is in flight. */
  whenIdle(opts: { timeoutMs: number; signal?: AbortSignal }): Promise<boolean> {
    return this.waiters.when(() => this.inFlight === 0, opts);
  }

  /** True once `n` requests have arrived whole, their bodies included. */
  whenReceived(n: number, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<boolean> {
    return this.waiters.when(() => this.requests.filter((r) => r.bodyComplete).length >= n, opts);
  }

  /** True once the callers of `n` requests have hung up before their answer (a proxy that gave up waiting). */
  whenAbandoned(n: number, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<boolean> {
    return this.waiters.when(() => this.requests.filter((r) => r.abandoned).length >= n, opts);
  }

  /** Whether `down()` has stopped it listening. */
  get isDown(): boolean {
    return this.downed;
  }

  /**
   * Stops listening and cuts every connection it has, held requests included: connecting to its
   * port is refused (ECONNREFUSED) until `up()` or a reset, which listen on the same port again.
   */
  async down(): Promise<void> {
    if (this.downed) return;
    this.downed = true;
    for (const p of this.pending) {
      clearTimeout(p.timer);
      p.req.cut = true;
    }
    this.say('down: not listening, connections are refused');
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /** Listens on its port again after `down()`; throws if the port could not be had back within a few seconds. */
  async up(): Promise<void> {
    if (!this.downed) return;
    // Another socket may have been given the port meanwhile (as its ephemeral port): try again for a while.
    const until = performance.now() + 5000;
    for (;;) {
      try {
        await new Promise<void>((resolve, reject) => {
          const onError = (e: Error) => reject(e);
          this.server.once('error', onError);
          this.server.listen(this.port, '127.0.0.1', () => {
            this.server.off('error', onError);
            resolve();
          });
        });
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE' || performance.now() > until) throw new Error(`the upstream could not listen on port ${this.port} again: ${(e as Error).message}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    this.downed = false;
    this.say('up: listening again');
  }

  /** Back to answering at once with an empty record; after `down()`, listening again (then it returns a promise). */
  reset(): void | Promise<void> {
    clearTimeout(this.deadline);
    for (const p of this.pending) {
      clearTimeout(p.timer);
      p.res.destroy();
    }
    this.pending = [];
    for (const p of this.awaitingBody) p.res.destroy();
    this.awaitingBody.clear();
    this.plan = { kind: 'answer' };
    this.requests = [];
    this.inFlight = 0;
    this.maxInFlight = 0;
    this.gathered = undefined;
    this.epoch = performance.now();
    this.connections = new WeakMap();
    this.connectionCount = 0;
    this.waiters.cancelAll();
    if (this.downed) return this.up();
  }

  async stop(): Promise<void> {
    // Stopping for good: no listening again first.
    this.downed = false;
    this.reset();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private now(): number {
    return Math.round(performance.now() - this.epoch);
  }

  private say(line: string): void {
    this.log?.(`[${(this.now() / 1000).toFixed(3)} s] ${line}`);
  }

  private arrive(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    let connection = this.connections.get(req.socket);
    if (connection === undefined) this.connections.set(req.socket, (connection = ++this.connectionCount));
    const headerList: [string, string][] = [];
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) headerList.push([req.rawHeaders[i]!.toLowerCase(), req.rawHeaders[i + 1]!]);
    let rawHead = `${req.method} ${req.url} HTTP/${req.httpVersion}\r\n`;
    for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) rawHead += `${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}\r\n`;
    rawHead += '\r\n';
    const record: UpstreamRequest = {
      seq: this.requests.length + 1,
      method: req.method ?? '',
      path: req.url ?? '',
      headers: { ...req.headers },
      arrivedMs: this.now(),
      inFlightAtArrival: this.inFlight,
      httpVersion: req.httpVersion,
      rawHead: rawHead.slice(0, UPSTREAM_HEAD_LIMIT),
      headerList,
      body: Buffer.alloc(0),
      bodyBytes: 0,
      bodyComplete: false,
      connection,
    };
    this.requests.push(record);
    const p: Pending = { req: record, res };
    // The body is read as it comes, and its start is kept.
    req.on('data', (chunk: Buffer) => {
      record.bodyBytes += chunk.length;
      if (record.body.length < UPSTREAM_BODY_LIMIT) record.body = Buffer.concat([record.body, chunk.subarray(0, UPSTREAM_BODY_LIMIT - record.body.length)]);
    });
    req.once('end', () => {
      record.bodyComplete = true;
      p.afterBody?.();
      this.waiters.wake();
    });
    res.once('close', () => {
      this.awaitingBody.delete(p);
      if (record.answeredMs === undefined && !record.cut) {
        record.abandoned = true;
        record.abandonedMs = this.now();
        this.say(`#${record.seq} ${record.path}: the caller hung up before the answer`);
      }
      this.pending = this.pending.filter((x) => x !== p);
      clearTimeout(p.timer);
      this.inFlight--;
      this.waiters.wake();
    });
    this.say(`#${record.seq} ${record.method} ${record.path} arrived (${this.inFlight} in flight)`);
    const plan = this.plan;
    if (plan.kind === 'reset') {
      record.cut = true;
      this.say(`#${record.seq} ${record.path}: cutting the connection`);
      // A reset, not a FIN: the caller sees ECONNRESET, as from a crashed upstream.
      req.socket.resetAndDestroy();
    } else if (plan.kind === 'answer' || plan.kind === 'headers') {
      if (plan.kind === 'headers') p.reply = plan;
      const delay = plan.delayMs ?? (plan.kind === 'answer' ? delayFromQuery(record.path) : 0);
      if (delay > 0) {
        p.timer = setTimeout(() => this.answer(p), delay);
        this.pending.push(p);
      } else this.answer(p);
    } else {
      this.pending.push(p);
      this.maybeGathered();
    }
    this.waiters.wake();
  }

  private maybeGathered(): void {
    const plan = this.plan;
    if (plan.kind !== 'barrier' && plan.kind !== 'order') return;
    const held = this.pending.filter((p) => !p.timer);
    if (held.length < plan.count) return;
    clearTimeout(this.deadline);
    this.gathered = true;
    this.plan = { kind: 'answer' };
    if (plan.kind === 'barrier') {
      this.say(`barrier: ${held.length} arrived; letting them all go`);
      this.releaseHeld(held.length);
      return;
    }
    const order = plan.order === 'reverse' ? [...held].reverse() : shuffle(held, plan.random ?? Math.random);
    this.say(`order: ${held.length} arrived; answering ${order.map((p) => `#${p.req.seq}`).join(', ')}`);
    this.pending = this.pending.filter((p) => !order.includes(p));
    // One after the other: the next answer is written only once the previous one has gone out.
    const next = () => {
      const p = order.shift();
      if (!p) return;
      p.req.releasedMs = this.now();
      p.res.once('finish', next);
      p.res.once('close', next);
      this.answer(p);
    };
    next();
  }

  private releaseHeld(count: number): number {
    const going = this.pending.filter((p) => !p.timer).slice(0, count);
    for (const p of going) {
      p.req.releasedMs = this.now();
      this.answer(p);
    }
    return going.length;
  }

  private answer(p: Pending): void {
    this.pending = this.pending.filter((x) => x !== p);
    if (p.res.destroyed) return;
    // As most servers do, the whole request is read before the answer: an answer sent while the
    // body is still coming would end the connection on the rest of it when the caller asked for
    // close, and the record would show a body cut short that the proxy sent whole.
    if (!p.req.bodyComplete) {
      this.awaitingBody.add(p);
      p.afterBody = () => {
        p.afterBody = undefined;
        this.awaitingBody.delete(p);
        this.answer(p);
      };
      return;
    }
    p.res.once('finish', () => {
      p.req.answeredMs = this.now();
      this.say(`#${p.req.seq} ${p.req.path} answered`);
      this.waiters.wake();
    });
    if (p.reply) return this.answerWith(p.res, p.req, p.reply);
    const body = upstreamBody(p.req.path);
    p.res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
    p.res.end(body);
  }

  private answerWith(res: http.ServerResponse, req: UpstreamRequest, reply: UpstreamReply): void {
    const status = reply.status ?? 200;
    // These statuses never carry a body, so no Content-Length for one either.
    const bodiless = status === 204 || status === 304 || (status >= 100 && status < 200);
    const body = bodiless ? Buffer.alloc(0) : Buffer.from(reply.body ?? upstreamBody(req.path));
    const extra = reply.headers ?? [];
    const given = new Set(extra.map(([name]) => name.toLowerCase()));
    const head: string[] = [];
    if (!given.has('content-type') && !bodiless) head.push('Content-Type', 'text/plain; charset=utf-8');
    if (!given.has('content-length') && !given.has('transfer-encoding') && !bodiless) head.push('Content-Length', String(body.length));
    for (const [name, value] of extra) head.push(name, value);
    try {
      res.writeHead(status, head);
      res.end(body);
    } catch (e) {
      // A reply Node refuses to write (a Trailer header without chunking, say) is a check's mistake:
      // it cuts this connection, and never throws out of a timer into the grader.
      this.say(`#${req.seq} ${req.path}: cannot answer as planned (${(e as Error).message}); cutting the connection`);
      req.cut = true;
      res.destroy();
    }
  }


}

/** `?delay=MS` on a request asks for that delay, for trying the upstream by hand. */
function delayFromQuery(path: string): number {
  const m = /[?&]delay=(\d+)/.exec(path);
  return m ? Math.min(Number(m[1]), 60_000) : 0;
}

function shuffle<T>(items: T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  // A shuffle that left the order as it was would test nothing: turn it round.
  return out.every((p, i) => p === items[i]) && out.length > 1 ? out.reverse() : out;
}
