// 03-urls reference solution: takes the request-target apart (host, port, path, query),
// percent-decodes it by hand, and routes the decoded path to a handler.
//
// Routes:
//   GET /                  a short text page listing the routes
//   GET /inspect[/...]     JSON saying how this request's URL was parsed
//   GET /greet/<name>      "Hello, <name>!"
//   anything else          404
import net from 'node:net';

const PORT = Number(process.env.PORT);
const CLIENT_TIMEOUT_MS = 5000; // a client may stay silent this long before we give up on it
const MAX_HEAD_BYTES = 64 * 1024; // a request head larger than this is refused

// ---------------------------------------------------------------------------------------------
// The URL part: everything in this section is the lesson.
// ---------------------------------------------------------------------------------------------

/** A request-target was not something we can parse; the server answers 400. */
class BadTarget extends Error {}

export interface ParsedTarget {
  scheme: string;
  host: string;
  port: number;
  path: string; // percent-decoded
  query: Array<[string, string]>; // percent-decoded, '+' turned into ' '
  target: string; // exactly as it was in the request line
}

const DEFAULT_PORT = 80; // http's well-known port

/** The value of one hex digit (0-9, a-f, A-F), or -1 if the byte is not a hex digit. */
function hexValue(byte: number): number {
  if (byte >= 0x30 && byte <= 0x39) return byte - 0x30; // '0'..'9'
  if (byte >= 0x41 && byte <= 0x46) return byte - 0x41 + 10; // 'A'..'F'
  if (byte >= 0x61 && byte <= 0x66) return byte - 0x61 + 10; // 'a'..'f'
  return -1;
}

/**
 * Percent-decoding: each "%XX" (two hex digits) becomes the byte 0xXX. Anything else, including a
 * "%" that is not followed by two hex digits, is kept as it is. The decoded bytes are then read as
 * UTF-8, so "%C3%A9" (two bytes) becomes the one character "é". Bytes that are not valid UTF-8
 * become U+FFFD rather than an error.
 */
export function percentDecode(text: string): string {
  const input = Buffer.from(text, 'utf8');
  const out: number[] = [];
  for (let i = 0; i < input.length; i++) {
    if (input[i] === 0x25 /* % */ && i + 2 < input.length) {
      const hi = hexValue(input[i + 1]);
      const lo = hexValue(input[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push(hi * 16 + lo);
        i += 2;
        continue;
      }
    }
    out.push(input[i]);
  }
  return new TextDecoder('utf-8').decode(Uint8Array.from(out));
}

/**
 * A query string ("a=1&b=x+y&c") becomes a list of [name, value] pairs, in order, repeats kept.
 * Pieces are separated by "&" (empty pieces skipped); the first "=" splits name from value (no "="
 * means the value is ""). In a query, "+" means a space: it is replaced BEFORE percent-decoding,
 * so "%2B" still decodes to a real "+".
 */
export function parseQuery(query: string): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const piece of query.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const name = eq < 0 ? piece : piece.slice(0, eq);
    const value = eq < 0 ? '' : piece.slice(eq + 1);
    pairs.push([percentDecode(name.replaceAll('+', ' ')), percentDecode(value.replaceAll('+', ' '))]);
  }
  return pairs;
}

/**
 * "host", "host:port" or "[v6::addr]:port" → lower-cased host and numeric port (80 if absent).
 * This is the format of both the Host header and the authority of an absolute URL.
 */
export function splitHostPort(authority: string): { host: string; port: number } {
  let host: string;
  let rest: string; // what follows the host: "" or ":port"
  if (authority.startsWith('[')) {
    const close = authority.indexOf(']');
    if (close < 0) throw new BadTarget(`unclosed "[" in "${authority}"`);
    host = authority.slice(0, close + 1);
    rest = authority.slice(close + 1);
  } else {
    const colon = authority.indexOf(':');
    host = colon < 0 ? authority : authority.slice(0, colon);
    rest = colon < 0 ? '' : authority.slice(colon);
  }
  if (host === '') throw new BadTarget('empty host');
  let port = DEFAULT_PORT;
  if (rest !== '') {
    const digits = rest.slice(1); // after the ":"
    if (!rest.startsWith(':') || !/^[0-9]*$/.test(digits)) throw new BadTarget(`bad port in "${authority}"`);
    if (digits !== '') port = Number(digits); // "host:" with nothing after it still means 80
    if (port > 65535) throw new BadTarget(`port ${digits} is out of range`);
  }
  return { host: host.toLowerCase(), port };
}

/**
 * Takes a request-target apart. Two forms reach a server:
 *   origin-form    /path?query                    (host and port come from the Host header)
 *   absolute-form  http://host:port/path?query    (what a proxy receives; its authority wins)
 */
export function parseTarget(target: string, hostHeader: string | undefined): ParsedTarget {
  let authority: string;
  let rest: string; // "/path?query"
  const scheme = 'http://';
  if (target.slice(0, scheme.length).toLowerCase() === scheme) {
    const afterScheme = target.slice(scheme.length);
    // The authority runs up to the first "/" or "?"; a URL with no path at all means "/".
    let end = afterScheme.search(/[/?]/);
    if (end < 0) end = afterScheme.length;
    authority = afterScheme.slice(0, end);
    authority = authority.slice(authority.lastIndexOf('@') + 1); // drop any "user:password@"
    rest = afterScheme.slice(end);
    if (!rest.startsWith('/')) rest = `/${rest}`;
  } else if (target.startsWith('/')) {
    if (hostHeader === undefined) throw new BadTarget('no Host header');
    authority = hostHeader.trim();
    rest = target;
  } else {
    throw new BadTarget(`"${target}" is neither /path nor http://host/path`);
  }

  const question = rest.indexOf('?');
  const rawPath = question < 0 ? rest : rest.slice(0, question);
  const rawQuery = question < 0 ? '' : rest.slice(question + 1);
  const { host, port } = splitHostPort(authority);
  return { scheme: 'http', host, port, path: percentDecode(rawPath), query: parseQuery(rawQuery), target };
}

// ---------------------------------------------------------------------------------------------
// Routing: a table from path patterns to handler functions.
// ---------------------------------------------------------------------------------------------

interface Response {
  status: number;
  contentType: string;
  body: string;
}

type Params = Record<string, string>;
type Handler = (url: ParsedTarget, params: Params) => Response;

const TEXT = 'text/plain; charset=utf-8';

function home(): Response {
  const body = ['serverlab 03-urls', '', 'GET /inspect/...   how this server parsed your URL, as JSON', 'GET /greet/<name>  a greeting', ''];
  return { status: 200, contentType: TEXT, body: body.join('\n') };
}

function inspect(url: ParsedTarget): Response {
  const { scheme, host, port, path, query, target } = url;
  return { status: 200, contentType: 'application/json', body: `${JSON.stringify({ scheme, host, port, path, query, target })}\n` };
}

function greet(_url: ParsedTarget, params: Params): Response {
  return { status: 200, contentType: TEXT, body: `Hello, ${params.name}!` };
}

/**
 * Patterns, tried in order against the DECODED path:
 *   "/exact"          only that path
 *   "/prefix/*"       anything that starts with "/prefix/" (even nothing after it)
 *   "/prefix/<name>"  "/prefix/" followed by at least one character, handed over as params.name
 */
const ROUTES: Array<[string, Handler]> = [
  ['/', home],
  ['/inspect', inspect],
  ['/inspect/*', inspect],
  ['/greet/<name>', greet],
];

function matchRoute(pattern: string, path: string): Params | undefined {
  if (pattern.endsWith('/*')) {
    return path.startsWith(pattern.slice(0, -1)) ? {} : undefined;
  }
  const param = /^(.*\/)<(\w+)>$/.exec(pattern);
  if (param) {
    const [, prefix, name] = param;
    if (!path.startsWith(prefix) || path.length === prefix.length) return undefined;
    return { [name]: path.slice(prefix.length) };
  }
  return path === pattern ? {} : undefined;
}

function route(url: ParsedTarget): Response {
  for (const [pattern, handler] of ROUTES) {
    const params = matchRoute(pattern, url.path);
    if (params) return handler(url, params);
  }
  return { status: 404, contentType: TEXT, body: `Not found: ${url.path}\n` };
}

// ---------------------------------------------------------------------------------------------
// HTTP plumbing: read one request head, answer it, close.
// ---------------------------------------------------------------------------------------------

// Stryker disable all: the stub gives students this plumbing as it is; 02-http grades HTTP itself.

const REASONS: Record<number, string> = { 200: 'OK', 400: 'Bad Request', 404: 'Not Found', 405: 'Method Not Allowed', 431: 'Request Header Fields Too Large' };

function serialize(res: Response, withBody = true): Buffer {
  const body = Buffer.from(res.body, 'utf8');
  const lines = [
    `HTTP/1.1 ${res.status} ${REASONS[res.status] ?? 'Unknown'}`,
    `Content-Type: ${res.contentType}`,
    `Content-Length: ${body.length}`,
    'Connection: close',
    ...(res.status === 405 ? ['Allow: GET, HEAD'] : []),
    '',
    '',
  ];
  return Buffer.concat([Buffer.from(lines.join('\r\n'), 'utf8'), withBody ? body : Buffer.alloc(0)]);
}

function respond(head: string): Buffer {
  const [requestLine, ...headerLines] = head.split('\r\n');
  const parts = requestLine.split(' ');
  if (parts.length !== 3) return serialize({ status: 400, contentType: TEXT, body: 'Bad request line\n' });
  const [method, target] = parts;
  if (method !== 'GET' && method !== 'HEAD') return serialize({ status: 405, contentType: TEXT, body: 'Only GET and HEAD\n' });

  let hostHeader: string | undefined;
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === 'host') hostHeader = line.slice(colon + 1).trim();
  }

  try {
    return serialize(route(parseTarget(target, hostHeader)), method === 'GET');
  } catch (e) {
    if (!(e instanceof BadTarget)) throw e;
    return serialize({ status: 400, contentType: TEXT, body: `Bad request: ${e.message}\n` });
  }
}

const server = net.createServer((socket) => {
  let received = Buffer.alloc(0);
  socket.setTimeout(CLIENT_TIMEOUT_MS, () => socket.destroy());
  socket.on('error', () => socket.destroy()); // a client that vanishes must not crash the server
  const onData = (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    const end = received.indexOf('\r\n\r\n');
    if (end < 0 && received.length <= MAX_HEAD_BYTES) return; // wait for the rest of the head
    socket.off('data', onData);
    const response =
      end < 0 || end > MAX_HEAD_BYTES
        ? serialize({ status: 431, contentType: TEXT, body: 'Request head too large\n' })
        : respond(received.subarray(0, end).toString('utf8'));
    socket.end(response);
  };
  socket.on('data', onData);
});

server.listen({ port: PORT, host: '127.0.0.1' });
// Stryker restore all
