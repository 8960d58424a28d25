import type { Exchange } from './model.ts';
import { bodyKind, splitMessages } from './bytes.ts';

// A command a student can paste to send a case's request to their own server, started by hand
// with PORT=8080: printf piped into nc for a short request (byte for byte, malformed ones too),
// curl for a long or binary one that is a well-formed request, and otherwise the reason neither works.

export const HAND_PORT = 8080;
/** Longer requests make a command too long to read or paste. */
export const MAX_PRINTF_BYTES = 400;

export type Reproduction =
  /** `printf` is shell code that writes exactly `bytes`; `command` pipes it into nc. */
  | { kind: 'printf'; bytes: string; printf: string; command: string; note?: string }
  | { kind: 'curl'; command: string; note: string }
  | { kind: 'none'; reason: string };

/** How to send `exchange.sent` by hand; undefined when nothing was sent. */
export function reproduce(ex: Pick<Exchange, 'sent' | 'sentBytes' | 'port' | 'split' | 'heldBack'>): Reproduction | undefined {
  if (ex.sentBytes === 0) return undefined;
  // The whole request, in the two parts the server saw: the piece it answered, then the rest.
  if (ex.heldBack && ex.sent.length >= ex.sentBytes) {
    const first = toHandPort(ex.sent, ex.port);
    const whole = toHandPort(ex.sent + ex.heldBack, ex.port);
    if (whole.length <= MAX_PRINTF_BYTES && !hasBinaryBody(whole)) return printfFor(whole, ex.split, first.length);
  }
  const bytes = toHandPort(ex.sent, ex.port);
  const complete = ex.sent.length >= ex.sentBytes;
  const binary = hasBinaryBody(bytes);
  if (complete && !binary && ex.sentBytes <= MAX_PRINTF_BYTES) return printfFor(bytes, ex.split);
  const curl = curlFor(bytes, ex.sentBytes - (ex.sent.length - bytes.length), binary, ex.split);
  if (curl) return curl;
  const why = [ex.sentBytes > MAX_PRINTF_BYTES ? 'too long' : '', binary ? 'binary' : '', complete ? '' : 'not all kept in this report'].filter(Boolean);
  return { kind: 'none', reason: `${ex.sentBytes} bytes, ${why.join(', ')}, and not one well-formed request for curl` };
}

/** Whether a message in the bytes has a binary body, which printf cannot show readably. */
const hasBinaryBody = (bytes: string): boolean => splitMessages(bytes).some((m) => bodyKind(m.body) === 'binary');

/**
 * printf into nc. A request the grader split is sent in two writes a second apart, so that a
 * server which takes one read for the whole request shows it by hand too.
 */
function printfFor(bytes: string, split: string | undefined, firstPiece?: number): Reproduction {
  const one = (s: string) => `printf ${shellQuote(printfFormat(s))}`;
  const cut = firstPiece ?? Math.floor(bytes.length / 2);
  const printf = split && cut > 0 ? `(${one(bytes.slice(0, cut))}; sleep 1; ${one(bytes.slice(cut))})` : one(bytes);
  const note = split && cut > 0 ? (firstPiece !== undefined ? `the piece the server answered, then a second later the rest, which the grader held back` : `in two writes a second apart, where the grader sent it ${split}`) : undefined;
  return { kind: 'printf', bytes, printf, command: `${printf} | nc 127.0.0.1 ${HAND_PORT}`, ...(note ? { note } : {}) };
}

/**
 * Rewrites `127.0.0.1:<port>` to the hand-started server's port, in message heads only (a body
 * keeps its length). Where the port is not known, the Host header's `127.0.0.1:<digits>` is rewritten.
 */
export function toHandPort(text: string, port: number | undefined): string {
  if (port === HAND_PORT) return text;
  const to = `127.0.0.1:${HAND_PORT}`;
  const rewrite = port === undefined ? (head: string) => head.replace(/^(host:[ \t]*)127\.0\.0\.1:\d+/gim, `$1${to}`) : (head: string) => head.split(`127.0.0.1:${port}`).join(to);
  return splitMessages(text)
    .map((m) => rewrite(m.head) + m.body)
    .join('');
}

/** Latin-1 text as a printf format that prints exactly those bytes: escapes, `%%`, and octal for the rest. */
export function printfFormat(bytes: string): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes.charCodeAt(i);
    if (b === 13) out += '\\r';
    else if (b === 10) out += '\\n';
    else if (b === 9) out += '\\t';
    else if (b === 0x5c) out += '\\\\';
    else if (b === 0x25) out += '%%';
    else if (b >= 0x20 && b < 0x7f) out += bytes[i];
    // Three octal digits always, so a digit that follows is not read as part of the escape.
    else out += `\\${b.toString(8).padStart(3, '0')}`;
  }
  return out;
}

/** One shell word, in single quotes. */
export const shellQuote = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** A curl command for a single well-formed request of `size` bytes, or undefined. */
function curlFor(bytes: string, size: number, binary: boolean, split: string | undefined): Reproduction | undefined {
  const parts = splitMessages(bytes);
  if (parts.length !== 1) return undefined;
  const { head, body, declared } = parts[0]!;
  if (!head.endsWith('\r\n\r\n')) return undefined;
  const [requestLine, ...fields] = head.slice(0, -4).split('\r\n');
  const m = /^(\S+) (\/\S*) HTTP\/1\.([01])$/.exec(requestLine ?? '');
  if (!m || !TOKEN.test(m[1]!)) return undefined;
  const method = m[1]!;
  const target = m[2]!;
  const minor = m[3]!;
  const headers: Array<[string, string]> = [];
  for (const field of fields) {
    const f = /^([^:]+):[ \t]*([\x20-\x7e\t]*?)[ \t]*$/.exec(field);
    if (!f || !TOKEN.test(f[1]!)) return undefined;
    headers.push([f[1]!, f[2]!]);
  }
  const named = (n: string) => headers.filter(([k]) => k.toLowerCase() === n);
  const bodySize = size - head.length;
  if (named('host').length !== 1 || named('transfer-encoding').length || named('content-length').length > 1) return undefined;
  if ((declared ?? 0) !== bodySize || (bodySize > 0 && declared === undefined)) return undefined;

  const args = ['curl', '-v'];
  if (minor === '0') args.push('--http1.0');
  if (method === 'HEAD') args.push('-I');
  else if (method !== 'GET' || bodySize > 0) args.push('-X', method);
  const host = named('host')[0]![1];
  if (host !== `127.0.0.1:${HAND_PORT}`) args.push('-H', shellQuote(`Host: ${host}`));
  for (const [k, v] of headers) if (!['host', 'content-length'].includes(k.toLowerCase())) args.push('-H', shellQuote(`${k}: ${v}`));
  const notes: string[] = [];
  if (bodySize > 0) {
    args.push('--data-binary', '@body.bin');
    // curl adds its own Content-Type to a body; take it off where the request had none.
    if (!named('content-type').length) args.push('-H', shellQuote('Content-Type:'));
    notes.push(binary || body.length < bodySize ? `body.bin: a file of ${bodySize} bytes like the body sent, for example from head -c ${bodySize} /dev/urandom > body.bin` : `body.bin: the ${bodySize}-byte body shown above`);
  }
  if (split) notes.push(`curl writes the request its own way, not ${split}`);
  args.push(shellQuote(`http://127.0.0.1:${HAND_PORT}${target}`));
  return { kind: 'curl', command: args.join(' '), note: notes.join('; ') };
}
