import type { RuleRef } from '../report/model.ts';

// The rules an exercise's README states, each tied to the check that probes it. A case names the
// rule it tests, so its evidence can say where the rule comes from; the grader's tests demand that
// every rule is probed by some case and that every quoted rule is really in the README.

export type RuleSource =
  | { spec: 'RFC 9110' | 'RFC 9112' | 'RFC 3986' | 'WHATWG URL'; section: string; level: 'MUST' | 'SHOULD' | 'MAY' }
  /** What the operating system or the runtime documents (fork(2), waitpid(2), PEP 475, Node's cluster docs). */
  | { doc: string; says: string }
  /** The course asks for more than HTTP: say what HTTP allows, and why the course is stricter. */
  | { course: true; allows: string; why: string };

export interface Rule {
  /** Stable within the exercise. */
  id: string;
  /** The check whose cases probe it. */
  check: string;
  /** The README's own words for the rule (whitespace aside): a test finds them in the README. */
  readme: string;
  source: RuleSource;
}

export const defineRules = <const T extends readonly Rule[]>(rules: T): T => rules;

export function ruleRef(rule: Rule): RuleRef {
  const s = rule.source;
  if ('course' in s) return { id: rule.id, source: 'course rule', note: `HTTP allows ${s.allows}; the course asks for more because ${s.why}` };
  if ('doc' in s) return { id: rule.id, source: s.doc, note: s.says };
  return { id: rule.id, source: `${s.spec} §${s.section} (${s.level})` };
}
