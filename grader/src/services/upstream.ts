import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FixtureService } from './service.ts';

// The slow upstream: an HTTP server the student's server calls on the way to an answer. It can hold
// requests until N have arrived and then let them all go (a barrier), answer them in an order of its
// choosing, hold them until told, never answer, or answer after a delay; and it records every
// request, the most in flight at once, and when each one arrived, was let go and was answered.
// Concurrency is graded from this record: a server that serves one request at a time never gets
// two requests here at once, however fast or slow the machine is.

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
  | { kind: 'never' };

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
}

export interface UpstreamOptions {
  port?: number;
  /** Called with one line per event, for `npm run fixture -- upstream`. */
  log?: (line: string) => void;
}

type Waiter = { test: () => boolean; resolve: (ok: boolean) => void };

/** The body the upstream answers for a path: the student's server passes it on, so a check sees it arrived. */
export const upstreamBody = (path: string): string => `from upstream: ${path}\n`;

export class SlowUpstream implements FixtureService {
  readonly name = 'upstream';
  private plan: UpstreamPlan = { kind: 'answer' };
  private requests: UpstreamRequest[] = [];
  private pending: Pending[] = [];
  private inFlight = 0;
  private maxInFlight = 0;
  private gathered: boolean | undefined;
  private epoch = performance.now();
  private deadline: NodeJS.Timeout | undefined;
  private waiters: Waiter[] = [];

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
    return this.when(() => this.requests.length >= n, opts);
  }

  /** True once `n` requests have been answered since the last reset. */
  whenAnswered(n: number, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<boolean> {
    return this.when(() => this.requests.filter((r) => r.answeredMs !== undefined).length >= n, opts);
  }

  /** True once nothing is in flight. */
  whenIdle(opts: { timeoutMs: number; signal?: AbortSignal }): Promise<boolean> {
    return this.when(() => this.inFlight === 0, opts);
  }

  reset(): void {
    clearTimeout(this.deadline);
    for (const p of this.pending) {
      clearTimeout(p.timer);
      p.res.destroy();
    }
    this.pending = [];
    this.plan = { kind: 'answer' };
    this.requests = [];
    this.inFlight = 0;
    this.maxInFlight = 0;
    this.gathered = undefined;
    this.epoch = performance.now();
    for (const w of this.waiters.splice(0)) w.resolve(false);
  }

  async stop(): Promise<void> {
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
    // The body, if any, is read and dropped: only the head matters here.
    req.resume();
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const record: UpstreamRequest = {
      seq: this.requests.length + 1,
      method: req.method ?? '',
      path: req.url ?? '',
      headers: { ...req.headers },
      arrivedMs: this.now(),
      inFlightAtArrival: this.inFlight,
    };
    this.requests.push(record);
    const p: Pending = { req: record, res };
    res.once('close', () => {
      if (record.answeredMs === undefined) {
        record.abandoned = true;
        this.say(`#${record.seq} ${record.path}: the caller hung up before the answer`);
      }
      this.pending = this.pending.filter((x) => x !== p);
      clearTimeout(p.timer);
      this.inFlight--;
      this.wake();
    });
    this.say(`#${record.seq} ${record.method} ${record.path} arrived (${this.inFlight} in flight)`);
    const plan = this.plan;
    if (plan.kind === 'answer') {
      const delay = plan.delayMs ?? delayFromQuery(record.path);
      if (delay > 0) {
        p.timer = setTimeout(() => this.answer(p), delay);
        this.pending.push(p);
      } else this.answer(p);
    } else {
      this.pending.push(p);
      this.maybeGathered();
    }
    this.wake();
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
    const body = upstreamBody(p.req.path);
    p.res.once('finish', () => {
      p.req.answeredMs = this.now();
      this.say(`#${p.req.seq} ${p.req.path} answered`);
      this.wake();
    });
    p.res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
    p.res.end(body);
  }

  private when(test: () => boolean, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<boolean> {
    if (test()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(ok);
      };
      const onAbort = () => done(false);
      const waiter: Waiter = { test, resolve: done };
      const timer = setTimeout(() => done(false), opts.timeoutMs);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private wake(): void {
    for (const w of [...this.waiters]) if (w.test()) w.resolve(true);
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
