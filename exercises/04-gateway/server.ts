// 04-gateway: run a fetch handler you did not write (Request in, Response out).
//
// The HTTP plumbing already works: it listens on 127.0.0.1:PORT, reads each request head and its
// body (by Content-Length), keeps the connection alive, and answers bad requests. Your work is
// the gateway between that and the app: the parts marked TODO.
//
// Until you write them, every request is answered with "501 Not Implemented" and a body naming the
// first part that is still missing, so `npm run grade -- 04 --track ts` shows you where to start.
//
// The grader starts this file with APP set to the path of its probe app
// (grader/apps/gateway/probe-app.ts). Run it by hand:
//
//   APP=grader/apps/gateway/probe-app.ts PORT=8080 node --import tsx exercises/04-gateway/server.ts
//   curl -v 'http://127.0.0.1:8080/request/caf%C3%A9?q=%41'
//
// Only node's `net` module: no `http`. Request, Response and Headers are globals.
import net from 'node:net';
import { pathToFileURL } from 'node:url';

interface App {
  fetch(request: Request): Response | Promise<Response>;
}

const PORT = Number(process.env.PORT);
const MAX_HEAD = 64 * 1024;
const IDLE_MS = 10_000;

/** Thrown by the parts you have not written yet; the plumbing turns it into a 501. */
class NotWrittenYet extends Error {}

/**
 * The app in the file APP names: import it (await import(pathToFileURL(file).href)) and take its
 * default export, which has fetch(request). Once, here: the app keeps state in its module.
 */
async function loadApp(): Promise<App | undefined> {
  // TODO
  void pathToFileURL;
  return undefined;
}

// Set once, before the server listens (no top-level await: the file may be run as CommonJS).
let app: App | undefined;

// --- the request ---------------------------------------------------------------------------------

interface Head {
  method: string;
  target: string;
  version: string;
  headers: Array<[string, string]>;
}

class BadRequest extends Error {}

function parseHead(text: string): Head {
  const [requestLine = '', ...lines] = text.split('\r\n');
  const parts = requestLine.split(' ');
  if (parts.length !== 3 || !/^HTTP\/1\.\d$/.test(parts[2]!)) throw new BadRequest('bad request line');
  const headers: Array<[string, string]> = [];
  for (const line of lines) {
    const colon = line.indexOf(':');
    const name = line.slice(0, colon);
    if (colon <= 0 || name !== name.trim()) throw new BadRequest('bad header line');
    headers.push([name, line.slice(colon + 1).trim()]);
  }
  return { method: parts[0]!, target: parts[1]!, version: parts[2]!, headers };
}

/**
 * The Request for one request: the absolute URL (http://, the Host header, then the target as
 * sent), the method, every header (Headers.append: repeated ones are joined by ", "), and the
 * body, except on GET and HEAD, which may not have one.
 */
function toRequest(head: Head, body: Buffer): Request {
  // TODO
  void head;
  void body;
  throw new NotWrittenYet('toRequest');
}

// --- the connection: bytes in, one request at a time -------------------------------------------

/** Waits for bytes on a socket that is paused between reads. */
class Reader {
  private buffered = Buffer.alloc(0);
  private ended = false;
  private wake: (() => void) | undefined;

  constructor(socket: net.Socket) {
    socket.on('data', (d: Buffer) => {
      this.buffered = Buffer.concat([this.buffered, d]);
      this.wake?.();
    });
    socket.on('end', () => {
      this.ended = true;
      this.wake?.();
    });
    socket.on('close', () => {
      this.ended = true;
      this.wake?.();
    });
  }

  private more(): Promise<boolean> {
    if (this.ended) return Promise.resolve(false);
    return new Promise((resolve) => {
      this.wake = () => {
        this.wake = undefined;
        resolve(true);
      };
    });
  }

  /** The head up to the blank line, or undefined when the client closed between requests. */
  async head(): Promise<string | undefined> {
    for (;;) {
      // RFC 9112 2.2: empty lines before a request line are ignored.
      while (this.buffered.subarray(0, 2).toString('latin1') === '\r\n') this.buffered = this.buffered.subarray(2);
      const end = this.buffered.indexOf('\r\n\r\n');
      if (end >= 0) {
        const text = this.buffered.subarray(0, end).toString('latin1');
        this.buffered = this.buffered.subarray(end + 4);
        return text;
      }
      if (this.buffered.length > MAX_HEAD) throw new BadRequest('request head too large');
      if (!(await this.more())) {
        if (this.buffered.length) throw new BadRequest('the head ended early');
        return undefined;
      }
    }
  }

  async body(length: number): Promise<Buffer> {
    while (this.buffered.length < length) if (!(await this.more())) throw new BadRequest('the body ended early');
    const body = this.buffered.subarray(0, length);
    this.buffered = this.buffered.subarray(length);
    return body;
  }
}

// --- the response ----------------------------------------------------------------------------------

export const REASONS: Record<number, string> = { 200: 'OK', 400: 'Bad Request', 500: 'Internal Server Error', 501: 'Not Implemented' };

function simple(status: number, text: string): Buffer {
  const body = Buffer.from(text);
  return Buffer.concat([
    Buffer.from(`HTTP/1.1 ${status} ${REASONS[status]}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nDate: ${new Date().toUTCString()}\r\nConnection: close\r\n\r\n`),
    body,
  ]);
}

/** Resolves when the socket took the bytes; false if it is gone. */
export function send(socket: net.Socket, bytes: Buffer | string): Promise<boolean> {
  if (socket.destroyed || socket.writableEnded) return Promise.resolve(false);
  return new Promise((resolve) => socket.write(bytes, (err) => resolve(!err)));
}

/**
 * Writes the Response; true when the connection can carry the next request.
 *
 * The status line (status and statusText), every header line (iterating response.headers gives
 * each Set-Cookie on its own), then the body as its stream makes it: read response.body with a
 * reader, send each chunk when it comes, at most Content-Length bytes when the Response has one,
 * chunked framing when it has none. Cancel the stream when the client goes away.
 */
async function writeResponse(socket: net.Socket, head: Head, response: Response, keepAlive: boolean): Promise<boolean> {
  // TODO
  void socket;
  void head;
  void response;
  void keepAlive;
  throw new NotWrittenYet('writeResponse');
}

async function serve(socket: net.Socket): Promise<void> {
  socket.setNoDelay(true);
  socket.setTimeout(IDLE_MS, () => socket.destroy());
  socket.on('error', () => undefined); // a client that resets is not our failure
  const reader = new Reader(socket);
  for (;;) {
    let head: Head;
    let request: Request;
    try {
      const text = await reader.head();
      if (text === undefined) return void socket.end();
      head = parseHead(text);
      if (head.headers.some(([n]) => n.toLowerCase() === 'transfer-encoding')) {
        socket.end(simple(501, 'chunked request bodies are not supported\n'));
        return;
      }
      const lengths = new Set(head.headers.filter(([n]) => n.toLowerCase() === 'content-length').map(([, v]) => v));
      const length = lengths.size ? [...lengths][0]! : '0';
      if (lengths.size > 1 || !/^\d+$/.test(length)) throw new BadRequest('bad Content-Length');
      if (!app) throw new NotWrittenYet('loadApp');
      request = toRequest(head, await reader.body(Number(length)));
    } catch (e) {
      if (e instanceof NotWrittenYet) {
        socket.end(simple(501, `TODO: ${e.message} is not written yet\n`));
        return;
      }
      if (e instanceof BadRequest || e instanceof TypeError) socket.end(simple(400, `${(e as Error).message}\n`));
      else socket.destroy();
      return;
    }
    const connection = (request.headers.get('connection') ?? '').toLowerCase();
    const keepAlive = head.version === 'HTTP/1.1' ? !connection.includes('close') : connection.includes('keep-alive');
    let response: Response;
    try {
      response = await app!.fetch(request);
      if (!(response instanceof Response)) throw new TypeError('the handler did not give a Response');
    } catch (e) {
      console.error(e);
      socket.end(simple(500, 'Internal Server Error\n'));
      return;
    }
    try {
      if (!(await writeResponse(socket, head, response, keepAlive))) {
        socket.end();
        return;
      }
    } catch (e) {
      if (!(e instanceof NotWrittenYet)) throw e;
      socket.end(simple(501, `TODO: ${e.message} is not written yet\n`));
      return;
    }
  }
}

loadApp().then(
  (loaded) => {
    app = loaded;
    net
      .createServer((socket) => {
        serve(socket).catch((e: unknown) => {
          console.error(e);
          socket.destroy();
        });
      })
      .listen(PORT, '127.0.0.1');
  },
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
