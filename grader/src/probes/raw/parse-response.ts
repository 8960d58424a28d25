import type { FailureCode } from '../../checks/codes.ts';

// A strict HTTP/1.x response parser (RFC 9112). It tells a response that is not finished yet
// ("incomplete": wait for more bytes or EOF) from one that breaks the protocol ("invalid": a stable
// code and the offset of the first offending byte), and accepts every valid framing.

export interface ParsedResponse {
  version: string;
  status: number;
  reason: string;
  /** Header fields in the order sent, names as sent. */
  headers: Array<[string, string]>;
  body: Buffer;
  framing: 'content-length' | 'chunked' | 'close' | 'none';
  /** Offsets of this response in the connection's byte stream. */
  start: number;
  end: number;
  /** 1xx responses that came before this one. */
  interim: ParsedResponse[];
}

export type ParseOutcome =
  | { kind: 'complete'; response: ParsedResponse }
  | {
      kind: 'incomplete';
      part: 'status-line' | 'headers' | 'body';
      /** Stream length below which parsing again cannot progress (Infinity: only EOF can). */
      need?: number;
    }
  | { kind: 'invalid'; code: FailureCode; message: string; offset: number };

export interface ParseOptions {
  /** The request method: HEAD responses have no body. */
  method?: string;
  /** The peer closed: a close-delimited body ends here, anything unfinished stays incomplete. */
  eof?: boolean;
  /** Framing the exercise demands; anything else is a violation. */
  requireFraming?: 'content-length';
  maxHeaderBytes?: number;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** The fixed start of a status line; '#' is any digit. */
const STATUS_SHAPE = 'HTTP/#.# ###';
const CR = 13;
const LF = 10;

class Invalid {
  constructor(
    readonly code: FailureCode,
    readonly message: string,
    readonly offset: number,
  ) {}
}

/** The value of the first header with this name (case-insensitive). */
export function header(res: Pick<ParsedResponse, 'headers'>, name: string): string | undefined {
  const lower = name.toLowerCase();
  return res.headers.find(([n]) => n.toLowerCase() === lower)?.[1];
}

/** Every value of a header, in order. */
export function headerAll(res: Pick<ParsedResponse, 'headers'>, name: string): string[] {
  const lower = name.toLowerCase();
  return res.headers.filter(([n]) => n.toLowerCase() === lower).map(([, v]) => v);
}

export function parseResponse(buf: Buffer, start = 0, opts: ParseOptions = {}): ParseOutcome {
  const interim: ParsedResponse[] = [];
  let at = start;
  try {
    for (;;) {
      const outcome = parseOne(buf, at, opts);
      if (outcome.kind !== 'complete') return outcome;
      const res = outcome.response;
      if (res.status >= 100 && res.status < 200 && res.status !== 101) {
        interim.push(res);
        at = res.end;
        continue;
      }
      res.start = start;
      res.interim = interim;
      return outcome;
    }
  } catch (e) {
    if (e instanceof Invalid) return { kind: 'invalid', code: e.code, message: e.message, offset: e.offset };
    throw e;
  }
}

/** Finds the end of the line starting at `from`; CRLF is the only line ending a server may send. */
function lineEnd(buf: Buffer, from: number): number {
  for (let i = from; i < buf.length; i++) {
    if (buf[i] === LF) {
      if (i === from || buf[i - 1] !== CR) throw new Invalid('bare-lf', 'line ends with LF alone; HTTP lines end with CRLF (\\r\\n)', i);
      return i - 1;
    }
    if (buf[i] === CR && i + 1 < buf.length && buf[i + 1] !== LF) {
      throw new Invalid('bare-cr', 'CR not followed by LF', i);
    }
  }
  return -1;
}

function parseOne(buf: Buffer, start: number, opts: ParseOptions): ParseOutcome {
  const maxHeaderBytes = opts.maxHeaderBytes ?? 64 * 1024;
  const limit = (upTo: number) => {
    if (upTo - start > maxHeaderBytes) throw new Invalid('headers-too-large', `header section longer than ${maxHeaderBytes} bytes`, start + maxHeaderBytes);
  };
  // Bytes that are not a status line at all are named as such, before any line-ending detail.
  checkStatusPrefix(buf, start, buf.length);
  const statusEnd = lineEnd(buf, start);
  if (statusEnd < 0) {
    limit(buf.length);
    return { kind: 'incomplete', part: 'status-line' };
  }
  const { version, status, reason } = parseStatusLine(buf, start, statusEnd);
  limit(statusEnd + 2);

  const headers: Array<[string, string]> = [];
  /** Offset of each header line, for pointing at the one that breaks a rule. */
  const lineAt: number[] = [];
  let at = statusEnd + 2;
  for (;;) {
    const end = lineEnd(buf, at);
    limit(end < 0 ? buf.length : end + 2);
    if (end < 0) return { kind: 'incomplete', part: 'headers' };
    if (end === at) {
      at += 2;
      break;
    }
    headers.push(parseHeaderLine(buf, at, end));
    lineAt.push(at);
    at = end + 2;
  }

  const res: ParsedResponse = { version, status, reason, headers, body: Buffer.alloc(0), framing: 'none', start, end: at, interim: [] };
  const noBody = opts.method?.toUpperCase() === 'HEAD' || (status >= 100 && status < 200) || status === 204 || status === 304;
  const te = headerAll(res, 'transfer-encoding');
  const cl = headerAll(res, 'content-length');
  const firstLine = (name: string) => lineAt[headers.findIndex(([n]) => n.toLowerCase() === name)]!;
  if (te.length && cl.length) {
    throw new Invalid('te-and-content-length', 'both Transfer-Encoding and Content-Length are present; a sender must not send both', Math.max(firstLine('transfer-encoding'), firstLine('content-length')));
  }
  const length = cl.length ? contentLength(buf, headers, lineAt) : undefined;
  if ((status === 204 || (status >= 100 && status < 200)) && (te.length || (length !== undefined && length > 0))) {
    throw new Invalid('body-not-allowed', `a ${status} response must not have a body or body framing headers`, firstLine(te.length ? 'transfer-encoding' : 'content-length'));
  }
  if (noBody) return { kind: 'complete', response: res };

  if (te.length) {
    const codings = te.join(',').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean);
    if (codings.at(-1) !== 'chunked') {
      if (opts.requireFraming) throw new Invalid('framing-not-allowed', 'the body must be framed by Content-Length', firstLine('transfer-encoding'));
      return closeDelimited(buf, res, opts);
    }
    if (opts.requireFraming) throw new Invalid('framing-not-allowed', 'the body must be framed by Content-Length, not chunked', firstLine('transfer-encoding'));
    return chunked(buf, res, at);
  }
  if (length !== undefined) {
    res.framing = 'content-length';
    if (buf.length - at < length) return { kind: 'incomplete', part: 'body', need: at + length };
    res.body = buf.subarray(at, at + length);
    res.end = at + length;
    return { kind: 'complete', response: res };
  }
  // The blank line that ended the header section is where a Content-Length was due.
  if (opts.requireFraming) throw new Invalid('missing-content-length', 'the response has a body but no Content-Length header', at - 2);
  return closeDelimited(buf, res, opts);
}

function checkStatusPrefix(buf: Buffer, start: number, end: number): void {
  const want = 'HTTP/';
  for (let i = 0; i < Math.min(want.length, end - start); i++) {
    if (buf[start + i] !== want.charCodeAt(i)) {
      throw new Invalid('bad-status-line', 'a response must start with a status line such as "HTTP/1.1 200 OK"', start + i);
    }
  }
}

function parseStatusLine(buf: Buffer, start: number, end: number) {
  checkStatusPrefix(buf, start, end);
  const line = buf.toString('latin1', start, end);
  const m = /^HTTP\/(\d)\.(\d) (\d{3}) ?/.exec(line);
  if (!m) {
    let bad = 0;
    while (bad < Math.min(line.length, STATUS_SHAPE.length) && (STATUS_SHAPE[bad] === '#' ? /\d/.test(line[bad]!) : line[bad] === STATUS_SHAPE[bad])) bad++;
    throw new Invalid('bad-status-line', `malformed status line; expected "HTTP/1.1 <3-digit code> <reason>"`, start + bad);
  }
  if (m[1] !== '1') throw new Invalid('bad-version', `unsupported HTTP version HTTP/${m[1]}.${m[2]}`, start + 5);
  if (line.length > 12 && line[12] !== ' ') throw new Invalid('bad-status-line', 'the status code must be followed by a space', start + 12);
  if (line.length === 12) {
    throw new Invalid('bad-status-line', 'the status code must be followed by a space and an optional reason phrase', start + 12);
  }
  const reason = line.slice(13);
  for (let i = 0; i < reason.length; i++) {
    const c = reason.charCodeAt(i);
    if ((c < 0x20 && c !== 9) || c === 0x7f) throw new Invalid('bad-reason-phrase', 'control character in the reason phrase', start + 13 + i);
  }
  const status = Number(m[3]);
  if (status < 100 || status > 599) throw new Invalid('bad-status-code', `status code ${m[3]} is out of range 100-599`, start + 9);
  return { version: `HTTP/1.${m[2]}`, status, reason };
}

function parseHeaderLine(buf: Buffer, start: number, end: number): [string, string] {
  if (buf[start] === 32 || buf[start] === 9) {
    throw new Invalid('obs-fold', 'a header line starts with whitespace (obsolete line folding)', start);
  }
  const line = buf.toString('latin1', start, end);
  const colon = line.indexOf(':');
  const name = colon < 0 ? line : line.slice(0, colon);
  const bad = [...name].findIndex((ch) => !TOKEN.test(ch));
  if (colon < 0) throw new Invalid('header-without-colon', 'a header line has no colon', start + (bad < 0 ? line.length : bad));
  if (bad >= 0 && /^[ \t]+$/.test(name.slice(bad))) throw new Invalid('space-before-colon', `whitespace between the header name "${name.trim()}" and the colon`, start + bad);
  if (!TOKEN.test(name)) {
    throw new Invalid('bad-header-name', `invalid character in the header name "${name}"`, start + Math.max(bad, 0));
  }
  const raw = line.slice(colon + 1);
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if ((c < 0x20 && c !== 9) || c === 0x7f) {
      throw new Invalid('bad-header-value', `control character in the value of "${name}"`, start + colon + 1 + i);
    }
  }
  return [name, raw.replace(/^[ \t]+|[ \t]+$/g, '')];
}

/** The one length all Content-Length values agree on; a violation points at the value that breaks it. */
function contentLength(buf: Buffer, headers: Array<[string, string]>, lineAt: number[]): number {
  let length: number | undefined;
  headers.forEach(([name], h) => {
    if (name.toLowerCase() !== 'content-length') return;
    const lineStart = lineAt[h]!;
    let at = lineStart + name.length + 1;
    for (const part of buf.toString('latin1', at, buf.indexOf('\r\n', at)).split(',')) {
      const lead = /^[ \t]*/.exec(part)![0].length;
      const value = part.slice(lead).replace(/[ \t]+$/, '');
      const digits = /^\d*/.exec(value)![0].length;
      if (!value || digits < value.length) {
        throw new Invalid('bad-content-length', `Content-Length "${value}" is not a number of bytes`, at + lead + digits);
      }
      if (length !== undefined && Number(value) !== length) {
        throw new Invalid('conflicting-content-length', `conflicting Content-Length values: ${length} and ${value}`, at + lead);
      }
      length = Number(value);
      at += part.length + 1;
    }
  });
  return length!;
}

function closeDelimited(buf: Buffer, res: ParsedResponse, opts: ParseOptions): ParseOutcome {
  res.framing = 'close';
  if (!opts.eof) return { kind: 'incomplete', part: 'body', need: Infinity };
  res.body = buf.subarray(res.end);
  res.end = buf.length;
  return { kind: 'complete', response: res };
}

function chunked(buf: Buffer, res: ParsedResponse, bodyStart: number): ParseOutcome {
  res.framing = 'chunked';
  const parts: Buffer[] = [];
  let at = bodyStart;
  for (;;) {
    const end = lineEnd(buf, at);
    if (end < 0) return { kind: 'incomplete', part: 'body' };
    const line = buf.toString('latin1', at, end);
    const digits = /^[0-9a-fA-F]*/.exec(line)![0].length;
    const ws = /^[ \t]*/.exec(line.slice(digits))![0].length;
    if (digits === 0 || (digits + ws < line.length && line[digits + ws] !== ';')) {
      throw new Invalid('bad-chunk-size', `chunk size "${line.split(';')[0]}" is not hexadecimal`, at + (digits === 0 ? 0 : digits + ws));
    }
    const size = parseInt(line.slice(0, digits), 16);
    at = end + 2;
    if (size === 0) break;
    if (buf.length - at < size + 2) return { kind: 'incomplete', part: 'body', need: at + size + 2 };
    parts.push(buf.subarray(at, at + size));
    at += size;
    if (buf[at] !== CR || buf[at + 1] !== LF) {
      throw new Invalid('bad-chunk-end', 'chunk data not followed by CRLF (is the chunk size right?)', buf[at] === CR ? at + 1 : at);
    }
    at += 2;
  }
  for (;;) {
    const end = lineEnd(buf, at);
    if (end < 0) return { kind: 'incomplete', part: 'body' };
    if (end === at) {
      at += 2;
      break;
    }
    parseHeaderLine(buf, at, end);
    at = end + 2;
  }
  res.body = Buffer.concat(parts);
  res.end = at;
  return { kind: 'complete', response: res };
}
