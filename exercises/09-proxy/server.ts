// Exercise 09-proxy: a proxy to a slow upstream, and a cache in front of it over memcached's protocol.
//
// Read exercises/09-proxy/README.md first: it explains what a proxy must forward and what it must
// not, the memcached commands, and what the grader tries. Node's own modules only (http, net). Node
// serves every request on its event loop already: what you write is what each one waits on.
//
// Run it:    npm run fixture -- upstream --port 9000 --delay 1000     (in a first terminal)
//            npm run fixture -- cache --port 9001                     (in a second one)
//            PORT=8080 UPSTREAM_URL=http://127.0.0.1:9000 CACHE_ADDR=127.0.0.1:9001 node --import tsx exercises/09-proxy/server.ts
// Poke it:   curl -v http://127.0.0.1:8080/proxy/hello
// Grade it:  npm run grade -- 09
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

// TODO 1. proxy(req, path): call UPSTREAM_URL + path (the target after /proxy, query included) with
//   http.request: the same method, the body (readBody) with its Content-Length, every header but the
//   hop-by-hop ones (HOP_BY_HOP and whatever Connection names), Host set to UPSTREAM.host, and a Via
//   header added. Give it `agent: false`, or a pool you are sure of: concurrent requests must not
//   share one connection. Resolve to the upstream's status, headers (minus hop-by-hop ones, plus
//   Via) and body. Refused or reset: text(502, ...). No answer within UPSTREAM_TIMEOUT_MS: destroy the
//   request and text(504, ...).
//
// TODO 2. cached(key): a memcached connection (net.connect to CACHE_HOST:CACHE_PORT) for this
//   request. Send `get <key>\r\n` and collect 'data' until the reply is whole: `VALUE <key> <flags>
//   <bytes>\r\n`, the data, `\r\nEND\r\n` (a hit), or `END\r\n` alone (a miss). Hit: 200 with the
//   value and X-Cache: HIT. Miss: GET UPSTREAM_URL/<key>; store a 200 with `set <key> 0 0 <bytes>`
//   and answer it with X-Cache: MISS; pass any other status on, not stored. A cache that fails or
//   has not answered within CACHE_TIMEOUT_MS counts as a miss.
//
// TODO 3. route(req): /proxy/... to proxy, GET /cache/<key> to cached, /hash to hashChain, anything
//   else text(404, 'not found\n'); then http.createServer((req, res) => ... writeAnswer(res, answer))
//   .listen(PORT, HOST).

void [HOP_BY_HOP, HOST, net, headerList, readBody, writeAnswer, text, hashChain, UPSTREAM, CACHE_HOST, CACHE_PORT, UPSTREAM_TIMEOUT_MS, CACHE_TIMEOUT_MS, VIA];
throw new Error(`09-proxy: server.ts is not implemented yet (PORT=${PORT}); follow the TODOs and exercises/09-proxy/README.md`);
