// 03-urls: take a URL apart and route it.
//
// The HTTP plumbing at the bottom of this file already works: it listens on 127.0.0.1:PORT, reads
// one request head, calls your code, writes the response with a Content-Length, and closes the
// connection. Your work is the top half: the functions marked TODO.
//
// Until you write them, every request is answered with "501 Not Implemented" and a body naming the
// first function that is still missing, so `npm run grade -- 03` shows you where to start.
//
// Run it by hand:   PORT=8080 node --import tsx exercises/03-urls/server.ts
// Then try:         curl -v 'http://127.0.0.1:8080/inspect/a%20b?x=1+2'
//
// Only node's `net` module: no `http`, no `URL` / `URLSearchParams`, no `decodeURIComponent`.
// Writing the parser is the exercise.
import net from 'node:net';

const PORT = Number(process.env.PORT);
export const DEFAULT_PORT = 80; // the port an http URL means when it names none

/** Throw this from your parser for a request-target that makes no sense; the client gets 400. */
export class BadTarget extends Error {}

/** Thrown by the functions you have not written yet; the plumbing turns it into a 501. */
class NotWrittenYet extends Error {}

/** What parseTarget returns; the /inspect route sends it back as JSON. */
export interface ParsedTarget {
  scheme: string; // always "http"
  host: string; // lower case, without the port
  port: number; // 80 when none is given
  path: string; // percent-decoded ("+" stays "+")
  query: Array<[string, string]>; // parseQuery() of the query string ([] when there is none)
  target: string; // the request-target exactly as received
}

// ---------------------------------------------------------------------------------------------
// Part 1: decoding
// ---------------------------------------------------------------------------------------------

/**
 * Undo percent-encoding.
 *
 * "%XX", where XX are two hex digits in either case, stands for the byte 0xXX. Everything else is
 * kept as it is, including a "%" that is not followed by two hex digits ("100%" stays "100%").
 *
 * Work on bytes, not characters: one character can take several bytes. "%C3%A9" is the two bytes
 * C3 A9, which UTF-8 reads as the single character "é". So: turn `text` into bytes
 * (Buffer.from(text, 'utf8')), build the decoded bytes, then turn them back into a string with
 * new TextDecoder('utf-8').decode(bytes), which replaces broken UTF-8 instead of throwing.
 *
 * A "+" is NOT touched here; only the query string treats "+" as a space (see parseQuery).
 *
 *     percentDecode('a%20b')     === 'a b'
 *     percentDecode('%41%7e')    === 'A~'
 *     percentDecode('caf%C3%A9') === 'café'
 *     percentDecode('100%-%zz')  === '100%-%zz'
 *     percentDecode('a+b')       === 'a+b'
 */
export function percentDecode(text: string): string {
  // TODO
  throw new NotWrittenYet('percentDecode');
}

/**
 * Turn a query string (the part after "?") into a list of [name, value] pairs.
 *
 * - pieces are separated by "&"; skip empty pieces ("a=1&&b=2" has two pairs)
 * - the FIRST "=" in a piece separates the name from the value ("a=b=c" → ["a", "b=c"])
 * - a piece with no "=" has the value "" ("flag" → ["flag", ""])
 * - in names and values, "+" means a space: replace it BEFORE percent-decoding, so that "%2B"
 *   still ends up as a real "+"
 * - keep the order, and keep repeated names
 *
 *     parseQuery('')              → []
 *     parseQuery('x=1+2&y=%41')   → [['x', '1 2'], ['y', 'A']]
 *     parseQuery('k=2&k=1&flag')  → [['k', '2'], ['k', '1'], ['flag', '']]
 */
export function parseQuery(query: string): Array<[string, string]> {
  // TODO
  throw new NotWrittenYet('parseQuery');
}

// ---------------------------------------------------------------------------------------------
// Part 2: taking the request-target apart
// ---------------------------------------------------------------------------------------------

/**
 * Split "host" or "host:port" into its host and port.
 *
 * The host comes back in lower case (host names are case-insensitive) and the port as a number,
 * DEFAULT_PORT when there is none. Throw BadTarget for a port that is not a number.
 *
 *     splitHostPort('Example.TEST:8080') → { host: 'example.test', port: 8080 }
 *     splitHostPort('example.test')      → { host: 'example.test', port: 80 }
 */
export function splitHostPort(authority: string): { host: string; port: number } {
  // TODO
  throw new NotWrittenYet('splitHostPort');
}

/**
 * Take the request-target from the request line apart.
 *
 * `target` is the second word of the request line, exactly as the client sent it. It comes in one
 * of two forms:
 *
 *     origin-form    /inspect/a%20b?x=1              the usual one; host and port come from
 *                                                    `hostHeader` (the Host header's value)
 *     absolute-form  http://host:port/inspect?x=1    what a proxy receives; host and port come
 *                                                    from the target itself, and the Host
 *                                                    header is ignored
 *
 * In absolute-form the path starts at the first "/" after the host (no path at all means "/").
 * In both forms the path ends at the first "?"; what follows is the query string.
 *
 * `hostHeader` is undefined when the request had no Host header. Throw BadTarget for anything you
 * cannot parse (that includes origin-form with no Host header).
 *
 * Example: parseTarget('/inspect/a%20b?x=1+2', '127.0.0.1:8080') →
 *     { scheme: 'http', host: '127.0.0.1', port: 8080, path: '/inspect/a b',
 *       query: [['x', '1 2']], target: '/inspect/a%20b?x=1+2' }
 */
export function parseTarget(target: string, hostHeader: string | undefined): ParsedTarget {
  // TODO
  throw new NotWrittenYet('parseTarget');
}

// ---------------------------------------------------------------------------------------------
// Part 3: routing
// A handler gets what parseTarget returned and the parts of the path its route pattern captured.
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
  return { status: 200, contentType: TEXT, body: '03-urls\n\nGET /inspect/...   how the URL was parsed, as JSON\nGET /greet/<name>  a greeting\n' };
}

function inspect(url: ParsedTarget): Response {
  return { status: 200, contentType: 'application/json', body: `${JSON.stringify(url)}\n` };
}

/** GET /greet/<name> → 200 text/plain, body exactly "Hello, <name>!" (name decoded). */
export function greet(url: ParsedTarget, params: Params): Response {
  // TODO
  throw new NotWrittenYet('greet');
}

/** Which function answers which path. The path here is the DECODED path from parseTarget. */
const ROUTES: Array<[string, Handler]> = [
  ['/', home],
  ['/inspect', inspect],
  // TODO: "/inspect/" followed by anything at all also goes to inspect (but "/inspector" is not a
  //       match: it does not start with "/inspect/").
  // TODO: "/greet/<name>" goes to greet, with params.name set to the rest of the path.
  //       An empty name ("/greet/") is not a match.
  // Choose how to write these patterns, and teach route() below to understand them.
];

/**
 * Find the handler for url.path and call it; 404 when no route matches.
 * As given, a pattern only matches a path that is exactly equal to it.
 */
function route(url: ParsedTarget): Response {
  for (const [pattern, handler] of ROUTES) {
    // TODO: also match prefixes and capture path parameters.
    if (url.path === pattern) return handler(url, {});
  }
  return { status: 404, contentType: TEXT, body: `Not found: ${url.path}\n` };
}

// ---------------------------------------------------------------------------------------------
// The HTTP plumbing below is given and works; you should not need to change it.
// ---------------------------------------------------------------------------------------------

const CLIENT_TIMEOUT_MS = 5000; // a client may stay silent this long before we give up on it
const MAX_HEAD_BYTES = 64 * 1024;
const REASONS: Record<number, string> = {
  200: 'OK',
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
};

function responseBytes({ status, contentType, body }: Response): Buffer {
  const payload = Buffer.from(body, 'utf8');
  const head =
    `HTTP/1.1 ${status} ${REASONS[status] ?? 'Unknown'}\r\n` +
    `Content-Type: ${contentType}\r\n` +
    `Content-Length: ${payload.length}\r\n` +
    'Connection: close\r\n' +
    '\r\n';
  return Buffer.concat([Buffer.from(head, 'utf8'), payload]); // one write, so the client gets it all at once
}

/** From a request head (request line and header lines, without the blank line) to a response. */
function respond(head: string): Buffer {
  const [requestLine, ...headerLines] = head.split('\r\n');
  const parts = requestLine.split(' ');
  if (parts.length !== 3) return responseBytes({ status: 400, contentType: TEXT, body: 'Bad request line\n' });
  const [method, target] = parts;
  if (method !== 'GET') return responseBytes({ status: 405, contentType: TEXT, body: 'Only GET is supported\n' });

  let hostHeader: string | undefined;
  for (const line of headerLines) {
    const colon = line.indexOf(':');
    if (colon > 0 && line.slice(0, colon).trim().toLowerCase() === 'host') hostHeader = line.slice(colon + 1).trim();
  }

  try {
    return responseBytes(route(parseTarget(target, hostHeader)));
  } catch (e) {
    if (e instanceof BadTarget) return responseBytes({ status: 400, contentType: TEXT, body: `Bad request: ${e.message}\n` });
    if (e instanceof NotWrittenYet) return responseBytes({ status: 501, contentType: TEXT, body: `TODO: ${e.message}() is not written yet\n` });
    console.error(e); // a bug in your code: the stack trace is in the terminal running the server
    return responseBytes({ status: 500, contentType: TEXT, body: "Internal server error (see the server's stderr)\n" });
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
    socket.end(
      end < 0 || end > MAX_HEAD_BYTES
        ? responseBytes({ status: 431, contentType: TEXT, body: 'Request head too large\n' })
        : respond(received.subarray(0, end).toString('utf8')),
    );
  };
  socket.on('data', onData);
});

server.listen({ port: PORT, host: '127.0.0.1' }, () => console.log(`listening on http://127.0.0.1:${PORT}/`));
