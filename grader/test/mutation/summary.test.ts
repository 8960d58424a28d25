import { describe, expect, it } from 'vitest';
import { formatSummary, inLines, linesTheStudentWrites, summarize, type MutationReport } from '../../mutation/summary.ts';

// The split of a mutation run between the code the student writes and the code the stub gives,
// on a small report written here: a stub with a TODO, and a solution that fills it in.

const stub = ['function plumbing() {', '  return 1;', '}', 'function mine() {', '  // TODO', '}', ''].join('\n');
const solution = ['function plumbing() {', '  return 1;', '}', 'function mine() {', '  return 2 + 3;', '}', ''].join('\n');

const mutant = (id: string, line: number, status: 'Killed' | 'Survived', original: string, replacement: string) => {
  const column = solution.split('\n')[line - 1]!.indexOf(original) + 1;
  return { id, mutatorName: 'Mutator', replacement, status, location: { start: { line, column }, end: { line, column: column + original.length } } };
};

const report: MutationReport = {
  files: {
    'solutions/99/server.ts': {
      source: solution,
      mutants: [mutant('1', 2, 'Survived', '1', '0'), mutant('2', 5, 'Killed', '2 + 3', '2 - 3'), mutant('3', 5, 'Survived', '3', '0')],
    },
  },
};

describe('mutation summary', () => {
  it('takes the lines the stub does not have as the student\'s', () => {
    expect([...linesTheStudentWrites(stub, solution)]).toEqual([5]);
    expect(linesTheStudentWrites(undefined, solution).size).toBe(7);
  });

  it('scores the student\'s code apart from the stub\'s, and marks survivors in the given code', () => {
    const all = summarize(report, []);
    const student = summarize(report, [], inLines(linesTheStudentWrites(stub, solution)));
    expect([all.total, all.score]).toEqual([3, 100 / 3]);
    expect([student.total, student.score]).toEqual([2, 50]);
    const text = formatSummary('99', all, undefined, student);
    expect(text).toContain('in the code the student writes (the solution\'s lines the stub does not have): 2 mutants, 1 detected, 1 survived');
    expect(text).toContain('score 50.0%; without equivalent mutants 50.0%');
    expect(text).toMatch(/server\.ts:2 {2}Mutator {2}1 {2}→ {2}0 {2}\(in the stub's given code\)/);
    expect(text).toMatch(/server\.ts:5 {2}Mutator {2}3 {2}→ {2}0\n/);
  });
});
