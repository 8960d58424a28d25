// 02-http reference solution: HTTP/1.1 written by hand on top of node:net (no node:http).
// Bytes come in as a stream; the server cuts requests out of it one after another (keep-alive,
// pipelining, requests split over many packets), answers each with a Content-Length-framed
// response, and turns any malformed request into a 400 and a clean close.
import net from 'node:net';

const PORT = Number(process.env.PORT);
const HOST = '127.0.0.1';
const SERVER_NAME = 'serverlab-ref/1.0';
const IDLE_TIMEOUT_MS = 10_000; // close keep-alive connections that stay silent this long
const MAX_HEAD_BYTES = 16 * 1024; // request line + headers; more than this is refused (431)
const MAX_BODY_BYTES = 16 * 1024 * 1024; // bodies are held in memory, so cap them (413)

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'CONNECT']);
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/; // RFC 9110 token: methods and header names
const VERSION = /^HTTP\/(\d)\.(\d)$/;
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/; // control characters other than HTAB
const CRLF = Buffer.from('\r\n');
const HEAD_END = Buffer.from('\r\n\r\n');

const REASONS: Record<number, string> = {
  200: 'OK',
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  413: 'Content Too Large',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  505: 'HTTP Version Not Supported',
};

const HOME_PAGE = `<!doctype html>
<html>
  <head><meta charset="utf-8"><title>serverlab</title></head>
  <body><h1>Hello from serverlab</h1><p>This page was served by a hand-written HTTP/1.1 server.</p></body>
</html>
`;

interface RequestHead {
  method: string;
  target: string;
  minor: number; // HTTP/1.<minor>: 0 and 1 differ in Host and keep-alive rules
  headers: Map<string, string[]>; // lower-case name -> every value, in order
  bodyLength: number;
}

interface HttpRequest extends RequestHead {
  body: Buffer;
}

interface HttpResponse {
  status: number;
  contentType: string;
  body: Buffer;
  extraHeaders?: Array<[string, string]>;
}

/** A request we refuse; `status` is the answer, and the connection is closed after it. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

// ---------------------------------------------------------------------------------------------
// Reading: bytes in, requests out

/** The bytes received but not yet used. Chunks are joined only when needed, so a 1 MiB body
 * arriving in 1 KiB pieces is copied once, not a thousand times. */
class Inbox {
  private chunks: Buffer[] = [];
  length = 0;

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  /** Everything received so far, as one buffer. */
  peek(): Buffer {
    if (this.chunks.length !== 1) this.chunks = [Buffer.concat(this.chunks, this.length)];
    return this.chunks[0]!;
  }

  /** Removes and returns the first n bytes. */
  take(n: number): Buffer {
    const all = this.peek();
    this.chunks = [all.subarray(n)];
    this.length -= n;
    return all.subarray(0, n);
  }
}

/** Cuts complete requests off the front of the byte stream of one connection. */
class RequestReader {
  private inbox = new Inbox();
  private head: RequestHead | null = null; // parsed, still waiting for its body

  push(chunk: Buffer): void {
    this.inbox.push(chunk);
  }

  /** The next complete request, or null until more bytes arrive. Throws HttpError if malformed. */
  next(): HttpRequest | null {
    if (!this.head) {
      this.head = this.readHead();
      if (!this.head) return null;
    }
    if (this.inbox.length < this.head.bodyLength) return null;
    const request = { ...this.head, body: this.inbox.take(this.head.bodyLength) };
    this.head = null;
    return request;
  }

  private readHead(): RequestHead | null {
    // RFC 9112 §2.2: ignore empty lines before a request (some clients add CRLF after a body).
    while (this.inbox.length >= 2 && this.inbox.peek().subarray(0, 2).equals(CRLF)) this.inbox.take(2);
    const buf = this.inbox.peek();
    // Judge the request line as soon as it is complete: a client sending garbage may never send
    // the blank line that ends a head, and it should get its 400 now, not after a timeout.
    const lf = buf.indexOf('\n');
    if (lf >= 0) {
      if (lf === 0 || buf[lf - 1] !== 0x0d) throw new HttpError(400, 'request line must end with CRLF');
      parseRequestLine(buf.toString('latin1', 0, lf - 1));
    }
    const end = buf.indexOf(HEAD_END);
    if (end < 0) {
      if (buf.length > MAX_HEAD_BYTES) throw new HttpError(431, 'request head too large');
      return null;
    }
    if (end > MAX_HEAD_BYTES) throw new HttpError(431, 'request head too large');
    return parseHead(this.inbox.take(end + HEAD_END.length).toString('latin1', 0, end));
  }
}

/** `METHOD SP target SP HTTP/x.y`: exactly three parts, single spaces, nothing else. */
function parseRequestLine(line: string): { method: string; target: string; minor: number } {
  const parts = line.split(' ');
  if (parts.length !== 3) throw new HttpError(400, 'request line must be "METHOD target HTTP/x.y"');
  const [method, target, version] = parts as [string, string, string];
  if (!TOKEN.test(method)) throw new HttpError(400, 'method is not a token');
  if (target === '' || /[\x00-\x20\x7f]/.test(target)) throw new HttpError(400, 'bad request target');
  const v = VERSION.exec(version);
  if (!v) throw new HttpError(400, 'version must be HTTP/<digit>.<digit>');
  if (v[1] !== '1') throw new HttpError(505, `HTTP/${v[1]}.${v[2]} is not supported`);
  return { method, target, minor: Number(v[2]) };
}

/** `Name: value`. Strict on purpose: lenient parsers are how request smuggling happens. */
function parseHeaderLine(line: string): [string, string] {
  if (line[0] === ' ' || line[0] === '\t') throw new HttpError(400, 'obsolete line folding');
  const colon = line.indexOf(':');
  if (colon < 0) throw new HttpError(400, 'header line without a colon');
  const name = line.slice(0, colon);
  // A token has no whitespace, so this also refuses "Host : x".
  if (!TOKEN.test(name)) throw new HttpError(400, `bad header name ${JSON.stringify(name)}`);
  const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
  if (CONTROL.test(value)) throw new HttpError(400, `control character in header ${name}`);
  return [name.toLowerCase(), value];
}

/** The head is everything before the blank line: request line and header lines. */
function parseHead(text: string): RequestHead {
  const [requestLine, ...headerLines] = text.split('\r\n');
  const { method, target, minor } = parseRequestLine(requestLine!);
  const headers = new Map<string, string[]>();
  for (const line of headerLines) {
    const [name, value] = parseHeaderLine(line);
    headers.set(name, [...(headers.get(name) ?? []), value]);
  }
  const hosts = headers.get('host') ?? [];
  if (hosts.length > 1) throw new HttpError(400, 'more than one Host header');
  if (minor >= 1 && hosts.length === 0) throw new HttpError(400, 'HTTP/1.1 requires a Host header');
  return { method, target, minor, headers, bodyLength: bodyLength(headers) };
}

/** How many body bytes follow the head. Framing must be unambiguous, or the next request on the
 * connection would be read from the wrong offset. */
function bodyLength(headers: Map<string, string[]>): number {
  const lengths = headers.get('content-length') ?? [];
  if (headers.has('transfer-encoding')) {
    if (lengths.length) throw new HttpError(400, 'both Transfer-Encoding and Content-Length');
    throw new HttpError(501, 'Transfer-Encoding is not supported by this server');
  }
  if (lengths.length === 0) return 0;
  if (!lengths.every((v) => /^\d+$/.test(v))) throw new HttpError(400, 'Content-Length must be digits only');
  if (new Set(lengths.map(Number)).size > 1) throw new HttpError(400, 'conflicting Content-Length headers');
  const length = Number(lengths[0]);
  if (length > MAX_BODY_BYTES) throw new HttpError(413, `bodies are limited to ${MAX_BODY_BYTES} bytes`);
  return length;
}

// ---------------------------------------------------------------------------------------------
// Answering: request in, response out

interface Route {
  allow: string[];
  handle(request: HttpRequest): HttpResponse;
}

// A Map, not an object literal: a target like "constructor" must not find Object.prototype.
const ROUTES = new Map<string, Route>([
  ['/', { allow: ['GET', 'HEAD'], handle: () => html(200, HOME_PAGE) }],
  ['/echo', { allow: ['POST'], handle: (req) => ({ status: 200, contentType: 'application/octet-stream', body: req.body }) }],
]);

function route(request: HttpRequest): HttpResponse {
  if (!KNOWN_METHODS.has(request.method)) return text(501, `Method ${request.method} is not implemented.\n`);
  const path = request.target.split('?')[0]!;
  const found = ROUTES.get(path);
  if (!found) return text(404, `Nothing at ${path}.\n`);
  if (!found.allow.includes(request.method)) {
    const allow = found.allow.join(', ');
    return { ...text(405, `${path} allows ${allow}.\n`), extraHeaders: [['Allow', allow]] };
  }
  return found.handle(request);
}

function html(status: number, page: string): HttpResponse {
  return { status, contentType: 'text/html; charset=utf-8', body: Buffer.from(page) };
}

function text(status: number, message: string): HttpResponse {
  return { status, contentType: 'text/plain; charset=utf-8', body: Buffer.from(message) };
}

/** HTTP/1.1 keeps a connection open unless told otherwise; HTTP/1.0 closes unless asked not to. */
function keepAlive(request: HttpRequest): boolean {
  const tokens = (request.headers.get('connection') ?? []).join(',').toLowerCase().split(',').map((t) => t.trim());
  if (tokens.includes('close')) return false;
  return request.minor >= 1 || tokens.includes('keep-alive');
}

/** Status line, headers and body as one buffer, so it goes out in one write (one packet for a
 * small response: no Nagle delay waiting for the client's ACK of a separate header packet). */
function serialize(res: HttpResponse, method: string | undefined, connection?: 'close' | 'keep-alive'): Buffer {
  const lines = [
    `HTTP/1.1 ${res.status} ${REASONS[res.status] ?? 'Unknown'}`,
    `Date: ${new Date().toUTCString()}`, // IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
    `Server: ${SERVER_NAME}`,
    `Content-Type: ${res.contentType}`,
    `Content-Length: ${res.body.length}`, // bytes, not characters: always measure the Buffer
    ...(res.extraHeaders ?? []).map(([n, v]) => `${n}: ${v}`),
  ];
  if (connection) lines.push(`Connection: ${connection}`);
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  // HEAD gets GET's headers (Content-Length included) but never the body.
  return method === 'HEAD' ? head : Buffer.concat([head, res.body]);
}

// ---------------------------------------------------------------------------------------------
// Connections

function handleConnection(socket: net.Socket): void {
  const reader = new RequestReader();
  let closing = false; // set once we have sent our last response

  // Without an 'error' listener, one client's reset would be an uncaught exception for all.
  socket.on('error', () => socket.destroy());
  socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy());

  function answer(request: HttpRequest): void {
    const response = route(request);
    const keep = keepAlive(request);
    // Say "close" whenever we close; say "keep-alive" only to HTTP/1.0, where it is not the default.
    const connection = !keep ? 'close' : request.minor === 0 ? 'keep-alive' : undefined;
    send(serialize(response, request.method, connection), !keep);
  }

  function refuse(err: unknown): void {
    // A malformed request: we cannot know where the next request would start, so close.
    const status = err instanceof HttpError ? err.status : 500;
    if (!(err instanceof HttpError)) console.error('bug while handling a request:', err);
    const message = err instanceof Error ? err.message : String(err);
    send(serialize(text(status, `${REASONS[status]}: ${message}\n`), undefined, 'close'), true);
  }

  function send(bytes: Buffer, close: boolean): void {
    socket.write(bytes);
    if (close) {
      closing = true;
      // end() sends FIN after the response; node keeps reading (and discarding) what the client
      // still sends, so unread bytes never turn our close into a reset that loses the response.
      socket.end();
    }
  }

  socket.on('data', (chunk: Buffer) => {
    if (closing) return;
    reader.push(chunk);
    try {
      // One chunk may hold several pipelined requests, or a fraction of one: answer every
      // complete request, in order, and leave the rest for the next chunk.
      let request: HttpRequest | null;
      while (!closing && (request = reader.next())) answer(request);
    } catch (err) {
      refuse(err);
    }
  });
}

const server = net.createServer(handleConnection);
server.listen({ port: PORT, host: HOST }, () => console.log(`listening on http://${HOST}:${PORT}/`));
