import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { defineCheck, defineExercise, fromCases, probeCase, skip, type Case, type CheckContext, type Verdict } from './define.ts';
import type { FailureCode } from './codes.ts';
import RULES from './rules/04-gateway.ts';
import { seenFile } from '../../apps/gateway/seen-file.ts';
import { isProbeError } from '../probes/errors.ts';
import type { RawConnection } from '../probes/raw/connection.ts';
import { header, headerAll, type ParsedResponse } from '../probes/raw/parse-response.ts';
import type { FixtureService } from '../services/service.ts';
import type { Track } from '../report/model.ts';

// 04-gateway: the server runs a probe app the grader ships (grader/apps/gateway). The app answers
// JSON with what it was given and a list of violations, each naming the environ key (py) or the
// Request member (ts) that was wrong, so the evidence names it too. What only the wire shows (a
// status that should have been replaced, bytes past a Content-Length, a connection that should
// have closed) is judged here; what happens after the answer (close(), a stream's cancel) is read
// from the app's event log, the file PROBE_LOG.

const APPS = fileURLToPath(new URL('../../apps/gateway/', import.meta.url));
/** How long close() or a cancel may take to show in the log once the response is over. */
const LOG_MS = 5000;
/** How long a request that reads past its body may go unanswered before it counts as hung. */
const HANG_MS = 3000;
/** How long the streaming case waits for the first chunk of a gated stream. */
const FIRST_CHUNK_MS = 5000;
/** How long the probe apps' gated stream waits to be told its first chunk was seen. */
const GATE_S = 10;

// --- the event log, as a fixture service: a file per graded unit --------------------------------

class ProbeLog implements FixtureService {
  readonly name = 'probe-log';
  private readonly dir = mkdtempSync(path.join(os.tmpdir(), 'serverlab-gateway-'));
  readonly file = path.join(this.dir, 'probe.log');

  env(): Record<string, string> {
    return { PROBE_LOG: this.file };
  }

  reset(): void {
    // Every check draws fresh ids, so old lines never match.
  }

  /** Tells a gated stream (/stream?gate=1) that chunk `n` of `id` has reached the client. */
  seen(id: string, n: number): void {
    writeFileSync(seenFile(this.file, id, n), '');
  }

  async stop(): Promise<void> {
    rmSync(this.dir, { recursive: true, force: true });
  }

  events(id: string): Array<Record<string, unknown>> {
    let text = '';
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      return [];
    }
    const found: Array<Record<string, unknown>> = [];
    for (const line of text.split('\n')) {
      try {
        const e = JSON.parse(line) as Record<string, unknown>;
        if (e?.id === id) found.push(e);
      } catch {
        // an empty line, or one still being written
      }
    }
    return found;
  }

  async waitFor(id: string, event: string, signal: AbortSignal, timeoutMs = LOG_MS): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (this.events(id).some((e) => e.event === event)) return true;
      if (Date.now() > deadline) return false;
      await sleep(50, undefined, { signal });
    }
  }
}

const logOf = (ctx: CheckContext) => ctx.service<ProbeLog>('probe-log');

// --- requests, answers and cases --------------------------------------------------------------------

interface Violation {
  key: string;
  expected: string;
  got: string | null;
}

interface Answer {
  route: string;
  saw: Record<string, unknown>;
  violations: Violation[];
}

interface Req {
  method?: string;
  target: string;
  version?: string;
  headers?: Array<[string, string]>;
  body?: Buffer;
  /** Leave the Host header out. */
  noHost?: boolean;
}

/** Request bytes; header values as latin-1, so a byte such as 0xE9 goes out as it is. */
function bytesOf(ctx: CheckContext, r: Req): Buffer {
  const lines = [`${r.method ?? 'GET'} ${r.target} ${r.version ?? 'HTTP/1.1'}`, ...(r.noHost ? [] : [`Host: ${ctx.host}`]), 'User-Agent: serverlab-grader', ...(r.headers ?? []).map(([n, v]) => `${n}: ${v}`)];
  if (r.body) lines.push(`Content-Length: ${r.body.length}`);
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), r.body ?? Buffer.alloc(0)]);
}

/** X-Probe-Expect: what was sent, for the app to compare; JSON kept to ASCII. */
const expectHeader = (wanted: Record<string, unknown>): [string, string] => [
  'X-Probe-Expect',
  JSON.stringify(wanted).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
];

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

function answerOf(body: Buffer): Answer | undefined {
  try {
    const a = JSON.parse(body.toString('utf8')) as Answer;
    return typeof a?.route === 'string' && Array.isArray(a.violations) && a.saw && typeof a.saw === 'object' ? a : undefined;
  } catch {
    return undefined;
  }
}

const describeViolation = (v: Violation) => `${v.key}: got ${v.got ?? 'nothing (absent)'}, expected ${v.expected}`;

type Outcome = Omit<Case, 'name'>;

/** Judges a probe answer: its status, that it is the probe's JSON of that route, and no violations. */
function judgeAnswer(res: ParsedResponse, route: string, status = 200, expectedKeys?: number): Outcome & { answer?: Answer } {
  const answer = answerOf(res.body);
  if (!answer || answer.route !== route) {
    const code: FailureCode = res.status !== status ? 'wrong-status' : 'not-probe-answer';
    return { ok: false, code, message: `status ${res.status}, and the body is not the ${route} route's JSON answer` };
  }
  if (answer.violations.length) return { ok: false, code: 'probe-violation', message: answer.violations.map(describeViolation).join('; '), answer };
  if (res.status !== status) return { ok: false, code: 'wrong-status', message: `status was ${res.status}, expected ${status}`, answer };
  const keys = answer.saw.expected_keys;
  if (expectedKeys !== undefined && (!Array.isArray(keys) || keys.length !== expectedKeys)) {
    return { ok: false, code: 'probe-violation', message: `X-Probe-Expect did not reach the app whole (it saw ${JSON.stringify(keys)})`, answer };
  }
  return { ok: true, answer };
}

interface Sent {
  conn: RawConnection;
  res: ParsedResponse;
}

/** One request on a connection of its own; a probe failure (silence, reset, bad bytes) fails the case. */
async function send(ctx: CheckContext, r: Req, idleTimeoutMs?: number): Promise<Sent> {
  const conn = await ctx.connect({ label: `${r.method ?? 'GET'} ${r.target}`, ...(idleTimeoutMs ? { idleTimeoutMs } : {}) });
  await conn.send(bytesOf(ctx, r));
  return { conn, res: await conn.readResponse({ method: r.method ?? 'GET' }) };
}

/** A case that sends one request to a probe route and judges the app's answer. */
function answerCase(
  ctx: CheckContext,
  name: string,
  rule: string,
  r: Req,
  opts: {
    route: string;
    status?: number;
    expectedKeys?: number;
    expected?: string;
    idleTimeoutMs?: number;
    /** Judged before the answer: what only the wire shows, and matters more than what the app says. */
    first?: (res: ParsedResponse) => Outcome | undefined;
    judge?: (res: ParsedResponse, a: Answer | undefined) => Outcome | undefined;
  },
): Promise<Case> {
  const expected = opts.expected ?? `status ${opts.status ?? 200} and the ${opts.route} route's JSON with no violations`;
  return probeCase(
    name,
    async () => {
      const { conn, res } = await send(ctx, r, opts.idleTimeoutMs);
      conn.close();
      const early = opts.first?.(res);
      if (early) return { ...early, exchange: conn.transcript({ expected }) };
      const judged = judgeAnswer(res, opts.route, opts.status, opts.expectedKeys);
      const { answer, ...outcome } = judged;
      const more = outcome.ok ? opts.judge?.(res, answer) : undefined;
      return { ...(more ?? outcome), exchange: conn.transcript({ expected }) };
    },
    { expected, rule: ctx.rule(rule) },
  );
}

const only = (track: Track, ctx: CheckContext, why: string): Verdict | undefined => (ctx.track === track ? undefined : skip(why));
const NO_START_RESPONSE = 'a fetch handler gives back a whole Response: there is no start_response to call twice, late or lazily';

// --- the checks ---------------------------------------------------------------------------------------

/** HTTP/1.1 without Host (ts): there is no URL to build the Request on, and RFC 9112 asks for a 400. */
function noHostCase(ctx: CheckContext, target: string): Promise<Case> {
  const expected = 'status 400 Bad Request, and the app not called';
  return probeCase(
    'an HTTP/1.1 request without Host: 400, and the app not called',
    async () => {
      const conn = await ctx.connect({ label: `GET ${target} without Host` });
      await conn.send(bytesOf(ctx, { target, noHost: true }));
      const res = await conn.readResponse();
      conn.close();
      const exchange = conn.transcript({ expected });
      if (res.status === 400) return { ok: true, exchange };
      const a = answerOf(res.body);
      const called = a ? `: the app was called, with the url ${JSON.stringify(a.saw.url ?? null)}` : '';
      return { ok: false, code: 'wrong-status', message: `answered ${res.status}${called}; a request without Host names no host for the URL, and RFC 9112 section 3.2 says a server must answer it 400`, exchange };
    },
    { expected, rule: ctx.rule('host-required') },
  );
}

const environKeys = defineCheck({
  id: 'environ-keys',
  title: 'Gives the app every required key, of the right type (environ / Request)',
  points: 2,
  async run(ctx) {
    const w = ctx.rng.word(6);
    const v = ctx.rng.mixedWord(8);
    const body = Buffer.from(ctx.rng.word(12));
    if (ctx.track === 'ts') {
      const get = { method: 'GET', 'header:host': ctx.host, 'header:x-word': v, 'header:x-absent': null };
      const put = { method: 'PUT', 'header:content-type': 'text/plain; charset=utf-8', body_length: body.length, body_sha256: sha256(body) };
      const old = { method: 'GET', 'header:host': ctx.host };
      return fromCases([
        await answerCase(ctx, 'GET: a Request with the method, an absolute URL on the Host, every header', 'environ-keys', { target: `/request/${w}`, headers: [['X-Word', v], expectHeader(get)] }, { route: 'request', expectedKeys: 4 }),
        await answerCase(ctx, 'PUT: the Content-Type header and the body', 'content-keys', { method: 'PUT', target: `/request/${w}`, headers: [['Content-Type', 'text/plain; charset=utf-8'], expectHeader(put)], body }, { route: 'request', expectedKeys: 4 }),
        await answerCase(ctx, 'an HTTP/1.0 request', 'environ-keys', { target: `/request/${w}`, version: 'HTTP/1.0', headers: [expectHeader(old)] }, { route: 'request', expectedKeys: 2 }),
        await noHostCase(ctx, `/request/${w}`),
      ]);
    }
    const get = {
      REQUEST_METHOD: 'GET',
      SERVER_PROTOCOL: 'HTTP/1.1',
      SERVER_PORT: String(ctx.port),
      HTTP_HOST: ctx.host,
      HTTP_X_WORD: v,
      HTTP_X_ABSENT: null,
      CONTENT_TYPE: null,
      CONTENT_LENGTH: null,
      'wsgi.url_scheme': 'http',
      'wsgi.run_once': false,
    };
    const post = { REQUEST_METHOD: 'POST', CONTENT_TYPE: 'text/plain; charset=utf-8', CONTENT_LENGTH: String(body.length), HTTP_CONTENT_TYPE: null, HTTP_CONTENT_LENGTH: null };
    return fromCases([
      await answerCase(ctx, 'GET: the CGI keys, the wsgi.* keys, their types', 'environ-keys', { target: `/environ/${w}`, headers: [['X-Word', v], expectHeader(get)] }, { route: 'environ', expectedKeys: Object.keys(get).length }),
      await answerCase(ctx, 'POST: CONTENT_TYPE and CONTENT_LENGTH, and no HTTP_CONTENT_*', 'content-keys', { method: 'POST', target: `/environ/${w}`, headers: [['Content-Type', 'text/plain; charset=utf-8'], expectHeader(post)], body }, { route: 'environ', expectedKeys: Object.keys(post).length }),
      await answerCase(ctx, 'an HTTP/1.0 request', 'environ-keys', { target: `/environ/${w}`, version: 'HTTP/1.0', headers: [expectHeader({ SERVER_PROTOCOL: 'HTTP/1.0' })] }, { route: 'environ', expectedKeys: 1 }),
    ]);
  },
});

const pathAndQuery = defineCheck({
  id: 'path-and-query',
  title: 'PATH_INFO percent-decoded as latin-1, QUERY_STRING raw (py); the URL as sent (ts)',
  points: 2,
  async run(ctx) {
    const w = ctx.rng.word(5);
    const route = ctx.track === 'ts' ? 'request' : 'environ';
    const targets: Array<[string, string]> = [
      ['escapes in the path: UTF-8 bytes, a latin-1 byte, %20, %41; a raw query', `/${route}/${w}%20caf%C3%A9%E9/%41+?q=%41+${w}&r=caf%C3%A9`],
      ['an encoded slash, and an empty query after ?', `/${route}/${w}%2Fx?`],
      ['no query at all', `/${route}/${w}`],
    ];
    const cases: Case[] = [];
    for (const [name, target] of targets) {
      cases.push(await answerCase(ctx, name, 'path-and-query', { target, headers: [expectHeader({ target })] }, { route, expectedKeys: 1 }));
    }
    return fromCases(cases);
  },
});

const repeatedHeaders = defineCheck({
  id: 'repeated-headers',
  title: 'Repeated request headers are joined by commas, in order',
  points: 1,
  async run(ctx) {
    const [a, b] = [ctx.rng.word(5), ctx.rng.word(6)];
    const headers: Array<[string, string]> = [['X-Repeat', a], ['X-Dash-Name', 'v'], ['X-Repeat', b]];
    if (ctx.track === 'ts') {
      const wanted = { 'header:x-repeat': `${a}, ${b}`, 'header:x-dash-name': 'v' };
      return fromCases([await answerCase(ctx, 'X-Repeat twice, another header between', 'repeated-headers', { target: '/request', headers: [...headers, expectHeader(wanted)] }, { route: 'request', expectedKeys: 2 })]);
    }
    const wanted = { HTTP_X_REPEAT: [a, b], HTTP_X_DASH_NAME: 'v', HTTP_X_LATIN: 'caf\u00e9' };
    return fromCases([
      await answerCase(ctx, 'X-Repeat twice, another header between, a latin-1 value', 'repeated-headers', { target: '/environ', headers: [...headers, ['X-Latin', 'caf\u00e9'], expectHeader(wanted)] }, { route: 'environ', expectedKeys: 3 }),
    ]);
  },
});

/** Bytes of every value but \n, in lines of 40 that each end in \n: binary, and fit for readline(). */
function binaryBody(ctx: CheckContext): Buffer {
  const lines = ctx.rng.int(30, 60);
  const raw = ctx.rng.bytes(lines * 40);
  for (let i = 0; i < raw.length; i++) if (raw[i] === 10) raw[i] = 11;
  for (let i = 39; i < raw.length; i += 40) raw[i] = 10;
  return raw;
}

const READS_PAST = ['readlines', 'iter', 'all', 'past-end'];

const requestBody = defineCheck({
  id: 'request-body',
  title: 'The app reads exactly the body, then end-of-file (wsgi.input / Request body)',
  points: 3,
  timeoutMs: 60_000,
  async run(ctx) {
    const binary = binaryBody(ctx);
    // text() decodes UTF-8, so that read gets text; every other read gets bytes of any value.
    const text = Buffer.from(Array.from({ length: 40 }, () => `${ctx.rng.unicodeWord(6)} ${ctx.rng.word(5)}\n`).join(''), 'utf8');
    const wanted = (body: Buffer) => (ctx.track === 'ts' ? { body_length: body.length, body_sha256: sha256(body) } : { body_sha256: sha256(body) });
    const route = ctx.track === 'ts' ? 'body' : 'input';
    const modes = ctx.track === 'ts' ? ['arrayBuffer', 'text', 'blob', 'stream'] : ['read', 'small', 'readline'];
    const cases: Case[] = [];
    cases.push(await splitBodyCase(ctx, binary, route, wanted(binary)));
    cases.push(await unreadBodyCase(ctx, binary));
    // The reads past the end come last: on a server that hangs there, the other cases are judged first.
    for (const mode of ctx.track === 'ts' ? modes : [...modes, ...READS_PAST]) {
      const past = READS_PAST.includes(mode);
      const body = mode === 'text' ? text : binary;
      const want = wanted(body);
      // Kept alive: a wsgi.input that reads the socket itself waits for bytes that never come.
      cases.push(
        await answerCase(ctx, `read with ${mode}${past ? ', past the end, on a kept-alive connection' : ''}`, past ? 'input-eof' : 'request-body', { method: 'POST', target: `/${route}?read=${mode}`, headers: [['Content-Type', 'application/octet-stream'], expectHeader(want)], body }, {
          route,
          ...(past ? { idleTimeoutMs: HANG_MS } : {}),
          judge: (_res, a) => (a && a.saw.length !== undefined && a.saw.length !== body.length ? { ok: false, code: 'probe-violation', message: `the app read ${String(a.saw.length)} bytes, not ${body.length}` } : undefined),
        }),
      );
    }
    return fromCases(cases);
  },
});

/** The body comes in pieces, the last a while after the head: the app must still get all of it. */
function splitBodyCase(ctx: CheckContext, body: Buffer, route: string, want: Record<string, unknown>): Promise<Case> {
  const expected = `status 200 and the ${route} route's JSON: the app read all ${body.length} bytes`;
  return probeCase(
    'the body sent in pieces after the head',
    async () => {
      const bytes = bytesOf(ctx, { method: 'POST', target: `/${route}?read=${ctx.track === 'ts' ? 'arrayBuffer' : 'read'}`, headers: [['Content-Type', 'application/octet-stream'], expectHeader(want)], body });
      const conn = await ctx.connect({ label: 'body in pieces' });
      const headLength = bytes.length - body.length;
      await conn.send(bytes, { sizes: [headLength + 7, 300], pauseMs: 150, afterFirstPieceMs: 300 });
      const res = await conn.readResponse();
      conn.close();
      const { answer: _a, ...judged } = judgeAnswer(res, route);
      return { ...judged, exchange: conn.transcript({ expected, split: `the head and 7 bytes, then 300 bytes, then the rest, 150 ms apart` }) };
    },
    { expected, rule: ctx.rule('request-body') },
  );
}

/** The app ignores the body: the next request on the connection must still be read from the right byte. */
function unreadBodyCase(ctx: CheckContext, body: Buffer): Promise<Case> {
  const next = ctx.track === 'ts' ? 'request' : 'environ';
  const expected = `two answers on one connection: the ${next} route's JSON for the request after the unread body`;
  return probeCase(
    'a body the app never reads, then another request on the connection',
    async () => {
      const conn = await ctx.connect({ label: 'unread body' });
      // One after the other, not pipelined: the question is only where the server reads the next request from.
      await conn.send(bytesOf(ctx, { method: 'POST', target: '/instance', headers: [['Content-Type', 'application/octet-stream']], body }));
      const first = await conn.readResponse({ method: 'POST' });
      const { answer: _first, ...firstJudged } = judgeAnswer(first, 'instance');
      if (!firstJudged.ok) {
        conn.close();
        return { ...firstJudged, exchange: conn.transcript({ expected }) };
      }
      // A server that ends every connection after one answer has nothing to skip.
      const connection = header(first, 'connection') ?? '';
      if (/\bclose\b/i.test(connection) || (first.version === 'HTTP/1.0' && !/\bkeep-alive\b/i.test(connection))) {
        conn.close();
        return { ok: true, message: 'the server closed the connection after the first answer, as it said it would', exchange: conn.transcript({ expected }) };
      }
      await conn.send(bytesOf(ctx, { target: `/${next}`, headers: [['Connection', 'close']] }));
      const res = await conn.readResponse();
      conn.close();
      const { answer: _a, ...judged } = judgeAnswer(res, next);
      return { ...judged, exchange: conn.transcript({ expected }) };
    },
    { expected, rule: ctx.rule('input-eof') },
  );
}

const deferredHeaders = defineCheck({
  id: 'deferred-headers',
  title: 'Headers wait for the first non-empty chunk, so exc_info can still replace them',
  points: 3,
  async run(ctx) {
    const skipped = only('py', ctx, 'a fetch handler gives back a whole Response: there are no headers to hold back');
    if (skipped) return skipped;
    const late = (when: string, name: string, rule: string) =>
      answerCase(ctx, name, rule, { target: `/late-error?when=${when}`, headers: [['Connection', 'close']] }, {
        route: 'late-error',
        status: 500,
        expected: 'status 500 (the status the app gave last) and its JSON with no violations',
        first: (res) => {
          if (res.status === 500) return undefined;
          const said = answerOf(res.body)?.violations.map(describeViolation).join('; ');
          return { ok: false, code: 'headers-sent-early', message: `status was ${res.status}: the stored status went out before any body, so the app's start_response(..., exc_info) could not replace it${said ? ` (the app says: ${said})` : ''}` };
        },
      });
    const cases = [
      await late('before', 'start_response again with exc_info before any body: the 500 replaces the 200', 'exc-info-replaces'),
      await late('after-empty', 'the same after an empty first chunk', 'deferred-headers'),
      await answerCase(ctx, 'empty chunks before, between and after the body', 'deferred-headers', { target: '/empty-chunks' }, { route: 'empty-chunks' }),
      await afterBodyCase(ctx),
    ];
    return fromCases(cases);
  },
});

/** After a body chunk, start_response with exc_info must raise; the connection then closes, and close() is called. */
function afterBodyCase(ctx: CheckContext): Promise<Case> {
  const id = `after-body-${ctx.rng.word(8)}`;
  const expected = 'the 200 cut short: the connection closes before its Content-Length, start_response raises (the log says so), close() is called';
  return probeCase(
    'start_response with exc_info after the body began raises',
    async () => {
      const conn = await ctx.connect({ label: 'after-body' });
      await conn.send(bytesOf(ctx, { target: `/late-error?when=after-body&id=${id}` }));
      const cut = await readCut(conn);
      const log = logOf(ctx);
      await log.waitFor(id, 'close', ctx.signal);
      const events = log.events(id);
      conn.close();
      const exchange = conn.transcript({ expected });
      if (events.some((e) => e.event === 'start_response-returned')) return { ok: false, code: 'exc-info-not-raised', message: 'start_response(..., exc_info) returned although the headers were out', exchange };
      if (!cut.ok) return { ...cut, exchange };
      if (!events.some((e) => e.event === 'close')) return { ok: false, code: 'close-not-called', message: "the iterable's close() was not called", exchange };
      return { ok: true, exchange };
    },
    { expected, rule: ctx.rule('exc-info-raises') },
  );
}

/** Reads a response that must be cut short by the server closing; how it ended, as an outcome. */
async function readCut(conn: RawConnection): Promise<Outcome> {
  try {
    await conn.readResponse();
    return { ok: false, code: 'wrong-body', message: 'the response looked complete: a short body must end with the connection closing' };
  } catch (e) {
    if (!isProbeError(e)) throw e;
    if (e.code === 'eof-mid-response') return { ok: true };
    if (e.code === 'response-never-ends') return { ok: false, code: 'cut-not-closed', message: 'the body stopped short and the connection stayed open' };
    return { ok: false, code: e.code, message: e.message };
  }
}

const startResponse = defineCheck({
  id: 'start-response',
  title: 'start_response: a second call without exc_info raises, a lazy call works, write() works',
  points: 2,
  async run(ctx) {
    const skipped = only('py', ctx, NO_START_RESPONSE);
    if (skipped) return skipped;
    return fromCases([
      await answerCase(ctx, 'a second call without exc_info raises in the app', 'start-twice', { target: '/start-twice', headers: [['Connection', 'close']] }, { route: 'start-twice' }),
      await answerCase(ctx, 'start_response called on the first iteration', 'lazy-start', { target: '/lazy' }, { route: 'lazy' }),
      await answerCase(ctx, 'the write callable, then the iterable', 'write-callable', { target: '/write?cl=0' }, { route: 'write' }),
      await answerCase(ctx, 'the write callable, then the iterable, with a Content-Length', 'write-callable', { target: '/write?cl=1' }, { route: 'write' }),
    ]);
  },
});

/** The client leaves after the first chunk of a long stream; close() (a cancel on ts) must follow. */
function disconnectCase(ctx: CheckContext): Promise<Case> {
  const id = `gone-${ctx.rng.word(8)}`;
  const event = ctx.track === 'ts' ? 'cancel' : 'close';
  const expected = ctx.track === 'ts' ? 'the body stream cancelled within 5 s of the client leaving' : "the iterable's close() called within 5 s of the client leaving";
  return probeCase(
    'the client leaves in the middle of a stream',
    async () => {
      const conn = await ctx.connect({ label: 'client leaves' });
      // 200 chunks 100 ms apart: 20 s of stream, far more than the waits below, so a server that runs
      // it to the end before calling close() is not taken for one that stopped.
      await conn.send(bytesOf(ctx, { target: `/stream?id=${id}&n=200&ms=100` }));
      const deadline = Date.now() + ctx.ioTimeoutMs;
      while (!conn.received.includes('"of"') && !conn.eof && Date.now() < deadline) await conn.waitForBytes(deadline - Date.now());
      const exchange = conn.transcript({ expected });
      conn.reset();
      if (!(await logOf(ctx).waitFor(id, event, ctx.signal))) return { ok: false, code: 'close-not-called', message: `no ${event} in the app's log within ${LOG_MS / 1000} s of the client leaving`, exchange };
      return { ok: true, exchange };
    },
    { expected, rule: ctx.rule('close-called') },
  );
}

const closeCalled = defineCheck({
  id: 'close-called',
  title: "The app's iterable is closed however the response ends (a body stream cancelled on ts)",
  points: 2,
  async run(ctx) {
    if (ctx.track === 'ts') return fromCases([await disconnectCase(ctx)]);
    const normal = `close-${ctx.rng.word(8)}`;
    const raised = `raise-${ctx.rng.word(8)}`;
    const log = logOf(ctx);
    const logged = async (id: string): Promise<Outcome | undefined> =>
      (await log.waitFor(id, 'close', ctx.signal)) ? undefined : { ok: false, code: 'close-not-called', message: `no close() in the app's log within ${LOG_MS / 1000} s` };
    const normalCase = await answerCase(ctx, 'after the last chunk', 'close-called', { target: `/close?id=${normal}` }, { route: 'close' });
    const normalClosed = normalCase.ok ? await logged(normal) : undefined;
    const raisedCase = await probeCase(
      'when the app raises in the middle of its body',
      async () => {
        const conn = await ctx.connect({ label: 'raise-late' });
        await conn.send(bytesOf(ctx, { target: `/raise-late?id=${raised}` }));
        await readCut(conn);
        const missing = await logged(raised);
        conn.close();
        return { ...(missing ?? { ok: true }), exchange: conn.transcript({ expected: "the iterable's close() called" }) };
      },
      { expected: "the iterable's close() called", rule: ctx.rule('close-called') },
    );
    return fromCases([{ ...normalCase, ...(normalClosed ?? {}) }, raisedCase, await disconnectCase(ctx)]);
  },
});

const streaming = defineCheck({
  id: 'streaming',
  title: 'A streamed body reaches the client chunk by chunk, as the app makes it',
  points: 2,
  async run(ctx) {
    const id = `stream-${ctx.rng.word(8)}`;
    const expected = 'the first chunk on its own (the app makes the next only once the grader has seen it), then all three and the JSON answer, then the connection closed as asked';
    const log = logOf(ctx);
    const streamed = await probeCase(
      'three chunks, the second made only once the first has arrived',
      async () => {
        const conn = await ctx.connect({ label: 'stream' });
        await conn.send(bytesOf(ctx, { target: `/stream?id=${id}&n=3&ms=100&gate=1`, headers: [['Connection', 'close']] }));
        const deadline = Date.now() + FIRST_CHUNK_MS;
        while (!conn.received.includes('"of"') && !conn.eof && Date.now() < deadline) await conn.waitForBytes(deadline - Date.now());
        const firstAt = Date.now() / 1000;
        const arrived = conn.received.includes('"of"');
        // Let the app go on either way, so that nothing waits on after the check.
        log.seen(id, 0);
        // A connection that closed without the chunk is judged on what came: not the stream.
        if (!arrived && !conn.eof) {
          conn.close();
          return { ok: false, code: 'not-streamed', message: `the first chunk did not arrive within ${FIRST_CHUNK_MS / 1000} s, while the app waited for it to be seen before making the next: the body was held until it was complete`, exchange: conn.transcript({ expected }) };
        }
        const res = await conn.readResponse();
        // The body is over only when the server is done with it: a Connection: close it was asked for comes after.
        const closed = await conn.waitForEof(ctx.ioTimeoutMs);
        conn.close();
        const exchange = conn.transcript({ expected });
        const lines = res.body.toString('utf8').split('\n').filter(Boolean);
        let chunks: Array<{ chunk?: number; t?: number }> = [];
        try {
          chunks = lines.slice(0, -1).map((line) => JSON.parse(line) as { chunk: number; t: number });
        } catch {
          // judged below
        }
        if (chunks.length !== 3 || chunks.some((c, i) => c.chunk !== i) || answerOf(Buffer.from(lines.at(-1) ?? ''))?.route !== 'stream') {
          return { ok: false, code: 'not-probe-answer', message: 'the body is not the three chunks and the JSON answer the app made', exchange };
        }
        // The gate makes this so for a server that streams; it fails only if the app stopped waiting.
        if (!(firstAt <= chunks[1]!.t!)) {
          return { ok: false, code: 'not-streamed', message: `the first chunk arrived ${Math.round((firstAt - chunks[1]!.t!) * 1000)} ms after the app made the second, which it makes only once the first has been seen or ${GATE_S} s have passed: the body was held until it was complete`, exchange };
        }
        if (!closed) return { ok: false, code: 'not-closed', message: `the stream ended, but the connection stayed open ${ctx.ioTimeoutMs} ms after it although the request said Connection: close`, exchange };
        return { ok: true, exchange };
      },
      { expected, rule: ctx.rule('streaming') },
    );
    const cases = [streamed];
    if (ctx.track === 'ts') cases.push(await answerCase(ctx, 'empty chunks in the body stream', 'streaming', { target: '/empty-chunks' }, { route: 'empty-chunks' }));
    return fromCases(cases);
  },
});

/** After an app error: the server still answers the next request. */
function stillServes(ctx: CheckContext): Promise<Case> {
  const route = ctx.track === 'ts' ? 'sync' : 'instance';
  return answerCase(ctx, 'the next request is answered', 'app-errors', { target: `/${route}`, headers: [['Connection', 'close']] }, { route });
}

const appErrors = defineCheck({
  id: 'app-errors',
  title: 'An app that fails gets a 500, or a cut response, and the server lives on',
  points: 2,
  async run(ctx) {
    const fails = ctx.track === 'ts' ? [['/throws', 'a handler that throws'], ['/rejects', 'a handler whose Promise rejects']] : [['/raise-early', 'an app that raises before start_response']];
    const cases: Case[] = [];
    for (const [target, name] of fails) {
      cases.push(
        await probeCase(
          `${name} gets a 500`,
          async () => {
            const { conn, res } = await send(ctx, { target: target!, headers: [['Connection', 'close']] });
            conn.close();
            return { ok: res.status === 500, code: 'no-500', message: `status was ${res.status}`, exchange: conn.transcript({ expected: 'status 500' }) };
          },
          { expected: 'status 500', rule: ctx.rule('app-errors') },
        ),
      );
      cases.push(await stillServes(ctx));
    }
    const late = ctx.track === 'ts' ? `/stream-error?id=e-${ctx.rng.word(6)}` : `/raise-late?id=e-${ctx.rng.word(6)}`;
    const expected = 'the response cut short: the connection closes before the Content-Length is reached';
    cases.push(
      await probeCase(
        ctx.track === 'ts' ? 'a body stream that fails after its first chunk' : 'an app that raises after its first chunk',
        async () => {
          const conn = await ctx.connect({ label: late });
          await conn.send(bytesOf(ctx, { target: late }));
          const cut = await readCut(conn);
          conn.close();
          return { ...cut, exchange: conn.transcript({ expected }) };
        },
        { expected, rule: ctx.rule('error-mid-body') },
      ),
    );
    cases.push(await stillServes(ctx));
    return fromCases(cases);
  },
});

/** Overlong as a stream (ts): exactly Content-Length bytes, nothing after them, and the rest of the stream cancelled. */
function overlongStreamCase(ctx: CheckContext): Promise<Case> {
  const id = `ol-${ctx.rng.word(8)}`;
  const expected = "the overlong-stream route's JSON, exactly Content-Length bytes, nothing after them, the close, and the stream cancelled";
  return probeCase(
    'a body stream that runs on past its Content-Length',
    async () => {
      const { conn, res } = await send(ctx, { target: `/overlong-stream?id=${id}`, headers: [['Connection', 'close']] });
      const closed = await conn.waitForEof(ctx.ioTimeoutMs);
      conn.close();
      const exchange = conn.transcript({ expected });
      const { answer: _a, ...judged } = judgeAnswer(res, 'overlong-stream');
      if (!judged.ok) return { ...judged, exchange };
      if (conn.unconsumed.length) return { ok: false, code: 'bytes-after-response', message: `${conn.unconsumed.length} bytes came after the Content-Length: ${JSON.stringify(conn.unconsumed.toString('latin1').slice(0, 60))}`, exchange };
      if (!closed) return { ok: false, code: 'not-closed', message: `the Content-Length was reached, but the connection stayed open ${ctx.ioTimeoutMs} ms after it although the request said Connection: close: the server went on reading the stream`, exchange };
      if (!(await logOf(ctx).waitFor(id, 'cancel', ctx.signal))) return { ok: false, code: 'close-not-called', message: `the body stream was not cancelled within ${LOG_MS / 1000} s of its Content-Length being sent: the app goes on making bytes nobody reads`, exchange };
      return { ok: true, exchange };
    },
    { expected, rule: ctx.rule('content-length-cut') },
  );
}

const said = (res: ParsedResponse) => header(res, 'connection') ?? '';
const saysClose = (res: ParsedResponse) => /\bclose\b/i.test(said(res));

/**
 * A request on a connection kept alive (ts), then `GET /sync` with Connection: close on the same
 * connection, which must be answered: the first answer's framing has to end where it says.
 */
function keptAliveCase(ctx: CheckContext, name: string, rule: string, first: Req, expected: string, judge: (res: ParsedResponse, conn: RawConnection) => Promise<Outcome | undefined>): Promise<Case> {
  const full = `${expected}; the connection kept open, and a second request on it answered`;
  return probeCase(
    name,
    async () => {
      const conn = await ctx.connect({ label: `${first.method ?? 'GET'} ${first.target}, then GET /sync` });
      await conn.send(bytesOf(ctx, first));
      const res = await conn.readResponse({ method: first.method ?? 'GET' });
      const done = (o: Outcome) => {
        conn.close();
        return { ...o, exchange: conn.transcript({ expected: full }) };
      };
      const wrong = await judge(res, conn);
      if (wrong) return done(wrong);
      if (saysClose(res)) return done({ ok: false, code: 'not-kept-alive', message: `the answer said Connection: ${said(res)} to an HTTP/1.1 request that did not ask to close, with framing that needs no close` });
      await conn.send(bytesOf(ctx, { target: '/sync', headers: [['Connection', 'close']] }));
      let next: ParsedResponse;
      try {
        next = await conn.readResponse();
      } catch (e) {
        if (!isProbeError(e)) throw e;
        const why = e.code === 'eof-before-response' || e.code === 'connection-reset' ? 'the server closed the connection after the first answer instead of reading the next request' : e.message;
        return done({ ok: false, code: e.code === 'eof-before-response' || e.code === 'connection-reset' ? 'not-kept-alive' : e.code, message: `the second request on the connection: ${why}` });
      }
      const { answer: _a, ...judged } = judgeAnswer(next, 'sync');
      return done(judged.ok ? judged : { ...judged, message: `the second request on the connection: ${judged.message}` });
    },
    { expected: full, rule: ctx.rule(rule) },
  );
}

/** The framing cases only the ts track runs: the fetch adapter writes the framing itself. */
async function framingCases(ctx: CheckContext): Promise<Case[]> {
  const cases: Case[] = [];
  cases.push(
    await keptAliveCase(ctx, 'HTTP/1.1, no Content-Length from the app: chunked', 'chunked', { target: '/sync' }, 'the sync route\'s JSON, chunked', async (res) => {
      if (res.framing !== 'chunked') return { ok: false, code: 'wrong-header', message: `the app gave no Content-Length and the request is HTTP/1.1, but the body was framed by ${res.framing === 'close' ? 'closing the connection' : res.framing}, not Transfer-Encoding: chunked` };
      const { answer: _a, ...judged } = judgeAnswer(res, 'sync');
      return judged.ok ? undefined : judged;
    }),
  );
  cases.push(
    await keptAliveCase(ctx, "HTTP/1.1, the app's own Content-Length", 'keep-alive', { target: '/sized' }, "the sized route's JSON, framed by its Content-Length", async (res) => {
      const { answer: _a, ...judged } = judgeAnswer(res, 'sized');
      return judged.ok ? undefined : judged;
    }),
  );
  cases.push(
    await keptAliveCase(ctx, 'HEAD: the head only, no body', 'bodyless', { method: 'HEAD', target: '/sync' }, 'status 200 and no body bytes after the head', async (res, conn) => {
      if (res.status !== 200) return { ok: false, code: 'wrong-status', message: `status was ${res.status} for HEAD /sync, expected 200, as for GET` };
      // A body written after the head arrives with it, or just after.
      await conn.waitForBytes(300);
      if (conn.unconsumed.length) return { ok: false, code: 'head-with-body', message: `${conn.unconsumed.length} bytes came after the head of the answer to HEAD, which has no body (RFC 9112 section 6.3): ${JSON.stringify(conn.unconsumed.toString('latin1').slice(0, 60))}` };
      return undefined;
    }),
  );
  cases.push(
    await keptAliveCase(ctx, 'a 304: the head only, no body and no chunked framing', 'bodyless', { target: '/not-modified' }, 'status 304 and no body bytes after the head', async (res, conn) => {
      if (res.status !== 304) return { ok: false, code: 'wrong-status', message: `status was ${res.status}, expected the app's 304` };
      await conn.waitForBytes(300);
      if (conn.unconsumed.length) return { ok: false, code: 'body-not-allowed', message: `${conn.unconsumed.length} bytes came after the head of a 304, which has no body (RFC 9112 section 6.3): ${JSON.stringify(conn.unconsumed.toString('latin1').slice(0, 60))}` };
      return undefined;
    }),
  );
  const noContent = "status 204, no body and no Transfer-Encoding, Connection: close, then the close";
  cases.push(
    await probeCase(
      'a 204 to a request with Connection: close',
      async () => {
        const conn = await ctx.connect({ label: 'GET /no-content' });
        await conn.send(bytesOf(ctx, { target: '/no-content', headers: [['Connection', 'close']] }));
        let res: ParsedResponse;
        try {
          res = await conn.readResponse();
        } catch (e) {
          // Body framing on a 204 is the bodyless rule's fault, not the close's.
          if (!isProbeError(e) || e.code !== 'body-not-allowed') throw e;
          conn.close();
          return { ok: false, code: e.code, rule: ctx.rule('bodyless'), message: `${e.message} (RFC 9112 section 6.3)`, exchange: conn.transcript({ expected: noContent }) };
        }
        const closed = await conn.waitForEof(ctx.ioTimeoutMs);
        conn.close();
        const exchange = conn.transcript({ expected: noContent });
        if (res.status !== 204) return { ok: false, code: 'wrong-status', message: `status was ${res.status}, expected the app's 204`, exchange };
        if (conn.unconsumed.length) return { ok: false, code: 'body-not-allowed', rule: ctx.rule('bodyless'), message: `${conn.unconsumed.length} bytes came after the head of a 204, which has no body (RFC 9112 section 6.3)`, exchange };
        if (!closed) return { ok: false, code: 'not-closed', message: `the 204 went out, but the connection stayed open ${ctx.ioTimeoutMs} ms after it although the request said Connection: close`, exchange };
        if (!saysClose(res)) return { ok: false, code: 'close-not-announced', message: `the server closed the connection after the 204 as asked, but the answer did not say Connection: close (it said ${JSON.stringify(header(res, 'connection') ?? null)})`, exchange };
        return { ok: true, exchange };
      },
      { expected: noContent, rule: ctx.rule('connection-close') },
    ),
  );
  const old = "the sync route's JSON, not chunked, Connection: close, the close ending the body";
  cases.push(
    await probeCase(
      'HTTP/1.0 asking for keep-alive, no Content-Length from the app',
      async () => {
        const conn = await ctx.connect({ label: 'GET /sync HTTP/1.0' });
        await conn.send(bytesOf(ctx, { target: '/sync', version: 'HTTP/1.0', headers: [['Connection', 'keep-alive']] }));
        const res = await conn.readResponse();
        conn.close();
        const exchange = conn.transcript({ expected: old });
        if (res.framing === 'chunked') return { ok: false, code: 'wrong-header', message: 'the body was sent with Transfer-Encoding: chunked to an HTTP/1.0 client, which does not know chunked framing (RFC 9112 section 6.1): without a Content-Length, the close must end the body', exchange };
        const { answer: _a, ...judged } = judgeAnswer(res, 'sync');
        if (!judged.ok) return { ...judged, exchange };
        if (!saysClose(res)) return { ok: false, code: 'close-not-announced', rule: ctx.rule('connection-close'), message: `the body was ended by the close, as it must be without a Content-Length, but the answer did not say Connection: close although the request asked for keep-alive (it said ${JSON.stringify(header(res, 'connection') ?? null)})`, exchange };
        return { ok: true, exchange };
      },
      { expected: old, rule: ctx.rule('close-delimited') },
    ),
  );
  const short = 'the body stops short of its Content-Length, and the connection closes';
  cases.push(
    await probeCase(
      'a body stream that ends before its Content-Length',
      async () => {
        const conn = await ctx.connect({ label: 'GET /short-body' });
        await conn.send(bytesOf(ctx, { target: '/short-body' }));
        const cut = await readCut(conn);
        conn.close();
        const message = cut.code === 'cut-not-closed' ? 'the body stream ended 100 bytes before its Content-Length and the connection stayed open: the client waits for bytes that never come' : cut.message;
        return { ...cut, ...(message ? { message } : {}), exchange: conn.transcript({ expected: short }) };
      },
      { expected: short, rule: ctx.rule('short-body') },
    ),
  );
  return cases;
}

const contentLengthCut = defineCheck({
  id: 'content-length-cut',
  title: "No more body bytes than the app's own Content-Length (ts: also the framing and keep-alive HTTP asks for)",
  points: 1,
  timeoutMs: 40_000,
  async run(ctx) {
    const expected = "the overlong route's JSON, exactly Content-Length bytes, nothing after it before the close";
    const cases = [
      await probeCase(
        'the app yields more than its Content-Length',
        async () => {
          const { conn, res } = await send(ctx, { target: `/overlong?id=o-${ctx.rng.word(6)}`, headers: [['Connection', 'close']] });
          await conn.waitForEof(ctx.ioTimeoutMs);
          const exchange = conn.transcript({ expected });
          conn.close();
          const { answer: _a, ...judged } = judgeAnswer(res, 'overlong');
          if (!judged.ok) return { ...judged, exchange };
          if (conn.unconsumed.length) return { ok: false, code: 'bytes-after-response', message: `${conn.unconsumed.length} bytes came after the Content-Length: ${JSON.stringify(conn.unconsumed.toString('latin1').slice(0, 60))}`, exchange };
          return { ok: true, exchange };
        },
        { expected, rule: ctx.rule('content-length-cut') },
      ),
    ];
    if (ctx.track === 'ts') cases.push(await overlongStreamCase(ctx), ...(await framingCases(ctx)));
    return fromCases(cases);
  },
});

const multithread = defineCheck({
  id: 'multithread',
  title: 'wsgi.multithread tells the truth (py); requests run at once (ts)',
  points: 1,
  async run(ctx) {
    const id = `barrier-${ctx.rng.word(8)}`;
    const target = `/barrier?id=${id}&n=3&timeout=2`;
    const conns: RawConnection[] = [];
    for (let i = 0; i < 3; i++) conns.push(await ctx.connect({ label: `barrier ${i + 1}` }));
    // Sent last-opened first: a server that takes connections one at a time cannot meet by luck.
    for (let i = conns.length - 1; i >= 0; i--) await conns[i]!.send(bytesOf(ctx, { target, headers: [['Connection', 'close']] }));
    const expected = ctx.track === 'ts' ? 'all three requests meet at the barrier' : 'wsgi.multithread True if the three requests met, False if they ran one after another';
    const answers: Array<Answer | undefined> = [];
    const cases: Case[] = [];
    for (const [i, conn] of conns.entries()) {
      cases.push(
        await probeCase(
          `request ${i + 1} of 3`,
          async () => {
            const res = await conn.readResponse({ idleTimeoutMs: 10_000 });
            const { answer, ...judged } = judgeAnswer(res, 'barrier');
            answers.push(answer);
            return { ...judged, ...(judged.code === 'probe-violation' ? { code: 'multithread-wrong' as const } : {}), exchange: conn.transcript({ expected }) };
          },
          { expected, rule: ctx.rule('multithread') },
        ),
      );
    }
    if (cases.every((c) => c.ok)) {
      const met = answers.map((a) => a?.saw.met);
      const threaded = answers.map((a) => a?.saw.multithread);
      let problem: string | undefined;
      if (ctx.track === 'ts' && met.some((m) => m !== true)) problem = `the requests did not meet (met: ${JSON.stringify(met)}): they ran one at a time`;
      else if (ctx.track === 'py' && met.every((m) => m === false) && threaded.some((t) => t !== false)) problem = `the requests ran one after another, and wsgi.multithread was ${JSON.stringify(threaded)}`;
      else if (ctx.track === 'py' && met.some((m) => m !== met[0])) problem = `some requests met and some did not (met: ${JSON.stringify(met)})`;
      if (problem) cases.push({ name: 'what the server says against what it does', ok: false, code: ctx.track === 'ts' ? 'not-concurrent' : 'multithread-wrong', message: problem, rule: ctx.rule('multithread') });
    }
    return fromCases(cases);
  },
});

const loadedOnce = defineCheck({
  id: 'loaded-once',
  title: 'The app is imported once, not per request',
  points: 1,
  async run(ctx) {
    const seen: Answer[] = [];
    const one = (n: number) =>
      answerCase(ctx, `request ${n} to /instance`, 'loaded-once', { target: '/instance', headers: [['Connection', 'close']] }, { route: 'instance', judge: (_r, a) => void (a && seen.push(a)) });
    const cases = [await one(1), await one(2), await one(3)];
    if (cases.every((c) => c.ok)) {
      const [a, ...rest] = seen;
      const same = rest.filter((b) => b.saw.pid === a!.saw.pid);
      const reloaded = same.some((b) => b.saw.loaded !== a!.saw.loaded || Number(b.saw.served) <= Number(a!.saw.served));
      if (reloaded) cases.push({ name: 'the same module each time', ok: false, code: 'app-reloaded', message: `the module's load token changed between requests in one process (${seen.map((s) => String(s.saw.loaded).slice(0, 8)).join(', ')}) and its request count started again`, rule: ctx.rule('loaded-once') });
    }
    return fromCases(cases);
  },
});

/** The one form of HTTP-date a sender may generate (RFC 9110 section 5.6.7). */
const IMF_FIXDATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

const responseHeaders = defineCheck({
  id: 'response-headers',
  title: "The status line and headers exactly as the app gave them, each Set-Cookie on its own line, and one Date",
  points: 1,
  async run(ctx) {
    const status = ctx.rng.pick([203, 226, 299, 418, 451]);
    const reason = `Odd ${ctx.rng.mixedWord(6)}`;
    const [v, c1, c2] = [ctx.rng.word(6), ctx.rng.word(5), ctx.rng.word(5)];
    const target = `/respond?status=${status}&reason=${reason.replace(' ', '+')}&h=X-Probe-A:${v}&h=Set-Cookie:a%3D${c1}&h=Set-Cookie:b%3D${c2}`;
    const expected = `status ${status} "${reason}", X-Probe-A: ${v}, and two Set-Cookie lines: a=${c1}, b=${c2}`;
    const cases = [
      await answerCase(ctx, 'a status, a reason and headers of the app\'s own', 'response-headers', { target }, {
        route: 'respond',
        status,
        expected,
        judge: (res) => {
          if (res.reason !== reason) return { ok: false, code: 'wrong-status', message: `the reason phrase was ${JSON.stringify(res.reason)}, expected ${JSON.stringify(reason)}` };
          const cookies = headerAll(res, 'set-cookie');
          if (JSON.stringify(cookies) !== JSON.stringify([`a=${c1}`, `b=${c2}`])) return { ok: false, code: 'wrong-header', message: `Set-Cookie lines were ${JSON.stringify(cookies)}, expected each cookie on a line of its own` };
          if (header(res, 'x-probe-a') !== v) return { ok: false, code: 'wrong-header', message: `X-Probe-A was ${JSON.stringify(header(res, 'x-probe-a') ?? null)}` };
          return undefined;
        },
      }),
    ];
    cases.push(
      await answerCase(ctx, 'no Date from the app: the server adds one', 'date', { target: '/respond?status=200' }, {
        route: 'respond',
        expected: 'one Date header, an IMF-fixdate such as "Sun, 06 Nov 1994 08:49:37 GMT"',
        judge: (res) => {
          const dates = headerAll(res, 'date');
          if (dates.length === 1 && IMF_FIXDATE.test(dates[0]!)) return undefined;
          return { ok: false, code: 'wrong-header', message: dates.length === 0 ? 'the answer had no Date header: an origin server with a clock must send one (RFC 9110 section 6.6.1)' : dates.length > 1 ? `the answer had ${dates.length} Date headers: ${JSON.stringify(dates)}` : `Date was ${JSON.stringify(dates[0])}, not an IMF-fixdate (RFC 9110 section 5.6.7)` };
        },
      }),
    );
    const appDate = 'Mon, 01 Jan 2024 00:00:00 GMT';
    cases.push(
      await answerCase(ctx, 'a Date from the app: still only one', 'date', { target: `/respond?status=200&h=Date:${encodeURIComponent(appDate)}` }, {
        route: 'respond',
        expected: `one Date header (the app gave ${JSON.stringify(appDate)})`,
        judge: (res) => {
          const dates = headerAll(res, 'date');
          if (dates.length === 1) return undefined;
          return { ok: false, code: 'wrong-header', message: dates.length ? `the answer had ${dates.length} Date headers, ${JSON.stringify(dates)}: the app gave its own, so the server adds none (a field that holds one date, sent twice, is invalid: RFC 9110 section 5.3)` : 'the answer had no Date header, although the app gave one' };
        },
      }),
    );
    if (ctx.track === 'ts') {
      const word = ctx.rng.word(5);
      const latin = `${word}\u00e9`;
      cases.push(
        await answerCase(ctx, 'a header value with a latin-1 character', 'header-bytes', { target: `/respond?status=200&h=X-Probe-Latin:${word}%C3%A9` }, {
          route: 'respond',
          expected: `X-Probe-Latin: ${JSON.stringify(latin)}, its last character the one byte E9`,
          judge: (res) => {
            const got = header(res, 'x-probe-latin');
            if (got === latin) return undefined;
            const bytes = got === undefined ? 'absent' : Buffer.from(got, 'latin1').toString('hex').replace(/(..)/g, '$1 ').trim();
            return { ok: false, code: 'wrong-header', message: `X-Probe-Latin went out as the bytes ${bytes}, expected ${Buffer.from(latin, 'latin1').toString('hex').replace(/(..)/g, '$1 ').trim()}: each character of a header value is one byte (latin-1), not UTF-8` };
          },
        }),
      );
    }
    return fromCases(cases);
  },
});

export default defineExercise({
  id: '04-gateway',
  env: (_rng, track): Record<string, string> =>
    track === 'ts'
      ? { APP: path.join(APPS, 'probe-app.ts') }
      : // The app's folder goes on sys.path; no __pycache__ written into the grader's own tree.
        { APP: 'probe_app:app', APP_DIR: APPS, PYTHONDONTWRITEBYTECODE: '1' },
  rules: RULES,
  services: async () => [new ProbeLog()],
  checks: [environKeys, pathAndQuery, repeatedHeaders, requestBody, deferredHeaders, startResponse, closeCalled, streaming, appErrors, contentLengthCut, multithread, loadedOnce, responseHeaders],
});
