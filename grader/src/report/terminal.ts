import { Chalk, type ChalkInstance } from 'chalk';
import type { CheckResult, CheckStatus, Exchange, ExerciseResult, Measurement, NotRunReason, ProcessTree, RuleRef, RunResult, StartFailure, Value } from './model.ts';
import { renderLatencyChart } from './latency-chart.ts';
import { renderProcessTree } from './process-tree.ts';
import { showBytes, showMessage, type ShownLine } from './bytes.ts';
import { reproduce } from './reproduce.ts';
import { describeCode, isFailureCode, NO_ANSWER } from '../checks/codes.ts';

// The report for a terminal, in proportion to what went wrong: one line per check and per failed
// case; the first failure of each code with its whole transcript, a command to repeat it by hand
// and the hint for the code; later failures of the same code with a line that points back to it.

export interface TerminalOptions {
  color: boolean;
  /** Every case of every check, passing ones too, each with its whole transcript and hint. */
  verbose?: boolean;
}

/** Text from the server, with control characters shown, so it cannot move the cursor or recolour the report. */
const inert = (text: string): string => text.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`);

const MARK: Record<CheckStatus, string> = { pass: '✓', fail: '✗', partial: '◐', error: '!', skipped: '-', 'not-run': '·' };

const NOT_RUN: Record<NotRunReason, string> = {
  'server-did-not-start': 'the server did not start, see above',
  bail: '--bail stopped here',
  'run-time-limit': 'the run reached its time limit',
};

const count = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;
const FAILED: ReadonlySet<CheckStatus> = new Set(['fail', 'partial', 'error']);
const wordsFor = (code: string): string => (isFailureCode(code) ? describeCode(code) : code);
/** "RFC 9112 §9.6 (MUST)" as "RFC 9112 §9.6 MUST". */
const compactSource = (source: string): string => source.replace(/\s*\((MUST|SHOULD|MAY)\)\s*$/, ' $1');

interface Run {
  c: ChalkInstance;
  verbose: boolean;
  /** Hint text by failure code. */
  hints: Record<string, string>;
  /** Hints, rule sources and rule notes already printed in this report. */
  said: Set<string>;
}

/** Where something was first shown in an exercise, to point back to it. */
interface Place {
  check: string;
  case?: string;
}

interface Exercise extends Run {
  ex: ExerciseResult;
  /** The one code every failure of the exercise has, when there are several failures. */
  uniform?: string;
  /** The first failure of each code. */
  first: Map<string, Place>;
  /** Transcripts shown in full, by their bytes. */
  exchanges: Map<string, Place>;
  /** Server output already shown. */
  outputs: Set<string>;
}

/** One verdict to show under a check: one of its cases, or the check's own where no case explains it. */
interface Item {
  check: CheckResult;
  name?: string;
  pass: boolean;
  code?: string;
  message: string;
  rule?: RuleRef;
  exchanges: Exchange[];
  tree?: ProcessTree;
}

/** The whole report as text for a terminal; pure, so it can be snapshot-tested. */
export function renderTerminal(result: RunResult, opts: TerminalOptions): string {
  const c = new Chalk({ level: opts.color ? 1 : 0 });
  const run: Run = { c, verbose: opts.verbose ?? false, hints: hintTexts(result), said: new Set() };
  const out: string[] = [];
  out.push(c.bold(`serverlab ${result.tool.version}`) + c.dim(`  target ${result.target}  seed ${result.seed}`));
  for (const ex of result.exercises) out.push('', ...renderExercise(ex, run));
  out.push('', ...renderSummary(result, c));
  return out.join('\n') + '\n';
}

/** The run's hints, completed by those the checks and failed starts carry themselves. */
function hintTexts(result: RunResult): Record<string, string> {
  const hints: Record<string, string> = {};
  for (const ex of result.exercises) {
    for (const ch of ex.checks) if (ch.code && ch.hint) hints[ch.code] ??= ch.hint;
    for (const f of ex.server?.startFailures ?? []) if (f.hint) hints[f.code] ??= f.hint;
  }
  return { ...hints, ...result.hints };
}

/** The cases to show under a check, and the check's own verdict where no failed case explains it (the server exited, say). */
function itemsOf(ch: CheckResult, verbose: boolean): Item[] {
  const cases = ch.cases ?? [];
  const failed = FAILED.has(ch.status);
  const failedCases = cases.filter((k) => k.status === 'fail');
  const own = !cases.length || (failed && (!failedCases.length || (ch.code !== undefined && !failedCases.some((k) => k.code === ch.code))));
  const items: Item[] = [];
  if (own && (failed || verbose)) {
    items.push({ check: ch, pass: !failed, ...(failed && ch.code ? { code: ch.code } : {}), message: ch.evidence.message, exchanges: ch.evidence.exchanges ?? [], ...(ch.evidence.tree ? { tree: ch.evidence.tree } : {}) });
  }
  for (const k of cases) {
    if (k.status === 'pass' && !verbose) continue;
    items.push({
      check: ch,
      name: k.name,
      pass: k.status === 'pass',
      ...(k.status === 'fail' && k.code ? { code: k.code } : {}),
      message: k.message ?? (k.status === 'pass' ? 'passed' : 'failed'),
      ...(k.rule ? { rule: k.rule } : {}),
      exchanges: k.exchange ? [k.exchange] : [],
      ...(k.tree ? { tree: k.tree } : {}),
    });
  }
  return items;
}

function renderExercise(ex: ExerciseResult, run: Run): string[] {
  const { c } = run;
  const failedChecks = ex.checks.filter((ch) => FAILED.has(ch.status));
  const failures = failedChecks.flatMap((ch) => itemsOf(ch, false));
  const code = failures[0]?.code;
  // One cause said once: where no answer came back, or where every failure says the same thing (a
  // stub answering 501 to everything). A missing Date on a 404 and a missing Server on a 501 share
  // a code, but are two causes: each keeps its own line.
  const said = (m: string) => m.replace(/, expected .*$/, '');
  const sameWords = failures.every((f) => said(f.message) === said(failures[0]!.message));
  const uniform = failures.length > 1 && code && (NO_ANSWER.has(code) || sameWords) && failures.every((f) => f.code === code) ? code : undefined;
  const cause = uniform && !NO_ANSWER.has(uniform) ? said(failures[0]!.message) : undefined;
  const x: Exercise = { ...run, ex, ...(uniform ? { uniform } : {}), first: new Map(), exchanges: new Map(), outputs: new Set() };

  const full = ex.score === ex.maxScore;
  const lines = [`${c.bold(ex.id)} ${c.dim(`[${ex.track}]`)} ${ex.title}  ${(full ? c.green : c.yellow)(`${ex.score}/${ex.maxScore}`)}`];
  if (uniform) {
    const where = `${count(failures.length, 'case')} of ${count(failedChecks.length, 'check')}`;
    lines.push(c.red(`  Every failed case has one cause: ${cause ? inert(cause) : wordsFor(uniform)} (${uniform}), in ${where}`));
  }
  // A start that failed for the first check is the exercise's; one for a later check is that check's.
  const failedStarts = ex.server?.startFailures ?? [];
  const underCheck = (f: StartFailure) => f.check !== ex.checks[0]?.id && ex.checks.some((ch) => ch.id === f.check);
  for (const f of failedStarts.filter((f) => !underCheck(f))) lines.push(...renderStartFailure(f, x, '  '));
  lines.push(...renderChecks(x, (ch) => failedStarts.filter((f) => underCheck(f) && f.check === ch.id)));

  const s = ex.server;
  if (s?.leftBehind.length) {
    lines.push(c.yellow('  ! processes the grader had to kill (still running after SIGTERM, or escaped from the process group):'), ...s.leftBehind.map((p) => c.yellow(`      ${inert(p)}`)));
  }
  if ((failedChecks.length || failedStarts.length) && s?.outputTail && !x.outputs.size) lines.push(...renderOutput(s.outputTail, '  ', x));
  return lines;
}

/** Every check in order; a run of checks not run for the same reason is one line. */
function renderChecks(x: Exercise, startsFor: (ch: CheckResult) => StartFailure[]): string[] {
  const { c } = x;
  const checks = x.ex.checks;
  const width = Math.max(0, ...checks.map((ch) => ch.id.length));
  const lines: string[] = [];
  const collapsible = (ch: CheckResult, reason: NotRunReason | undefined) => ch.status === 'not-run' && ch.notRun === reason && !startsFor(ch).length;
  for (let i = 0; i < checks.length; ) {
    const ch = checks[i]!;
    let j = i;
    while (j < checks.length && collapsible(checks[j]!, ch.notRun)) j++;
    if (j - i > 1) {
      const ids = checks.slice(i, j).map((k) => k.id);
      lines.push(c.dim(`  ${MARK['not-run']} not run (${notRunReason(ch)}): ${ids.join(', ')}`));
      i = j;
      continue;
    }
    lines.push(...renderCheck(ch, width, startsFor(ch), x));
    i++;
  }
  return lines;
}

const notRunReason = (ch: CheckResult): string => (ch.notRun ? NOT_RUN[ch.notRun] : 'not run');

function renderCheck(ch: CheckResult, width: number, starts: StartFailure[], x: Exercise): string[] {
  const { c } = x;
  const color = { pass: c.green, fail: c.red, partial: c.yellow, error: c.magenta, skipped: c.dim, 'not-run': c.dim }[ch.status];
  const name = `${ch.id.padEnd(width)}  ${ch.title}`;
  if (ch.status === 'not-run') {
    return [c.dim(`  ${MARK['not-run']} ${name}  not run: ${notRunReason(ch)}`), ...starts.flatMap((f) => renderStartFailure(f, x, '    '))];
  }
  const lines = [`  ${color(MARK[ch.status])} ${name}  ${c.dim(`${ch.score}/${ch.points}`)}`];
  // Figures are worth seeing whatever the verdict: a measured throughput beside its prediction.
  // On a passing check only the figures marked as worth it; on a failed one (or --verbose) all.
  const figures = (ch.evidence.measurements ?? []).filter((m) => m.headline || x.verbose || FAILED.has(ch.status));
  if (figures.length) lines.push(...renderMeasurements(figures, c));
  for (const f of starts) if (!ch.evidence.message.includes(f.message)) lines.push(...renderStartFailure(f, x, '    '));
  if (ch.status === 'skipped') return [...lines, c.dim(`    ${inert(ch.evidence.message)}`)];
  if (ch.status === 'pass' && !x.verbose) return lines;

  const items = itemsOf(ch, x.verbose);
  // When every failure has one cause, a check that does not hold the first of them is its line alone.
  if (x.uniform && !x.verbose && (x.first.has(x.uniform) || !items.some((it) => it.code === x.uniform))) return lines;
  for (const it of items) lines.push(...renderItem(it, x));
  if (ch.evidence.values && Object.keys(ch.evidence.values).length) lines.push(...renderValues(ch.evidence.values, c));
  if (ch.evidence.output) lines.push(...renderOutput(ch.evidence.output, '    ', x));
  return lines;
}

function renderItem(it: Item, x: Exercise): string[] {
  const { c, verbose } = x;
  const here: Place = { check: it.check.id, ...(it.name !== undefined ? { case: it.name } : {}) };
  const earlier = it.code ? x.first.get(it.code) : undefined;
  if (earlier && x.uniform && !verbose) return [];
  const full = verbose || !earlier;
  const mark = it.pass ? c.green('✓') : c.red('✗');
  const text = `${it.name !== undefined ? `${inert(it.name)}: ` : ''}${inert(it.message)}`;
  let line = `    ${mark} ${it.pass ? c.dim(text) : text}`;
  if (earlier) line += c.dim(`  (${it.code}, as in ${placeName(earlier, here)} above)`);
  const rule = it.rule;
  const once = (key: string) => {
    const first = !x.said.has(key);
    x.said.add(key);
    return verbose || first;
  };
  if (rule && full && rule.source !== 'course rule' && (verbose || !it.pass) && once(`source ${x.ex.id} ${rule.id}`)) line += c.dim(`  [${compactSource(rule.source)}]`);
  const lines = [line];
  // Why the course is stricter matters only where the answer broke the rule, not where none came.
  if (rule?.note && !it.pass && rule.source === 'course rule' && !(it.code && NO_ANSWER.has(it.code)) && once(`note ${x.ex.id} ${rule.id}`)) lines.push(c.dim(`      course rule: ${rule.note}`));
  if (full) for (const e of it.exchanges) lines.push(...renderExchange(e, it, here, x));
  if (full && it.tree) lines.push(...renderProcessTree(it.tree, c, '      '));
  if (it.code && !earlier) x.first.set(it.code, here);
  const hint = it.code ? x.hints[it.code] : undefined;
  if (hint && full && once(`hint ${it.code}`)) lines.push(c.cyan(`      hint: ${hint}`));
  return lines;
}

/** How a later line names an earlier place: its check, or its case within the same check. */
function placeName(p: Place, from: Place): string {
  if (p.check !== from.check) return p.check;
  return p.case !== undefined ? `"${inert(p.case)}"` : 'this check';
}

function renderExchange(e: Exchange, it: Item, here: Place, x: Exercise): string[] {
  const { c } = x;
  const ind = '      ';
  const lines: string[] = [];
  if (e.label && (it.name === undefined || !e.label.startsWith(it.name))) lines.push(c.dim(`${ind}── ${inert(e.label)}`));
  const expected = e.expected ? [`${ind}${c.dim('expected:')} ${inert(e.expected)}`] : [];
  const key = `${e.sent}\u0000${e.received}`;
  const seen = x.exchanges.get(key);
  if (seen && !x.verbose) return [...lines, c.dim(`${ind}(the same exchange as in ${placeName(seen, here)} above)`), ...expected];
  x.exchanges.set(key, here);

  lines.push(c.dim(`${ind}sent (${count(e.sentBytes, 'byte')}${e.split ? `, ${inert(e.split)}` : ''}):`), ...block(showMessage(e.sent, { total: e.sentBytes }), c));
  if (e.heldBack) lines.push(c.dim(`${ind}  the other ${count(e.heldBack.length, 'byte')} of the request were not sent: the server had answered already`));
  if (e.receivedBytes === 0) lines.push(c.dim(`${ind}received: nothing`));
  else {
    const from = e.receivedFrom ?? 0;
    const caretAt = e.violation ? e.violation.offset - from : undefined;
    lines.push(c.dim(`${ind}received (${count(e.receivedBytes, 'byte')}):`));
    if (from) lines.push(c.dim(`${ind}  … ${from} bytes before these not shown`));
    const diff = /first difference at byte (\d+)/.exec(it.message);
    const shown = from
      ? showBytes(e.received, caretAt !== undefined ? { caretAt } : {})
      : showMessage(e.received, { total: e.receivedBytes, ...(caretAt !== undefined ? { caretAt } : {}), ...(diff ? { bodyMark: Number(diff[1]) } : {}) });
    lines.push(...block(shown, c));
    if (from && e.receivedBytes - from > e.received.length) lines.push(c.dim(`${ind}  … ${e.receivedBytes - from - e.received.length} more bytes not shown`));
  }
  if (e.violation) lines.push(c.red(`${ind}protocol violation at byte ${e.violation.offset} (${e.violation.code}): ${inert(e.violation.message)}`));
  lines.push(...expected, ...renderReproduction(e, ind, c));
  return lines;
}

function block(shown: ShownLine[], c: ChalkInstance): string[] {
  const bar = c.dim('│');
  const lines: string[] = [];
  for (const l of shown) {
    lines.push(`        ${bar} ${l.note ? c.dim(l.text) : l.text}`);
    if (l.caret !== undefined) lines.push(`        ${bar} ${' '.repeat(l.caret)}${c.red('^')}`);
  }
  return lines;
}

function renderReproduction(e: Exchange, ind: string, c: ChalkInstance): string[] {
  const r = reproduce(e);
  if (!r) return [];
  if (r.kind === 'none') return [c.dim(`${ind}by hand: cannot be pasted as a command (${r.reason})`)];
  const lines = [`${ind}${c.dim('by hand (PORT=8080):')} ${r.command}`];
  if (r.note) lines.push(c.dim(`${ind}  (${r.note})`));
  return lines;
}

function renderStartFailure(f: StartFailure, x: Exercise, ind: string): string[] {
  const { c } = x;
  const lines = [c.red(`${ind}✗ server start failed: ${inert(f.message)}`)];
  if (f.output) lines.push(...renderOutput(f.output, ind, x));
  const hint = x.hints[f.code];
  const key = `hint ${f.code}`;
  if (hint && (x.verbose || !x.said.has(key))) lines.push(c.cyan(`${ind}hint: ${hint}`));
  x.said.add(key);
  return lines;
}

/** Server output, once per exercise; the same text again is a line pointing back to it. */
function renderOutput(text: string, ind: string, x: Exercise): string[] {
  const { c } = x;
  if (x.outputs.has(text) && !x.verbose) return [c.dim(`${ind}server output: the same as above`)];
  x.outputs.add(text);
  return [c.dim(`${ind}server output (last lines):`), ...text.replace(/\n+$/, '').split('\n').map((l) => c.dim(`${ind}  | ${inert(l)}`))];
}

/** Scalars as key=value on one line; structured values as one-line JSON, and text of several lines as lines. */
function renderValues(values: Record<string, Value>, c: ChalkInstance): string[] {
  const scalars: string[] = [];
  const more: string[] = [];
  for (const [k, v] of Object.entries(values)) {
    if (typeof v === 'string' && v.includes('\n')) more.push(`${k}:`, ...v.split('\n').map((l) => `  ${inert(l)}`));
    else if (v !== null && typeof v === 'object') more.push(`${k}=${cut(inert(JSON.stringify(v)), 200)}`);
    else scalars.push(`${k}=${typeof v === 'string' ? inert(v) : String(v)}`);
  }
  return [`    ${c.dim('measured:')}${scalars.length ? ` ${scalars.join('  ')}` : ''}`, ...more.map((l) => `      ${l}`)];
}

function renderMeasurements(ms: Measurement[], c: ChalkInstance): string[] {
  return ms.flatMap((m) => [
    `    ${c.dim('measured:')} ${inert(m.label)} ${m.value}${m.unit ? ` ${inert(m.unit)}` : ''}${m.expected ? c.dim(`  (${inert(m.expected)})`) : ''}`,
    ...(m.latency ? renderLatencyChart(m.latency).map((l) => c.dim(`      ${l}`)) : []),
  ]);
}

const cut = (s: string, max: number): string => (s.length > max ? `${s.slice(0, max)}… (${s.length - max} more)` : s);

function renderSummary(result: RunResult, c: ChalkInstance): string[] {
  const pct = result.maxScore ? Math.floor((result.score / result.maxScore) * 100) : 0;
  const verdict = result.passed ? c.green.bold('passed') : c.red.bold('not passed');
  const mark = `pass mark ${result.passPercent}%${result.passPercent < 100 ? ` (${count(result.passMark, 'point')})` : ''}`;
  const lines = [`${c.bold('Total')} ${result.score}/${result.maxScore} (${pct}%)  ${mark}  ${verdict}  ${c.dim(`${(result.durationMs / 1000).toFixed(1)} s`)}`];
  const they = (n: number, one: string, many: string) => (n === 1 ? one : many);
  if (result.graderErrors) {
    const n = result.graderErrors;
    lines.push(c.magenta(`${count(n, 'check')} hit a bug in the grader itself: ${they(n, 'it counts', 'they count')} for nothing, and the run cannot pass. Please report it, with the seed.`));
  }
  if (result.unfinished) {
    const n = result.unfinished;
    lines.push(c.yellow(`${count(n, 'check')} ${they(n, 'was', 'were')} not started because the run reached its time limit: ${they(n, 'it counts', 'they count')} for nothing, and the run cannot pass.`));
  }
  if (result.bailed) lines.push(c.yellow('--bail stopped the run at the first failed check: the checks after it were not run, and the run cannot pass.'));
  lines.push(c.dim(`Repeat these exact probes with --seed ${result.seed}`));
  return lines;
}
