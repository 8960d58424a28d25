import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { defineCheck, defineExercise, fail, fromCases, pass, type Case, type CheckContext } from './define.ts';
import type { FailureCode } from './codes.ts';
import rules from './rules/09-proxy.ts';
import { eventually, sendAll } from './process-models.ts';
import { header, headerAll, type ParsedResponse } from '../probes/raw/parse-response.ts';
import type { RequestSpec } from '../probes/raw/request.ts';
import { isProbeError, type ProbeError } from '../probes/errors.ts';
import { runLoad } from '../probes/load/run-load.ts';
import { headerValues, SlowUpstream, upstreamBody, type UpstreamRequest } from '../services/upstream.ts';
import { SlowCache } from '../services/cache.ts';
import type { Exchange, Measurement, RuleRef } from '../report/model.ts';

// 09-proxy: a proxy to the slow upstream and a cache in front of it over memcached's protocol.
// What the server sent on is read from the fixtures' records (the upstream keeps every request's
// head and body, the cache every command); concurrency is read from them too: a barrier that
// only a concurrent proxy can fill, replies held until several commands wait. Time is judged
// only against generous bounds: a timeout must not fire far too early, nor never.

/** How long a request that should be answered may take, whatever the machine. */
const ANSWER_MS = 10_000;
/** How long the grader waits for requests that a concurrent proxy sends at once. */
const GATHER_MS = 8000;
/** How long the cache holds commands, waiting for all of them: well within CACHE_TIMEOUT_MS. */
const CACHE_GATHER_MS = 500;
/** The least share of the predicted throughput that passes: a server that overlaps fewer than 15 of 50 waits fails. */
/** The share of the clients whose requests must be at the upstream at once under load. */
const MIN_SHARE = 0.3;

const upstreamOf = (ctx: CheckContext) => ctx.service<SlowUpstream>('upstream');
const cacheOf = (ctx: CheckContext) => ctx.service<SlowCache>('cache');
const timeoutMs = (ctx: CheckContext, name: 'UPSTREAM_TIMEOUT_MS' | 'CACHE_TIMEOUT_MS') => Number(ctx.env[name]);
const show = (b: Buffer | string, n = 70) => JSON.stringify((typeof b === 'string' ? b : b.toString('utf8')).slice(0, n));

/** One request on a connection of its own: the response, or the probe's failure, and the transcript. */
async function askOnce(ctx: CheckContext, spec: RequestSpec, opts: { idleTimeoutMs?: number; label?: string }): Promise<{ res?: ParsedResponse; error?: ProbeError; exchange: (expected: string) => Exchange }> {
  const conn = await ctx.connect({ label: opts.label ?? `${spec.method ?? 'GET'} ${spec.target}` });
  try {
    await conn.send(ctx.request(spec));
    const res = await conn.readResponse({ ...(opts.idleTimeoutMs ? { idleTimeoutMs: opts.idleTimeoutMs } : {}), ...(spec.method ? { method: spec.method } : {}) });
    return { res, exchange: (expected) => conn.transcript({ expected }) };
  } catch (e) {
    if (!isProbeError(e)) throw e;
    return { error: e, exchange: (expected) => ({ ...(e.exchange ?? conn.transcript()), expected }) };
  } finally {
    conn.close();
  }
}

/** How many times a proxied request is sent again when its 504 came late, on a busy machine. */
const LATE_RETRIES = 2;

/**
 * One request, as askOnce. The upstream runs in the grader and answers at once, but on a machine
 * busy enough the grader itself can be later than UPSTREAM_TIMEOUT_MS: a 504 that came only after
 * most of that time is the machine's delay, not the server's fault, and the request is sent again.
 * A server that gives up too soon is quick with its 504 and is not asked again; one that is always
 * late still gets its 504 in the end.
 */
async function ask(ctx: CheckContext, spec: RequestSpec, opts: { idleTimeoutMs?: number; label?: string } = {}): Promise<{ res?: ParsedResponse; error?: ProbeError; exchange: (expected: string) => Exchange; lateRetries: number }> {
  const late = spec.target?.startsWith('/proxy/') ? 0.75 * timeoutMs(ctx, 'UPSTREAM_TIMEOUT_MS') : Infinity;
  for (let tries = 0; ; tries++) {
    const started = performance.now();
    const a = await askOnce(ctx, spec, opts);
    if (a.res?.status !== 504 || performance.now() - started < late || tries >= LATE_RETRIES || ctx.signal.aborted) return { ...a, lateRetries: tries };
  }
}
type Asked = Awaited<ReturnType<typeof ask>>;

/** A case judged on one answer: a probe failure is the case's failure, with its own code. */
function answerCase(name: string, a: Asked, expected: string, judge: (res: ParsedResponse) => { code: FailureCode; message: string } | undefined, meta: { rule: RuleRef; weight?: number; silentCode?: FailureCode }): Case {
  const base = { name, rule: meta.rule, ...(meta.weight !== undefined ? { weight: meta.weight } : {}) };
  if (!a.res) return { ...base, ok: false, code: meta.silentCode && a.error!.code === 'no-response' ? meta.silentCode : a.error!.code, message: `${a.error!.message}; expected ${expected}`, exchange: a.exchange(expected) };
  const wrong = judge(a.res);
  const resent = a.lateRetries ? ` (sent ${a.lateRetries + 1} times: the grader's upstream, on a busy machine, was later than UPSTREAM_TIMEOUT_MS with the answers before)` : '';
  return { ...base, ok: !wrong, ...(wrong ? { code: wrong.code, message: wrong.message + resent, exchange: a.exchange(expected) } : { message: `answered ${a.res.status}${resent}` }) };
}

/** Status and body as expected, or what differed. */
const expectBody = (status: number, body: string | Buffer) => (res: ParsedResponse) => {
  const want = Buffer.from(body);
  if (res.status !== status) return { code: 'wrong-status' as const, message: `answered ${res.status} ${show(res.body)}, expected ${status}` };
  if (!res.body.equals(want)) return { code: 'wrong-body' as const, message: `the body was ${res.body.length} bytes, ${show(res.body)}; expected ${want.length} bytes, ${show(want)}` };
  return undefined;
};

function expectedHash(seed: string, rounds: number): string {
  let h = createHash('sha256').update(seed).digest();
  for (let i = 0; i < rounds; i++) h = createHash('sha256').update(h).digest();
  return `${h.toString('hex')}\n`;
}

const words = (ctx: CheckContext, prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i + 1}-${ctx.rng.word(5)}`);

const routes = defineCheck({
  id: 'answers-routes',
  title: 'Answers /hash, /proxy/PATH, /cache/KEY and unknown paths',
  points: 2,
  async run(ctx) {
    const up = upstreamOf(ctx);
    const seed = ctx.rng.word(8);
    const rounds = ctx.rng.int(2, 3000);
    const rest = `${ctx.rng.word(6)}/${ctx.rng.word(4)}?${ctx.rng.word(3)}=${ctx.rng.word(5)}`;
    const key = ctx.rng.word(9);
    const cases: Case[] = [];
    const hash = await ask(ctx, { target: `/hash?rounds=${rounds}&seed=${seed}` });
    cases.push(answerCase(`/hash with ${rounds} rounds`, hash, `200 with ${expectedHash(seed, rounds).trim()}`, expectBody(200, expectedHash(seed, rounds)), { rule: ctx.rule('hash') }));
    const zero = await ask(ctx, { target: `/hash?rounds=0&seed=${seed}` });
    cases.push(answerCase('/hash with 0 rounds is refused', zero, '400', (r) => (r.status === 400 ? undefined : { code: 'wrong-status', message: `answered ${r.status}` }), { rule: ctx.rule('numbers') }));
    const unknown = await ask(ctx, { target: `/${ctx.rng.word(7)}` });
    cases.push(answerCase('an unknown path is not found', unknown, '404', (r) => (r.status === 404 ? undefined : { code: 'wrong-status', message: `answered ${r.status}` }), { rule: ctx.rule('not-found') }));
    const proxied = await ask(ctx, { target: `/proxy/${rest}` });
    cases.push(answerCase(`/proxy/${rest} answers the upstream's body`, proxied, `200 with ${show(upstreamBody(`/${rest}`))}`, expectBody(200, upstreamBody(`/${rest}`)), { rule: ctx.rule('forward-path') }));
    const cached = await ask(ctx, { target: `/cache/${key}` });
    cases.push(answerCase(`/cache/${key} (not in the cache) answers the upstream's body`, cached, `200 with ${show(upstreamBody(`/${key}`))}`, expectBody(200, upstreamBody(`/${key}`)), { rule: ctx.rule('cache-fill') }));
    const seen = up.record.requests.map((r) => r.path);
    cases.push({ name: `the upstream was asked for /${rest}`, ok: seen.includes(`/${rest}`), rule: ctx.rule('forward-path'), code: 'wrong-forward', message: `the upstream saw ${JSON.stringify(seen)}` });
    return fromCases(cases);
  },
});

const concurrent = defineCheck({
  id: 'proxy-concurrent',
  title: 'Forwards requests at once, and each answer goes back to its own client',
  points: 3,
  timeoutMs: 40_000,
  async run(ctx) {
    setMaxListeners(64, ctx.signal);
    const up = upstreamOf(ctx);
    const n = 4;
    const names = words(ctx, 'at-once', n);
    // The upstream answers nothing until all n are there, then answers them in a shuffled order:
    // a proxy that forwards one at a time never gets them all there, whatever the machine's speed.
    up.setPlan({ kind: 'order', count: n, order: 'shuffle', deadlineMs: GATHER_MS, random: () => ctx.rng.next() });
    const sent = await sendAll(ctx, names.map((w) => `/proxy/${w}`));
    const answers = await Promise.all(sent.map((s) => s.answer(GATHER_MS + ANSWER_MS)));
    const record = up.record;
    const cases: Case[] = [
      {
        name: `${n} requests at the upstream at once`,
        ok: record.gathered === true,
        weight: 2,
        rule: ctx.rule('at-once'),
        code: 'not-concurrent',
        message: record.gathered ? `all ${n} arrived before any was answered` : `the upstream had at most ${record.maxInFlight} of the ${n} requests at once, waiting ${GATHER_MS / 1000} s for the rest: your server forwarded them one after another`,
      },
    ];
    const wrong = answers.findIndex((a, i) => isProbeError(a) || a.status !== 200 || a.body.toString('utf8') !== upstreamBody(`/${names[i]}`));
    const bad = answers[wrong];
    const other = bad && !isProbeError(bad) ? names.findIndex((w) => bad.body.toString('utf8') === upstreamBody(`/${w}`)) : -1;
    cases.push({
      name: 'each client got the answer to its own request',
      ok: wrong < 0,
      rule: ctx.rule('right-client'),
      code: bad ? (isProbeError(bad) ? bad.code : other >= 0 ? 'answers-mixed-up' : 'wrong-body') : 'wrong-body',
      message: bad
        ? `the client of /proxy/${names[wrong]} ${isProbeError(bad) ? `got no answer: ${bad.message}` : other >= 0 ? `got the answer meant for /proxy/${names[other]}` : `got ${bad.status} ${show(bad.body)}`}`
        : `the upstream answered in the order ${record.requests.filter((r) => r.answeredMs !== undefined).sort((a, b) => a.answeredMs! - b.answeredMs!).map((r) => r.path).join(', ')}, and every answer reached its client`,
      ...(bad ? { exchange: sent[wrong]!.conn.transcript({ expected: `200 with ${show(upstreamBody(`/${names[wrong]}`))}` }) } : {}),
    });
    return fromCases(cases);
  },
});

const silentUpstream = defineCheck({
  id: 'upstream-timeout',
  title: 'An upstream that never answers: others are served meanwhile, and it gets a 504 after UPSTREAM_TIMEOUT_MS',
  points: 3,
  timeoutMs: 45_000,
  async run(ctx) {
    const up = upstreamOf(ctx);
    const limit = timeoutMs(ctx, 'UPSTREAM_TIMEOUT_MS');
    const slow = `silent-${ctx.rng.word(6)}`;
    const quick = `meanwhile-${ctx.rng.word(6)}`;
    up.setPlan({ kind: 'hold' });
    const conn = await ctx.connect({ label: `/proxy/${slow}` });
    await conn.send(ctx.request({ target: `/proxy/${slow}` }));
    const arrived = await up.whenArrived(1, { timeoutMs: ANSWER_MS, signal: ctx.signal });
    if (!arrived) return fail(`/proxy/${slow} never reached the upstream`, { code: 'wrong-forward', exchanges: [conn.transcript()] });
    // Held requests stay held; the next ones are answered at once.
    up.setPlan({ kind: 'answer' });
    const other = await ask(ctx, { target: `/proxy/${quick}` }, { idleTimeoutMs: limit + ANSWER_MS });
    const held = up.record.requests[0]!;
    const quickSeen = up.record.requests.find((r) => r.path === `/${quick}`);
    const meanwhile = quickSeen !== undefined && (held.abandonedMs === undefined || quickSeen.arrivedMs < held.abandonedMs) && conn.received.length === 0;
    const cases: Case[] = [
      answerCase(`/proxy/${quick} is answered while /proxy/${slow} waits`, other, `200 with ${show(upstreamBody(`/${quick}`))} before the first request's answer`, (res) => {
        const wrong = expectBody(200, upstreamBody(`/${quick}`))(res);
        if (wrong) return wrong;
        if (meanwhile) return undefined;
        const when = quickSeen ? `it reached the upstream only once /proxy/${slow} had given up, ${held.abandonedMs ?? '?'} ms after it arrived` : 'it never reached the upstream';
        return { code: 'stalled-by-upstream', message: `${when}: one silent upstream call stalled the server` };
      }, { rule: ctx.rule('no-stall'), weight: 2 }),
    ];
    let res: ParsedResponse | ProbeError;
    try {
      res = await conn.readResponse({ idleTimeoutMs: limit + ANSWER_MS });
    } catch (e) {
      if (!isProbeError(e)) throw e;
      res = e;
    }
    const record = up.record.requests[0]!;
    const waited = record.abandonedMs !== undefined ? record.abandonedMs - record.arrivedMs : undefined;
    const expected = `504 about ${limit} ms after the request reached the upstream (UPSTREAM_TIMEOUT_MS)`;
    if (isProbeError(res)) {
      cases.push({ name: `/proxy/${slow} is answered 504`, ok: false, weight: 2, rule: ctx.rule('gateway-timeout'), code: res.code === 'no-response' ? 'no-gateway-timeout' : res.code, message: `${res.message}: no answer ${(limit + ANSWER_MS) / 1000} s after it was sent, where UPSTREAM_TIMEOUT_MS is ${limit}`, exchange: conn.transcript({ expected }) });
    } else {
      // Never judged against a tight time: not far too early, and not never.
      const early = waited !== undefined && waited < limit / 2;
      cases.push({
        name: `/proxy/${slow} is answered 504`,
        ok: res.status === 504 && !early,
        weight: 2,
        rule: ctx.rule('gateway-timeout'),
        code: res.status !== 504 ? 'wrong-status' : 'no-gateway-timeout',
        message: res.status !== 504 ? `answered ${res.status}` : early ? `the server gave up after ${waited} ms, far sooner than UPSTREAM_TIMEOUT_MS (${limit})` : `504 after ${waited ?? '?'} ms at the upstream`,
        exchange: conn.transcript({ expected }),
      });
    }
    conn.close();
    const gaveUp = await up.whenAbandoned(1, { timeoutMs: 3000, signal: ctx.signal });
    cases.push({ name: 'the server hung up on the silent upstream', ok: gaveUp, rule: ctx.rule('gateway-timeout'), code: 'no-gateway-timeout', message: gaveUp ? `after ${up.record.requests[0]!.abandonedMs! - record.arrivedMs} ms` : 'its connection to the upstream was still open after the 504' });
    return fromCases(cases);
  },
});

const failing = defineCheck({
  id: 'upstream-fails',
  title: 'An upstream that refuses or resets gives 502, and the server goes on',
  points: 3,
  timeoutMs: 40_000,
  async run(ctx) {
    const up = upstreamOf(ctx);
    const rule502 = ctx.rule('bad-gateway');
    const status502 = (r: ParsedResponse) => (r.status === 502 ? undefined : { code: 'wrong-status' as const, message: `answered ${r.status} ${show(r.body)}` });
    await up.down();
    const refused = await ask(ctx, { target: `/proxy/refused-${ctx.rng.word(5)}` }, { idleTimeoutMs: ANSWER_MS });
    await up.up();
    up.setPlan({ kind: 'reset' });
    const reset = await ask(ctx, { target: `/proxy/reset-${ctx.rng.word(5)}` }, { idleTimeoutMs: ANSWER_MS });
    up.setPlan({ kind: 'answer' });
    const after = `after-${ctx.rng.word(5)}`;
    const again = await ask(ctx, { target: `/proxy/${after}` }, { idleTimeoutMs: ANSWER_MS });
    return fromCases([
      answerCase('an upstream that refuses the connection: 502', refused, '502 Bad Gateway', status502, { rule: rule502 }),
      answerCase('an upstream that resets the connection: 502', reset, '502 Bad Gateway', status502, { rule: rule502 }),
      answerCase('then a request to a working upstream is answered', again, `200 with ${show(upstreamBody(`/${after}`))}`, expectBody(200, upstreamBody(`/${after}`)), { rule: ctx.rule('lives-on') }),
    ]);
  },
});

/** Hop-by-hop names, and those a Connection header names, that a recorded request carries. */
const hopByHop = ['keep-alive', 'proxy-authorization', 'proxy-authenticate', 'te', 'trailer', 'transfer-encoding', 'upgrade'];
/** A proxy may send its own Connection header, saying only these. */
const OWN_CONNECTION = new Set(['close', 'keep-alive']);
const VIA = /(^|,)\s*(HTTP\/)?1\.1\s+[^\s,]+/i;

const requestHeaders = defineCheck({
  id: 'request-headers',
  title: 'Forwards the method, path, query, body and end-to-end headers; drops hop-by-hop ones; rewrites Host; adds Via',
  points: 4,
  async run(ctx) {
    const up = upstreamOf(ctx);
    const method = ctx.rng.pick(['POST', 'PUT', 'PATCH']);
    const rest = `${ctx.rng.word(5)}/${ctx.rng.mixedWord(6)}?q=${ctx.rng.word(4)}%20${ctx.rng.word(3)}&x=a+b`;
    const body = ctx.rng.bytes(ctx.rng.int(20_000, 60_000));
    const named = `X-Hop-${ctx.rng.mixedWord(5)}`;
    const kept = `X-End-${ctx.rng.mixedWord(5)}`;
    const keptValue = ctx.rng.word(12);
    const headers: Array<[string, string]> = [
      ['Connection', `close, ${named}`],
      [named, ctx.rng.word(6)],
      ['Keep-Alive', 'timeout=5, max=100'],
      ['TE', 'trailers'],
      ['Trailer', 'X-Checksum'],
      ['Upgrade', 'example/1'],
      ['Proxy-Authorization', `Basic ${Buffer.from(`${ctx.rng.word(4)}:${ctx.rng.word(6)}`).toString('base64')}`],
      [kept, keptValue],
      ['Accept', 'text/plain'],
      ['Content-Type', 'application/octet-stream'],
      ['X-Repeated', 'one'],
      ['X-Repeated', 'two'],
    ];
    const a = await ask(ctx, { method, target: `/proxy/${rest}`, headers, body }, { idleTimeoutMs: ANSWER_MS });
    await up.whenReceived(1, { timeoutMs: 3000, signal: ctx.signal });
    // The last one: an earlier one is there only if the upstream was late with it and it was sent again.
    const r: UpstreamRequest | undefined = up.record.requests.at(-1);
    const cases: Case[] = [answerCase('the client gets the upstream\'s answer', a, `200 with ${show(upstreamBody(`/${rest}`))}`, expectBody(200, upstreamBody(`/${rest}`)), { rule: ctx.rule('response-passed') })];
    if (!r) {
      cases.push({ name: 'the request reached the upstream', ok: false, weight: 5, rule: ctx.rule('method-body'), code: 'wrong-forward', message: 'the upstream got no request' });
      return fromCases(cases);
    }
    const seenHead = `the upstream got:\n${r.rawHead}`;
    const upHost = `127.0.0.1:${up.port}`;
    cases.push({
      name: `${method} /${rest} reached the upstream as it was sent`,
      ok: r.method === method && r.path === `/${rest}`,
      rule: ctx.rule('method-body'),
      code: 'wrong-forward',
      message: `the upstream got ${r.method} ${r.path}, where the client sent ${method} /proxy/${rest}`,
    });
    const bodyOk = r.bodyComplete && r.bodyBytes === body.length && r.body.equals(body);
    cases.push({
      name: `the ${body.length}-byte body reached the upstream byte for byte`,
      ok: bodyOk,
      rule: ctx.rule('method-body'),
      code: 'body-not-forwarded',
      message: bodyOk ? 'every byte' : `the upstream got ${r.bodyBytes} bytes${r.bodyComplete ? '' : ', and the body never ended'}${r.bodyBytes && !r.body.equals(body.subarray(0, r.body.length)) ? ', not the ones sent' : ''}; Content-Length there: ${JSON.stringify(headerValues(r, 'content-length'))}`,
    });
    const hosts = headerValues(r, 'host');
    cases.push({ name: `Host: ${upHost}`, ok: hosts.length === 1 && hosts[0] === upHost, rule: ctx.rule('host'), code: 'wrong-host', message: `the upstream got Host ${JSON.stringify(hosts)}, where it is ${upHost}` });
    const vias = headerValues(r, 'via');
    cases.push({ name: 'a Via header names the proxy', ok: vias.some((v) => VIA.test(v)), rule: ctx.rule('via'), code: 'no-via', message: vias.length ? `Via was ${JSON.stringify(vias)}, with no "1.1 NAME" in it` : `the upstream got no Via header; ${seenHead}` });
    const connectionTokens = headerValues(r, 'connection').flatMap((v) => v.split(',').map((t) => t.trim().toLowerCase())).filter((t) => t && !OWN_CONNECTION.has(t));
    const leaked = [...hopByHop.filter((h) => headerValues(r, h).length), ...(headerValues(r, named).length ? [named] : []), ...connectionTokens.map((t) => `Connection: ${t}`)];
    cases.push({ name: 'no hop-by-hop header, nor one that Connection named, reached the upstream', ok: leaked.length === 0, weight: 2, rule: ctx.rule('hop-by-hop'), code: 'hop-by-hop-forwarded', message: `the upstream got ${leaked.join(', ')}; ${seenHead}` });
    const repeated = headerValues(r, 'x-repeated').flatMap((v) => v.split(',').map((t) => t.trim()));
    const lost = [
      ...(headerValues(r, kept).join() !== keptValue ? [`${kept}: ${keptValue}`] : []),
      ...(headerValues(r, 'accept').join() !== 'text/plain' ? ['Accept: text/plain'] : []),
      ...(headerValues(r, 'content-type').join() !== 'application/octet-stream' ? ['Content-Type: application/octet-stream'] : []),
      ...(repeated.join() !== 'one,two' ? ['X-Repeated: one and X-Repeated: two, in that order'] : []),
    ];
    cases.push({ name: 'every end-to-end header reached the upstream as it came', ok: lost.length === 0, rule: ctx.rule('end-to-end'), code: 'header-dropped', message: `missing or changed: ${lost.join('; ')}; ${seenHead}` });
    return fromCases(cases);
  },
});

const responseHeaders = defineCheck({
  id: 'response-headers',
  title: "Passes on the upstream's status, headers and body; drops hop-by-hop ones; adds Via",
  points: 3,
  async run(ctx) {
    const up = upstreamOf(ctx);
    const status = ctx.rng.pick([201, 203, 409, 418]);
    const named = `X-Hop-${ctx.rng.mixedWord(5)}`;
    const kept = `X-Up-${ctx.rng.mixedWord(5)}`;
    const keptValue = ctx.rng.word(10);
    const cookies = [`a=${ctx.rng.word(4)}`, `b=${ctx.rng.word(4)}`];
    const body = Buffer.from(Array.from({ length: ctx.rng.int(200, 4000) }, () => ctx.rng.word(1)).join(''));
    up.setPlan({
      kind: 'headers',
      status,
      headers: [
        [kept, keptValue],
        ['Set-Cookie', cookies[0]!],
        ['Set-Cookie', cookies[1]!],
        ['Connection', named],
        [named, ctx.rng.word(5)],
        ['Keep-Alive', 'timeout=4'],
        ['Proxy-Authenticate', 'Basic realm="upstream"'],
        ['Upgrade', 'example/2'],
      ],
      body,
    });
    const target = `/proxy/${ctx.rng.word(7)}`;
    const a = await ask(ctx, { target }, { idleTimeoutMs: ANSWER_MS });
    const expected = `${status} with the upstream's body, ${kept}, both Set-Cookie lines and a Via; no Keep-Alive, Proxy-Authenticate, Upgrade or ${named}`;
    const rule = ctx.rule('response-passed');
    if (!a.res) return fromCases([answerCase(`${target} is answered`, a, expected, () => undefined, { rule })]);
    const res = a.res;
    const ex = a.exchange(expected);
    const connectionTokens = headerAll(res, 'connection').flatMap((v) => v.split(',').map((t) => t.trim().toLowerCase())).filter((t) => t && t !== 'close');
    const leaked = [...['keep-alive', 'proxy-authenticate', 'upgrade'].filter((h) => header(res, h) !== undefined), ...(header(res, named) !== undefined ? [named] : []), ...connectionTokens.map((t) => `Connection: ${t}`)];
    const lost = [...(headerAll(res, kept).join() !== keptValue ? [`${kept}: ${keptValue}`] : []), ...(headerAll(res, 'set-cookie').join('|') !== cookies.join('|') ? [`Set-Cookie: ${cookies[0]} and Set-Cookie: ${cookies[1]}`] : [])];
    const vias = headerAll(res, 'via');
    return fromCases([
      { name: `the upstream's status ${status}`, ok: res.status === status, rule, code: 'wrong-status', message: `answered ${res.status}`, exchange: ex },
      { name: "the upstream's body, byte for byte", ok: res.body.equals(body), rule, code: 'wrong-body', message: `${res.body.length} bytes, ${show(res.body)}, for the upstream's ${body.length}`, exchange: ex },
      { name: 'every end-to-end header of the upstream, repeated ones too', ok: lost.length === 0, rule, code: 'header-dropped', message: `missing or changed: ${lost.join('; ')}`, exchange: ex },
      { name: 'no hop-by-hop header of the upstream, nor one that its Connection named', ok: leaked.length === 0, weight: 2, rule: ctx.rule('hop-by-hop'), code: 'hop-by-hop-forwarded', message: `passed on: ${leaked.join(', ')}`, exchange: ex },
      { name: 'a Via header names the proxy', ok: vias.some((v) => VIA.test(v)), rule: ctx.rule('via'), code: 'no-via', message: vias.length ? `Via was ${JSON.stringify(vias)}` : 'no Via header on the answer', exchange: ex },
    ]);
  },
});

/** The X-Cache header as expected, or what it was. */
const xCache = (res: ParsedResponse, want: 'HIT' | 'MISS') => header(res, 'x-cache')?.trim().toUpperCase() === want;

const cacheHit = defineCheck({
  id: 'cache-hit',
  title: 'A key in the cache is answered from it, small or large, without the upstream',
  points: 2,
  async run(ctx) {
    const up = upstreamOf(ctx);
    const cache = cacheOf(ctx);
    const key = ctx.rng.word(10);
    const value = `${ctx.rng.word(30)}\n`;
    const bigKey = `big-${ctx.rng.word(8)}`;
    // Far more than one read: a client that takes one recv for the reply gets a part of it.
    const big = Buffer.from(Array.from({ length: 300 * 1024 / 16 }, () => ctx.rng.word(16)).join(''));
    cache.preload(key, value);
    cache.preload(bigKey, big);
    const small = await ask(ctx, { target: `/cache/${key}` }, { idleTimeoutMs: ANSWER_MS });
    const large = await ask(ctx, { target: `/cache/${bigKey}` }, { idleTimeoutMs: ANSWER_MS });
    const asked = up.record.requests.map((r) => r.path);
    const transcripts = cache.transcripts({ limit: 2, bytes: 300 });
    return fromCases([
      answerCase(`/cache/${key} answers the stored value`, small, `200 with ${show(value)}`, expectBody(200, value), { rule: ctx.rule('cache-hit') }),
      answerCase(`/cache/${key} says X-Cache: HIT`, small, 'X-Cache: HIT', (res) => (xCache(res, 'HIT') ? undefined : { code: 'wrong-header', message: `X-Cache was ${JSON.stringify(header(res, 'x-cache') ?? null)}` }), { rule: ctx.rule('x-cache') }),
      answerCase(`/cache/${bigKey} answers all ${big.length} bytes stored`, large, `200 with the ${big.length} bytes stored`, expectBody(200, big), { rule: ctx.rule('whole-reply'), weight: 2 }),
      {
        name: 'the upstream was not asked',
        ok: asked.length === 0,
        weight: 2,
        rule: ctx.rule('cache-hit'),
        code: 'hit-reached-upstream',
        message: `the upstream was asked for ${asked.join(', ')}, though the cache held the key${asked.length ? '' : 's'}`,
        ...(asked.length && transcripts[0] ? { exchange: { ...transcripts[0], expected: 'a get, a VALUE reply, and nothing sent to the upstream' } } : {}),
      },
    ]);
  },
});

const cacheMiss = defineCheck({
  id: 'cache-miss',
  title: "A miss is fetched from the upstream and stored; the next is a hit; the query is part of the key",
  points: 3,
  async run(ctx) {
    const up = upstreamOf(ctx);
    const cache = cacheOf(ctx);
    const name = ctx.rng.word(9);
    const key = `${name}?v=1`;
    const other = `${name}?v=2`;
    const first = await ask(ctx, { target: `/cache/${key}` }, { idleTimeoutMs: ANSWER_MS });
    // The server may store after it has answered: give the set a moment to arrive.
    const stored = await eventually(() => cache.entry(key)?.value.toString('utf8') === upstreamBody(`/${key}`), { timeoutMs: 3000, signal: ctx.signal });
    const second = await ask(ctx, { target: `/cache/${key}` }, { idleTimeoutMs: ANSWER_MS });
    const third = await ask(ctx, { target: `/cache/${other}` }, { idleTimeoutMs: ANSWER_MS });
    const asked = up.record.requests.map((r) => r.path);
    const counts = cache.record.keys.get(key);
    const commands = cache.record.commands.map((c) => c.line).slice(0, 8);
    return fromCases([
      answerCase(`/cache/${key} (a miss) answers the upstream's body`, first, `200 with ${show(upstreamBody(`/${key}`))}, X-Cache: MISS`, (res) => expectBody(200, upstreamBody(`/${key}`))(res) ?? (xCache(res, 'MISS') ? undefined : { code: 'wrong-header', message: `X-Cache was ${JSON.stringify(header(res, 'x-cache') ?? null)}` }), { rule: ctx.rule('cache-fill') }),
      { name: `the upstream's answer was stored under ${key}`, ok: stored, weight: 2, rule: ctx.rule('cache-fill'), code: 'not-stored', message: stored ? 'stored' : `the cache holds ${cache.entry(key) ? show(cache.entry(key)!.value) : 'nothing'} for ${key}; commands seen: ${JSON.stringify(commands)}` },
      answerCase(`/cache/${key} again is a hit`, second, `200 with ${show(upstreamBody(`/${key}`))}, X-Cache: HIT, and the upstream not asked again`, (res) => {
        const wrong = expectBody(200, upstreamBody(`/${key}`))(res);
        if (wrong) return wrong;
        const times = asked.filter((p) => p === `/${key}`).length;
        if (times > 1) return { code: 'hit-reached-upstream', message: `the upstream was asked for /${key} ${times} times (the cache counted ${counts?.hits ?? 0} hits, ${counts?.misses ?? 0} misses)` };
        return xCache(res, 'HIT') ? undefined : { code: 'wrong-header', message: `X-Cache was ${JSON.stringify(header(res, 'x-cache') ?? null)}` };
      }, { rule: ctx.rule('cache-hit'), weight: 2 }),
      answerCase(`/cache/${other} is a key of its own`, third, `200 with ${show(upstreamBody(`/${other}`))}`, (res) => {
        if (res.body.toString('utf8') === upstreamBody(`/${key}`)) return { code: 'key-ignores-query', message: `it got the answer stored for /cache/${key}` };
        return expectBody(200, upstreamBody(`/${other}`))(res);
      }, { rule: ctx.rule('cache-key') }),
    ]);
  },
});

const cacheErrors = defineCheck({
  id: 'cache-errors',
  title: 'An error from the upstream goes to the client and is not cached',
  points: 2,
  async run(ctx) {
    const up = upstreamOf(ctx);
    const cache = cacheOf(ctx);
    const key = ctx.rng.word(9);
    const status = ctx.rng.pick([404, 500, 503]);
    const body = `upstream error ${ctx.rng.word(8)}\n`;
    up.setPlan({ kind: 'headers', status, body });
    const first = await ask(ctx, { target: `/cache/${key}` }, { idleTimeoutMs: ANSWER_MS });
    // Room for a set that comes after the answer.
    await cache.whenCommands(2, { timeoutMs: 1000, signal: ctx.signal });
    const sets = cache.record.commands.filter((c) => c.command === 'set').map((c) => c.line);
    const storedError = cache.entry(key);
    up.setPlan({ kind: 'answer' });
    const second = await ask(ctx, { target: `/cache/${key}` }, { idleTimeoutMs: ANSWER_MS });
    const rule = ctx.rule('no-errors-cached');
    return fromCases([
      answerCase(`the upstream's ${status} goes to the client`, first, `${status} with ${show(body)}`, expectBody(status, body), { rule }),
      { name: `the ${status} was not stored`, ok: sets.length === 0 && !storedError, weight: 2, rule, code: 'error-cached', message: sets.length ? `the server stored it: ${JSON.stringify(sets)}` : 'nothing stored' },
      answerCase('the next request asks the upstream again, which now answers 200', second, `200 with ${show(upstreamBody(`/${key}`))}`, (res) => (res.body.toString('utf8') === body ? { code: 'error-cached', message: `it got the ${status} stored for the first: ${res.status} ${show(res.body)}` } : expectBody(200, upstreamBody(`/${key}`))(res)), { rule }),
    ]);
  },
});

const cacheDown = defineCheck({
  id: 'cache-down',
  title: 'A cache that hangs up or never answers is a miss: the request is served from the upstream',
  points: 2,
  timeoutMs: 40_000,
  async run(ctx) {
    const cache = cacheOf(ctx);
    const limit = timeoutMs(ctx, 'CACHE_TIMEOUT_MS');
    const rule = ctx.rule('cache-optional');
    const closing = ctx.rng.word(9);
    cache.setPlan({ kind: 'close' });
    const a = await ask(ctx, { target: `/cache/${closing}` }, { idleTimeoutMs: ANSWER_MS });
    const silent = ctx.rng.word(9);
    cache.setPlan({ kind: 'never' });
    const b = await ask(ctx, { target: `/cache/${silent}` }, { idleTimeoutMs: limit + ANSWER_MS });
    const judge = (key: string) => (res: ParsedResponse) => {
      const wrong = expectBody(200, upstreamBody(`/${key}`))(res);
      return wrong && { ...wrong, code: 'cache-failure-fails-request' as const };
    };
    return fromCases([
      answerCase('a cache that hangs up on the get: the upstream\'s answer', a, `200 with ${show(upstreamBody(`/${closing}`))}`, judge(closing), { rule }),
      answerCase(`a cache that never answers: the upstream's answer, after CACHE_TIMEOUT_MS (${limit} ms)`, b, `200 with ${show(upstreamBody(`/${silent}`))}`, judge(silent), { rule, silentCode: 'cache-failure-fails-request' }),
    ]);
  },
});

const cacheConcurrent = defineCheck({
  id: 'cache-concurrent',
  title: 'Requests that ask the cache at once each get their own value',
  points: 3,
  timeoutMs: 40_000,
  async run(ctx) {
    setMaxListeners(64, ctx.signal);
    const cache = cacheOf(ctx);
    const n = 4;
    const keys = words(ctx, 'key', n);
    const values = keys.map((k) => `value of ${k}: ${ctx.rng.word(12)}\n`);
    keys.forEach((k, i) => cache.preload(k, values[i]!));
    // The replies wait until every get has come, so that a connection shared by several requests
    // has several replies on it at once.
    cache.setPlan({ kind: 'hold' });
    const sent = await sendAll(ctx, keys.map((k) => `/cache/${k}`));
    const gathered = await cache.whenCommands(n, { timeoutMs: CACHE_GATHER_MS, signal: ctx.signal });
    cache.setPlan({ kind: 'answer' });
    cache.release();
    const answers = await Promise.all(sent.map((s) => s.answer(ANSWER_MS)));
    const record = cache.record;
    const cases: Case[] = answers.map((a, i) => {
      const rule = ctx.rule('own-replies');
      const name = `/cache/${keys[i]} gets its own value`;
      if (isProbeError(a)) return { name, ok: false, rule, code: a.code, message: a.message, exchange: sent[i]!.conn.transcript() };
      const got = a.body.toString('utf8');
      const other = values.findIndex((v) => v === got);
      const ok = a.status === 200 && got === values[i];
      return {
        name,
        ok,
        rule,
        code: other >= 0 && other !== i ? 'answers-mixed-up' : 'wrong-body',
        message: ok ? 'its own' : other >= 0 ? `it got the value of ${keys[other]}` : `it got ${a.status} ${show(got)}`,
        ...(ok ? {} : { exchange: sent[i]!.conn.transcript({ expected: `200 with ${show(values[i]!)}` }) }),
      };
    });
    const v = fromCases(cases);
    const gets = record.commands.filter((c) => c.command === 'get').length;
    // The cache's side of the story (what each connection carried) explains a mix-up best.
    return { ...v, evidence: { ...v.evidence, values: { allGetsWaitedTogether: gathered, gets, cacheConnections: record.connections.length }, ...(v.status !== 'pass' ? { exchanges: cache.transcripts({ limit: 2, bytes: 600 }) } : {}) } };
  },
});

const underLoad = defineCheck({
  id: 'under-load',
  title: 'Under load: c clients against an upstream that takes d seconds get about c / d answers per second',
  points: 3,
  timeoutMs: 40_000,
  async run(ctx) {
    const up = upstreamOf(ctx);
    // Long enough that the grader's own work per request (it plays the clients and the upstream) is small beside it.
    const d = 400;
    const clients = 50;
    up.setPlan({ kind: 'answer', delayMs: d });
    const result = await runLoad({
      port: ctx.port,
      connections: clients,
      request: (c, i) => ctx.request({ target: `/proxy/load-${c}-${i}` }),
      warmup: { ms: 1000 },
      durationMs: 4000,
      // Generous: only a request the server never answers should run into it.
      timeoutMs: 10_000,
      // A 504 is a right answer too: on a busy machine the upstream, which runs in the grader, can
      // answer later than UPSTREAM_TIMEOUT_MS. It is counted and shown, not failed.
      accept: (status) => status === 200 || status === 504,
      signal: ctx.signal,
    });
    const predicted = clients / (d / 1000);
    const ratio = result.requestsPerSecond / predicted;
    const errors = Object.values(result.errors).reduce((s, n) => s + n, 0);
    const atOnce = up.record.maxInFlight;
    // Graded from the upstream's record: on a busy machine the grader (clients and upstream) and the
    // server all run late, and the rate and the latencies move with them, but a proxy that overlaps
    // its waits still has many of the clients' requests at the upstream at once; a serial one, or a
    // pool of a few threads, never has more than one, or a few. The figures are shown either way.
    const minAtOnce = Math.ceil(MIN_SHARE * clients);
    const measurements: Measurement[] = [
      { label: 'answers per second', value: result.requestsPerSecond, unit: '/s', expected: `${clients} clients / ${d / 1000} s = ${predicted}/s predicted`, headline: true },
      { label: 'measured / predicted', value: Math.round(ratio * 100) / 100, expected: 'near 1; lower on a busy machine' },
      { label: 'p99 latency', value: result.latency.p99, unit: 'ms', expected: `near d = ${d} ms`, headline: true, latency: result.latency },
      { label: 'most in flight at the upstream', value: atOnce, expected: `at least ${minAtOnce} of the ${clients} clients' requests`, headline: true },
      { label: 'failed requests', value: errors, expected: 'none' },
      { label: 'answered 504', value: result.statuses['504'] ?? 0, expected: 'none, unless the machine is so busy that the upstream answered after UPSTREAM_TIMEOUT_MS' },
    ];
    const values = { clients, upstreamDelayMs: d, completed: result.completed, durationMs: result.durationMs, errors: result.errors, p50: result.latency.p50, p99: result.latency.p99 };
    const problems = [
      ...(atOnce < minAtOnce
        ? [`at most ${atOnce} of the ${clients} clients' requests ${atOnce === 1 ? 'was' : 'were'} at the upstream at once (${result.completed ? `${result.requestsPerSecond} answers per second, ${predicted} predicted; p99 ${result.latency.p99} ms for an upstream that takes ${d} ms` : `no answer came within the ${result.durationMs / 1000} s measured`})`]
        : []),
      ...(errors > 0 ? [`${errors} requests failed (${Object.entries(result.errors).filter(([, n]) => n).map(([k, n]) => `${k}: ${n}`).join(', ')})`] : []),
    ];
    const message = `${result.requestsPerSecond}/s with p99 ${result.latency.p99} ms, ${predicted}/s predicted; ${atOnce} at the upstream at once`;
    if (!problems.length) return pass(message, { measurements, values });
    return fail(problems.join('; '), { code: 'throughput-off', measurements, values });
  },
});

export default defineExercise({
  id: '09-proxy',
  rules,
  services: async () => [await SlowUpstream.start(), await SlowCache.start()],
  checks: [routes, concurrent, silentUpstream, failing, requestHeaders, responseHeaders, cacheHit, cacheMiss, cacheErrors, cacheDown, cacheConcurrent, underLoad],
});
