// 02-http: an HTTP/1.1 server written by hand on top of node:net.
//
// Read README.md in this folder first: it explains the protocol and lists what the grader tries.
// Rules: use node:net only. The node:http module would do the whole exercise for you, so it is off
// limits here.
//
// Run it:    PORT=8080 node --import tsx exercises/02-http/server.ts
// Grade it:  npm run grade -- 02
//
// The skeleton below already listens, accepts connections and collects their bytes. The helper
// functions are a suggested way to split the work; change their shapes if you prefer. They are
// exported only so that TypeScript does not flag them as unused while they are still TODOs.
import net from 'node:net';

const PORT = Number(process.env.PORT);
const HOST = '127.0.0.1';
const IDLE_TIMEOUT_MS = 10_000; // forget keep-alive connections that stay silent this long

/** Any non-empty product name will do. */
export const SERVER_NAME = 'serverlab-student/1.0';

/** The methods this server knows. A method outside this list gets 501 Not Implemented. */
export const KNOWN_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE', 'CONNECT'];

/** Reason phrases for the status codes this exercise uses. */
export const REASONS: Record<number, string> = {
  200: 'OK',
  400: 'Bad Request',
  404: 'Not Found',
  405: 'Method Not Allowed',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  505: 'HTTP Version Not Supported',
};

/** A request, once it has fully arrived. */
export interface HttpRequest {
  method: string; // "GET"
  target: string; // "/echo"
  version: string; // "HTTP/1.1"
  headers: Map<string, string[]>; // lower-case name -> every value sent for it, in order
  body: Buffer; // exactly Content-Length bytes (empty without Content-Length)
}

/** What the server decided to answer; formatResponse turns it into bytes. */
export interface HttpResponse {
  status: number;
  contentType: string;
  body: Buffer;
  extraHeaders?: Array<[string, string]>; // for example [['Allow', 'GET, HEAD']]
}

/** Throw this for a request you refuse (400 or 505); the connection is then answered and closed. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Looks at the bytes received so far on a connection. If they begin with a complete request (the
 * whole head and the whole body), returns it and how many bytes it used; if not all of it has
 * arrived yet, returns null. Throws HttpError for a malformed request.
 *
 * TODO:
 * - Find the blank line (CRLF CRLF) that ends the head. Not there yet? Return null.
 * - Split the head into lines on CRLF: the first is the request line (parseRequestLine), the
 *   others are header lines (parseHeaderLine).
 * - An HTTP/1.1 request needs exactly one Host header.
 * - Work out how many body bytes follow the head (bodyLength). Not all here yet? Return null.
 * - Return the request and the number of bytes it took (head + blank line + body).
 */
export function takeRequest(received: Buffer): { request: HttpRequest; used: number } | null {
  throw new Error('TODO: takeRequest');
}

/**
 * Parses `METHOD SP target SP HTTP/x.y` into its three parts.
 *
 * TODO:
 * - Exactly three parts separated by single spaces, or HttpError(400).
 * - The method must be a token (letters, digits and a few symbols such as - and _).
 * - The version must look like HTTP/<digit>.<digit>, or 400; a major version other than 1 is
 *   well-formed but unsupported: 505.
 */
export function parseRequestLine(line: string): { method: string; target: string; version: string } {
  throw new Error('TODO: parseRequestLine');
}

/**
 * Parses `Name: value` into a lower-case name and a value without surrounding spaces or tabs.
 *
 * TODO: HttpError(400) for a line without a colon, for whitespace between the name and the colon,
 * and for a line that starts with a space or a tab (an obsolete "folded" continuation line).
 */
export function parseHeaderLine(line: string): [string, string] {
  throw new Error('TODO: parseHeaderLine');
}

/**
 * How many body bytes follow the head: the Content-Length, or 0 without one.
 *
 * TODO: HttpError(400) if a value is not made of digits only, or if two Content-Length headers
 * disagree. Why so strict? Read "Framing" in the README.
 */
export function bodyLength(headers: Map<string, string[]>): number {
  throw new Error('TODO: bodyLength');
}

/**
 * Decides the answer to a well-formed request.
 *
 * TODO:
 * - GET / (and HEAD /): 200, an HTML page, Content-Type text/html; charset=utf-8.
 * - POST /echo: 200, Content-Type application/octet-stream, the request body as it came.
 * - A method not in KNOWN_METHODS: 501.
 * - Another path: 404, with a short text/plain body.
 * - A known method a path does not take: 405, with an Allow header listing what it does take.
 */
export function route(request: HttpRequest): HttpResponse {
  throw new Error('TODO: route');
}

/**
 * Whether the connection stays open after answering this request.
 *
 * TODO: HTTP/1.1 stays open unless the request says `Connection: close`; HTTP/1.0 closes unless it
 * says `Connection: keep-alive` (honouring that is optional).
 */
export function keepAlive(request: HttpRequest): boolean {
  throw new Error('TODO: keepAlive');
}

/**
 * Turns a response into the bytes that go on the wire: status line, headers, blank line, body.
 *
 * TODO:
 * - Status line `HTTP/1.1 <code> <reason>`, every line ending in CRLF.
 * - Headers Date (now, as an IMF-fixdate), Server, Content-Type and Content-Length (a count of
 *   bytes, not of characters), plus extraHeaders, plus `Connection: close` when you will close.
 * - For HEAD: the same headers as GET would get, and no body.
 * - Return one Buffer with everything, so that it can go out in a single socket.write().
 */
export function formatResponse(response: HttpResponse, method: string, close: boolean): Buffer {
  throw new Error('TODO: formatResponse');
}

/** Called once for every client that connects. */
function handleConnection(socket: net.Socket): void {
  // A client that resets the connection makes its socket emit 'error'. An 'error' nobody listens
  // to is thrown, and would take the whole server down: every socket needs this listener.
  socket.on('error', () => socket.destroy());
  socket.setTimeout(IDLE_TIMEOUT_MS, () => socket.destroy());

  let received = Buffer.alloc(0); // bytes read from this client but not used by a request yet
  socket.on('data', (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);

    // TODO: answer every complete request at the front of `received`, in order.
    // - One 'data' event can carry a fraction of a request, or several pipelined requests.
    // - takeRequest(received) gives the next request or null; keep the bytes it did not use.
    // - route(), then formatResponse(), then one socket.write() per response.
    // - When keepAlive() says no: socket.end() (it sends the response first, then closes) and
    //   ignore anything else this client sends.
    // - When takeRequest throws an HttpError: answer with its status and `Connection: close`,
    //   then socket.end(). After a malformed request you cannot know where the next one starts.
    //
    // Until then, this server hangs up on everyone:
    socket.end();
  });
}

const server = net.createServer(handleConnection);
server.listen({ port: PORT, host: HOST }, () => console.log(`listening on http://${HOST}:${PORT}/`));
