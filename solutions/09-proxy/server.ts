// 09-proxy reference solution: Node's event loop; a connection of its own to the upstream and to the
// cache for every request, so that no reply can reach the wrong request.
import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';

// === Given: the HTTP part. Call these functions; you should not need to change them. ===========

const HOST = '127.0.0.1';
const PORT = Number(process.env.PORT ?? 8080);
const UPSTREAM = new URL(process.env.UPSTREAM_URL ?? 'http://127.0.0.1:9000');
const [CACHE_HOST, CACHE_PORT] = (process.env.CACHE_ADDR ?? '127.0.0.1:9001').split(':') as [string, string];
const UPSTREAM_TIMEOUT_MS = Number(process.env.UPSTREAM_TIMEOUT_MS ?? 1500);
const CACHE_TIMEOUT_MS = Number(process.env.CACHE_TIMEOUT_MS ?? 1000);
const VIA = '1.1 serverlab-proxy';

/** Header lines in order, names as sent, repeats kept. */
export type Headers = Array<[string, string]>;

export interface Answer {
  status: number;
  reason?: string;
  headers: Headers;
  body: Buffer;
}

/** The request's header lines, from Node's rawHeaders. */
export function headerList(req: http.IncomingMessage): Headers {
  const out: Headers = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) out.push([req.rawHeaders[i]!, req.rawHeaders[i + 1]!]);
  return out;
}

/** The whole request body. */
export async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/** Writes the answer with its Content-Length and Connection: close. */
export function writeAnswer(res: http.ServerResponse, { status, reason, headers, body }: Answer): void {
  const flat = headers.flatMap(([n, v]) => [n, v]);
  res.writeHead(status, reason ?? http.STATUS_CODES[status] ?? 'Unknown', [...flat, 'Content-Length', String(body.length), 'Connection', 'close']);
  res.end(body);
}

/** A plain-text answer of the server's own. */
export const text = (status: number, body: string, headers: Headers = []): Answer => ({ status, headers: [['Content-Type', 'text/plain; charset=utf-8'], ...headers], body: Buffer.from(body) });

/** CPU work: h0 = sha256(seed), then rounds times h = sha256(h); answers hex(h). */
export function hashChain(args: URLSearchParams): Answer {
  const rounds = args.get('rounds') ?? '';
  if (!/^\d+$/.test(rounds) || Number(rounds) < 1 || Number(rounds) > 10_000_000) return text(400, 'rounds must be a whole number from 1 to 10000000\n');
  let h = createHash('sha256').update(args.get('seed') ?? '').digest();
  for (let i = 0; i < Number(rounds); i++) h = createHash('sha256').update(h).digest();
  return text(200, `${h.toString('hex')}\n`);
}

// === Yours: the proxy and the cache client. =====================================================

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/** The headers minus the hop-by-hop ones, those that Connection names included (RFC 9110 §7.6.1). */
function endToEnd(headers: Headers): Headers {
  const named = new Set(headers.filter(([n]) => n.toLowerCase() === 'connection').flatMap(([, v]) => v.split(',').map((t) => t.trim().toLowerCase())));
  return headers.filter(([n]) => !HOP_BY_HOP.has(n.toLowerCase()) && !named.has(n.toLowerCase()));
}

/** Via: whatever earlier proxies put there, then this one. */
const via = (headers: Headers): [string, string] => ['Via', [...headers.filter(([n]) => n.toLowerCase() === 'via').map(([, v]) => v), VIA].join(', ')];

class UpstreamTimeout extends Error {}

/** One call to the upstream on a connection of its own. Rejects with UpstreamTimeout, or the network's error. */
function callUpstream(method: string, path: string, headers: Headers, body: Buffer | undefined): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const sent: Headers = [['Host', UPSTREAM.host], ...headers.filter(([n]) => !['host', 'content-length', 'via'].includes(n.toLowerCase())), via(headers)];
    if (body) sent.push(['Content-Length', String(body.length)]);
    // agent: false, a new connection each time: concurrent requests never share one.
    const req = http.request({ host: UPSTREAM.hostname, port: UPSTREAM.port, method, path, headers: sent.flat(), agent: false });
    const timer = setTimeout(() => req.destroy(new UpstreamTimeout()), UPSTREAM_TIMEOUT_MS);
    req.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', () => {});
      res.on('end', () => {
        clearTimeout(timer);
        const got: Headers = [];
        for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) got.push([res.rawHeaders[i]!, res.rawHeaders[i + 1]!]);
        resolve({ status: res.statusCode!, reason: res.statusMessage, headers: got, body: Buffer.concat(chunks) });
      });
    });
    req.end(body);
  });
}

/** 504 when the upstream took too long, 502 when it failed. */
const failure = (e: unknown): Answer =>
  e instanceof UpstreamTimeout ? text(504, 'gateway timeout: the upstream did not answer in time\n') : text(502, 'bad gateway: the upstream call failed\n');

async function proxy(req: http.IncomingMessage, path: string): Promise<Answer> {
  const headers = headerList(req);
  const body = await readBody(req);
  const hasBody = headers.some(([n]) => n.toLowerCase() === 'content-length');
  try {
    const up = await callUpstream(req.method!, path, endToEnd(headers), hasBody ? body : undefined);
    return { ...up, headers: [...endToEnd(up.headers).filter(([n]) => !['content-length', 'via'].includes(n.toLowerCase())), via(up.headers)] };
  } catch (e) {
    return failure(e);
  }
}

/**
 * A memcached connection for one request: each command's reply is read whole from the bytes as they
 * come (one 'data' event may hold part of a reply, or more). Any failure or silence makes it unusable.
 */
class CacheClient {
  private buf = Buffer.alloc(0);
  private wake: (() => void) | undefined;
  private broken = false;
  private readonly socket: net.Socket;

  constructor() {
    this.socket = net.connect(Number(CACHE_PORT), CACHE_HOST);
    this.socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake?.();
    });
    const fail = () => {
      this.broken = true;
      this.wake?.();
    };
    this.socket.on('error', fail);
    this.socket.on('close', fail);
  }

  /** The value of key, or undefined on a miss or any trouble. */
  async get(key: string): Promise<Buffer | undefined> {
    const reply = await this.ask(Buffer.from(`get ${key}\r\n`), (b) => {
      if (b.subarray(0, 5).toString() === 'END\r\n') return 5;
      const eol = b.indexOf('\r\n');
      const m = eol > 0 ? /^VALUE \S+ \d+ (\d+)$/.exec(b.toString('latin1', 0, eol)) : null;
      if (!m) return b.length >= 5 && !b.toString('latin1').startsWith('VALUE ') ? -1 : 0;
      const end = eol + 2 + Number(m[1]) + 2 + 5;
      return b.length >= end ? end : 0;
    });
    if (!reply || reply.subarray(0, 3).toString() === 'END') return undefined;
    const eol = reply.indexOf('\r\n');
    return reply.subarray(eol + 2, reply.length - 7);
  }

  async set(key: string, value: Buffer): Promise<void> {
    await this.ask(Buffer.concat([Buffer.from(`set ${key} 0 0 ${value.length}\r\n`), value, Buffer.from('\r\n')]), (b) => {
      const eol = b.indexOf('\r\n');
      return eol < 0 ? 0 : eol + 2;
    });
  }

  close(): void {
    this.socket.destroy();
  }

  /** Sends a command, and resolves to its reply once `complete` finds it whole (its length; 0: not yet; -1: nonsense). */
  private ask(command: Buffer, complete: (b: Buffer) => number): Promise<Buffer | undefined> {
    if (this.broken) return Promise.resolve(undefined);
    this.socket.write(command);
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(undefined), CACHE_TIMEOUT_MS);
      const finish = (reply: Buffer | undefined) => {
        clearTimeout(timer);
        this.wake = undefined;
        if (!reply) {
          this.broken = true;
          this.socket.destroy();
        }
        resolve(reply);
      };
      this.wake = () => {
        const n = complete(this.buf);
        if (n > 0) {
          const reply = this.buf.subarray(0, n);
          this.buf = this.buf.subarray(n);
          finish(reply);
        } else if (n < 0 || this.broken) finish(undefined);
      };
      this.wake();
    });
  }
}

/** memcached keys: 1 to 250 bytes, no spaces or control characters. */
const usableKey = (key: string) => Buffer.byteLength(key) > 0 && Buffer.byteLength(key) <= 250 && !/[\x00-\x20\x7f]/.test(key);

async function cached(key: string): Promise<Answer> {
  const cache = usableKey(key) ? new CacheClient() : undefined;
  try {
    const value = await cache?.get(key);
    if (value) return { status: 200, headers: [['Content-Type', 'application/octet-stream'], ['X-Cache', 'HIT']], body: value };
    let up: Answer;
    try {
      up = await callUpstream('GET', `/${key}`, [], undefined);
    } catch (e) {
      return failure(e);
    }
    // Only a 200 is worth keeping: an error may be gone by the next request.
    if (up.status === 200) await cache?.set(key, up.body);
    return { status: up.status, reason: up.reason, headers: [['Content-Type', 'application/octet-stream'], ['X-Cache', 'MISS']], body: up.body };
  } finally {
    cache?.close();
  }
}

async function route(req: http.IncomingMessage): Promise<Answer> {
  const target = req.url ?? '/';
  const path = target.split('?')[0]!;
  if (path.startsWith('/proxy/')) return proxy(req, target.slice('/proxy'.length));
  if (path.startsWith('/cache/') && req.method === 'GET') return cached(target.slice('/cache/'.length));
  if (path === '/hash') return hashChain(new URL(target, 'http://server').searchParams);
  return text(404, 'not found\n');
}

http
  .createServer((req, res) => {
    res.on('error', () => {});
    route(req).then((answer) => writeAnswer(res, answer), () => writeAnswer(res, text(502, 'bad gateway\n')));
  })
  .listen(PORT, HOST);
