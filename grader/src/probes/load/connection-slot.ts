import net from 'node:net';
import { BAD, DONE, ResponseReader, type MalformedReason } from './response-reader.ts';

// One of a load run's connections: sends a request, reads its response, sends the next, and
// opens a new connection whenever the old one is gone. It is a set of callbacks, not an async
// loop, so a request costs no promise, closure or timer: the run sweeps for timeouts.

/** Which part of the run a request belongs to; NONE when no request is left to send. */
export const NONE = 0;
export const WARMUP = 1;
export const MEASURED = 2;
export type Phase = typeof NONE | typeof WARMUP | typeof MEASURED;

/** What became of a request that got no usable response. `bad-status` is a response the run does not accept. */
export type LoadErrorKind = 'refused' | 'reset' | 'timeout' | 'malformed' | 'closed-early' | 'bad-status';

/** What a slot asks of the run it is part of. */
export interface SlotHost {
  readonly port: number;
  readonly host: string;
  readonly timeoutMs: number;
  /** One buffer every connection reads into: reads are handled one at a time, and nothing keeps it. */
  readonly readBuffer: Buffer;
  requestFor(connection: number, index: number): Buffer;
  claim(): Phase;
  completed(phase: Phase, latencyUs: number, status: number): void;
  failed(phase: Phase, kind: LoadErrorKind, reason?: MalformedReason): void;
  socketOpened(): void;
  socketClosed(): void;
}

/** After a failed connect, this long before the next try, so a refusing port is not hammered. */
const RETRY_MS = 10;

const IDLE = 0;
const CONNECTING = 1;
const WAITING = 2;
const BACKOFF = 3;
const STOPPED = 4;

/** A HEAD request's response has no body, whatever its headers say. */
const isHead = (req: Buffer): boolean => req[0] === 72 && req[1] === 69 && req[2] === 65 && req[3] === 68 && req[4] === 32;

export class ConnectionSlot {
  private socket: net.Socket | undefined;
  private readonly reader = new ResponseReader();
  private state = IDLE;
  /** When the current wait began (the connect, or the request's write), in performance.now() ms. */
  private since = 0;
  private phase: Phase = NONE;
  private index = 0;
  private retry: NodeJS.Timeout | undefined;

  constructor(
    private readonly host: SlotHost,
    readonly id: number,
  ) {}

  /** Sends the next request, if the run has one left. */
  next(): void {
    if (this.state === STOPPED) return;
    const phase = this.host.claim();
    this.phase = phase;
    if (phase === NONE) this.state = IDLE;
    else if (this.socket) this.send();
    else this.connect();
  }

  /** Fails the request it waits for if that has taken longer than the run allows. */
  checkTimeout(now: number): void {
    if ((this.state === WAITING || this.state === CONNECTING) && now - this.since > this.host.timeoutMs) this.fail('timeout');
  }

  stop(): void {
    this.state = STOPPED;
    clearTimeout(this.retry);
    this.drop();
  }

  private connect(): void {
    this.state = CONNECTING;
    this.since = performance.now();
    const { host, port, readBuffer } = this.host;
    const socket: net.Socket = net.connect({ host, port, noDelay: true, onread: { buffer: readBuffer, callback: (n): boolean => this.onRead(socket, n) } });
    this.socket = socket;
    this.host.socketOpened();
    socket.once('connect', () => {
      if (socket === this.socket) this.send();
    });
    socket.on('error', () => {
      if (socket !== this.socket) return;
      if (this.state === CONNECTING) this.fail('refused');
      else if (this.state === WAITING) this.fail('reset');
      else this.drop();
    });
    socket.on('end', () => {
      if (socket !== this.socket) return;
      if (this.state !== WAITING) this.drop();
      else if (this.reader.end() === DONE) this.complete();
      else this.fail('closed-early');
    });
    socket.once('close', () => {
      this.host.socketClosed();
      if (socket !== this.socket) return;
      if (this.state === WAITING) this.fail('closed-early');
      else this.socket = undefined;
    });
  }

  private send(): void {
    const req = this.host.requestFor(this.id, this.index++);
    // A request that could not be made stops the whole run.
    if (this.state === STOPPED) return;
    this.reader.expect(isHead(req));
    this.state = WAITING;
    this.since = performance.now();
    this.socket!.write(req);
  }

  /** Reads into the run's shared buffer; true keeps the socket reading. */
  private onRead(socket: net.Socket, n: number): boolean {
    if (socket !== this.socket) return true;
    // Bytes nobody asked for: the connection is of no more use, but no request was harmed.
    if (this.state !== WAITING) {
      this.drop();
      return true;
    }
    const outcome = this.reader.read(this.host.readBuffer, 0, n);
    if (outcome === DONE) this.complete();
    else if (outcome === BAD) this.fail('malformed', this.reader.reason);
    return true;
  }

  private complete(): void {
    this.host.completed(this.phase, Math.round((performance.now() - this.since) * 1000), this.reader.status);
    // That may have been the run's last request: then the run has stopped every slot.
    if (this.state === STOPPED) return;
    if (this.reader.closes) this.drop();
    this.state = IDLE;
    this.next();
  }

  private fail(kind: LoadErrorKind, reason?: MalformedReason): void {
    this.host.failed(this.phase, kind, reason);
    this.drop();
    if (this.state === STOPPED) return;
    if (kind === 'refused') {
      this.state = BACKOFF;
      this.retry = setTimeout(() => this.next(), RETRY_MS);
    } else {
      this.state = IDLE;
      this.next();
    }
  }

  private drop(): void {
    const socket = this.socket;
    this.socket = undefined;
    socket?.destroy();
  }
}
