import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { assertValidResult } from '../src/report/validate.ts';
import { withFault } from './support/broken.ts';
import { repoPath } from './support/grade.ts';

// The command line is a contract other tools script against: exit codes, stdout purity, messages.
// Each run gets the environment of a shell outside npm (no npm_* variables, even under `npm test`),
// so that npm's own settings do not leak into it.
const shellEnv = { ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name))), NO_COLOR: '1' };
const grade = (...args: string[]) =>
  execa(process.execPath, ['--import', 'tsx', repoPath('grader/src/cli.ts'), ...args], { cwd: repoPath(), reject: false, env: shellEnv, extendEnv: false });
/** `npm run [NPM_OPTION...] grade -- ARG...`, the command as the README shows it. */
const npmRunGrade = (npmOptions: string[], ...args: string[]) =>
  execa('npm', ['run', ...npmOptions, 'grade', '--', ...args], { cwd: repoPath(), reject: false, env: shellEnv, extendEnv: false });
const BANNER_NOTE = /npm printed its banner on stdout before the JSON; `npm run -s grade -- --json` gives clean output/;

describe('npm run grade', () => {
  it.concurrent('--json prints one valid result document on stdout and exits 0 at full marks', async () => {
    const r = await grade('01', '--solutions', '--track', 'py', '--json', '--seed', 'cli1');
    expect(r.exitCode).toBe(0);
    const result = JSON.parse(r.stdout);
    assertValidResult(result);
    expect(result.seed).toBe('cli1');
    expect(result.exercises.map((e: { id: string; track: string }) => `${e.id}/${e.track}`)).toEqual(['01-sockets/py']);
    expect(result.score).toBe(result.maxScore);
    expect(r.stderr).toMatch(/graded 01-sockets \[py\]/);
    expect(r.stderr).not.toMatch(BANNER_NOTE);
  });

  it.concurrent('npm run -s grade -- --json: stdout is exactly one JSON document', async () => {
    const r = await npmRunGrade(['-s'], '01', '--solutions', '--track', 'py', '--json', '--seed', 'cli-npm');
    expect(r.exitCode).toBe(0);
    expect(r.stdout.trimStart().startsWith('{')).toBe(true);
    const result = JSON.parse(r.stdout);
    assertValidResult(result);
    expect(result.seed).toBe('cli-npm');
    expect(result.score).toBe(result.maxScore);
    expect(r.stderr).not.toMatch(BANNER_NOTE);
  });

  it.concurrent('npm run grade -- --json without -s: npm puts its banner first, and stderr says how to avoid it', async () => {
    const r = await npmRunGrade([], '01', '--solutions', '--track', 'py', '--json', '--seed', 'cli-npm');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^\s*> serverlab@\S+ grade\n/);
    expect(() => JSON.parse(r.stdout)).toThrow();
    expect(JSON.parse(r.stdout.slice(r.stdout.indexOf('{'))).seed).toBe('cli-npm');
    expect(r.stderr.split('\n').filter((line) => BANNER_NOTE.test(line))).toHaveLength(1);
  });

  it.concurrent('exits 1 below the pass mark, with the evidence in the report', async () => {
    const r = await grade('01', '--track', 'py');
    expect(r.exitCode).toBe(1);
    expect(r.stdout).toMatch(/exited before listening/);
    expect(r.stdout).toMatch(/not passed/);
    expect(r.stdout).not.toMatch(/\x1b\[/);
  });

  it.concurrent('passes with a lower --pass-mark', async () => {
    const r = await withFault('sockets-no-reuseaddr', ({ dir }) => grade('01', '--target', dir, '--track', 'py', '--pass-mark', '80'));
    expect(r.stdout).toMatch(/✗ reuse-address/);
    expect(r.exitCode).toBe(0);
  });

  it.concurrent.each([
    [['--bogus'], /serverlab: Unknown option '--bogus'/],
    [['99'], /serverlab: unknown exercise "99"; known: 01-sockets/],
    [['--track', 'go'], /serverlab: --track must be ts, py or all, not "go"/],
    [['--solutions', '--target', 'x'], /--solutions and --target cannot be used together/],
    [['--target', 'no/such/dir'], /target folder .*no\/such\/dir does not exist/],
    [['--jobs', '0'], /--jobs must be a number from 1 to 64/],
  ])('exits 2 with one line naming the problem: %s', async (args, message) => {
    const r = await grade(...args);
    expect(r.exitCode).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(message);
  });

  it.concurrent('--help prints the usage and exits 0', async () => {
    const r = await grade('--help');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/usage: npm run grade -- \[EXERCISE\.\.\.\]/);
  });
});
