import { defineCheck, defineExercise, fail, fromParts, pass, probeCase, type CheckContext, type Part, type Verdict } from './define.ts';
import { isProbeError, type ProbeError } from '../probes/errors.ts';
import type { Exchange } from '../report/model.ts';
import { header, type ParsedResponse } from '../probes/raw/parse-response.ts';
import { get, request } from '../probes/raw/request.ts';
import { httpCall, type HttpCall } from '../probes/http/client.ts';

// 02-http: a real HTTP/1.1 server over raw sockets. Routes: GET/HEAD / (an HTML page), POST /echo
// (the body back); 404 elsewhere, 405 with Allow for a known method a route does not take, 501 for
// an unknown method, 400 (and close) for malformed requests.

const post = (path: string, port: number, body: Buffer, extra: Record<string, string> = {}): Buffer =>
  Buffer.concat([
    Buffer.from(get(path, port, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(body.length), ...extra }, 'POST'), 'latin1'),
    body,
  ]);

/** Sends one request on a fresh connection and reads one response. */
const send = (ctx: CheckContext, bytes: string | Buffer, opts: { method?: string; label?: string } = {}) =>
  request(() => ctx.connect(opts.label ? { label: opts.label } : {}), bytes, { method: opts.method });

/** After a malformed request the server must still answer a plain GET on a new connection. */
function stillAlive(ctx: CheckContext, after: string): Promise<Part> {
  return probeCase(`still serving after ${after}`, async () => {
    const { conn, res } = await send(ctx, get('/', ctx.port), { label: `GET / after ${after}` });
    return { ok: res.status === 200, message: `GET / got ${res.status}`, exchange: conn.transcript() };
  });
}

/** A request that must be answered with one of `statuses`. */
async function expectStatus(ctx: CheckContext, name: string, bytes: string | Buffer, statuses: number[], method?: string) {
  const want = statuses.join(' or ');
  let res: ParsedResponse | undefined;
  const part = await probeCase(
    name,
    async () => {
      const sent = await send(ctx, bytes, { method, label: name });
      res = sent.res;
      return { ok: statuses.includes(res.status), message: `got ${res.status}, expected ${want}`, exchange: sent.conn.transcript({ expected: `status ${want}` }) };
    },
    `status ${want}`,
  );
  return { ...part, res };
}

const IMF_FIXDATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

const getRoot = defineCheck({
  id: 'get-root',
  title: 'GET / is answered with 200 and an HTML page',
  points: 3,
  async run(ctx) {
    const { conn, res } = await send(ctx, get('/', ctx.port));
    const type = header(res, 'content-type') ?? '';
    return fromParts([
      { name: 'status 200', ok: res.status === 200, message: `status was ${res.status}`, exchange: conn.transcript({ expected: 'HTTP/1.1 200 OK' }) },
      { name: 'Content-Type text/html', ok: /^text\/html\b/i.test(type), message: `Content-Type was "${type}"`, exchange: conn.transcript({ expected: 'Content-Type: text/html; charset=utf-8' }) },
      { name: 'a non-empty body', ok: res.body.length > 0, message: 'the body was empty', exchange: conn.transcript() },
    ]);
  },
});

const requiredHeaders = defineCheck({
  id: 'required-headers',
  title: 'Responses carry Date, Server and Content-Type',
  points: 3,
  async run(ctx) {
    const { conn, res } = await send(ctx, get(`/${ctx.rng.word()}`, ctx.port));
    const date = header(res, 'date');
    const skewS = date && IMF_FIXDATE.test(date) ? Math.abs(Date.parse(date) - Date.now()) / 1000 : undefined;
    const server = header(res, 'server');
    const type = header(res, 'content-type');
    const t = conn.transcript();
    return fromParts([
      {
        name: 'Date',
        ok: skewS !== undefined && skewS < 60,
        message: date === undefined ? 'no Date header' : skewS === undefined ? `Date "${date}" is not an IMF-fixdate like "Sun, 06 Nov 1994 08:49:37 GMT"` : `Date is ${Math.round(skewS)} s away from now`,
        exchange: { ...t, expected: 'Date: <now as an IMF-fixdate, e.g. Sun, 06 Nov 1994 08:49:37 GMT>' },
      },
      { name: 'Server', ok: !!server, message: 'no Server header (or an empty one)', exchange: { ...t, expected: 'Server: <your server name>' } },
      { name: 'Content-Type', ok: !!type, message: 'no Content-Type header on a response with a body (here a 404)', exchange: { ...t, expected: 'Content-Type: text/plain' } },
    ]);
  },
});

const contentLength = defineCheck({
  id: 'content-length',
  title: 'Content-Length is sent and counts the body bytes exactly',
  points: 2,
  async run(ctx) {
    // Ask for close, so the body can be measured up to EOF whatever Content-Length claims.
    const conn = await ctx.connect();
    await conn.send(get('/', ctx.port, { Connection: 'close' }));
    await conn.waitForEof();
    const all = conn.received;
    const headEnd = all.indexOf('\r\n\r\n');
    const head = all.subarray(0, headEnd < 0 ? all.length : headEnd).toString('latin1');
    const declared = /\r\ncontent-length:[ \t]*(\d+)[ \t]*(\r|$)/i.exec(head)?.[1];
    const actual = headEnd < 0 ? 0 : all.length - headEnd - 4;
    if (headEnd < 0) {
      return fail('no complete response head came back (no blank line before EOF)', { exchanges: [conn.transcript({ expected: 'a response with a Content-Length header' })] });
    }
    const t = conn.transcript({ expected: `Content-Length: ${actual}, the number of bytes after the blank line` });
    if (declared === undefined) return fail('the response has no Content-Length header', { code: 'missing-content-length', exchanges: [t] });
    if (Number(declared) !== actual) return fail(`Content-Length says ${declared} but ${actual} body bytes came before EOF`, { code: 'wrong-content-length', exchanges: [t] });
    return pass(`Content-Length ${declared} matches the body`);
  },
});

const notFound = defineCheck({
  id: 'not-found',
  title: 'An unknown path gets 404',
  points: 1,
  async run(ctx) {
    const path = `/${ctx.rng.word()}/${ctx.rng.word(5)}`;
    return fromParts([await expectStatus(ctx, `GET ${path}`, get(path, ctx.port), [404])]);
  },
});

const methodNotAllowed = defineCheck({
  id: 'method-not-allowed',
  title: 'A method a route does not take gets 405 with Allow',
  points: 2,
  async run(ctx) {
    const parts: Part[] = [];
    const cases = [['DELETE', '/', 'GET'], ['PUT', '/', 'GET'], ['PATCH', '/', 'GET'], ['GET', '/echo', 'POST']] as const;
    for (const [method, path, allow] of cases) {
      const p = await expectStatus(ctx, `${method} ${path}`, get(path, ctx.port, method === 'GET' ? {} : { 'Content-Length': '0' }, method), [405]);
      parts.push(p);
      if (!p.ok || !p.res) continue;
      const value = header(p.res, 'allow');
      const allows = (value ?? '').split(',').map((s) => s.trim().toUpperCase());
      parts.push({
        name: `Allow header on ${method} ${path}`,
        ok: allows.includes(allow),
        message: value === undefined ? 'no Allow header' : `Allow was "${value}"`,
        exchange: { ...p.exchange!, expected: `an Allow header listing ${allow}` },
      });
    }
    return fromParts(parts);
  },
});

const notImplemented = defineCheck({
  id: 'not-implemented',
  title: 'An unknown method gets 501',
  points: 1,
  async run(ctx) {
    const method = ctx.rng.word(6).toUpperCase().replace(/[0-9]/g, 'Q');
    return fromParts([await expectStatus(ctx, `${method} /`, get('/', ctx.port, {}, method), [501])]);
  },
});

const head = defineCheck({
  id: 'head',
  title: "HEAD / gets GET's headers and no body",
  points: 2,
  async run(ctx) {
    const g = await send(ctx, get('/', ctx.port));
    // A GET pipelined after the HEAD exposes a leaked body: it would be read as the next response.
    const conn = await ctx.connect();
    await conn.send(get('/', ctx.port, {}, 'HEAD') + get('/', ctx.port));
    const h = await conn.readResponse({ method: 'HEAD' });
    const t = () => conn.transcript({ expected: `HEAD's headers as GET's (Content-Length: ${header(g.res, 'content-length')}), no body, then the GET's response` });
    let after;
    try {
      after = await conn.readResponse();
    } catch (e) {
      if (!isProbeError(e)) throw e;
      // Closing after HEAD is keep-alive's business; what matters here is that no body came first.
      const closedClean = (e.code === 'eof-before-response' || e.code === 'connection-reset') && conn.unconsumed.length === 0;
      if (closedClean) after = undefined;
      else return headFailure(e, t);
    }
    return fromParts([
      { name: 'status as GET', ok: h.status === g.res.status, message: `HEAD got ${h.status}, GET got ${g.res.status}`, exchange: t() },
      {
        name: 'Content-Length as GET',
        ok: header(h, 'content-length') === header(g.res, 'content-length'),
        message: `HEAD said Content-Length ${header(h, 'content-length')}, GET ${header(g.res, 'content-length')}`,
        exchange: t(),
      },
      { name: 'Content-Type as GET', ok: header(h, 'content-type') === header(g.res, 'content-type'), message: `HEAD said Content-Type ${header(h, 'content-type')}`, exchange: t() },
      { name: 'no body (the next response intact)', ok: !after || after.status === 200, message: `the GET after HEAD got ${after?.status}`, exchange: t() },
    ], 'head-with-body');
  },
});

/** A GET after HEAD that did not parse: a leaked body (bytes that are not a status line), or no answer. */
function headFailure(e: ProbeError, t: () => Exchange): Verdict {
  const leaked = e.exchange?.violation !== undefined;
  return fail(leaked ? 'the HEAD response carried a body: the bytes after its head were not the next response' : `no response to a GET sent after HEAD: ${e.message}`, {
    code: leaked ? 'head-with-body' : e.code,
    exchanges: [e.exchange ?? t()],
  });
}

const postEcho = defineCheck({
  id: 'post-echo',
  title: 'POST /echo answers with the request body',
  points: 2,
  async run(ctx) {
    // Always more than one small read (4 KiB) can take, so the verdict does not hang on the draw.
    const body = ctx.rng.bytes(ctx.rng.int(5000, 9000));
    const { conn, res } = await send(ctx, post('/echo', ctx.port, body));
    const type = header(res, 'content-type') ?? '';
    return fromParts([
      {
        name: 'the body echoed exactly',
        ok: res.status === 200 && res.body.equals(body),
        weight: 3,
        message: res.status !== 200 ? `status was ${res.status}` : `the body came back different (${res.body.length} bytes for ${body.length} sent${firstDiff(res.body, body)})`,
        exchange: conn.transcript({ expected: `200 with the ${body.length} bytes that were posted` }),
      },
      {
        name: 'Content-Type application/octet-stream',
        ok: /^application\/octet-stream\b/i.test(type),
        message: `Content-Type was "${type}"`,
        exchange: conn.transcript({ expected: 'Content-Type: application/octet-stream (the echo is raw bytes, not text)' }),
      },
    ], 'body-mismatch');
  },
});

const largeSplitBody = defineCheck({
  id: 'large-split-body',
  title: 'POST /echo with a 1 MiB body sent in 1 KiB writes',
  points: 2,
  timeoutMs: 60_000,
  async run(ctx) {
    const body = ctx.rng.bytes(1024 * 1024);
    const conn = await ctx.connect({ idleTimeoutMs: Math.max(ctx.ioTimeoutMs, 10_000) });
    await conn.send(post('/echo', ctx.port, body), { chunkSize: 1024 });
    const res = await conn.readResponse();
    if (res.status === 200 && res.body.equals(body)) return pass('1 MiB echoed exactly', { values: { bytes: body.length } });
    return fail(res.status !== 200 ? `status was ${res.status}` : `the echo differs: ${res.body.length} bytes back for ${body.length} sent${firstDiff(res.body, body)}`, {
      code: 'body-mismatch',
      exchanges: [conn.transcript({ expected: `200 with the same ${body.length} bytes` })],
    });
  },
});

const splitRequest = defineCheck({
  id: 'split-request',
  title: 'A request sent a few bytes at a time is read whole',
  points: 1,
  async run(ctx) {
    const body = Buffer.from(ctx.rng.word(24), 'latin1');
    const conn = await ctx.connect();
    await conn.send(post('/echo', ctx.port, body), { chunkSize: 3, pauseMs: 2, afterFirstPieceMs: 300 });
    const res = await conn.readResponse();
    if (res.status === 200 && res.body.equals(body)) return pass('a request in 3-byte writes was answered correctly');
    return fail('a request sent in 3-byte writes was answered wrongly', { code: 'partial-read', exchanges: [conn.transcript({ expected: `200 with body "${body}"` })] });
  },
});

const keepAlive = defineCheck({
  id: 'keep-alive',
  title: 'Several requests on one connection',
  points: 2,
  async run(ctx) {
    const conn = await ctx.connect();
    const body = Buffer.from(ctx.rng.word(16), 'latin1');
    const steps: Array<[string, string | Buffer, number, Buffer?]> = [
      ['GET /', get('/', ctx.port), 200],
      ['POST /echo', post('/echo', ctx.port, body), 200, body],
      ['GET of a missing path', get(`/${ctx.rng.word()}`, ctx.port), 404],
    ];
    for (const [i, [name, bytes, status, echo]] of steps.entries()) {
      await conn.send(bytes);
      let res;
      try {
        res = await conn.readResponse();
      } catch (e) {
        if (!isProbeError(e)) throw e;
        const why = i > 0 && (e.code === 'eof-before-response' || e.code === 'connection-reset') ? 'the server closed the connection after the previous response' : e.message;
        return fail(`request ${i + 1} (${name}) on the same connection: ${why}`, { code: 'not-kept-alive', exchanges: [e.exchange ?? conn.transcript()] });
      }
      if (res.status !== status || (echo && !res.body.equals(echo))) {
        return fail(`request ${i + 1} (${name}) on the same connection got a wrong answer`, { exchanges: [conn.transcript({ expected: `status ${status}` })] });
      }
    }
    return pass(`${steps.length} requests answered on one connection`);
  },
});

/** A request after which the server must answer 200 and then close the connection. */
async function answeredThenClosed(ctx: CheckContext, bytes: string, why: string) {
  const { conn, res } = await send(ctx, bytes);
  if (res.status !== 200) return fail(`status was ${res.status}`, { exchanges: [conn.transcript({ expected: 'status 200' })] });
  if (await conn.waitForEof()) return pass('answered, then closed');
  return fail(`the connection was still open ${ctx.ioTimeoutMs} ms after the response: ${why}`, {
    code: 'not-closed',
    exchanges: [conn.transcript({ expected: 'the response, then the server closes the connection' })],
  });
}

const connectionClose = defineCheck({
  id: 'connection-close',
  title: 'Connection: close gets the response, then EOF',
  points: 1,
  run: (ctx) => answeredThenClosed(ctx, get('/', ctx.port, { Connection: 'close' }), 'the request said Connection: close'),
});

const http10 = defineCheck({
  id: 'http10',
  title: 'An HTTP/1.0 request is answered, then closed',
  points: 1,
  // HTTP/1.0 needs no Host header, and closes after the response unless asked to keep alive.
  run: (ctx) => answeredThenClosed(ctx, 'GET / HTTP/1.0\r\nUser-Agent: serverlab-grader\r\n\r\n', 'HTTP/1.0 closes after the response by default'),
});

const pipelining = defineCheck({
  id: 'pipelining',
  title: 'Pipelined requests are answered in order',
  points: 2,
  async run(ctx) {
    const bodies = [0, 1, 2].map(() => Buffer.from(ctx.rng.word(ctx.rng.int(5, 40)), 'latin1'));
    const conn = await ctx.connect();
    await conn.send(Buffer.concat(bodies.map((b) => post('/echo', ctx.port, b))));
    for (const [i, body] of bodies.entries()) {
      let res;
      try {
        res = await conn.readResponse();
      } catch (e) {
        if (!isProbeError(e)) throw e;
        return fail(`response ${i + 1} of 3 to requests sent in one write: ${e.message}`, { code: 'pipelining', exchanges: [e.exchange ?? conn.transcript()] });
      }
      if (!res.body.equals(body)) {
        return fail(`response ${i + 1} of 3 did not echo request ${i + 1}'s body`, { exchanges: [conn.transcript({ expected: `bodies in order: ${bodies.join(', ')}` })] });
      }
    }
    return pass('3 requests in one write were answered in order');
  },
});

const realClient = defineCheck({
  id: 'real-client',
  title: 'A standard HTTP client (undici, as in fetch) is answered',
  points: 2,
  async run(ctx) {
    const body = Buffer.from(ctx.rng.word(20), 'latin1');
    const missing = `/${ctx.rng.word()}`;
    const cases: Array<[HttpCall, number, Buffer?]> = [
      [{ method: 'GET', path: '/' }, 200],
      [{ method: 'POST', path: '/echo', body, headers: { 'content-type': 'application/octet-stream' } }, 200, body],
      [{ method: 'HEAD', path: '/' }, 200],
      [{ method: 'GET', path: missing }, 404],
    ];
    const parts: Part[] = [];
    for (const [call, status, echo] of cases) {
      const a = await httpCall(ctx.port, call, { timeoutMs: ctx.ioTimeoutMs, signal: ctx.signal });
      const ok = a.error === undefined && a.status === status && (!echo || a.body!.equals(echo));
      const got = a.error ?? `status ${a.status}${echo && !a.body!.equals(echo) ? `, body ${JSON.stringify(a.body!.toString('latin1').slice(0, 60))}` : ''}`;
      parts.push({ name: `${call.method} ${call.path}`, ok, message: `got ${got}, expected status ${status}${echo ? ` and the body "${echo}"` : ''}`, exchange: a.exchange });
    }
    const verdict = fromParts(parts, 'real-client');
    if (verdict.status === 'pass') return verdict;
    // Without a raw transcript, say what this client does differently from the other probes.
    verdict.evidence.message += '. undici writes header names in lower case (host:, content-length:), as many clients do; header names are case-insensitive.';
    return verdict;
  },
});

/** Malformed requests, each on its own connection, answered with `statuses`; then a plain GET must still work. */
async function refused(ctx: CheckContext, cases: Array<[name: string, bytes: string]>, statuses: number[], after: string) {
  const parts: Part[] = [];
  for (const [name, bytes] of cases) parts.push(await expectStatus(ctx, name, bytes, statuses));
  parts.push(await stillAlive(ctx, after));
  return fromParts(parts);
}

const badRequestLine = defineCheck({
  id: 'bad-request-line',
  title: 'A malformed request line gets 400',
  points: 2,
  run(ctx) {
    const host = `Host: 127.0.0.1:${ctx.port}\r\n\r\n`;
    const w = ctx.rng.word(5);
    const cases: Array<[string, string]> = [
      ['a request line without a version', `GET /${w}\r\n${host}`],
      ['two spaces between method and path', `GET  /${w} HTTP/1.1\r\n${host}`],
      ['a version that is not HTTP/x.y', `GET /${w} HTTP/one\r\n${host}`],
    ];
    return refused(ctx, cases, [400], 'the malformed requests');
  },
});

const missingHost = defineCheck({
  id: 'missing-host',
  title: 'An HTTP/1.1 request without exactly one Host gets 400',
  points: 1,
  run(ctx) {
    const path = `/${ctx.rng.word(4)}`;
    const cases: Array<[string, string]> = [
      ['HTTP/1.1 without Host', `GET ${path} HTTP/1.1\r\nUser-Agent: serverlab-grader\r\n\r\n`],
      ['two Host headers', `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${ctx.port}\r\nHost: ${ctx.rng.word()}.test\r\n\r\n`],
    ];
    return refused(ctx, cases, [400], 'requests with a missing or doubled Host');
  },
});

const badContentLength = defineCheck({
  id: 'bad-content-length',
  title: 'An invalid Content-Length gets 400',
  points: 2,
  run(ctx) {
    const cases = (['abc', '+5', '-1', '1.5', ['3', '4']] as const).map((value): [string, string] => {
      const lines = (Array.isArray(value) ? value : [value]).map((v) => `Content-Length: ${v}\r\n`).join('');
      const name = Array.isArray(value) ? 'two different Content-Length headers' : `Content-Length: ${value}`;
      return [name, `POST /echo HTTP/1.1\r\nHost: 127.0.0.1:${ctx.port}\r\n${lines}\r\nabcde`];
    });
    return refused(ctx, cases, [400], 'the bad Content-Lengths');
  },
});

const survivesBadClients = defineCheck({
  id: 'survives-bad-clients',
  title: 'Clients that vanish or send garbage do not take the server down',
  points: 2,
  async run(ctx) {
    const reset = await ctx.connect({ label: 'reset mid-request' });
    await reset.send(`POST /echo HTTP/1.1\r\nHost: 127.0.0.1:${ctx.port}\r\nContent-Length: 100\r\n\r\nabc`);
    reset.reset();
    const half = await ctx.connect({ label: 'half a request, then close' });
    await half.send(`GET /${ctx.rng.word()} HT`);
    half.close();
    const garbage = await ctx.connect({ label: 'random bytes, then close' });
    await garbage.send(Buffer.concat([ctx.rng.bytes(300), Buffer.from('\r\n\r\n')]));
    await garbage.waitForBytes(200);
    garbage.close();
    const alive = await stillAlive(ctx, 'clients that reset, hung up mid-request or sent garbage');
    return fromParts([alive]);
  },
});

const headerSyntax = defineCheck({
  id: 'header-syntax',
  title: 'Malformed header lines get 400 (advanced)',
  points: 1,
  run(ctx) {
    const start = `GET /${ctx.rng.word(4)} HTTP/1.1\r\nHost: 127.0.0.1:${ctx.port}\r\n`;
    const cases: Array<[string, string]> = [
      ['a space before the colon', `${start}X-Probe : 1\r\n\r\n`],
      ['a folded header line (obs-fold)', `${start}X-Probe: a\r\n  b\r\n\r\n`],
      ['a header line without a colon', `${start}X-Probe\r\n\r\n`],
    ];
    return refused(ctx, cases, [400], 'malformed header lines');
  },
});

const httpVersion = defineCheck({
  id: 'http-version',
  title: 'An unsupported HTTP version gets 505 (advanced)',
  points: 1,
  run(ctx) {
    const cases = ['2.0', '3.0', '9.9'].map((v): [string, string] => [`HTTP/${v}`, `GET /${ctx.rng.word(4)} HTTP/${v}\r\nHost: 127.0.0.1:${ctx.port}\r\n\r\n`]);
    return refused(ctx, cases, [505, 400], 'requests for other HTTP versions');
  },
});

function firstDiff(a: Buffer, b: Buffer): string {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return `; first difference at byte ${i}`;
  return '';
}

export default defineExercise({
  id: '02-http',
  checks: [
    getRoot,
    requiredHeaders,
    contentLength,
    notFound,
    methodNotAllowed,
    notImplemented,
    head,
    postEcho,
    largeSplitBody,
    splitRequest,
    keepAlive,
    connectionClose,
    http10,
    pipelining,
    realClient,
    badRequestLine,
    missingHost,
    badContentLength,
    survivesBadClients,
    headerSyntax,
    httpVersion,
  ],
});
