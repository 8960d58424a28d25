// Finds where each response ends on a keep-alive connection, reading only what framing needs: the
// status code, Content-Length, Transfer-Encoding and Connection. It never copies a body or makes a
// string; bytes are looked at where they arrived, and only a head split across reads is kept.
// This is not the strict parser (probes/raw/parse-response.ts): under load a server is judged on
// its answers arriving, not on every byte of them.

/** Why a response could not be read: each its own count in a load result. */
export type MalformedReason =
  | 'status-line'
  | 'header'
  /** No Content-Length, no chunked, and the connection stays open: nothing says where it ends. */
  | 'no-length'
  | 'chunked'
  | 'head-too-large'
  /** Bytes beyond the end of the response, though only one request was asked. */
  | 'unexpected-bytes';

/** What `read` found: the response needs more bytes, it ended with these, or it is malformed. */
export const MORE = 0;
export const DONE = 1;
export const BAD = 2;
export type ReadOutcome = typeof MORE | typeof DONE | typeof BAD;

const MAX_HEAD = 64 * 1024;
const CR = 13;
const LF = 10;

/** Where the reader is in a response. */
const S = { head: 0, body: 1, untilClose: 2, chunkSize: 3, chunkExt: 4, chunkSizeLf: 5, chunkData: 6, chunkDataCr: 7, chunkDataLf: 8, trailerStart: 9, trailerLine: 10, trailerLf: 11, endLf: 12, done: 13 } as const;

const lower = (b: number): number => b | 0x20;

/** Whether bytes [from, to) of `buf` are `name`, ignoring ASCII case (`name` is lower case). */
function namedAs(buf: Buffer, from: number, to: number, name: string): boolean {
  if (to - from !== name.length) return false;
  for (let i = 0; i < name.length; i++) if (lower(buf[from + i]!) !== name.charCodeAt(i)) return false;
  return true;
}

/** Whether `word` (lower case) is in bytes [from, to) of `buf`, ignoring ASCII case. */
function contains(buf: Buffer, from: number, to: number, word: string): boolean {
  for (let i = from; i + word.length <= to; i++) if (namedAs(buf, i, i + word.length, word)) return true;
  return false;
}

const isDigit = (b: number): boolean => b >= 48 && b <= 57;
const isSpace = (b: number): boolean => b === 32 || b === 9;

// Heads are a few hundred bytes: a loop over them costs less than a call into Buffer#indexOf.

/** The first CR in bytes [from, to), or `to`. */
function crAt(buf: Buffer, from: number, to: number): number {
  let i = from;
  while (i < to && buf[i] !== CR) i++;
  return i;
}

/** Where the blank line that ends a head starts, in bytes [from, to) of `buf`; -1 if it is not there yet. */
function headEnd(buf: Buffer, from: number, to: number): number {
  for (let i = crAt(buf, from, to); i + 3 < to; i = crAt(buf, i + 1, to)) {
    if (buf[i + 1] === LF && buf[i + 2] === CR && buf[i + 3] === LF) return i;
  }
  return -1;
}

function hexValue(b: number): number {
  if (b >= 48 && b <= 57) return b - 48;
  const l = lower(b);
  return l >= 97 && l <= 102 ? l - 87 : -1;
}

/** Reads one response at a time on one connection; `expect` before each request. */
export class ResponseReader {
  status = 0;
  /** The server said this response is its last on the connection (Connection: close, or HTTP/1.0 without keep-alive). */
  closes = false;
  reason: MalformedReason | undefined;
  private state: number = S.done;
  private noBody = false;
  /** Body bytes left, or the bytes left of the current chunk. */
  private left = 0;
  private chunkDigits = 0;
  /** A head that did not arrive in one read: its bytes so far. */
  private partial: Buffer | undefined;

  /** Ready for the response to the next request; `noBody` when it was a HEAD. */
  expect(noBody: boolean): void {
    this.state = S.head;
    this.noBody = noBody;
    this.status = 0;
    this.closes = false;
    this.reason = undefined;
    this.partial = undefined;
  }

  /** Reads bytes [from, to) of `buf`, which stays the caller's: nothing keeps a reference to it. */
  read(buf: Buffer, from: number, to: number): ReadOutcome {
    let at = from;
    while (at < to) {
      if (this.state === S.done) return this.reason ? BAD : this.bad('unexpected-bytes');
      if (this.state === S.head) {
        const next = this.readHead(buf, at, to);
        if (next < 0) return this.reason ? BAD : MORE;
        at = next;
      } else if (this.state === S.body) {
        const n = Math.min(this.left, to - at);
        this.left -= n;
        at += n;
        if (this.left === 0) this.state = S.done;
      } else if (this.state === S.untilClose) {
        return MORE;
      } else if (this.state === S.chunkData) {
        const n = Math.min(this.left, to - at);
        this.left -= n;
        at += n;
        if (this.left === 0) this.state = S.chunkDataCr;
      } else {
        if (!this.chunkByte(buf[at]!)) return BAD;
        at++;
      }
    }
    return this.state === S.done ? DONE : MORE;
  }

  /** The connection ended: that ends a response framed by the close, and nothing else. */
  end(): ReadOutcome {
    if (this.state !== S.untilClose) return MORE;
    this.state = S.done;
    return DONE;
  }

  private bad(reason: MalformedReason): typeof BAD {
    this.reason = reason;
    this.state = S.done;
    return BAD;
  }

  private invalid(reason: MalformedReason): false {
    this.bad(reason);
    return false;
  }

  /** Finds the end of the head from `at`; parses it and returns where the body starts, or -1 (more needed, or malformed). */
  private readHead(buf: Buffer, at: number, to: number): number {
    if (this.partial) {
      const joined = Buffer.concat([this.partial, buf.subarray(at, to)]);
      const end = headEnd(joined, Math.max(0, this.partial.length - 3), joined.length);
      if (end < 0) return this.keepPartial(joined, 0, joined.length);
      const before = this.partial.length;
      this.partial = undefined;
      if (!this.parseHead(joined, 0, end)) return -1;
      return at + end + 4 - before;
    }
    const end = headEnd(buf, at, to);
    if (end < 0) return this.keepPartial(buf, at, to);
    if (!this.parseHead(buf, at, end)) return -1;
    return end + 4;
  }

  private keepPartial(buf: Buffer, from: number, to: number): number {
    if (to - from > MAX_HEAD) {
      this.bad('head-too-large');
      return -1;
    }
    this.partial = Buffer.from(buf.subarray(from, to));
    return -1;
  }

  /** Parses the head in bytes [from, end) (up to its blank line) and sets the state for the body. */
  private parseHead(h: Buffer, from: number, end: number): boolean {
    // "HTTP/1.x NNN" then a space or the end of the line.
    if (end - from < 12 || !namedAs(h, from, from + 7, 'http/1.') || !isDigit(h[from + 7]!) || h[from + 8] !== 32) return this.invalid('status-line');
    const d1 = h[from + 9]!, d2 = h[from + 10]!, d3 = h[from + 11]!;
    if (!isDigit(d1) || !isDigit(d2) || !isDigit(d3) || (end > from + 12 && h[from + 12] !== 32 && h[from + 12] !== CR)) return this.invalid('status-line');
    const status = (d1 - 48) * 100 + (d2 - 48) * 10 + (d3 - 48);
    const http10 = h[from + 7] === 48;
    let length = -1;
    let chunked = false;
    let close = false;
    let keepAlive = false;
    // `line` is the CR that ends the line before; the head's own last CR is at `end`.
    for (let line = crAt(h, from, end); line < end; ) {
      if (h[line + 1] !== LF) return this.invalid('header');
      const start = line + 2;
      const lineEnd = crAt(h, start, end);
      let colon = start;
      while (colon < lineEnd && h[colon] !== 58) colon++;
      if (colon === lineEnd || colon === start) return this.invalid('header');
      let v = colon + 1;
      while (v < lineEnd && isSpace(h[v]!)) v++;
      let vEnd = lineEnd;
      while (vEnd > v && isSpace(h[vEnd - 1]!)) vEnd--;
      const first = lower(h[start]!);
      if (first === 99 && namedAs(h, start, colon, 'content-length')) {
        if (v === vEnd || vEnd - v > 15) return this.invalid('header');
        let n = 0;
        for (let i = v; i < vEnd; i++) {
          if (!isDigit(h[i]!)) return this.invalid('header');
          n = n * 10 + h[i]! - 48;
        }
        if (length >= 0 && length !== n) return this.invalid('header');
        length = n;
      } else if (first === 116 && namedAs(h, start, colon, 'transfer-encoding')) {
        chunked = vEnd - v >= 7 && namedAs(h, vEnd - 7, vEnd, 'chunked');
      } else if (first === 99 && namedAs(h, start, colon, 'connection')) {
        close ||= contains(h, v, vEnd, 'close');
        keepAlive ||= contains(h, v, vEnd, 'keep-alive');
      }
      line = lineEnd;
    }
    // An interim response (100 Continue, say): the real one follows.
    if (status < 200) {
      this.state = S.head;
      return true;
    }
    this.status = status;
    this.closes = close || (http10 && !keepAlive);
    if (this.noBody || status === 204 || status === 304) this.state = S.done;
    else if (chunked) {
      this.state = S.chunkSize;
      this.left = 0;
      this.chunkDigits = 0;
    } else if (length >= 0) {
      this.left = length;
      this.state = length === 0 ? S.done : S.body;
    } else if (this.closes) this.state = S.untilClose;
    else return this.invalid('no-length');
    return true;
  }

  /** One byte of chunked framing outside chunk data; false when it breaks the framing. */
  private chunkByte(b: number): boolean {
    switch (this.state) {
      case S.chunkSize: {
        const hex = hexValue(b);
        if (hex >= 0 && this.chunkDigits < 12) {
          this.left = this.left * 16 + hex;
          this.chunkDigits++;
          return true;
        }
        if (this.chunkDigits === 0) return this.invalid('chunked');
        if (b === CR) this.state = S.chunkSizeLf;
        else if (b === 59 || isSpace(b)) this.state = S.chunkExt;
        else return this.invalid('chunked');
        return true;
      }
      case S.chunkExt:
        if (b === CR) this.state = S.chunkSizeLf;
        return true;
      case S.chunkSizeLf:
        if (b !== LF) return this.invalid('chunked');
        this.chunkDigits = 0;
        this.state = this.left === 0 ? S.trailerStart : S.chunkData;
        return true;
      case S.chunkDataCr:
        if (b !== CR) return this.invalid('chunked');
        this.state = S.chunkDataLf;
        return true;
      case S.chunkDataLf:
        if (b !== LF) return this.invalid('chunked');
        this.state = S.chunkSize;
        return true;
      case S.trailerStart:
        this.state = b === CR ? S.endLf : S.trailerLine;
        return true;
      case S.trailerLine:
        if (b === CR) this.state = S.trailerLf;
        return true;
      case S.trailerLf:
        if (b !== LF) return this.invalid('chunked');
        this.state = S.trailerStart;
        return true;
      case S.endLf:
        if (b !== LF) return this.invalid('chunked');
        this.state = S.done;
        return true;
    }
    return this.invalid('chunked');
  }
}
