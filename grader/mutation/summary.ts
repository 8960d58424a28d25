// What a mutation run means for the grader: the score, the mutants that survived (a change to the
// reference solution that the grader did not notice), and the score without the mutants reviewed
// as equivalent (a change no client can observe). Works on Stryker's JSON report
// (mutation-testing-report-schema), so a report can be summarized again without a new run.
import { diffLines } from 'diff';
import { readFile } from 'node:fs/promises';

/** The part of mutation-testing-report-schema this summary reads. */
export interface MutationReport {
  files: Record<string, { source: string; mutants: ReportMutant[] }>;
}

export interface ReportMutant {
  id: string;
  mutatorName: string;
  replacement?: string;
  location: { start: Position; end: Position };
  status: 'Killed' | 'Survived' | 'NoCoverage' | 'Timeout' | 'CompileError' | 'RuntimeError' | 'Ignored' | 'Pending';
  statusReason?: string;
}

interface Position {
  /** 1-based */
  line: number;
  /** 1-based */
  column: number;
}

/**
 * A mutant reviewed as equivalent, identified by what it changes rather than where: line numbers
 * shift with every edit of the solution, the text of the change and of its line do not.
 */
export interface EquivalentEntry {
  /** The mutated file, relative to the repository root. */
  file: string;
  /** Stryker's mutator name, e.g. "ConditionalExpression". */
  mutator: string;
  /** The source text the mutant replaces (whitespace runs count as one space). */
  original: string;
  /** What Stryker puts in its place. */
  replacement: string;
  /**
   * Text from the line the original starts on: the whole line, trimmed, or the part of it that
   * tells this mutant from others with the same change (a trailing comment may be left out).
   */
  line: string;
  /**
   * Which of several identical mutants on that line (same mutator, original and replacement),
   * counting from 1 left to right; without it the entry covers them all.
   */
  nth?: number;
  /** Why no client can tell the mutant from the original: one line. */
  reason: string;
}

/** One mutant, with the text it replaces, ready to print or to compare with equivalent entries. */
export interface Mutant {
  id: string;
  file: string;
  line: number;
  /** The line the mutated text ends on. */
  endLine: number;
  mutator: string;
  original: string;
  replacement: string;
  lineText: string;
  /** Its place among identical mutants on the same line, from 1, left to right. */
  nth: number;
  /** How many identical mutants that line has. */
  of: number;
  status: ReportMutant['status'];
  statusReason?: string;
}

export interface Summary {
  total: number;
  killed: number;
  timedOut: number;
  survived: Mutant[];
  /** Mutants that could not run at all (compile or runtime errors, ignored); not in any score. */
  invalid: number;
  /** Survivors that match an equivalent entry. */
  equivalent: Mutant[];
  /** Survivors that match no equivalent entry: the grader's gaps. */
  gaps: Mutant[];
  /** Equivalent entries that match no mutant of this run. */
  stale: EquivalentEntry[];
  /** Equivalent entries whose mutant was killed after all: not equivalent, or the grader is flaky. */
  detected: { entry: EquivalentEntry; mutant: Mutant }[];
  /** Detected over valid mutants, in percent. */
  score: number;
  /** Detected over valid mutants that are not equivalent, in percent. */
  scoreWithoutEquivalent: number;
}

const normalize = (s: string) => s.replace(/\s+/g, ' ').trim();

function offset(source: string, lineStarts: number[], p: Position): number {
  return Math.min(source.length, (lineStarts[p.line - 1] ?? source.length) + p.column - 1);
}

/** Every mutant of the report, with its original text cut out of the report's copy of the source. */
export function mutantsOf(report: MutationReport): Mutant[] {
  const out: (Mutant & { column: number })[] = [];
  for (const [file, { source, mutants }] of Object.entries(report.files)) {
    const lines = source.split('\n');
    const lineStarts: number[] = [];
    let at = 0;
    for (const l of lines) {
      lineStarts.push(at);
      at += l.length + 1;
    }
    for (const m of mutants) {
      out.push({
        id: m.id,
        file: file.replaceAll('\\', '/'),
        line: m.location.start.line,
        endLine: m.location.end.line,
        mutator: m.mutatorName,
        original: source.slice(offset(source, lineStarts, m.location.start), offset(source, lineStarts, m.location.end)),
        replacement: m.replacement ?? '',
        lineText: (lines[m.location.start.line - 1] ?? '').trim(),
        column: m.location.start.column,
        nth: 1,
        of: 1,
        status: m.status,
        ...(m.statusReason ? { statusReason: m.statusReason } : {}),
      });
    }
  }
  out.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column || Number(a.id) - Number(b.id));
  const groups = new Map<string, Mutant[]>();
  for (const m of out) {
    const key = JSON.stringify([m.file, m.line, m.mutator, m.original, m.replacement]);
    groups.set(key, [...(groups.get(key) ?? []), m]);
  }
  for (const group of groups.values()) group.forEach((m, i) => Object.assign(m, { nth: i + 1, of: group.length }));
  return out.map(({ column: _column, ...m }) => m);
}

export function matches(entry: EquivalentEntry, m: Mutant): boolean {
  return (
    entry.file === m.file &&
    entry.mutator === m.mutator &&
    normalize(entry.replacement) === normalize(m.replacement) &&
    normalize(entry.original) === normalize(m.original) &&
    normalize(m.lineText).includes(normalize(entry.line)) &&
    (entry.nth === undefined || entry.nth === m.nth)
  );
}

/**
 * The lines of the solution (1-based) that the stub does not have as they are: the code a student
 * writes. A solution without a stub is all the student's.
 */
export function linesTheStudentWrites(stub: string | undefined, solution: string): Set<number> {
  const lines = new Set<number>();
  if (stub === undefined) {
    solution.split('\n').forEach((_, i) => lines.add(i + 1));
    return lines;
  }
  let line = 1;
  for (const part of diffLines(stub, solution)) {
    if (part.removed) continue;
    const n = part.count ?? part.value.split('\n').length - 1;
    if (part.added) for (let i = 0; i < n; i++) lines.add(line + i);
    line += n;
  }
  return lines;
}

/** True when the mutant changes any of the lines the student writes. */
export const inLines = (lines: Set<number>) => (m: Mutant): boolean => {
  for (let l = m.line; l <= m.endLine; l++) if (lines.has(l)) return true;
  return false;
};

export function summarize(report: MutationReport, equivalents: EquivalentEntry[], only: (m: Mutant) => boolean = () => true): Summary {
  const all = mutantsOf(report).filter(only);
  const count = (...statuses: Mutant['status'][]) => all.filter((m) => statuses.includes(m.status)).length;
  const killed = count('Killed');
  const timedOut = count('Timeout');
  const survived = all.filter((m) => m.status === 'Survived' || m.status === 'NoCoverage');
  const valid = killed + timedOut + survived.length;
  const isEquivalent = (m: Mutant) => equivalents.some((e) => matches(e, m));
  const equivalent = survived.filter(isEquivalent);
  const detected = equivalents.flatMap((entry) => all.filter((m) => (m.status === 'Killed' || m.status === 'Timeout') && matches(entry, m)).map((mutant) => ({ entry, mutant })));
  const percent = (n: number, d: number) => (d ? (100 * n) / d : 100);
  return {
    total: all.length,
    killed,
    timedOut,
    survived,
    invalid: all.length - valid,
    equivalent,
    gaps: survived.filter((m) => !isEquivalent(m)),
    stale: equivalents.filter((e) => !all.some((m) => matches(e, m))),
    detected,
    score: percent(killed + timedOut, valid),
    scoreWithoutEquivalent: percent(killed + timedOut, valid - equivalent.length),
  };
}

/** The equivalent entries of one exercise from the reviewed file; a malformed entry is named. */
export async function loadEquivalents(file: string, exercise: string): Promise<EquivalentEntry[]> {
  const data = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  const entries = data[exercise] ?? [];
  if (!Array.isArray(entries)) throw new Error(`${file}: "${exercise}" must be a list of entries`);
  const fields = ['file', 'mutator', 'original', 'replacement', 'line', 'reason'] as const;
  entries.forEach((e: Record<string, unknown>, i) => {
    const bad: string[] = fields.filter((f) => typeof e?.[f] !== 'string' || ((f === 'line' || f === 'reason') && !(e[f] as string).trim()));
    if (e?.nth !== undefined && !(Number.isInteger(e.nth) && (e.nth as number) >= 1)) bad.push('nth');
    if (bad.length) {
      throw new Error(`${file}: ${exercise}[${i}]: ${bad.map((f) => `"${f}"`).join(', ')}: fields are strings ("line" and "reason" not empty), "nth" a number from 1`);
    }
  });
  return entries as EquivalentEntry[];
}

/** The entry that would record `m` as equivalent, with the reason left to the reviewer. */
export const entryFor = (m: Mutant): EquivalentEntry => ({
  file: m.file,
  mutator: m.mutator,
  original: m.original,
  replacement: m.replacement,
  line: m.lineText,
  ...(m.of > 1 ? { nth: m.nth } : {}),
  reason: '',
});

function short(s: string, max = 70): string {
  const one = normalize(s);
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}

export const describeMutant = (m: Mutant) =>
  `${m.file}:${m.line}  ${m.mutator}  ${short(m.original)}  →  ${short(m.replacement) || '(removed)'}${m.of > 1 ? `  (${m.nth} of ${m.of} on the line)` : ''}`;

/**
 * `student`, when given, is the same run summarized over the mutants in the code the student writes
 * (where the solution differs from the stub); the code the stub gives is the same in both, works as
 * given, and is the earlier exercises' to grade. Both scores are printed; the survivors are listed
 * once, split between the two parts.
 */
export function formatSummary(exercise: string, s: Summary, wallMs: number | undefined, student?: Summary): string {
  const pct = (n: number) => `${n.toFixed(1)}%`;
  const out: string[] = [];
  out.push(`\nmutation testing of ${exercise}${wallMs !== undefined ? ` in ${formatDuration(wallMs)}` : ''}`);
  if (student && student.total !== s.total) {
    out.push(
      `  in the code the student writes (the solution's lines the stub does not have): ${student.total} mutants, ${student.killed + student.timedOut} detected, ${student.survived.length} survived`,
      `    score ${pct(student.score)}; without equivalent mutants ${pct(student.scoreWithoutEquivalent)} (${student.killed + student.timedOut} / (${student.total - student.invalid} − ${student.equivalent.length} equivalent))`,
      `  in the whole file, the stub's given code too:`,
    );
  }
  out.push(
    `  ${s.total} mutants: ${s.killed} killed, ${s.timedOut} timed out, ${s.survived.length} survived` +
      `${s.invalid ? `, ${s.invalid} could not run` : ''}`,
  );
  out.push(`  score ${pct(s.score)} (detected / valid mutants)`);
  out.push(`  score without equivalent mutants ${pct(s.scoreWithoutEquivalent)} (${s.killed + s.timedOut} / (${s.total - s.invalid} − ${s.equivalent.length} equivalent))`);
  out.push(s.gaps.length ? `\nsurviving mutants (${s.gaps.length}), not listed as equivalent:` : '\nno surviving mutants besides the equivalent ones');
  const students = new Set(student && student.total !== s.total ? student.gaps.map((m) => m.id) : s.gaps.map((m) => m.id));
  for (const m of s.gaps) out.push(`  ${describeMutant(m)}${students.has(m.id) ? '' : '  (in the stub\'s given code)'}`);
  if (s.equivalent.length) out.push(`\n${s.equivalent.length} surviving mutant${s.equivalent.length === 1 ? '' : 's'} listed as equivalent (not counted)`);
  for (const { entry, mutant } of s.detected) {
    out.push(`\nwarning: listed as equivalent but ${mutant.status === 'Timeout' ? 'timed out' : 'killed'}: ${describeMutant(mutant)} (${entry.reason})`);
  }
  for (const e of s.stale) {
    out.push(`\nwarning: equivalent entry matches no mutant any more: ${e.file}  ${e.mutator}  ${short(e.original)}  →  ${short(e.replacement)} (line "${short(e.line, 50)}")`);
  }
  return `${out.join('\n')}\n`;
}

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}
