import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Exchange } from '../../report/model.ts';
import { ProbeError } from '../errors.ts';
import { parseResponse, type ParseOptions, type ParsedResponse } from './parse-response.ts';
import { TRANSCRIPT_LIMIT, toExchange } from './transcript.ts';

/** The most a connection keeps: a server that streams without end must not exhaust the grader. */
export const MAX_RECEIVED_BYTES = 64 * 1024 * 1024;

export interface ConnectOptions {
  port: number;
  host?: string;
  /** Aborts every wait on this connection (the runner's per-check deadline). */
  signal?: AbortSignal;
  /** How long a read may wait without a single new byte before the server counts as silent. */
  idleTimeoutMs: number;
  label?: string;
  /** Framing every response on this connection must use (an exercise that asks for Content-Length). */
  requireFraming?: 'content-length';
}

export interface SendOptions {
  /** Split the bytes into writes of this size (a server must not assume one read is one request). */
  chunkSize?: number;
  /** Sizes of the first writes, in order; whatever is left goes in one last write. */
  sizes?: number[];
  /** Pause between split writes, so each goes out as its own TCP segment. */
  pauseMs?: number;
  /**
   * After the first piece, wait this long (less if the server answers or closes) before the rest:
   * a server that takes one read for the whole request shows it then, however loaded the machine.
   */
  afterFirstPieceMs?: number;
  /**
   * With afterFirstPieceMs, for a first piece no correct server answers: when one answers it, the
   * rest stays unsent, so the transcript is the same however soon the close that may follow the
   * answer arrives.
   */
  holdBackOnAnswer?: boolean;
}

export interface ReadOptions extends Omit<ParseOptions, 'eof'> {
  idleTimeoutMs?: number;
}

type Wake = () => void;

/** The writes a send is made of: fixed sizes first, then chunks of chunkSize (or the rest at once). */
function cut(bytes: Buffer, opts: SendOptions): Buffer[] {
  const pieces: Buffer[] = [];
  let at = 0;
  for (const size of opts.sizes ?? []) {
    if (at >= bytes.length) break;
    pieces.push(bytes.subarray(at, at + size));
    at += size;
  }
  const size = opts.chunkSize ?? bytes.length;
  for (; at < bytes.length; at += size) pieces.push(bytes.subarray(at, at + size));
  return pieces.length ? pieces : [bytes];
}

/** One TCP connection that records every byte both ways, for exact-byte probes and their evidence. */
export class RawConnection {
  private readonly socket: net.Socket;
  private readonly sentChunks: Buffer[] = [];
  private receivedChunks: Buffer[] = [];
  private receivedCache: Buffer | undefined;
  private receivedLength = 0;
  /** More than MAX_RECEIVED_BYTES came: the rest was refused and the connection closed. */
  overflow = false;
  private waiters: Wake[] = [];
  /** Offset of the first byte not yet claimed by a parsed response. */
  private consumed = 0;
  eof = false;
  resetByPeer = false;
  /** The server closed before the whole request was sent; what it answered is still read. */
  sendCutShort = false;
  /** The rest of a split request, held back because the server answered its first piece. */
  private heldBack: Buffer | undefined;
  private socketError: Error | undefined;

  private constructor(
    socket: net.Socket,
    private readonly opts: ConnectOptions,
  ) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => {
      const room = MAX_RECEIVED_BYTES - this.receivedLength;
      if (d.length > room) {
        d = d.subarray(0, room);
        this.overflow = true;
        socket.destroy();
      }
      this.receivedChunks.push(d);
      this.receivedLength += d.length;
      this.receivedCache = undefined;
      this.wake();
    });
    socket.on('end', () => {
      this.eof = true;
      this.wake();
    });
    socket.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNRESET' || e.code === 'EPIPE') this.resetByPeer = true;
      this.socketError = e;
      this.eof = true;
      this.wake();
    });
    socket.on('close', () => {
      this.eof = true;
      this.wake();
    });
  }

  static open(opts: ConnectOptions): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ port: opts.port, host: opts.host ?? '127.0.0.1' });
      const timer = setTimeout(
        afterPendingEvents(() => {
          if (socket.connecting === false && !socket.destroyed) return; // it connected meanwhile
          socket.destroy();
          reject(new ProbeError('connect-timeout', `could not connect to 127.0.0.1:${opts.port} within ${opts.idleTimeoutMs} ms`));
        }),
        opts.idleTimeoutMs,
      );
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        // A check that ran out of time while connecting must not leave this connection open.
        if (opts.signal?.aborted) {
          socket.destroy();
          reject(opts.signal.reason);
          return;
        }
        resolve(new RawConnection(socket, opts));
      });
      socket.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const code = e.code === 'ECONNREFUSED' ? 'connection-refused' : 'connect-failed';
        reject(new ProbeError(code, `could not connect to 127.0.0.1:${opts.port}: ${e.code ?? e.message}`));
      });
    });
  }

  get received(): Buffer {
    this.receivedCache ??= Buffer.concat(this.receivedChunks);
    if (this.receivedChunks.length > 1) this.receivedChunks = [this.receivedCache];
    return this.receivedCache;
  }

  get sent(): Buffer {
    return Buffer.concat(this.sentChunks);
  }

  /** Bytes received after the last parsed response. */
  get unconsumed(): Buffer {
    return this.received.subarray(this.consumed);
  }

  transcript(extra: Partial<Exchange> = {}): Exchange {
    const held = this.heldBack ? { heldBack: this.heldBack.toString('latin1', 0, Math.min(this.heldBack.length, TRANSCRIPT_LIMIT)) } : {};
    return toExchange(this.sent, this.received, { ...(this.opts.label ? { label: this.opts.label } : {}), port: this.opts.port, ...held, ...extra });
  }

  async send(data: string | Buffer, opts: SendOptions = {}): Promise<void> {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : data;
    const pieces = cut(bytes, opts);
    for (const [i, piece] of pieces.entries()) {
      if (this.eof || this.socket.destroyed || this.socket.writableEnded) {
        this.sendCutShort = true;
        return;
      }
      this.sentChunks.push(piece);
      const flushed = this.socket.write(piece);
      if (!flushed) await this.waitFor((wake) => this.socket.once('drain', wake), opts.pauseMs ?? this.opts.idleTimeoutMs);
      if (i === 0 && opts.afterFirstPieceMs && pieces.length > 1) {
        const before = this.received.length;
        await this.waitForBytes(opts.afterFirstPieceMs);
        if (opts.holdBackOnAnswer && this.received.length > before) {
          this.sendCutShort = true;
          this.heldBack = Buffer.concat(pieces.slice(1));
          return;
        }
      } else if (opts.pauseMs && i < pieces.length - 1) await sleep(opts.pauseMs, undefined, { signal: this.opts.signal });
    }
  }

  /** Reads the next response, strictly parsed; throws a ProbeError with the transcript otherwise. */
  async readResponse(opts: ReadOptions = {}): Promise<ParsedResponse> {
    const idle = opts.idleTimeoutMs ?? this.opts.idleTimeoutMs;
    for (;;) {
      const outcome = parseResponse(this.received, this.consumed, { ...(this.opts.requireFraming ? { requireFraming: this.opts.requireFraming } : {}), ...opts, eof: this.eof });
      if (outcome.kind === 'incomplete' && this.overflow) {
        throw new ProbeError('response-too-large', `more than ${MAX_RECEIVED_BYTES / 1024 / 1024} MiB came back without the response ending`, this.transcript());
      }
      if (outcome.kind === 'complete') {
        this.consumed = outcome.response.end;
        return outcome.response;
      }
      if (outcome.kind === 'invalid') {
        throw new ProbeError(outcome.code, outcome.message, this.transcript({ violation: { code: outcome.code, message: outcome.message, offset: outcome.offset } }));
      }
      const pending = this.received.length - this.consumed;
      if (this.eof) {
        const cut = this.sendCutShort ? ` (it closed before the whole request was sent: ${this.sent.length} bytes went out)` : '';
        if (pending === 0) {
          const code = this.resetByPeer ? 'connection-reset' : 'eof-before-response';
          const how = this.resetByPeer ? 'reset the connection' : 'closed the connection';
          throw new ProbeError(code, `the server ${how} without sending a response${cut}`, this.transcript());
        }
        throw new ProbeError('eof-mid-response', `the connection closed in the middle of the response (${outcome.part} incomplete)${cut}`, this.transcript());
      }
      // Until enough bytes are here to finish what the parser waits for, parsing again is wasted work.
      const need = outcome.need ?? 0;
      let grew = await this.waitForBytes(idle);
      while (grew && !this.eof && this.receivedLength < need) grew = await this.waitForBytes(idle);
      if (!grew && !this.eof) {
        if (pending === 0) {
          throw new ProbeError('no-response', `no response within ${idle} ms of the request`, this.transcript());
        }
        const code = outcome.part === 'body' ? 'response-never-ends' : 'response-stalled';
        const message = outcome.part === 'body'
          ? `the response body did not end: no more bytes for ${idle} ms and the connection stayed open`
          : `the response stopped in the ${outcome.part} for ${idle} ms`;
        throw new ProbeError(code, message, this.transcript());
      }
    }
  }

  /** Waits until the server closes its side. Returns false if it is still open after `timeoutMs`. */
  async waitForEof(timeoutMs = this.opts.idleTimeoutMs): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.eof) {
      const left = deadline - Date.now();
      if (left <= 0) return false;
      await this.waitForBytes(left);
    }
    if (this.overflow) throw new ProbeError('response-too-large', `more than ${MAX_RECEIVED_BYTES / 1024 / 1024} MiB came back and the server was still sending`, this.transcript());
    return true;
  }

  /** Waits for anything more from the server: bytes, EOF or an error. False on timeout. */
  waitForBytes(timeoutMs: number): Promise<boolean> {
    if (this.eof) return Promise.resolve(true);
    return this.waitFor((wake) => this.waiters.push(wake), timeoutMs);
  }

  /** Half-close: no more bytes from us, but keep reading. */
  end(): void {
    this.socket.end();
  }

  /** Abort the connection with a TCP RST, as a crashing client would. */
  reset(): void {
    this.socket.resetAndDestroy();
  }

  close(): void {
    this.socket.destroy();
  }

  get error(): Error | undefined {
    return this.socketError;
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private waitFor(arm: (wake: Wake) => void, timeoutMs: number): Promise<boolean> {
    return new Promise((resolve, reject) => {
      const signal = this.opts.signal;
      if (signal?.aborted) return reject(signal.reason);
      let done = false;
      const finish = (value: boolean, err?: unknown) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve(value);
      };
      const onAbort = () => finish(false, signal!.reason);
      const timer = setTimeout(afterPendingEvents(() => finish(false)), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      arm(() => finish(true));
    });
  }
}

/**
 * A timeout's callback, run only after the I/O events already waiting have been handled. On a
 * loaded machine the grader's own event loop can be late by seconds; timers run before the poll
 * for I/O, so a connection or bytes that arrived in time would otherwise lose to a timer that
 * expired meanwhile.
 */
function afterPendingEvents(fn: () => void): () => void {
  return () => void setImmediate(fn);
}
