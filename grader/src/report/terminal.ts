import { Chalk, type ChalkInstance } from 'chalk';
import type { CheckResult, Exchange, ExerciseResult, RunResult } from './model.ts';
import { showBytes } from './bytes.ts';

export interface TerminalOptions {
  color: boolean;
  /** Show evidence for passing checks too. */
  verbose?: boolean;
}

/** Text from the server, with control characters shown, so it cannot move the cursor or recolour the report. */
const inert = (text: string): string => text.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, (ch) => `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`);

const MARK = { pass: '✓', fail: '✗', partial: '◐', error: '!', skipped: '-' } as const;

/** The whole report as text for a terminal; pure, so it can be snapshot-tested. */
export function renderTerminal(result: RunResult, opts: TerminalOptions): string {
  const c = new Chalk({ level: opts.color ? 1 : 0 });
  const out: string[] = [];
  out.push(c.bold(`serverlab ${result.tool.version}`) + c.dim(`  target ${result.target}  seed ${result.seed}`));
  for (const ex of result.exercises) out.push('', ...renderExercise(ex, c, opts));
  out.push('', ...renderSummary(result, c));
  return out.join('\n') + '\n';
}

function renderExercise(ex: ExerciseResult, c: ChalkInstance, opts: TerminalOptions): string[] {
  const full = ex.score === ex.maxScore;
  const head = `${c.bold(ex.id)} ${c.dim(`[${ex.track}]`)} ${ex.title}`;
  const lines = [`${head}  ${(full ? c.green : c.yellow)(`${ex.score}/${ex.maxScore}`)}`];
  const s = ex.server;
  const sf = s?.startFailure;
  if (sf) {
    lines.push(c.red(`  ${sf.message}`));
    if (sf.output) lines.push(c.dim('  server output (last lines):'), ...sf.output.split('\n').map((l) => c.dim(`    | ${inert(l)}`)));
    if (sf.hint) lines.push(c.cyan(`  hint: ${sf.hint}`));
  }
  const idWidth = Math.max(...ex.checks.map((ch) => ch.id.length));
  for (const ch of ex.checks) {
    lines.push(`  ${markFor(ch, c)} ${ch.id.padEnd(idWidth)}  ${ch.title}  ${c.dim(`${ch.score}/${ch.points}`)}`);
    const notRun = sf && ch.code === sf.code && ch.evidence.message.startsWith('not run:');
    if (notRun) lines.push(c.dim('      not run: the server did not start (see above)'));
    else if (ch.status !== 'pass' || opts.verbose) lines.push(...renderEvidence(ch, c).map((l) => `      ${l}`));
  }
  if (s?.leftBehind.length) lines.push(c.yellow('  ! processes the grader had to kill (still running after SIGTERM, or escaped from the process group):'), ...s.leftBehind.map((p) => c.yellow(`      ${inert(p)}`)));
  const failed = ex.checks.some((ch) => ch.status !== 'pass' && ch.status !== 'skipped');
  if (failed && !sf && s?.stderrTail && !ex.checks.some((ch) => ch.evidence.stderr)) {
    lines.push(c.dim('  server output (last lines):'), ...s.stderrTail.split('\n').map((l) => c.dim(`    | ${inert(l)}`)));
  }
  return lines;
}

function markFor(ch: CheckResult, c: ChalkInstance): string {
  const color = { pass: c.green, fail: c.red, partial: c.yellow, error: c.magenta, skipped: c.dim }[ch.status];
  return color(MARK[ch.status]);
}

function renderEvidence(ch: CheckResult, c: ChalkInstance): string[] {
  const lines = [ch.status === 'pass' ? c.dim(ch.evidence.message) : ch.evidence.message];
  for (const ex of ch.evidence.exchanges ?? []) lines.push(...renderExchange(ex, c));
  if (ch.evidence.values) {
    lines.push(c.dim('measured: ') + Object.entries(ch.evidence.values).map(([k, v]) => `${k}=${v}`).join('  '));
  }
  if (ch.evidence.stderr) lines.push(c.dim('server output (last lines):'), ...ch.evidence.stderr.split('\n').map((l) => c.dim(`  | ${inert(l)}`)));
  if (ch.hint) lines.push(c.cyan(`hint: ${ch.hint}`));
  return lines;
}

function renderExchange(ex: Exchange, c: ChalkInstance): string[] {
  const lines: string[] = [];
  if (ex.label) lines.push(c.dim(`── ${ex.label}`));
  lines.push(c.dim(`sent (${ex.sentBytes} bytes):`), ...bytesBlock(ex.sent, ex.sentBytes, c));
  lines.push(c.dim(`received (${ex.receivedBytes} bytes):`));
  if (ex.receivedBytes === 0) lines.push(c.dim('  (nothing)'));
  else {
    const from = ex.receivedFrom ?? 0;
    if (from) lines.push(c.dim(`  … ${from} bytes before these not shown`));
    lines.push(...bytesBlock(ex.received, ex.receivedBytes - from, c, ex.violation ? ex.violation.offset - from : undefined));
  }
  if (ex.violation) lines.push(c.red(`protocol violation at byte ${ex.violation.offset} (${ex.violation.code}): ${ex.violation.message}`));
  if (ex.expected) lines.push(`${c.dim('expected:')} ${ex.expected}`);
  return lines;
}

function bytesBlock(text: string, total: number, c: ChalkInstance, caretAt?: number): string[] {
  const lines: string[] = [];
  for (const line of showBytes(text, { caretAt })) {
    lines.push(`  ${c.dim('│')} ${line.text}`);
    if (line.caret !== undefined) lines.push(`  ${c.dim('│')} ${' '.repeat(line.caret)}${c.red('^')}`);
  }
  if (total > text.length) lines.push(c.dim(`  … ${total - text.length} more bytes not shown`));
  return lines;
}

function renderSummary(result: RunResult, c: ChalkInstance): string[] {
  const pct = result.maxScore ? Math.floor((result.score / result.maxScore) * 100) : 0;
  const verdict = result.passed ? c.green.bold('passed') : c.red.bold('not passed');
  const lines = [`${c.bold('Total')} ${result.score}/${result.maxScore} (${pct}%)  pass mark ${result.passMark}  ${verdict}  ${c.dim(`${(result.durationMs / 1000).toFixed(1)} s`)}`];
  if (result.graderErrors) {
    lines.push(c.magenta(`${result.graderErrors} check(s) could not be graded (a grader error, or the run's time limit): they count for nothing, and the run cannot pass. Please report a grader error with the seed.`));
  }
  lines.push(c.dim(`Repeat these exact probes with --seed ${result.seed}`));
  return lines;
}
