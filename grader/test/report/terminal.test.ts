import { describe, expect, it } from 'vitest';
import type { CheckResult, RunResult } from '../../src/report/model.ts';
import { renderTerminal } from '../../src/report/terminal.ts';
import { wantsColor } from '../../src/report/color.ts';

const ANSI = /\u001b\[/;

const SENT = 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
const RECEIVED = 'HTTP/1.1 200 OK\nContent-Length: 2\r\n\r\nhi';

const passing: CheckResult = {
  id: 'get-root',
  title: 'GET / answers 200',
  points: 3,
  score: 3,
  status: 'pass',
  durationMs: 12,
  evidence: { message: '200 OK with a 5-byte body' },
};

const failing: CheckResult = {
  id: 'crlf',
  title: 'Lines end with CRLF',
  points: 3,
  score: 0,
  status: 'fail',
  durationMs: 8,
  code: 'bare-lf',
  evidence: {
    message: 'the response is not valid HTTP/1.1',
    exchanges: [
      {
        label: 'GET /',
        sent: SENT,
        sentBytes: SENT.length,
        received: RECEIVED,
        receivedBytes: RECEIVED.length,
        violation: { code: 'bare-lf', message: 'line ends with LF alone; HTTP lines end with CRLF (\\r\\n)', offset: 15 },
      },
    ],
  },
  hint: 'Every line of an HTTP head ends with \\r\\n, not \\n alone.',
};

const partial: CheckResult = {
  id: 'pipelining',
  title: 'Pipelined requests answered in order',
  points: 4,
  score: 2,
  status: 'partial',
  durationMs: 310,
  evidence: { message: '2 of 4 pipelined responses came back', values: { sent: 4, answered: 2, inOrder: true } },
};

const skipped: CheckResult = {
  id: 'keep-alive',
  title: 'Two requests on one connection',
  points: 2,
  score: 0,
  status: 'skipped',
  durationMs: 0,
  evidence: { message: 'skipped: GET / failed' },
};

function runResult(overrides: Partial<RunResult> = {}): RunResult {
  return {
    tool: { name: 'serverlab', version: '0.1.0' },
    target: 'solutions/ts',
    seed: '5eed1234',
    startedAt: '2025-01-02T03:04:05.000Z',
    durationMs: 2345,
    platform: 'linux-x64',
    score: 5,
    maxScore: 12,
    passMark: 8,
    passed: false,
    graderErrors: 0,
    exercises: [
      {
        id: '02-http',
        title: 'HTTP/1.1 by hand',
        track: 'ts',
        score: 5,
        maxScore: 12,
        durationMs: 2100,
        server: {
          command: 'node --import tsx server.ts',
          startMs: 140,
          starts: 1,
          leftBehind: [],
          stderrTail: 'listening on 41234\nTypeError: Cannot read properties of undefined',
        },
        checks: [passing, failing, partial, skipped],
      },
    ],
    ...overrides,
  };
}

describe('renderTerminal', () => {
  it('renders checks, evidence with a caret, hint, server output and total without color', () => {
    expect(renderTerminal(runResult(), { color: false })).toMatchInlineSnapshot(`
      "serverlab 0.1.0  target solutions/ts  seed 5eed1234

      02-http [ts] HTTP/1.1 by hand  5/12
        ✓ get-root    GET / answers 200  3/3
        ✗ crlf        Lines end with CRLF  0/3
            the response is not valid HTTP/1.1
            ── GET /
            sent (35 bytes):
              │ GET / HTTP/1.1\\r\\n
              │ Host: 127.0.0.1\\r\\n
              │ \\r\\n
            received (39 bytes):
              │ HTTP/1.1 200 OK\\n
              │                ^
              │ Content-Length: 2\\r\\n
              │ \\r\\n
              │ hi
            protocol violation at byte 15 (bare-lf): line ends with LF alone; HTTP lines end with CRLF (\\r\\n)
            hint: Every line of an HTTP head ends with \\r\\n, not \\n alone.
        ◐ pipelining  Pipelined requests answered in order  2/4
            2 of 4 pipelined responses came back
            measured: sent=4  answered=2  inOrder=true
        - keep-alive  Two requests on one connection  0/2
            skipped: GET / failed
        server output (last lines):
          | listening on 41234
          | TypeError: Cannot read properties of undefined

      Total 5/12 (41%)  pass mark 8  not passed  2.3 s
      Repeat these exact probes with --seed 5eed1234
      "
    `);
  });

  it('has no ANSI escapes at all without color', () => {
    expect(renderTerminal(runResult(), { color: false })).not.toMatch(ANSI);
  });

  it('uses ANSI escapes with color', () => {
    expect(renderTerminal(runResult(), { color: true })).toMatch(ANSI);
  });

  it('says the same words with and without color', () => {
    const colored = renderTerminal(runResult(), { color: true });
    expect(colored.replace(/\u001b\[\d+(;\d+)*m/g, '')).toBe(renderTerminal(runResult(), { color: false }));
  });

  it('names the seed in the header and in the repeat line', () => {
    const text = renderTerminal(runResult(), { color: false });
    expect(text.split('\n')[0]).toContain('seed 5eed1234');
    expect(text).toContain('Repeat these exact probes with --seed 5eed1234');
  });

  it('ends with the total line, score, percentage and verdict', () => {
    const text = renderTerminal(runResult({ score: 12, passed: true }), { color: false });
    expect(text).toContain('Total 12/12 (100%)  pass mark 8  passed  2.3 s');
  });

  it('puts the caret under the first offending byte of the received bytes', () => {
    const lines = renderTerminal(runResult(), { color: false }).split('\n');
    const shown = lines.findIndex((l) => l.endsWith('HTTP/1.1 200 OK\\n'));
    const caretColumn = lines[shown + 1]!.indexOf('^');
    expect(lines[shown]!.slice(caretColumn)).toBe('\\n');
  });

  it('hides evidence of passing checks unless verbose', () => {
    expect(renderTerminal(runResult(), { color: false })).not.toContain('200 OK with a 5-byte body');
    expect(renderTerminal(runResult(), { color: false, verbose: true })).toContain('200 OK with a 5-byte body');
  });

  it("shows a check's own stderr instead of the server's output tail", () => {
    const withStderr: CheckResult = { ...failing, evidence: { ...failing.evidence, stderr: 'Error: boom' } };
    const result = runResult();
    result.exercises[0]!.checks = [passing, withStderr];
    const text = renderTerminal(result, { color: false });
    expect(text).toContain('  | Error: boom');
    expect(text).not.toContain('TypeError: Cannot read properties of undefined');
  });

  it('leaves out the server output when every check passed', () => {
    const result = runResult();
    result.exercises[0]!.checks = [passing];
    expect(renderTerminal(result, { color: false })).not.toContain('server output');
  });

  it('reports grader errors as not counted', () => {
    const text = renderTerminal(runResult({ graderErrors: 1 }), { color: false });
    expect(text).toContain('1 check(s) could not be graded (a grader error, or the run\'s time limit): they count for nothing, and the run cannot pass');
  });

  it('names processes left behind after SIGTERM', () => {
    const result = runResult();
    result.exercises[0]!.server!.leftBehind = ['4242 python3 server.py'];
    const text = renderTerminal(result, { color: false });
    expect(text).toContain('processes the grader had to kill (still running after SIGTERM, or escaped from the process group):\n      4242 python3 server.py');
  });
});

describe('renderTerminal with hostile server output', () => {
  it('shows control characters from the server instead of obeying them', () => {
    const result = runResult();
    result.exercises[0]!.server!.stderrTail = 'ok\x1b[2K\x1b[1A✓ every check passed';
    result.exercises[0]!.server!.leftBehind = ['1 evil\x1b[31m'];
    result.exercises[0]!.checks[0]!.status = 'fail';
    const text = renderTerminal(result, { color: false });
    expect(text).not.toContain('\x1b');
    expect(text).toContain('ok\\x1b[2K\\x1b[1A✓ every check passed');
  });
});

describe('wantsColor', () => {
  it.each([
    [{}, true, true],
    [{}, false, false],
    [{ NO_COLOR: '1' }, true, false],
    [{ NO_COLOR: '1', FORCE_COLOR: '1' }, true, false],
    [{ FORCE_COLOR: '1' }, false, true],
    [{ FORCE_COLOR: '0' }, true, false],
    [{ TERM: 'dumb' }, true, false],
  ])('%o on a terminal: %s gives %s', (env, isTTY, expected) => {
    expect(wantsColor(env, isTTY)).toBe(expected);
  });
});
