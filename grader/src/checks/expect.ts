import type { CheckContext, Case } from './define.ts';
import type { FailureCode } from './codes.ts';
import type { SendOptions } from '../probes/raw/connection.ts';
import { headerAll, type ParsedResponse } from '../probes/raw/parse-response.ts';
import { isProbeError } from '../probes/errors.ts';
import { describeRequest } from './responses.ts';

// "Send this, expect this status, these headers, this body": one case, on a connection of its own
// that is closed once the case is judged, so no case ever waits on another case's connection.

/** An exact value, a pattern, a token a list header must hold, or a function that says what is wrong. */
export type HeaderExpect = string | RegExp | { has: string } | ((values: string[]) => string | undefined);

export interface Expectation {
  status?: number | readonly number[];
  /** By header name (any case); every field line of a name is looked at. */
  headers?: Record<string, HeaderExpect>;
  body?: Buffer | string | ((body: Buffer) => string | undefined);
  /** The server must close the connection after this response. */
  closes?: boolean;
}

export interface CaseSpec extends Expectation {
  name: string;
  send: Buffer | string;
  /** Cut the request into writes; `label` says how, in the evidence. */
  split?: SendOptions & { label: string };
  rule?: string;
  /** The code for a wrong status; otherwise wrong-status. */
  code?: FailureCode;
  weight?: number;
  /** Words for what a correct server sends; built from the expectation when left out. */
  expected?: string;
  idleTimeoutMs?: number;
}

export interface Problem {
  code: FailureCode;
  message: string;
}

const statusList = (s: number | readonly number[]) => (typeof s === 'number' ? [s] : [...s]);

/** What a correct server sends, in words, for the transcript's "expected" line. */
export function describeExpectation(e: Expectation): string {
  const parts: string[] = [];
  if (e.status !== undefined) parts.push(`status ${statusList(e.status).join(' or ')}`);
  for (const [name, want] of Object.entries(e.headers ?? {})) {
    if (typeof want === 'string') parts.push(`${name}: ${want}`);
    else if (want instanceof RegExp) parts.push(`${name} matching ${want}`);
    else if (typeof want === 'object' && 'has' in want) parts.push(`${name} listing ${want.has}`);
    else parts.push(`a valid ${name}`);
  }
  if (Buffer.isBuffer(e.body)) parts.push(`the ${e.body.length} bytes sent as the body`);
  else if (typeof e.body === 'string') parts.push(`body ${JSON.stringify(e.body)}`);
  if (e.closes) parts.push('then the server closes the connection');
  return parts.join(', ');
}

/** Compares a response with an expectation; shared by the raw and the http probe. */
export function compare(e: Expectation, res: { status: number; headers: Array<[string, string]>; body: Buffer }, wrongStatus: FailureCode = 'wrong-status'): Problem[] {
  const problems: Problem[] = [];
  if (e.status !== undefined && !statusList(e.status).includes(res.status)) {
    problems.push({ code: wrongStatus, message: `got ${res.status}, expected ${statusList(e.status).join(' or ')}` });
  }
  for (const [name, want] of Object.entries(e.headers ?? {})) {
    const values = headerAll(res, name);
    const problem = judgeHeader(name, values, want);
    if (problem) problems.push({ code: values.length ? 'wrong-header' : 'missing-header', message: problem });
  }
  if (e.body !== undefined) {
    const problem = judgeBody(e.body, res.body);
    if (problem) problems.push({ code: 'wrong-body', message: problem });
  }
  return problems;
}

function judgeHeader(name: string, values: string[], want: HeaderExpect): string | undefined {
  if (typeof want === 'function') return want(values);
  if (!values.length) return `no ${name} header`;
  if (typeof want === 'object' && !(want instanceof RegExp)) {
    // A list header may come as one field line or several (RFC 9110 §5.3): all of them count.
    const tokens = values.flatMap((v) => v.split(',')).map((t) => t.trim());
    return tokens.includes(want.has) ? undefined : `${name} was "${values.join(', ')}", which does not list ${want.has}`;
  }
  if (values.length > 1) return `${name} was sent ${values.length} times: ${values.map((v) => JSON.stringify(v)).join(', ')}`;
  const value = values[0]!;
  if (typeof want === 'string') return value === want ? undefined : `${name} was "${value}", expected "${want}"`;
  return want.test(value) ? undefined : `${name} was "${value}"`;
}

function judgeBody(want: Buffer | string | ((b: Buffer) => string | undefined), body: Buffer): string | undefined {
  if (typeof want === 'function') return want(body);
  const bytes = typeof want === 'string' ? Buffer.from(want, 'utf8') : want;
  if (body.equals(bytes)) return undefined;
  return `the body differs: ${body.length} bytes for ${bytes.length} expected${firstDifference(body, bytes)}`;
}

export function firstDifference(a: Buffer, b: Buffer): string {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return `, first difference at byte ${i}`;
  return a.length === b.length ? '' : `, the first ${n} bytes agree`;
}

/**
 * One request on a connection of its own: sends, reads one strictly parsed response, compares it,
 * records it for the exercise's response rules, and closes the connection.
 */
export async function expectResponse(ctx: CheckContext, spec: CaseSpec): Promise<Case & { res?: ParsedResponse }> {
  const rule = spec.rule ? ctx.rule(spec.rule) : undefined;
  const expected = spec.expected ?? describeExpectation(spec);
  const bytes = typeof spec.send === 'string' ? Buffer.from(spec.send, 'latin1') : spec.send;
  const request = describeRequest(bytes);
  const label = spec.split ? `${spec.name} (${spec.split.label})` : spec.name;
  const conn = await ctx.connect({ label, ...(spec.idleTimeoutMs ? { idleTimeoutMs: spec.idleTimeoutMs } : {}) });
  const meta = { name: spec.name, ...(rule ? { rule } : {}), ...(spec.weight !== undefined ? { weight: spec.weight } : {}) };
  const extra = { expected, ...(spec.split ? { split: spec.split.label } : {}) };
  try {
    await conn.send(bytes, spec.split ?? {});
    let res: ParsedResponse;
    try {
      res = await conn.readResponse({ method: request.method });
    } catch (e) {
      if (!isProbeError(e)) throw e;
      ctx.responses.noResponse(e.code, e.message);
      return { ...meta, ok: false, code: e.code, message: e.message, exchange: { ...(e.exchange ?? conn.transcript()), ...extra } };
    }
    const problems = compare(spec, res, spec.code);
    if (spec.closes) {
      if (!(await conn.waitForEof())) problems.push({ code: 'not-closed', message: `the connection was still open ${ctx.ioTimeoutMs / 1000} s after the response` });
      else if (conn.unconsumed.length) problems.push({ code: 'bytes-after-response', message: `${conn.unconsumed.length} more bytes came after the response, before the close` });
    }
    await ctx.responses.record(conn, { check: ctx.checkId, case: spec.name, request, res }, { closeJudged: spec.closes === true, idleTimeoutMs: ctx.ioTimeoutMs });
    const exchange = conn.transcript(extra);
    if (!problems.length) return { ...meta, ok: true, res, exchange };
    return { ...meta, ok: false, code: problems[0]!.code, message: problems.map((p) => p.message).join('; '), exchange, res };
  } finally {
    conn.close();
  }
}
