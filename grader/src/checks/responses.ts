import type { Exchange } from '../report/model.ts';
import type { RawConnection } from '../probes/raw/connection.ts';
import { header, headerAll, type ParsedResponse } from '../probes/raw/parse-response.ts';
import type { FailureCode } from './codes.ts';

// Rules that hold for every response (the headers every response carries, saying Connection: close
// when the server closes) are judged on every response any check reads, and charged once, to the
// check that is about them: one missing header costs its points once, wherever it shows.

/** What a response answered, as far as the rules need it. */
export interface SentRequest {
  method: string;
  /** `HTTP/1.1`, `HTTP/1.0`, or whatever odd version the case sent. */
  version: string;
  /** The request asked for the connection to close. */
  asksClose: boolean;
  /** The request asked for keep-alive (which HTTP/1.0 needs to say). */
  asksKeepAlive?: boolean;
}

export interface SeenResponse {
  check: string;
  case: string;
  request: SentRequest;
  res: ParsedResponse;
  /** The response said `Connection: close`. */
  saysClose: boolean;
  /** Whether the server then closed: undefined where nobody looked. */
  closed?: boolean;
}

export interface ResponseRule {
  rule: string;
  code: FailureCode;
  /** Short name of the rule, for its case in the report. */
  name: string;
  /** This rule needs to know whether the server closed after the response. */
  watchesClose?(r: Omit<SeenResponse, 'closed'>): boolean;
  /** Whether the rule says anything about this response (all, unless given). */
  applies?(r: SeenResponse): boolean;
  /** What is wrong with this response, or undefined. */
  judge(r: SeenResponse): string | undefined;
}

export interface Violation {
  rule: ResponseRule;
  count: number;
  first: { check: string; case: string; message: string; exchange: Exchange };
}

export class ResponseLog {
  private readonly found = new Map<string, Violation>();
  private readonly appliedTo = new Map<string, number>();
  /** The first Date header read, and when: a later one must differ once enough time has passed. */
  firstDate: { value: string; at: number; check: string; case: string } | undefined;
  /** The first case whose server gave no response to judge: why the rules may have nothing to go on. */
  firstFailure: { code: FailureCode; message: string } | undefined;
  private responses = 0;
  /** After one connection that stayed open when it should have closed, stop waiting on the others. */
  private waitForClose = true;

  constructor(readonly rules: readonly ResponseRule[]) {}

  get size(): number {
    return this.responses;
  }

  /**
   * Judges one response read on `conn`. Waits (bounded) for the server to close where a rule needs
   * to know, unless the case itself already judged the close.
   */
  async record(conn: RawConnection, r: Omit<SeenResponse, 'closed' | 'saysClose'>, opts: { closeJudged?: boolean; idleTimeoutMs: number }): Promise<void> {
    this.responses++;
    const date = header(r.res, 'date');
    if (date && !this.firstDate) this.firstDate = { value: date, at: Date.now(), check: r.check, case: r.case };
    const base = { ...r, saysClose: connectionTokens(r.res).includes('close') };
    let closed: boolean | undefined = conn.eof ? true : undefined;
    const watch = !opts.closeJudged && this.rules.some((rule) => rule.watchesClose?.(base));
    if (watch && closed === undefined && this.waitForClose) {
      closed = await conn.waitForEof(opts.idleTimeoutMs);
      if (!closed) this.waitForClose = false;
    }
    const seen: SeenResponse = { ...base, ...(closed !== undefined && !opts.closeJudged ? { closed } : {}) };
    for (const rule of this.rules) {
      if (rule.applies && !rule.applies(seen)) continue;
      this.appliedTo.set(rule.rule, (this.appliedTo.get(rule.rule) ?? 0) + 1);
      const message = rule.judge(seen);
      if (message === undefined) continue;
      const v = this.found.get(rule.rule);
      // Only the first violation of a rule is shown, so only its transcript is taken.
      if (v) v.count++;
      else this.found.set(rule.rule, { rule, count: 1, first: { check: r.check, case: r.case, message, exchange: conn.transcript() } });
    }
  }

  /** Notes a case that read no response, once. */
  noResponse(code: FailureCode, message: string): void {
    this.firstFailure ??= { code, message };
  }

  /** How many responses the rule applied to. */
  applied(rule: string): number {
    return this.appliedTo.get(rule) ?? 0;
  }

  violation(rule: string): Violation | undefined {
    return this.found.get(rule);
  }
}

/** The tokens of every Connection field line, lower-cased. */
export function connectionTokens(res: Pick<ParsedResponse, 'headers'>): string[] {
  return headerAll(res, 'connection').flatMap((v) => v.split(',')).map((t) => t.trim().toLowerCase()).filter(Boolean);
}

/** Method and version from the request line of raw request bytes, and whether it asks to close. */
export function describeRequest(bytes: Buffer): SentRequest {
  const headEnd = bytes.indexOf('\r\n\r\n');
  const head = bytes.toString('latin1', 0, headEnd < 0 ? bytes.length : headEnd);
  const [line = '', ...fields] = head.split('\r\n');
  const [method = '', , version = ''] = line.split(' ');
  const tokens = fields.filter((f) => /^connection:/i.test(f)).flatMap((f) => f.slice(11).split(',').map((t) => t.trim().toLowerCase()));
  return { method, version, asksClose: tokens.includes('close'), asksKeepAlive: tokens.includes('keep-alive') };
}
