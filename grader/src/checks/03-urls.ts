import { isDeepStrictEqual } from 'node:util';
import { defineCheck, defineExercise, fromCases, probeCase, type Case, type CheckContext } from './define.ts';
import RULES from './rules/03-urls.ts';
import { header, type ParsedResponse } from '../probes/raw/parse-response.ts';
import { request } from '../probes/raw/request.ts';
import type { Rng } from '../rng.ts';

// 03-urls: the server answers GET /inspect... with JSON saying how it parsed the request-target
// (host, port, decoded path, query pairs), so the evidence shows exactly which part went wrong.

interface Parsed {
  scheme: string;
  host: string;
  port: number;
  path: string;
  query: Array<[string, string]>;
  target: string;
}

type Field = keyof Parsed;

/** The bytes of `GET <target>` with the given Host header, asking for the connection to close. */
const getBytes = (ctx: CheckContext, target: string, host = ctx.host) =>
  Buffer.from(`GET ${target} HTTP/1.1\r\nHost: ${host}\r\nUser-Agent: serverlab-grader\r\nConnection: close\r\n\r\n`, 'utf8');

/** One request on a connection of its own, closed once answered; `judge` says what the answer gets right. */
function answerCase(
  ctx: CheckContext,
  name: string,
  bytes: Buffer,
  meta: { expected: string; rule: string; label?: string },
  judge: (res: ParsedResponse) => Omit<Case, 'name' | 'exchange'>,
): Promise<Case> {
  return probeCase(
    name,
    async () => {
      const { conn, res } = await request(() => ctx.connect(meta.label ? { label: meta.label } : {}), bytes);
      conn.close();
      return { ...judge(res), exchange: conn.transcript({ expected: meta.expected }) };
    },
    { expected: meta.expected, rule: ctx.rule(meta.rule) },
  );
}

/** The JSON an /inspect answer holds, or what is wrong with the answer. */
function inspected(res: ParsedResponse): { json?: Partial<Parsed>; problem?: string } {
  if (res.status !== 200) return { problem: `status was ${res.status}` };
  if (!/^application\/json\b/i.test(header(res, 'content-type') ?? '')) return { problem: `Content-Type was "${header(res, 'content-type') ?? ''}", expected application/json` };
  try {
    return { json: JSON.parse(res.body.toString('utf8')) };
  } catch {
    return { problem: 'the body is not valid JSON' };
  }
}

/** One case: the fields the server reported must equal what a correct parse gives. */
function inspectCase(ctx: CheckContext, name: string, target: string, want: Partial<Parsed>, host?: string, rule = ctx.checkId): Promise<Case> {
  const expected = `200 application/json with ${JSON.stringify(want)}`;
  return answerCase(ctx, name, getBytes(ctx, target, host), { expected, rule }, (res) => {
    const { json, problem } = inspected(res);
    if (!json) return { ok: false, code: problem!.startsWith('status') ? 'wrong-status' : 'not-json', message: problem! };
    const wrong = (Object.keys(want) as Field[]).filter((k) => !isDeepStrictEqual(json[k], want[k]));
    const message = wrong.map((k) => `${k} was ${JSON.stringify(json[k])}, expected ${JSON.stringify(want[k])}`).join('; ');
    return { ok: wrong.length === 0, code: 'wrong-json', message };
  });
}

/** Random words joined by the unreserved marks a server must pass through unchanged: - _ . ~ */
const segment = (rng: Rng) => `${rng.word(4)}-${rng.word(3)}_${rng.word(3)}.${rng.word(3)}~${rng.word(2)}`;

const inspectPath = defineCheck({
  id: 'inspect-path',
  title: 'Reports the path of the request',
  points: 2,
  async run(ctx) {
    const a = segment(ctx.rng);
    const b = ctx.rng.word(6);
    return fromCases([
      await inspectCase(ctx, 'a plain path', `/inspect/${a}/${b}`, { scheme: 'http', path: `/inspect/${a}/${b}`, target: `/inspect/${a}/${b}` }),
      await inspectCase(ctx, 'the bare route', '/inspect', { path: '/inspect' }),
    ]);
  },
});

const percentDecoding = defineCheck({
  id: 'percent-decoding',
  title: 'Percent-decodes the path (UTF-8)',
  points: 2,
  async run(ctx) {
    const w = ctx.rng.word(4);
    return fromCases([
      await inspectCase(ctx, '%20 is a space', `/inspect/${w}%20x`, { path: `/inspect/${w} x` }),
      await inspectCase(ctx, '%41 is A, lower-case hex works', `/inspect/%41${w}%7e`, { path: `/inspect/A${w}~` }),
      await inspectCase(ctx, 'UTF-8 bytes make one character', `/inspect/caf%C3%A9-${w}`, { path: `/inspect/café-${w}` }),
      await inspectCase(ctx, 'a % without two hex digits stays', `/inspect/100%-${w}%zz`, { path: `/inspect/100%-${w}%zz` }),
      await inspectCase(ctx, 'every escape is decoded, not just the first', `/inspect/${w}%20%20x%2Dy%2d`, { path: `/inspect/${w}  x-y-` }),
      await inspectCase(ctx, '%25 is a %, decoded once only', `/inspect/${w}%2541`, { path: `/inspect/${w}%41` }),
      await inspectCase(ctx, 'lower-case UTF-8 escapes of a three-byte character', `/inspect/%e6%9d%b1${w}`, { path: `/inspect/東${w}` }),
      await inspectCase(ctx, 'hex digits in both cases, at the ends of their ranges', `/inspect/%4a%4A%4f%4F%46%66%30%39%09${w}`, { path: `/inspect/JJOOFf09\t${w}` }),
      await inspectCase(ctx, 'a % before characters next to the hex ranges stays', `/inspect/${w}%@0%:0%G0%g0%W0%Z0%_0%4z%4G%/0`, { path: `/inspect/${w}%@0%:0%G0%g0%W0%Z0%_0%4z%4G%/0` }),
      await inspectCase(ctx, 'a % or %4 at the very end stays', `/inspect/${w}%4/${w}%`, { path: `/inspect/${w}%4/${w}%` }),
    ]);
  },
});

const plusInPath = defineCheck({
  id: 'plus-in-path',
  title: 'A + in the path stays a +',
  points: 1,
  async run(ctx) {
    const a = ctx.rng.word(4);
    const b = ctx.rng.word(4);
    return fromCases([await inspectCase(ctx, '+ in a path', `/inspect/${a}+${b}`, { path: `/inspect/${a}+${b}` })]);
  },
});

const queryString = defineCheck({
  id: 'query-string',
  title: 'Splits and decodes the query string',
  points: 3,
  async run(ctx) {
    const [k1, k2, v1, v2] = [ctx.rng.word(3), ctx.rng.word(4), ctx.rng.word(5), ctx.rng.word(6)];
    const n = String(ctx.rng.int(10, 999));
    return fromCases([
      await inspectCase(ctx, 'two pairs', `/inspect?${k1}=${v1}&${k2}=${n}`, { query: [[k1, v1], [k2, n]] }),
      await inspectCase(ctx, '+ is a space in a query, every one of them', `/inspect?q=${v1}+${v2}++${k1}`, { query: [['q', `${v1} ${v2}  ${k1}`]] }),
      await inspectCase(ctx, 'an empty name before =', `/inspect?=${v1}&${k1}=x`, { query: [['', v1], [k1, 'x']] }),
      await inspectCase(ctx, '+ is a space in names too', `/inspect?${k1}+${k2}=${v1}`, { query: [[`${k1} ${k2}`, v1]] }),
      await inspectCase(ctx, 'only the first ? starts the query', `/inspect?q=${v1}?${k2}=${v2}`, { query: [['q', `${v1}?${k2}=${v2}`]] }),
      await inspectCase(ctx, 'an escaped & or = is data, not a separator', `/inspect?${k1}%3D${k2}=${v1}%26${v2}`, { query: [[`${k1}=${k2}`, `${v1}&${v2}`]] }),
      await inspectCase(ctx, 'percent-decoding in names and values', `/inspect?${k1}%20x=${n}%20${v1}&y=%41%2B`, { query: [[`${k1} x`, `${n} ${v1}`], ['y', 'A+']] }),
      await inspectCase(ctx, 'repeated names keep their order', `/inspect?${k1}=2&${k1}=1&${k2}=3`, { query: [[k1, '2'], [k1, '1'], [k2, '3']] }),
      await inspectCase(ctx, 'a name without = and an empty value', `/inspect?${k1}&${k2}=`, { query: [[k1, ''], [k2, '']] }),
      await inspectCase(ctx, 'only the first = splits; empty pieces are skipped', `/inspect?${k1}=a=b&&${k2}=c`, { query: [[k1, 'a=b'], [k2, 'c']] }),
    ]);
  },
});

const emptyQuery = defineCheck({
  id: 'empty-query',
  title: 'No query, or an empty one, gives no pairs',
  points: 1,
  async run(ctx) {
    const w = ctx.rng.word(5);
    return fromCases([
      await inspectCase(ctx, 'no ?', `/inspect/${w}`, { path: `/inspect/${w}`, query: [] }),
      await inspectCase(ctx, 'a ? with nothing after it', `/inspect/${w}?`, { path: `/inspect/${w}`, query: [] }),
    ]);
  },
});

const hostAndPort = defineCheck({
  id: 'host-and-port',
  title: 'Takes host and port from the Host header',
  points: 2,
  async run(ctx) {
    const host = `${ctx.rng.word(6)}.test`;
    const port = ctx.rng.int(1025, 65000);
    return fromCases([
      await inspectCase(ctx, 'Host with a port', '/inspect', { host, port }, `${host}:${port}`),
      await inspectCase(ctx, 'Host without a port means 80', '/inspect', { host, port: 80 }, host),
      await inspectCase(ctx, 'host names are case-insensitive: report lower case', '/inspect', { host, port }, `${host.toUpperCase()}:${port}`),
      await inspectCase(ctx, 'a colon with no port means 80', '/inspect', { host, port: 80 }, `${host}:`, 'empty-port'),
      await inspectCase(ctx, 'the highest port, 65535', '/inspect', { host, port: 65535 }, `${host}:65535`),
      await inspectCase(ctx, 'an IPv6 address in brackets', '/inspect', { host: '[::1]', port }, `[::1]:${port}`, 'ipv6-host'),
    ]);
  },
});

const absoluteForm = defineCheck({
  id: 'absolute-form',
  title: 'Parses an absolute-form target (http://host:port/path?query)',
  points: 2,
  async run(ctx) {
    const host = `${ctx.rng.word(6)}.test`;
    const port = ctx.rng.int(1025, 65000);
    const w = ctx.rng.word(5);
    const v = ctx.rng.word(4);
    return fromCases([
      // The target's authority wins over the Host header (RFC 9112, section 3.2.2).
      await inspectCase(ctx, 'all parts', `http://${host}:${port}/inspect/${w}?k=${v}`, { host, port, path: `/inspect/${w}`, query: [['k', v]] }),
      await inspectCase(ctx, 'no port means 80', `http://${host}/inspect/${w}`, { host, port: 80, path: `/inspect/${w}` }),
      // No path at all is the path "/": the home page.
      await statusCase(ctx, `http://${host}:${port}`, 200),
    ]);
  },
});

/** A text/plain page: the home page (any body), or a greeting (exactly `body`). */
function pageCase(ctx: CheckContext, name: string, target: string, body?: string): Promise<Case> {
  const expected = `200, Content-Type: text/plain; charset=utf-8${body === undefined ? '' : `, body ${JSON.stringify(body)}`}`;
  return answerCase(ctx, name, getBytes(ctx, target), { expected, rule: 'routing' }, (res) => {
    const got = res.body.toString('utf8');
    const type = header(res, 'content-type') ?? '';
    if (res.status !== 200) return { ok: false, code: 'wrong-status', message: `status was ${res.status}` };
    if (body !== undefined && got !== body) return { ok: false, code: 'wrong-body', message: `body was ${JSON.stringify(got.slice(0, 80))}` };
    if (!/^text\/plain\b/i.test(type)) return { ok: false, code: 'wrong-header', message: `Content-Type was "${type}"` };
    return { ok: true };
  });
}

const routing = defineCheck({
  id: 'routing',
  title: 'Routes / and /greet/<name> to their handlers',
  points: 2,
  async run(ctx) {
    const name = ctx.rng.word(7);
    const other = ctx.rng.word(4);
    return fromCases([
      await pageCase(ctx, 'the home page', '/'),
      await pageCase(ctx, 'a plain name', `/greet/${name}`, `Hello, ${name}!`),
      await pageCase(ctx, 'a percent-encoded name', `/greet/J%C3%BCrgen%20${other}`, `Hello, Jürgen ${other}!`),
    ]);
  },
});

const statusIs = (status: number) => (res: ParsedResponse) => ({ ok: res.status === status, code: 'wrong-status' as const, message: `status was ${res.status}, expected ${status}` });

function statusCase(ctx: CheckContext, target: string, status: number): Promise<Case> {
  return answerCase(ctx, `GET ${target}`, getBytes(ctx, target), { expected: `status ${status}`, rule: ctx.checkId }, statusIs(status));
}

const notFound = defineCheck({
  id: 'not-found',
  title: 'Unknown paths get 404, even when they start like a route',
  points: 1,
  async run(ctx) {
    return fromCases([
      await statusCase(ctx, `/${ctx.rng.word()}`, 404),
      await statusCase(ctx, `/inspector/${ctx.rng.word(3)}`, 404),
      await statusCase(ctx, `/greeting/${ctx.rng.word(3)}`, 404),
      await statusCase(ctx, '/greet/', 404),
    ]);
  },
});

const badTarget = defineCheck({
  id: 'bad-target',
  title: 'A target or Host that cannot be parsed gets 400',
  points: 2,
  async run(ctx) {
    const host = `${ctx.rng.word(6)}.test`;
    const w = ctx.rng.word(4);
    const bare = (target: string) => Buffer.from(`GET ${target} HTTP/1.1\r\nUser-Agent: serverlab-grader\r\nConnection: close\r\n\r\n`);
    const cases: Array<[string, Buffer]> = [
      ['a port that is not a number', Buffer.from(`GET /inspect HTTP/1.1\r\nHost: ${host}:8o\r\nConnection: close\r\n\r\n`)],
      ['a port above 65535', Buffer.from(`GET /inspect HTTP/1.1\r\nHost: ${host}:65536\r\nConnection: close\r\n\r\n`)],
      ['text after an IPv6 address that is not a port', Buffer.from(`GET /inspect HTTP/1.1\r\nHost: [::1]x\r\nConnection: close\r\n\r\n`)],
      ['an empty host before the port', Buffer.from(`GET /inspect HTTP/1.1\r\nHost: :${ctx.port}\r\nConnection: close\r\n\r\n`)],
      ['an origin-form target with no Host header', bare(`/inspect/${w}`)],
      ['a target that is neither /path nor http://...', Buffer.from(`GET inspect/${w} HTTP/1.1\r\nHost: ${ctx.host}\r\nConnection: close\r\n\r\n`)],
      ['an absolute-form target with an empty host', Buffer.from(`GET http:///inspect/${w} HTTP/1.1\r\nHost: ${ctx.host}\r\nConnection: close\r\n\r\n`)],
    ];
    const out: Case[] = [];
    for (const [name, send] of cases) out.push(await answerCase(ctx, name, send, { expected: 'status 400', rule: 'bad-target', label: name }, statusIs(400)));
    // Whatever the parser threw, the server must still be there for the next client.
    out.push(await pageCase(ctx, 'the home page, still answered afterwards', '/'));
    return fromCases(out);
  },
});

export default defineExercise({
  id: '03-urls',
  rules: RULES,
  checks: [inspectPath, percentDecoding, plusInPath, queryString, emptyQuery, hostAndPort, absoluteForm, routing, notFound, badTarget],
});
