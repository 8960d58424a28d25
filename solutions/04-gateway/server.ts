// 04-gateway reference solution: an HTTP/1.1 server over raw sockets that runs a fetch handler.
//
// The app is the module named by APP (a file path); its default export has fetch(request), which
// returns a Response or a Promise of one. It is imported once, at start-up. Each request becomes
// a Request (an absolute URL from the Host header, every header, the body), the handler's answer
// is awaited, and the Response is written back: status and reason, each header line (Set-Cookie
// one line per cookie), and the body as the stream makes it: cut at its Content-Length if it has
// one, chunked if not. A handler that throws or rejects gets a 500, and the server goes on.
import net from 'node:net';
import { pathToFileURL } from 'node:url';

interface App {
  fetch(request: Request): Response | Promise<Response>;
}

const PORT = Number(process.env.PORT);
const MAX_HEAD = 64 * 1024;
const IDLE_MS = 10_000;

async function loadApp(): Promise<App> {
  const where = process.env.APP;
  if (!where) throw new Error('APP is not set: it names the file of the app to run');
  const mod = (await import(pathToFileURL(where).href)) as { default?: App };
  if (typeof mod.default?.fetch !== 'function') throw new Error(`${where}: its default export has no fetch(request)`);
  return mod.default;
}

// Set once, before the server listens (no top-level await: the file may be run as CommonJS).
let app: App;

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

function toRequest(head: Head, body: Buffer): Request {
  const headers = new Headers();
  // append, not set: repeated fields are combined with ", " in order, as the Fetch standard says.
  for (const [name, value] of head.headers) headers.append(name, value);
  const host = headers.get('host');
  // Without a Host there is no URL for the Request; HTTP/1.1 requires one (RFC 9112 section 3.2).
  if (!host) throw new BadRequest('no Host header');
  const url = new URL(head.target, `http://${host}`);
  const hasBody = head.method !== 'GET' && head.method !== 'HEAD';
  return new Request(url, { method: head.method, headers, ...(hasBody ? { body } : {}) });
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

const REASONS: Record<number, string> = { 200: 'OK', 400: 'Bad Request', 500: 'Internal Server Error', 501: 'Not Implemented' };

function simple(status: number, text: string): Buffer {
  const body = Buffer.from(text);
  return Buffer.concat([
    Buffer.from(`HTTP/1.1 ${status} ${REASONS[status]}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${body.length}\r\nDate: ${new Date().toUTCString()}\r\nConnection: close\r\n\r\n`),
    body,
  ]);
}

/** Resolves when the socket took the bytes; false if it is gone. */
function send(socket: net.Socket, bytes: Buffer | string): Promise<boolean> {
  if (socket.destroyed || socket.writableEnded) return Promise.resolve(false);
  return new Promise((resolve) => socket.write(bytes, (err) => resolve(!err)));
}

/** Writes the Response; true when the connection can carry the next request. */
async function writeResponse(socket: net.Socket, head: Head, response: Response, keepAlive: boolean): Promise<boolean> {
  const declared = response.headers.get('content-length');
  const limit = declared !== null && /^\d+$/.test(declared) ? Number(declared) : undefined;
  const bodyless = head.method === 'HEAD' || response.status === 204 || response.status === 304;
  const chunked = limit === undefined && !bodyless && head.version === 'HTTP/1.1';
  if (limit === undefined && !bodyless && !chunked) keepAlive = false; // HTTP/1.0: the close ends the body
  const lines = [`HTTP/1.1 ${response.status} ${response.statusText || REASONS[response.status] || 'Unknown'}`];
  // Iterating Headers gives each Set-Cookie on its own; every other name comes combined, once.
  for (const [name, value] of response.headers) lines.push(`${name}: ${value}`);
  if (!response.headers.has('date')) lines.push(`Date: ${new Date().toUTCString()}`);
  if (chunked) lines.push('Transfer-Encoding: chunked');
  if (!keepAlive) lines.push('Connection: close');
  let pending = `${lines.join('\r\n')}\r\n\r\n`;

  if (!response.body || bodyless) {
    await response.body?.cancel();
    return (await send(socket, pending)) && keepAlive;
  }
  const reader = response.body.getReader();
  // The client left: stop the stream, as WSGI would close() the iterable.
  const onClose = () => void reader.cancel('the client went away').catch(() => undefined);
  socket.once('close', onClose);
  let left = limit ?? Infinity;
  try {
    while (left > 0) {
      let part: Awaited<ReturnType<typeof reader.read>>;
      try {
        part = await reader.read();
      } catch {
        // The stream failed after the headers went out: only closing tells the client.
        socket.destroy();
        return false;
      }
      if (part.done) break;
      if (!part.value.length) continue; // an empty chunk is not the end of the body
      let bytes = Buffer.from(part.value);
      if (bytes.length > left) bytes = bytes.subarray(0, left);
      left -= bytes.length;
      const framed = chunked ? Buffer.concat([Buffer.from(`${bytes.length.toString(16)}\r\n`), bytes, Buffer.from('\r\n')]) : bytes;
      const ok = await send(socket, Buffer.concat([Buffer.from(pending, 'latin1'), framed]));
      pending = '';
      if (!ok) return false;
    }
    if (left === 0) await reader.cancel('the Content-Length is reached').catch(() => undefined);
    if (chunked) pending += '0\r\n\r\n';
    if (pending && !(await send(socket, pending))) return false;
    // A body shorter than its Content-Length: only closing tells the client it is cut.
    return keepAlive && (limit === undefined || left === 0);
  } finally {
    socket.off('close', onClose);
    reader.releaseLock();
  }
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
      request = toRequest(head, await reader.body(Number(length)));
    } catch (e) {
      if (e instanceof BadRequest || e instanceof TypeError) socket.end(simple(400, `${(e as Error).message}\n`));
      else socket.destroy();
      return;
    }
    const connection = (request.headers.get('connection') ?? '').toLowerCase();
    const keepAlive = head.version === 'HTTP/1.1' ? !connection.includes('close') : connection.includes('keep-alive');
    let response: Response;
    try {
      response = await app.fetch(request);
      if (!(response instanceof Response)) throw new TypeError('the handler did not give a Response');
    } catch (e) {
      console.error(e);
      socket.end(simple(500, 'Internal Server Error\n'));
      return;
    }
    if (!(await writeResponse(socket, head, response, keepAlive))) {
      socket.end();
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
