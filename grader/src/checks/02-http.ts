import { defineCheck, defineExercise, fromCases, probeCase, type Case, type CheckContext } from './define.ts';
import { compare, describeExpectation, expectResponse, type CaseSpec, type Expectation } from './expect.ts';
import { everyResponseCheck, HTTP_RESPONSE_RULES } from './every-response.ts';
import { connectionTokens, describeRequest } from './responses.ts';
import { isProbeError } from '../probes/errors.ts';
import { header } from '../probes/raw/parse-response.ts';
import { httpCall, type HttpCall } from '../probes/http/client.ts';
import type { RawConnection, SendOptions } from '../probes/raw/connection.ts';
import RULES from './rules/02-http.ts';
import { whenAccepted } from '../probes/proc/listen-table.ts';

// 02-http: a real HTTP/1.1 server over raw sockets. Routes: GET/HEAD / (an HTML page), POST /echo
// (the body back); 404 elsewhere, 405 with Allow for a known method a route does not take, 501 for
// an unknown method, 400 (and close) for malformed requests.

const HTML = /^text\/html\b/i;
const OCTETS = /^application\/octet-stream\b/i;

const echo = (ctx: CheckContext, body: Buffer, headers: Record<string, string> = {}) =>
  ctx.request({ method: 'POST', target: '/echo', headers: { 'Content-Type': 'application/octet-stream', ...headers }, body });

/** Cases one after another, each on its own connection. */
async function each(ctx: CheckContext, specs: CaseSpec[]) {
  const cases: Array<Awaited<ReturnType<typeof expectResponse>>> = [];
  for (const spec of specs) cases.push(await expectResponse(ctx, spec));
  return cases;
}

/** A case judged on a response another case already read (one request, several things to judge). */
function alsoOf(from: Case & { res?: { status: number; headers: Array<[string, string]>; body: Buffer } }, name: string, e: Expectation, rule: string, ctx: CheckContext): Case {
  const ref = ctx.rule(rule);
  if (!from.res) return { name, ok: false, rule: ref, ...(from.code ? { code: from.code } : {}), message: `no response to judge (${from.message})` };
  const problems = compare(e, from.res);
  const exchange = from.exchange ? { ...from.exchange, expected: describeExpectation(e) } : undefined;
  return { name, ok: !problems.length, rule: ref, ...(problems[0] ? { code: problems[0].code } : {}), message: problems.map((p) => p.message).join('; ') || undefined, ...(exchange ? { exchange } : {}) };
}

const getRoot = defineCheck({
  id: 'get-root',
  title: 'GET / is answered with 200 and an HTML page',
  points: 3,
  async run(ctx) {
    const root = await expectResponse(ctx, { name: 'GET /', send: ctx.request({ target: '/' }), status: 200, rule: 'root' });
    return fromCases([
      root,
      alsoOf(root, 'Content-Type text/html', { headers: { 'content-type': HTML } }, 'root-html', ctx),
      alsoOf(root, 'a non-empty body', { body: (b) => (b.length ? undefined : 'the body was empty') }, 'root-html', ctx),
    ]);
  },
});

const contentLength = defineCheck({
  id: 'content-length',
  title: 'Content-Length is sent and counts the body bytes exactly',
  points: 2,
  async run(ctx) {
    // Ask for close, so the body can be measured up to EOF whatever Content-Length claims.
    const measure = (name: string, bytes: Buffer) =>
      probeCase(name, async () => {
        const conn = await ctx.connect({ label: name, requireFraming: undefined });
        try {
          await conn.send(bytes);
          await conn.waitForEof();
          return lengthVerdict(conn);
        } finally {
          conn.close();
        }
      }, { rule: ctx.rule('content-length') });
    const body = Buffer.from(`${ctx.rng.unicodeWord(5)} ${ctx.rng.word(4)}`, 'utf8');
    return fromCases([
      await measure('GET / with Connection: close', ctx.request({ target: '/', headers: { Connection: 'close' } })),
      await measure(`POST /echo of ${body.length} UTF-8 bytes (${[...body.toString('utf8')].length} characters)`, echo(ctx, body, { Connection: 'close' })),
      await measure(`a 404 with Connection: close`, ctx.request({ target: `/${ctx.rng.word()}`, headers: { Connection: 'close' } })),
    ]);
  },
});

function lengthVerdict(conn: RawConnection): Omit<Case, 'name'> {
  const all = conn.received;
  const headEnd = all.indexOf('\r\n\r\n');
  if (headEnd < 0) return { ok: false, code: all.length ? 'response-stalled' : 'eof-before-response', message: 'no complete response head came back before EOF', exchange: conn.transcript({ expected: 'a response with a Content-Length header' }) };
  const head = all.subarray(0, headEnd).toString('latin1');
  const declared = /\r\ncontent-length:[ \t]*(\d+)[ \t]*(\r|$)/i.exec(head)?.[1];
  const actual = all.length - headEnd - 4;
  const exchange = conn.transcript({ expected: `Content-Length: ${actual}, the number of bytes after the blank line` });
  if (declared === undefined) return { ok: false, code: 'missing-content-length', message: 'the response has no Content-Length header', exchange };
  if (Number(declared) !== actual) return { ok: false, code: 'wrong-content-length', message: `Content-Length says ${declared} but ${actual} body bytes came before EOF`, exchange };
  return { ok: true, message: `Content-Length ${declared} matches the body`, exchange };
}

const notFound = defineCheck({
  id: 'not-found',
  title: 'An unknown path gets 404',
  points: 1,
  run: async (ctx) => {
    const paths = [`/${ctx.rng.mixedWord()}/${ctx.rng.word(5)}`, `/echo/${ctx.rng.word(4)}`, `/${ctx.rng.word(3)}%C3%A9${ctx.rng.word(2)}`];
    const text = /^text\/plain\b/i;
    const some = (b: Buffer) => (b.length ? undefined : 'the body was empty; a 404 says in a few words what was not found');
    return fromCases(await each(ctx, paths.map((target) => ({ name: `GET ${target}`, send: ctx.request({ target }), status: 404, headers: { 'content-type': text }, body: some, rule: 'not-found' }))));
  },
});

const methodNotAllowed = defineCheck({
  id: 'method-not-allowed',
  title: 'A method a route does not take gets 405 with Allow',
  points: 2,
  async run(ctx) {
    // Every method the README lists as known, in a drawn order.
    const onRoot = ctx.rng.shuffle(['DELETE', 'PUT', 'PATCH', 'OPTIONS', 'TRACE', 'CONNECT']);
    const specs: Array<[string, string, string, Buffer?]> = [
      ...onRoot.map((m): [string, string, string] => [m, '/', 'GET']),
      ['POST', '/', 'GET', Buffer.from(ctx.rng.word(12))],
      ['GET', '/echo', 'POST'],
      ['HEAD', '/echo', 'POST'],
    ];
    const cases: Case[] = [];
    for (const [method, target, allow, body] of specs) {
      const send = ctx.request({ method, target, ...(body ? { body } : {}) });
      const c = await expectResponse(ctx, { name: `${method} ${target}${body ? ' with a body' : ''}`, send, status: 405, headers: { allow: { has: allow } }, rule: 'method-not-allowed' });
      // The status and the Allow header are one answer: a missing Allow gets its own code.
      cases.push(c.ok || c.code !== 'missing-header' ? c : { ...c, code: 'missing-header' });
    }
    return fromCases(cases);
  },
});

const notImplemented = defineCheck({
  id: 'not-implemented',
  title: 'An unknown method gets 501',
  points: 1,
  async run(ctx) {
    const made = ctx.rng.word(6).toUpperCase().replace(/[0-9]/g, 'Q');
    return fromCases(await each(ctx, [
      { name: `${made} /`, send: ctx.request({ method: made, target: '/' }), status: 501, rule: 'not-implemented' },
      { name: `X-${made} /echo`, send: ctx.request({ method: `X-${made}`, target: '/echo' }), status: 501, rule: 'not-implemented' },
      // Methods are case-sensitive: "get" is a method nobody implements.
      { name: 'get / (lower case)', send: ctx.request({ method: 'get', target: '/' }), status: 501, rule: 'methods-case-sensitive' },
    ]));
  },
});

const head = defineCheck({
  id: 'head',
  title: "HEAD gets GET's headers and no body",
  points: 2,
  async run(ctx) {
    const g = await expectResponse(ctx, { name: 'GET /', send: ctx.request({ target: '/' }), status: 200 });
    const cases: Case[] = [];
    const same = (name: string) => (values: string[]) => {
      const want = g.res ? header(g.res, name) : undefined;
      return values.join(', ') === (want ?? '') ? undefined : `HEAD said ${name} "${values.join(', ')}", GET said "${want ?? ''}"`;
    };
    cases.push(await headCase(ctx, 'HEAD /', '/', { status: g.res?.status ?? 200, headers: { 'content-length': same('content-length'), 'content-type': same('content-type') } }));
    cases.push(await headCase(ctx, 'HEAD of a missing path', `/${ctx.rng.word()}`, { status: 404 }));
    return fromCases(cases);
  },
});

/**
 * HEAD, then (after its answer) a GET on the same connection: body bytes after the HEAD's head would
 * sit in front of the GET's answer. A server that closes after the HEAD shows a body before its EOF.
 * Whether the GET is answered at all is keep-alive's business, judged there.
 */
async function headCase(ctx: CheckContext, name: string, target: string, e: Expectation): Promise<Case> {
  const rule = ctx.rule('head');
  const expected = `${describeExpectation(e)}, and no body: the next bytes are the next response`;
  return probeCase(name, async () => {
    const conn = await ctx.connect({ label: `${name}, then GET / on the same connection` });
    try {
      await conn.send(ctx.request({ method: 'HEAD', target }));
      const h = await conn.readResponse({ method: 'HEAD' });
      await ctx.responses.record(conn, { check: ctx.checkId, case: name, request: describeRequest(conn.sent), res: h }, { idleTimeoutMs: ctx.ioTimeoutMs });
      const problems = compare(e, h);
      if (!conn.eof) await conn.send(ctx.request({ target: '/' }));
      let leaked: string | undefined;
      try {
        await conn.readResponse();
      } catch (err) {
        if (!isProbeError(err)) throw err;
        if (err.exchange?.violation || conn.unconsumed.length) leaked = `${conn.unconsumed.length} bytes came after the HEAD response's head, where the next response should start`;
      }
      if (leaked) problems.unshift({ code: 'head-with-body', message: leaked });
      const exchange = conn.transcript({ expected });
      return problems.length ? { ok: false, code: problems[0]!.code, message: problems.map((p) => p.message).join('; '), exchange } : { ok: true, exchange };
    } finally {
      conn.close();
    }
  }, { expected, rule });
}

const postEcho = defineCheck({
  id: 'post-echo',
  title: 'POST /echo answers with the request body',
  points: 2,
  async run(ctx) {
    // Always more than one small read (4 KiB) can take, so the verdict does not hang on the draw.
    const binary = ctx.rng.bytes(ctx.rng.int(5000, 9000));
    const text = Buffer.from(`${ctx.rng.unicodeWord(8)}\r\n\r\n${ctx.rng.word(6)}`, 'utf8');
    const cases = await each(ctx, [
      { name: `${binary.length} random bytes`, send: echo(ctx, binary), status: 200, body: binary, code: 'body-mismatch', rule: 'echo', weight: 3 },
      { name: 'UTF-8 text with a blank line inside', send: echo(ctx, text), status: 200, body: text, code: 'body-mismatch', rule: 'echo', weight: 1 },
      { name: 'an empty body (Content-Length: 0)', send: echo(ctx, Buffer.alloc(0)), status: 200, body: Buffer.alloc(0), code: 'body-mismatch', rule: 'echo', weight: 1 },
      { name: 'Content-Length with spaces and a tab around the number', send: echo(ctx, text, { 'Content-Length': ` \t${text.length}  ` }), status: 200, body: text, code: 'body-mismatch', rule: 'header-ows', weight: 1 },
    ]);
    const typed = alsoOf(cases[0]!, 'Content-Type application/octet-stream', { headers: { 'content-type': OCTETS } }, 'echo-type', ctx);
    return fromCases([...cases.map((c) => (c.code === 'wrong-body' ? { ...c, code: 'body-mismatch' as const } : c)), { ...typed, weight: 1 }]);
  },
});

const largeSplitBody = defineCheck({
  id: 'large-split-body',
  title: 'POST /echo with a 1 MiB body sent in 1 KiB writes',
  points: 2,
  timeoutMs: 60_000,
  async run(ctx) {
    const body = ctx.rng.bytes(1024 * 1024);
    const c = await expectResponse(ctx, {
      name: 'a 1 MiB body',
      send: echo(ctx, body),
      split: { chunkSize: 1024, label: 'in 1 KiB writes' },
      status: 200,
      body,
      code: 'body-mismatch',
      rule: 'echo-large',
      idleTimeoutMs: Math.max(ctx.ioTimeoutMs, 10_000),
    });
    return fromCases([c.code === 'wrong-body' ? { ...c, code: 'body-mismatch' } : c]);
  },
});

const splitRequest = defineCheck({
  id: 'split-request',
  title: 'A request sent a few bytes at a time is read whole',
  points: 1,
  async run(ctx) {
    const body = Buffer.from(ctx.rng.word(24), 'latin1');
    const bytes = echo(ctx, body);
    const headEnd = bytes.indexOf('\r\n\r\n');
    const get = ctx.request({ target: '/', headers: { 'X-Probe': ctx.rng.mixedWord(10) } });
    const getEnd = get.indexOf('\r\n\r\n');
    // Every cut inside the blank line that ends the head, where a search for \r\n\r\n in one read misses it.
    const cuts = [1, 2, 3].map((k): CaseSpec => ({
      name: `GET / cut after byte ${getEnd + k} (inside the closing \\r\\n\\r\\n)`,
      send: get,
      split: { sizes: [getEnd + k], afterFirstPieceMs: 300, holdBackOnAnswer: true, label: `in two writes: ${getEnd + k} bytes, then ${get.length - getEnd - k}` },
      status: 200,
      code: 'partial-read',
      rule: 'split',
    }));
    const cases = await each(ctx, [
      { name: 'POST /echo in 3-byte writes', send: bytes, split: { chunkSize: 3, pauseMs: 2, afterFirstPieceMs: 300, holdBackOnAnswer: true, label: '3 bytes at a time' }, status: 200, body, code: 'partial-read', rule: 'split' },
      { name: 'POST /echo with the body in a later write', send: bytes, split: { sizes: [headEnd + 4], afterFirstPieceMs: 300, holdBackOnAnswer: true, label: `the head (${headEnd + 4} bytes), then the body` }, status: 200, body, code: 'partial-read', rule: 'split' },
      ...cuts,
    ]);
    // A wrong answer to a split request is the split's fault; a missing one keeps its own code.
    return fromCases(cases.map((c) => (c.code === 'wrong-status' || c.code === 'wrong-body' ? { ...c, code: 'partial-read' } : c)));
  },
});

/** Sends requests one after another on one connection, each after the previous answer. */
async function sequence(ctx: CheckContext, label: string, steps: Array<{ name: string; send: Buffer; expect: Expectation }>) {
  const conn = await ctx.connect({ label });
  const times: number[] = [];
  try {
    for (const [i, step] of steps.entries()) {
      const t0 = performance.now();
      if (conn.eof) return { conn, times, failed: { i, code: 'not-kept-alive' as const, message: `the server closed the connection after response ${i}, before request ${i + 1} (${step.name})` } };
      const request = describeRequest(step.send);
      await conn.send(step.send);
      let res;
      try {
        res = await conn.readResponse({ method: request.method });
      } catch (e) {
        if (!isProbeError(e)) throw e;
        const closed = i > 0 && (e.code === 'eof-before-response' || e.code === 'connection-reset');
        return { conn, times, failed: { i, code: closed ? ('not-kept-alive' as const) : e.code, message: closed ? `the server closed the connection after response ${i} instead of answering request ${i + 1} (${step.name})` : `request ${i + 1} (${step.name}): ${e.message}` } };
      }
      times.push(performance.now() - t0);
      await ctx.responses.record(conn, { check: ctx.checkId, case: `${label}: ${step.name}`, request, res }, { idleTimeoutMs: ctx.ioTimeoutMs });
      const problems = compare(step.expect, res);
      if (problems.length) return { conn, times, failed: { i, code: problems[0]!.code, message: `request ${i + 1} (${step.name}) on the same connection: ${problems.map((p) => p.message).join('; ')}` } };
    }
    return { conn, times, failed: undefined };
  } finally {
    conn.close();
  }
}

const keepAlive = defineCheck({
  id: 'keep-alive',
  title: 'Several requests on one connection, errors included',
  points: 2,
  async run(ctx) {
    const body = Buffer.from(ctx.rng.unicodeWord(10), 'utf8');
    const made = ctx.rng.word(5).toUpperCase().replace(/[0-9]/g, 'X');
    // Whether each answer is right is the business of the checks about it: here, only that each
    // request gets a well-formed answer on the same connection, after errors too. HEAD comes last,
    // so a body it wrongly carries cannot garble a later answer here (head judges that).
    const answer = {};
    const steps = [
      { name: 'GET /', send: ctx.request({ target: '/' }), expect: answer },
      { name: 'POST /echo', send: echo(ctx, body), expect: answer },
      { name: 'GET of a missing path', send: ctx.request({ target: `/${ctx.rng.word()}` }), expect: answer },
      { name: 'DELETE /', send: ctx.request({ method: 'DELETE', target: '/' }), expect: answer },
      { name: `${made} /`, send: ctx.request({ method: made, target: '/' }), expect: answer },
      { name: 'GET / again', send: ctx.request({ target: '/', headers: { 'x-PROBE': ctx.rng.mixedWord() } }), expect: answer },
      { name: 'HEAD /', send: ctx.request({ method: 'HEAD', target: '/' }), expect: answer },
    ];
    const r = await sequence(ctx, 'seven requests on one connection', steps);
    const rule = ctx.rule('keep-alive');
    const exchange = r.conn.transcript({ expected: `an answer to each of ${steps.map((s) => s.name).join(', ')}, on the one connection` });
    const cases: Case[] = [r.failed ? { name: 'every request answered on one connection', ok: false, rule, code: r.failed.code, message: r.failed.message, exchange } : { name: 'every request answered on one connection', ok: true, rule, exchange }];
    cases.push(await manyRequests(ctx));
    return fromCases(cases);
  },
});

/** Twenty requests on one connection: each should take about as long as one on its own, not a hundred times more. */
async function manyRequests(ctx: CheckContext): Promise<Case> {
  const n = 20;
  const rule = ctx.rule('keep-alive-prompt');
  const name = `${n} requests on one connection, each answered at once`;
  const t0 = performance.now();
  await expectResponse(ctx, { name: 'GET / on its own connection', send: ctx.request({ target: '/' }) });
  const singleMs = performance.now() - t0;
  const steps = Array.from({ length: n }, (_, i) => ({ name: `GET / #${i + 1}`, send: ctx.request({ target: '/' }), expect: { status: 200 } }));
  const r = await sequence(ctx, name, steps);
  if (r.failed) return { name, ok: false, rule, code: r.failed.code, message: `not timed: ${r.failed.message}` };
  const sorted = [...r.times].sort((a, b) => a - b);
  const median = sorted[Math.floor(n / 2)]!;
  // Generous both ways: a hundred times a request on a fresh connection, and never under 200 ms.
  const bound = Math.round(Math.max(200, 100 * singleMs));
  const values = { medianMs: Math.round(median), maxMs: Math.round(sorted.at(-1)!), boundMs: bound };
  if (median <= bound) return { name, ok: true, rule, message: `median ${values.medianMs} ms per request` };
  return { name, ok: false, rule, code: 'slow-keep-alive', message: `the median request took ${values.medianMs} ms (slowest ${values.maxMs} ms); a request on an open connection should take about a millisecond`, exchange: r.conn.transcript({ expected: 'each answer right after its request' }) };
}

const connectionClose = defineCheck({
  id: 'connection-close',
  title: 'Connection: close gets the response, then EOF',
  points: 1,
  run: async (ctx) =>
    fromCases(await each(ctx, [
      { name: 'GET / with Connection: close', send: ctx.request({ target: '/', headers: { Connection: 'close' } }), status: 200, closes: true, rule: 'connection-close' },
      { name: 'POST /echo with "Connection: keep-alive, Close"', send: echo(ctx, Buffer.from(ctx.rng.word()), { Connection: 'keep-alive, Close' }), status: 200, closes: true, rule: 'connection-close' },
      { name: 'GET / with two Connection lines, keep-alive then close', send: ctx.request({ target: '/', headers: [['Connection', 'keep-alive'], ['Connection', 'close']] }), status: 200, closes: true, rule: 'connection-close' },
    ])),
});

const http10 = defineCheck({
  id: 'http10',
  title: 'An HTTP/1.0 request is answered, then closed',
  points: 1,
  // HTTP/1.0 needs no Host header, and closes after the response unless asked to keep alive.
  run: async (ctx) => {
    const cases = await each(ctx, [
      { name: 'GET / HTTP/1.0 without Host', send: ctx.request({ target: '/', version: 'HTTP/1.0', host: null }), status: 200, closes: true, rule: 'http10' },
      { name: 'GET of a missing path, HTTP/1.0', send: ctx.request({ target: `/${ctx.rng.word()}`, version: 'HTTP/1.0', host: null }), status: 404, closes: true, rule: 'http10' },
    ]);
    return fromCases([...cases, await http10KeepAlive(ctx)]);
  },
});

/**
 * HTTP/1.0 with Connection: keep-alive: honouring it is optional, but the answer must say which.
 * Said keep-alive: the connection stays open for a second request. Said nothing: the server closes.
 */
async function http10KeepAlive(ctx: CheckContext): Promise<Case> {
  const name = 'GET / HTTP/1.0 with Connection: keep-alive';
  const rule = ctx.rule('http10-keep-alive');
  const send = ctx.request({ target: '/', version: 'HTTP/1.0', host: null, headers: { Connection: 'keep-alive' } });
  return probeCase(name, async () => {
    const conn = await ctx.connect({ label: name });
    try {
      await conn.send(send);
      const res = await conn.readResponse();
      await ctx.responses.record(conn, { check: ctx.checkId, case: name, request: describeRequest(send), res }, { idleTimeoutMs: ctx.ioTimeoutMs });
      if (res.status !== 200) return { ok: false, code: 'wrong-status', message: `got ${res.status}, expected 200`, exchange: conn.transcript() };
      if (!connectionTokens(res).includes('keep-alive')) return { ok: true, message: 'kept to HTTP/1.0 closing (the log judges the close)' };
      if (conn.eof) return { ok: false, code: 'not-kept-alive', message: 'the response said Connection: keep-alive, then the server closed', exchange: conn.transcript() };
      await conn.send(send);
      const expected = 'Connection: keep-alive, and the connection open for a second request';
      let again;
      try {
        again = await conn.readResponse();
      } catch (e) {
        if (!isProbeError(e) || (e.code !== 'eof-before-response' && e.code !== 'connection-reset')) throw e;
        return { ok: false, code: 'not-kept-alive', message: 'the response said Connection: keep-alive, but the server closed the connection instead of answering a second request', exchange: conn.transcript({ expected }) };
      }
      return again.status === 200 ? { ok: true } : { ok: false, code: 'wrong-status', message: `the second request got ${again.status}`, exchange: conn.transcript({ expected }) };
    } finally {
      conn.close();
    }
  }, { rule, expected: 'either Connection: keep-alive and an open connection, or Connection: close and a close' });
}

const pipelining = defineCheck({
  id: 'pipelining',
  title: 'Pipelined requests are answered in order',
  points: 2,
  async run(ctx) {
    const bodies = [0, 1, 2].map(() => Buffer.from(ctx.rng.word(ctx.rng.int(5, 40)), 'latin1'));
    const three = Buffer.concat(bodies.map((b) => echo(ctx, b)));
    const mixed = [ctx.request({ target: '/' }), echo(ctx, bodies[0]!), ctx.request({ target: `/${ctx.rng.word()}` })];
    const mixedBytes = Buffer.concat(mixed);
    return fromCases([
      await pipelined(ctx, 'three POST /echo in one write', three, bodies.map((b) => ({ status: 200, body: b })), undefined),
      await pipelined(ctx, 'GET /, POST /echo and a 404, in two writes cut inside the second request', mixedBytes, [{ status: 200 }, { status: 200, body: bodies[0]! }, { status: 404 }], mixed[0]!.length + 7),
      // Some clients send an empty line after a POST body; a server skips it (RFC 9112 §2.2).
      await pipelined(ctx, 'POST /echo, an empty line, then GET /', Buffer.concat([echo(ctx, bodies[1]!), Buffer.from('\r\n'), ctx.request({ target: '/' })]), [{ status: 200, body: bodies[1]! }, { status: 200 }], undefined, 'empty-line'),
      await pipelined(ctx, 'POST /echo, then the empty line and GET / in writes of their own', Buffer.concat([echo(ctx, bodies[2]!), Buffer.from('\r\n'), ctx.request({ target: '/' })]), [{ status: 200, body: bodies[2]! }, { status: 200 }], { sizes: [echo(ctx, bodies[2]!).length, 2], pauseMs: 50 }, 'empty-line'),
    ]);
  },
});

async function pipelined(ctx: CheckContext, name: string, bytes: Buffer, expects: Expectation[], cut: number | SendOptions | undefined, ruleId = 'pipelining'): Promise<Case> {
  const rule = ctx.rule(ruleId);
  const sendOpts: SendOptions = typeof cut === 'number' ? { sizes: [cut], afterFirstPieceMs: 100 } : (cut ?? {});
  const sizes = sendOpts.sizes ?? [];
  const split = sizes.length ? `in ${sizes.length + 1} writes: ${[...sizes, bytes.length - sizes.reduce((a, b) => a + b, 0)].join(' + ')} bytes` : undefined;
  const expected = expects.map((e, i) => `${i + 1}. ${describeExpectation(e)}`).join('; ');
  const conn = await ctx.connect({ label: name });
  const transcript = () => conn.transcript({ expected, ...(split ? { split } : {}) });
  try {
    await conn.send(bytes, sendOpts);
    for (const [i, e] of expects.entries()) {
      let res;
      try {
        res = await conn.readResponse();
      } catch (err) {
        if (!isProbeError(err)) throw err;
        return { name, ok: false, rule, code: i === 0 ? err.code : 'pipelining', message: `response ${i + 1} of ${expects.length}: ${err.message}`, exchange: transcript() };
      }
      const problems = compare(e, res);
      if (problems.length) return { name, ok: false, rule, code: 'pipelining', message: `response ${i + 1} of ${expects.length}: ${problems.map((p) => p.message).join('; ')}`, exchange: transcript() };
    }
    return { name, ok: true, rule };
  } finally {
    conn.close();
  }
}

const realClient = defineCheck({
  id: 'real-client',
  title: 'A standard HTTP client (undici, as in fetch) is answered',
  points: 2,
  async run(ctx) {
    const body = Buffer.from(ctx.rng.word(20), 'latin1');
    const cases: Array<[HttpCall, Expectation]> = [
      [{ method: 'GET', path: '/' }, { status: 200 }],
      [{ method: 'POST', path: '/echo', body, headers: { 'content-type': 'application/octet-stream' } }, { status: 200, body }],
      [{ method: 'HEAD', path: '/' }, { status: 200 }],
      [{ method: 'GET', path: `/${ctx.rng.word()}` }, { status: 404 }],
    ];
    const rule = ctx.rule('real-client');
    const out: Case[] = [];
    for (const [call, e] of cases) {
      const a = await httpCall(ctx.port, call, { timeoutMs: ctx.ioTimeoutMs, signal: ctx.signal });
      const name = `${call.method} ${call.path} from undici`;
      if (a.error !== undefined) {
        // The same codes as the raw probe where the failure is the same; a parse error is undici's own.
        const code = a.errorCode === 'UND_ERR_SOCKET' && !a.exchange.receivedBytes ? 'eof-before-response' : a.errorCode === 'UND_ERR_HEADERS_TIMEOUT' ? 'no-response' : 'real-client';
        const why = code === 'real-client' ? '. It writes header names in lower case (host:, content-length:), as many clients do; header names are case-insensitive.' : '';
        out.push({ name, ok: false, rule, code, message: `undici failed: ${a.error}${why}`, exchange: a.exchange });
        continue;
      }
      const problems = compare(e, { status: a.status!, headers: a.headers!, body: a.body! });
      out.push(problems.length ? { name, ok: false, rule, code: problems[0]!.code, message: problems.map((p) => p.message).join('; '), exchange: a.exchange } : { name, ok: true, rule });
    }
    return fromCases(out);
  },
});

/** Malformed requests, each on its own connection, answered with `statuses`; then a plain GET must still work. */
type Refusal = [name: string, bytes: string | Buffer, rule?: string, statuses?: number[]];

async function refusedCases(ctx: CheckContext, rule: string, cases: Refusal[], statuses: number[]): Promise<Case[]> {
  return each(ctx, cases.map(([name, send, own, these]): CaseSpec => ({ name, send, status: these ?? statuses, rule: own ?? rule })));
}

async function refused(ctx: CheckContext, rule: string, cases: Refusal[], statuses: number[], after: string) {
  return fromCases([...(await refusedCases(ctx, rule, cases, statuses)), await stillAlive(ctx, after)]);
}

function stillAlive(ctx: CheckContext, after: string): Promise<Case> {
  return expectResponse(ctx, { name: `GET / still answered after ${after}`, send: ctx.request({ target: '/' }), status: 200, rule: 'survives' });
}

const badRequestLine = defineCheck({
  id: 'bad-request-line',
  title: 'A malformed request line gets 400',
  points: 2,
  run(ctx) {
    const host = `Host: ${ctx.host}\r\n\r\n`;
    const w = ctx.rng.word(5);
    return refused(ctx, 'bad-request-line', [
      ['a request line without a version', `GET /${w}\r\n${host}`],
      ['two spaces between method and path', `GET  /${w} HTTP/1.1\r\n${host}`],
      ['a tab between method and path', `GET\t/${w} HTTP/1.1\r\n${host}`],
      ['four parts', `GET /${w} HTTP/1.1 ${ctx.rng.word(2)}\r\n${host}`],
      ['a space after the version', `GET /${w} HTTP/1.1 \r\n${host}`],
      ['a version that is not HTTP/x.y', `GET /${w} HTTP/one\r\n${host}`, 'version-syntax'],
      ['a version in lower case', `GET /${w} http/1.1\r\n${host}`, 'version-syntax'],
      ['a version with something before it', `GET /${w} xHTTP/1.1\r\n${host}`, 'version-syntax'],
      ['a version with three digits', `GET /${w} HTTP/1.10\r\n${host}`, 'version-syntax'],
      ['a method that is not a token', `G@T /${w} HTTP/1.1\r\n${host}`, 'token'],
      ['a control character in the target', `GET /${w}\x01x HTTP/1.1\r\n${host}`, 'control'],
      ['DEL in the target', `GET /${w}\x7fx HTTP/1.1\r\n${host}`, 'control'],
      // HTTP lets a server read a bare LF as a line end, or refuse it; silence is the one wrong answer.
      ['lines that end with a bare \\n (400 or 200, but an answer)', `GET / HTTP/1.1\nHost: ${ctx.host}\n\n`, 'bare-lf-request', [400, 200]],
    ], [400], 'the malformed requests');
  },
});

const missingHost = defineCheck({
  id: 'missing-host',
  title: 'An HTTP/1.1 request without exactly one Host gets 400',
  points: 1,
  run(ctx) {
    const path = `/${ctx.rng.word(4)}`;
    return refused(ctx, 'host', [
      ['HTTP/1.1 without Host', `GET ${path} HTTP/1.1\r\nUser-Agent: serverlab-grader\r\n\r\n`],
      ['two Host headers', `GET ${path} HTTP/1.1\r\nHost: ${ctx.host}\r\nHost: ${ctx.rng.word()}.test\r\n\r\n`],
      ['two Host headers, the second in lower case', `GET ${path} HTTP/1.1\r\nHost: ${ctx.host}\r\nhost: ${ctx.host}\r\n\r\n`],
    ], [400], 'requests with a missing or doubled Host');
  },
});

const badContentLength = defineCheck({
  id: 'bad-content-length',
  title: 'An invalid Content-Length gets 400',
  points: 2,
  async run(ctx) {
    const values: Array<string | string[]> = ['abc', '+5', '-1', '1.5', ' ', '1 2', ['3', '4'], ['5', '+5']];
    const cases = values.map((value): Refusal => {
      const lines = (Array.isArray(value) ? value : [value]).map((v) => `Content-Length: ${v}\r\n`).join('');
      const name = Array.isArray(value) ? `two Content-Length headers, ${value.join(' and ')}` : value === ' ' ? 'an empty Content-Length' : `Content-Length: ${value}`;
      return [name, `POST /echo HTTP/1.1\r\nHost: ${ctx.host}\r\n${lines}\r\nabcde`];
    });
    const head = `POST /echo HTTP/1.1\r\nHost: ${ctx.host}\r\nContent-Length: abc\r\n\r\n`;
    // What follows a refused request is never answered, even when it looks like a request.
    const later = await expectResponse(ctx, {
      name: 'Content-Length: abc, followed by what looks like a request',
      send: Buffer.concat([Buffer.from(head), Buffer.from(`GET / HTTP/1.1\r\nHost: ${ctx.host}\r\n\r\n`)]),
      status: 400,
      closes: true,
      rule: 'nothing-after-refusal',
    });
    return fromCases([...(await refusedCases(ctx, 'content-length-valid', cases, [400])), later, await stillAlive(ctx, 'the bad Content-Lengths')]);
  },
});

const survivesBadClients = defineCheck({
  id: 'survives-bad-clients',
  title: 'Clients that vanish or send garbage do not take the server down',
  points: 2,
  async run(ctx) {
    const reset = await ctx.connect({ label: 'reset mid-request' });
    await reset.send(`POST /echo HTTP/1.1\r\nHost: ${ctx.host}\r\nContent-Length: 100\r\n\r\nabc`);
    // Only once the server holds the connection: a reset in the accept queue never reaches it.
    await whenAccepted(ctx.port, ctx.ioTimeoutMs);
    reset.reset();
    const half = await ctx.connect({ label: 'half a request, then close' });
    await half.send(`GET /${ctx.rng.word()} HT`);
    half.close();
    const garbage = await ctx.connect({ label: 'random bytes, then close' });
    await garbage.send(Buffer.concat([ctx.rng.bytes(300), Buffer.from('\r\n\r\n')]));
    await garbage.waitForBytes(200);
    garbage.close();
    // Bytes above 0x7f are allowed in a header value (obs-text): the request is valid, and not UTF-8.
    const latin = Buffer.concat([Buffer.from(`GET / HTTP/1.1\r\nHost: ${ctx.host}\r\nX-Name: caf`), Buffer.from([0xe9, 0xff]), Buffer.from('\r\n\r\n')]);
    const obsText = await expectResponse(ctx, { name: 'GET / with a header value that is not UTF-8 (bytes e9 ff)', send: latin, status: 200, rule: 'survives' });
    return fromCases([obsText, await stillAlive(ctx, 'clients that reset, hung up mid-request or sent garbage')]);
  },
});

const idleConnection = defineCheck({
  id: 'idle-connection',
  title: 'A client holding an idle connection does not stop the next one',
  points: 1,
  async run(ctx) {
    const rule = ctx.rule('concurrent');
    const waitMs = Math.max(ctx.ioTimeoutMs, 6000);
    const held: Case[] = [];
    for (const [name, first] of [
      ['a kept-alive connection left idle after one answer', ctx.request({ target: '/' })],
      ['a connection that sent half a head and went quiet', Buffer.from(`GET / HTTP/1.1\r\nHost: ${ctx.host}\r\n`)],
    ] as const) {
      const idle = await ctx.connect({ label: name });
      try {
        await idle.send(first);
        if (name.startsWith('a kept')) await idle.readResponse().catch(() => undefined);
        const next = await expectResponse(ctx, { name: `the next client, while ${name}`, send: ctx.request({ target: '/' }), status: 200, rule: 'concurrent', idleTimeoutMs: waitMs });
        held.push(next.ok || next.code !== 'no-response' ? { ...next, rule } : { ...next, rule, code: 'blocked-by-idle-client', message: `no answer within ${waitMs / 1000} s while ${name}: the server serves one connection at a time` });
      } finally {
        idle.close();
      }
    }
    return fromCases(held);
  },
});

const headerSyntax = defineCheck({
  id: 'header-syntax',
  title: 'Malformed header lines get 400 (advanced)',
  points: 1,
  run(ctx) {
    const start = `GET /${ctx.rng.word(4)} HTTP/1.1\r\nHost: ${ctx.host}\r\n`;
    const name = ctx.rng.mixedWord(6);
    return refused(ctx, 'header-syntax', [
      ['a space before the colon', `${start}X-${name} : 1\r\n\r\n`, 'space-before-colon'],
      ['a folded header line (obs-fold)', `${start}X-${name}: a\r\n  b\r\n\r\n`],
      ['a header line without a colon', `${start}X-${name}\r\n\r\n`, 'header-line'],
      ['a header name that is not a token', `${start}X@${name}: 1\r\n\r\n`, 'token'],
      ['a control character in a header value', `${start}X-${name}: a\x01b\r\n\r\n`, 'control'],
    ], [400], 'malformed header lines');
  },
});

const httpVersion = defineCheck({
  id: 'http-version',
  title: 'An unsupported HTTP version gets 505 (advanced)',
  points: 1,
  run(ctx) {
    const cases = ['2.0', '3.0', '9.9'].map((v): Refusal => [`HTTP/${v}`, `GET /${ctx.rng.word(4)} HTTP/${v}\r\nHost: ${ctx.host}\r\n\r\n`]);
    return refused(ctx, 'http-version', cases, [505, 400], 'requests for other HTTP versions');
  },
});

/** A few answers of each kind, so the rules below are never judged on nothing. */
async function everyKind(ctx: CheckContext): Promise<void> {
  for (const spec of [
    { target: '/' },
    { target: `/${ctx.rng.word()}` },
    { method: 'DELETE', target: '/' },
    { method: ctx.rng.word(6).toUpperCase().replace(/[0-9]/g, 'Z'), target: '/' },
    { method: 'POST', target: '/echo', body: ctx.rng.bytes(16) },
  ]) {
    await expectResponse(ctx, { name: `${spec.method ?? 'GET'} ${spec.target}`, send: ctx.request(spec) });
  }
  await expectResponse(ctx, { name: 'a malformed request line', send: `GET  / HTTP/1.1\r\nHost: ${ctx.host}\r\n\r\n` });
}

const requiredHeaders = everyResponseCheck({
  id: 'required-headers',
  title: 'Every response carries Date, Server and Content-Type, error responses too',
  points: 3,
  rules: ['date', 'server', 'content-type'],
  probe: everyKind,
  frozenDate: true,
});

const announcesClose = everyResponseCheck({
  id: 'announces-close',
  title: 'Says Connection: close when it closes, and closes when it says so',
  points: 1,
  rules: ['says-close', 'closes'],
  probe: async () => undefined,
});

export default defineExercise({
  id: '02-http',
  rules: RULES,
  responseRules: HTTP_RESPONSE_RULES,
  framing: 'content-length',
  checks: [
    getRoot,
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
    idleConnection,
    badRequestLine,
    missingHost,
    badContentLength,
    survivesBadClients,
    headerSyntax,
    httpVersion,
    requiredHeaders,
    announcesClose,
  ],
});
