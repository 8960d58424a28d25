import { setTimeout as sleep } from 'node:timers/promises';
import { defineCheck, fromCases, type Case, type Check, type CheckContext } from './define.ts';
import { expectResponse } from './expect.ts';
import { header } from '../probes/raw/parse-response.ts';
import { connectionTokens, type ResponseRule, type SeenResponse } from './responses.ts';

// The rules every HTTP response of 02 and 03 keeps, error responses too, and the check that charges
// them: it looks at every response the other checks read, so a header left out of the 404 path, or
// a close without "Connection: close" after a 400, costs points once, wherever it shows.

const IMF_FIXDATE = /^(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d{2}:\d{2}:\d{2} GMT$/;

/**
 * The server will close after this response, by the request or by the course's rules. HTTP/1.0
 * closes unless the client asked for keep-alive and the server said yes.
 */
export const mustClose = (r: Pick<SeenResponse, 'request' | 'res'>): boolean =>
  r.request.asksClose ||
  (r.request.version === 'HTTP/1.0' && !(r.request.asksKeepAlive && connectionTokens(r.res).includes('keep-alive'))) ||
  r.res.status === 400 ||
  r.res.status === 505;

function judgeDate(r: SeenResponse): string | undefined {
  const date = header(r.res, 'date');
  if (date === undefined) return `no Date header on a ${r.res.status} response`;
  if (!IMF_FIXDATE.test(date)) return `Date "${date}" is not an IMF-fixdate like "Sun, 06 Nov 1994 08:49:37 GMT"`;
  const skew = Math.abs(Date.parse(date) - Date.now()) / 1000;
  return skew > 60 ? `Date "${date}" is ${Math.round(skew)} s away from the grader's clock` : undefined;
}

export const HTTP_RESPONSE_RULES: readonly ResponseRule[] = [
  { rule: 'date', name: 'Date on every response', code: 'missing-header', judge: judgeDate },
  {
    rule: 'server',
    name: 'Server on every response',
    code: 'missing-header',
    judge: (r) => (header(r.res, 'server') ? undefined : `no Server header (or an empty one) on a ${r.res.status} response`),
  },
  {
    rule: 'content-type',
    name: 'Content-Type on every response with a body',
    code: 'missing-header',
    applies: (r) => r.res.body.length > 0 || r.request.method === 'HEAD',
    judge: (r) => {
      // A HEAD answer has no body bytes, but announces GET's body, so it carries GET's Content-Type.
      const hasBody = r.res.body.length > 0 || (r.request.method === 'HEAD' && Number(header(r.res, 'content-length') ?? 0) > 0);
      return hasBody && !header(r.res, 'content-type') ? `no Content-Type on a ${r.res.status} response with a body` : undefined;
    },
  },
  {
    rule: 'says-close',
    name: 'Connection: close on a response after which the server closes',
    code: 'close-not-announced',
    applies: mustClose,
    judge: (r) => (mustClose(r) && !r.saysClose ? `a ${r.res.status} answer to ${r.request.method} ${r.request.version}${r.request.asksClose ? ' with Connection: close' : ''} does not say Connection: close` : undefined),
  },
  {
    rule: 'closes',
    name: 'closes the connection when it says so',
    code: 'not-closed',
    watchesClose: (r) => r.saysClose || mustClose(r),
    applies: (r) => r.closed !== undefined,
    judge: (r) => (r.closed === false ? `after a ${r.res.status}${r.saysClose ? ' that says Connection: close' : ''}, the connection stayed open` : undefined),
  },
];

/** A Date taken this long after another must differ from it: IMF-fixdate counts seconds. */
export const FROZEN_DATE_MS = 2500;

/**
 * The check that charges some response rules: a case per rule, failed by the first response that
 * broke it (with how many did), plus the check's own probes so it never judges on nothing.
 */
export function everyResponseCheck(def: { id: string; title: string; points: number; rules: string[]; probe(ctx: CheckContext): Promise<void>; frozenDate?: boolean }): Check {
  return defineCheck({
    id: def.id,
    title: def.title,
    points: def.points,
    async run(ctx) {
      await def.probe(ctx);
      const cases: Case[] = [];
      for (const id of def.rules) {
        const rule = ctx.responses.rules.find((r) => r.rule === id);
        if (!rule) throw new Error(`no response rule "${id}"`);
        const v = ctx.responses.violation(id);
        const ref = ctx.rule(id);
        const applied = ctx.responses.applied(id);
        if (!v && !applied) {
          // Never judged is never passed: a server that answers nothing earns nothing here.
          const why = ctx.responses.firstFailure;
          cases.push({ name: rule.name, ok: false, rule: ref, code: why?.code ?? 'no-response', message: `no response this rule applies to came back${why ? ` (${why.message})` : ''}` });
          continue;
        }
        if (!v) {
          cases.push({ name: rule.name, ok: true, rule: ref, message: `kept by all ${applied} responses it applies to` });
          continue;
        }
        const where = v.count === 1 ? `in 1 of ${ctx.responses.size} responses` : `in ${v.count} of ${ctx.responses.size} responses, the first`;
        cases.push({ name: rule.name, ok: false, code: v.rule.code, rule: ref, message: `${v.first.message} (${where} in ${v.first.check}: ${v.first.case})`, exchange: { ...v.first.exchange, label: `${v.first.check}: ${v.first.case}` } });
      }
      if (def.frozenDate) cases.push(await frozenDateCase(ctx));
      return fromCases(cases);
    },
  });
}

/**
 * Two answers some seconds apart must carry different Dates: a Date computed once at start-up is
 * wrong. The first Date of the unit is compared with a fresh one, waiting only for what is left of
 * the interval (usually nothing: the other checks took longer).
 */
async function frozenDateCase(ctx: CheckContext): Promise<Case> {
  const name = 'Date is the time of each response';
  const rule = ctx.rule('date');
  const first = ctx.responses.firstDate;
  if (!first) return { name, ok: false, rule, code: ctx.responses.firstFailure?.code ?? 'missing-header', message: 'no response with a Date came back to compare with' };
  const left = FROZEN_DATE_MS - (Date.now() - first.at);
  if (left > 0) await sleep(left, undefined, { signal: ctx.signal });
  const again = await expectResponse(ctx, { name: 'GET /, for a fresh Date', send: ctx.request({ target: '/' }) });
  const d1 = again.res && header(again.res, 'date');
  if (!d1) return { name, ok: false, rule, code: again.code ?? 'missing-header', message: `no Date to compare: ${again.message ?? 'the response had none'}` };
  const apart = ((Date.now() - first.at) / 1000).toFixed(1);
  if (d1 !== first.value) return { name, ok: true, rule, message: `Date moved from "${first.value}" to "${d1}" in ${apart} s` };
  return { name, ok: false, code: 'wrong-header', rule, message: `two responses ${apart} s apart both said Date: ${d1} (the first in ${first.check}: ${first.case}); is it computed once, not per response?`, ...(again.exchange ? { exchange: again.exchange } : {}) };
}
