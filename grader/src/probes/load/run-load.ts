import type { LatencySummary } from '../../report/model.ts';
import { ConnectionSlot, MEASURED, NONE, WARMUP, type LoadErrorKind, type Phase, type SlotHost } from './connection-slot.ts';
import { LatencyRecorder } from './latency.ts';
import type { MalformedReason } from './response-reader.ts';

// Many keep-alive connections, each with one request in flight at a time, for a time or a count
// of requests, with every latency in a histogram. It ends by itself and closes every socket,
// whatever the server does: refuses, resets, never answers, or answers nonsense.

export type { LoadErrorKind } from './connection-slot.ts';
export type { MalformedReason } from './response-reader.ts';

export interface LoadOptions {
  port: number;
  /** 127.0.0.1 unless given. */
  host?: string;
  /** Every request's bytes, or a function of the connection's number (from 0) and the request's number on it (from 0). */
  request: Buffer | ((connection: number, index: number) => Buffer);
  connections: number;
  /** How long to measure, after the warm-up. At least one of durationMs and maxRequests. */
  durationMs?: number;
  /** How many requests to send after the warm-up, whatever becomes of them. */
  maxRequests?: number;
  /** Requests sent first and left out of the result: a count of them, or a time. */
  warmup?: { requests: number } | { ms: number };
  /** How long a connect or a request may wait for its answer (4 s unless given). */
  timeoutMs?: number;
  /** Which statuses count as answered; any other is a `bad-status` error. 2xx unless given. */
  accept?: (status: number) => boolean;
  /** Stops the run: it closes every socket, then rejects with the signal's reason (so does a `request` function that throws, with its error). */
  signal?: AbortSignal;
}

/** Plain JSON: what a check grades from and what a reporter draws. */
export interface LoadResult {
  /** What ended the measured window: its duration, or its last request. */
  ended: 'duration' | 'requests';
  connections: number;
  /** TCP connections opened, the first of each slot and every one after a close or an error. */
  connects: number;
  /** Requests sent (or tried: a refused connect counts) in the measured window. */
  requests: number;
  /** Responses read whole, whatever their status. */
  completed: number;
  /** The measured window. */
  durationMs: number;
  /** Completed responses per second of the measured window. */
  requestsPerSecond: number;
  latency: LatencySummary;
  errors: Record<LoadErrorKind, number>;
  /** The malformed responses, by what was wrong with them. */
  malformed: Partial<Record<MalformedReason, number>>;
  /** Completed responses by status. */
  statuses: Record<string, number>;
  warmup: { requests: number; completed: number; errors: number };
  /** This process's CPU time over the whole run, warm-up included. */
  cpu: { userMs: number; systemMs: number };
}

const DEFAULT_TIMEOUT_MS = 4000;
const is2xx = (status: number): boolean => status >= 200 && status < 300;

/** Runs the load; rejects only for bad options or when `signal` aborts. */
export function runLoad(opts: LoadOptions): Promise<LoadResult> {
  if (!Number.isInteger(opts.connections) || opts.connections < 1) return Promise.reject(new RangeError(`runLoad: connections must be a whole number from 1, not ${opts.connections}`));
  if (opts.durationMs === undefined && opts.maxRequests === undefined) return Promise.reject(new RangeError('runLoad: give durationMs, maxRequests or both, so the run ends'));
  if (opts.signal?.aborted) return Promise.reject(opts.signal.reason);
  return new Promise((resolve, reject) => new LoadRun(opts, resolve, reject).start());
}

class LoadRun implements SlotHost {
  readonly port: number;
  readonly host: string;
  readonly timeoutMs: number;
  readonly readBuffer = Buffer.allocUnsafe(64 * 1024);
  private readonly slots: ConnectionSlot[] = [];
  private readonly latency = new LatencyRecorder();
  private readonly accept: (status: number) => boolean;
  /** Completed responses by status code. */
  private readonly statusCounts = new Uint32Array(1000);
  private readonly errors: Record<LoadErrorKind, number> = { refused: 0, reset: 0, timeout: 0, malformed: 0, 'closed-early': 0, 'bad-status': 0 };
  private readonly malformed: Partial<Record<MalformedReason, number>> = {};
  private readonly warm = { requests: 0, completed: 0, errors: 0 };
  private measuring = false;
  private measureStart = 0;
  private measureEnd = 0;
  private requests = 0;
  private completedCount = 0;
  private inFlight = 0;
  private openSockets = 0;
  private connects = 0;
  private stopping = false;
  private ended: LoadResult['ended'] | 'aborted' = 'duration';
  private timers: NodeJS.Timeout[] = [];
  /** Why the run was cut short, when not by its signal. */
  private failure: unknown;
  private readonly cpu0 = process.cpuUsage();

  constructor(
    private readonly opts: LoadOptions,
    private readonly resolve: (r: LoadResult) => void,
    private readonly reject: (e: unknown) => void,
  ) {
    this.port = opts.port;
    this.host = opts.host ?? '127.0.0.1';
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.accept = opts.accept ?? is2xx;
  }

  start(): void {
    this.opts.signal?.addEventListener('abort', this.onAbort, { once: true });
    const sweep = Math.max(10, Math.min(250, this.timeoutMs / 4));
    this.timers.push(setInterval(() => this.sweep(), sweep));
    const warmup = this.opts.warmup;
    if (!warmup || ('requests' in warmup && warmup.requests <= 0)) this.startMeasuring();
    else if ('ms' in warmup) this.timers.push(setTimeout(() => this.startMeasuring(), warmup.ms));
    for (let i = 0; i < this.opts.connections; i++) this.slots.push(new ConnectionSlot(this, i));
    for (const slot of this.slots) slot.next();
  }

  requestFor(connection: number, index: number): Buffer {
    const r = this.opts.request;
    if (typeof r !== 'function') return r;
    try {
      return r(connection, index);
    } catch (e) {
      // A bug in the caller, not the server's doing: the run rejects with it, its sockets closed.
      this.failure = e;
      this.finish('aborted');
      return Buffer.alloc(0);
    }
  }

  claim(): Phase {
    if (this.stopping) return NONE;
    if (!this.measuring) {
      const warmup = this.opts.warmup!;
      if ('ms' in warmup || this.warm.requests < warmup.requests) {
        this.warm.requests++;
        this.inFlight++;
        return WARMUP;
      }
      this.startMeasuring();
    }
    const max = this.opts.maxRequests;
    if (max !== undefined && this.requests >= max) {
      // Nothing left to send; when nothing is in flight either (maxRequests 0), nobody else will end the run.
      if (this.inFlight === 0) queueMicrotask(() => this.finish('requests'));
      return NONE;
    }
    this.requests++;
    this.inFlight++;
    return MEASURED;
  }

  completed(phase: Phase, latencyUs: number, status: number): void {
    this.inFlight--;
    if (phase === MEASURED) {
      this.completedCount++;
      this.latency.record(latencyUs);
      this.statusCounts[status]++;
      if (!this.accept(status)) this.errors['bad-status']++;
    } else this.warm.completed++;
    this.checkDone();
  }

  failed(phase: Phase, kind: LoadErrorKind, reason?: MalformedReason): void {
    this.inFlight--;
    if (phase === MEASURED) {
      this.errors[kind]++;
      if (reason) this.malformed[reason] = (this.malformed[reason] ?? 0) + 1;
    } else this.warm.errors++;
    this.checkDone();
  }

  socketOpened(): void {
    this.openSockets++;
    this.connects++;
  }

  socketClosed(): void {
    this.openSockets--;
    if (this.stopping && this.openSockets === 0) this.settle();
  }

  private startMeasuring(): void {
    if (this.measuring) return;
    this.measuring = true;
    this.measureStart = performance.now();
    if (this.opts.durationMs !== undefined) this.timers.push(setTimeout(() => this.finish('duration'), this.opts.durationMs));
  }

  private sweep(): void {
    const now = performance.now();
    for (const slot of this.slots) slot.checkTimeout(now);
  }

  private checkDone(): void {
    const max = this.opts.maxRequests;
    if (max !== undefined && this.measuring && this.requests >= max && this.inFlight === 0) this.finish('requests');
  }

  private readonly onAbort = () => this.finish('aborted');

  /** Stops every slot; the run settles once every socket has closed. */
  private finish(ended: LoadResult['ended'] | 'aborted'): void {
    if (this.stopping) return;
    this.stopping = true;
    this.ended = ended;
    this.measureEnd = performance.now();
    for (const t of this.timers) clearTimeout(t);
    this.opts.signal?.removeEventListener('abort', this.onAbort);
    for (const slot of this.slots) slot.stop();
    if (this.openSockets === 0) this.settle();
  }

  private settle(): void {
    if (this.ended === 'aborted') return this.reject(this.failure ?? this.opts.signal!.reason);
    const cpu = process.cpuUsage(this.cpu0);
    const windowMs = this.measuring ? this.measureEnd - this.measureStart : 0;
    const statuses: Record<string, number> = {};
    this.statusCounts.forEach((n, status) => {
      if (n) statuses[status] = n;
    });
    this.resolve({
      ended: this.ended,
      connections: this.opts.connections,
      connects: this.connects,
      requests: this.requests,
      completed: this.completedCount,
      durationMs: Math.round(windowMs),
      requestsPerSecond: windowMs > 0 ? Math.round((this.completedCount / windowMs) * 10_000) / 10 : 0,
      latency: this.latency.summary(),
      errors: { ...this.errors },
      malformed: { ...this.malformed },
      statuses,
      warmup: { ...this.warm },
      cpu: { userMs: Math.round(cpu.user / 1000), systemMs: Math.round(cpu.system / 1000) },
    });
  }
}
