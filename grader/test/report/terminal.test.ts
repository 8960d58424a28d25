import { describe, expect, it } from 'vitest';
import type { CaseResult, CheckResult, Exchange, ExerciseResult, RunResult } from '../../src/report/model.ts';
import { renderTerminal } from '../../src/report/terminal.ts';
import { REPORTERS } from '../../src/report/reporters.ts';
import { wantsColor } from '../../src/report/color.ts';

const ANSI = /\u001b\[/;
const PORT = 41234;
const EOF_HINT = 'Did it read the whole request and write a response before closing?';
const BARE_LF_HINT = 'Every line of an HTTP head ends with \\r\\n, not \\n alone.';

const get = (path: string) => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${PORT}\r\n\r\n`;
const exchange = (sent: string, received = '', extra: Partial<Exchange> = {}): Exchange => ({ sent, sentBytes: sent.length, received, receivedBytes: received.length, port: PORT, ...extra });
const binary = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 131 + 7) % 256)).toString('latin1');
const utf8 = (s: string) => Buffer.from(s, 'utf8').toString('latin1');

const eofCase = (path: string, extra: Partial<CaseResult> = {}): CaseResult => ({
  name: `GET ${path}`,
  status: 'fail',
  code: 'eof-before-response',
  message: 'the server closed the connection without answering',
  exchange: exchange(get(path), '', { expected: 'status 200' }),
  ...extra,
});

const passCase = (name: string): CaseResult => ({ name, status: 'pass', message: `${name} seen`, exchange: exchange(get('/'), 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi') });

function check(id: string, cases: CaseResult[], extra: Partial<CheckResult> = {}): CheckResult {
  const failed = cases.filter((k) => k.status === 'fail');
  const passed = cases.length - failed.length;
  return {
    id,
    title: `the ${id} check`,
    points: 2,
    score: failed.length ? (passed ? 1 : 0) : 2,
    status: failed.length ? (passed ? 'partial' : 'fail') : 'pass',
    durationMs: 3,
    ...(failed[0]?.code ? { code: failed[0].code } : {}),
    cases,
    evidence: { message: failed.length ? `${failed.length} of ${cases.length} cases failed` : `all ${cases.length} cases passed` },
    ...extra,
  };
}

const bareLf: CaseResult = {
  name: 'GET /',
  status: 'fail',
  code: 'bare-lf',
  message: 'the status line ends with \\n alone',
  rule: { id: 'crlf', source: 'RFC 9112 §2.2 (MUST)' },
  exchange: exchange(get('/'), 'HTTP/1.1 200 OK\nContent-Length: 2\r\n\r\nhi', { violation: { code: 'bare-lf', message: 'line ends with LF alone', offset: 15 } }),
};

function exercise(checks: CheckResult[], extra: Partial<ExerciseResult> = {}): ExerciseResult {
  const score = checks.reduce((s, ch) => s + ch.score, 0);
  const maxScore = checks.reduce((s, ch) => s + ch.points, 0);
  return {
    id: '02-http',
    title: 'HTTP/1.1 by hand',
    track: 'ts',
    score,
    maxScore,
    durationMs: 2100,
    server: { command: 'node --import tsx server.ts', startMs: 140, starts: 1, leftBehind: [], outputTail: 'listening on 41234\nTypeError: boom', startFailures: [] },
    checks,
    ...extra,
  };
}

function run(exercises: ExerciseResult[], extra: Partial<RunResult> = {}): RunResult {
  const score = exercises.reduce((s, e) => s + e.score, 0);
  const maxScore = exercises.reduce((s, e) => s + e.maxScore, 0);
  return {
    tool: { name: 'serverlab', version: '0.1.0' },
    target: 'exercises',
    seed: '5eed1234',
    startedAt: '2025-01-02T03:04:05.000Z',
    durationMs: 2345,
    platform: 'linux-x64',
    score,
    maxScore,
    passPercent: 100,
    passMark: maxScore,
    passed: score === maxScore,
    graderErrors: 0,
    unfinished: 0,
    bailed: false,
    hints: { 'eof-before-response': EOF_HINT, 'bare-lf': BARE_LF_HINT },
    exercises,
    ...extra,
  };
}

const render = (r: RunResult, verbose = false) => renderTerminal(r, { color: false, verbose });
const occurrences = (text: string, part: string) => text.split(part).length - 1;

/** A pass, a partial check with two causes, and a check without cases that measured figures. */
const mixed = () =>
  run([
    exercise([
      check('get-root', [passCase('status 200')]),
      check('crlf', [bareLf, passCase('a body')]),
      check('not-found', [eofCase('/nope'), eofCase('/gone')]),
      {
        id: 'pipelining',
        title: 'Pipelined requests answered in order',
        points: 4,
        score: 2,
        status: 'partial',
        durationMs: 310,
        code: 'pipelining',
        evidence: { message: '2 of 4 pipelined responses came back', values: { sent: 4, inOrder: true, latency: { p50: 1.5, p99: [3, 4] } } },
      },
    ]),
  ]);

describe('renderTerminal: layout', () => {
  it('shows a line per check, a line per failed case, the first transcript of each cause, and the total', () => {
    expect(render(mixed())).toMatchInlineSnapshot(`
      "serverlab 0.1.0  target exercises  seed 5eed1234

      02-http [ts] HTTP/1.1 by hand  5/10
        ✓ get-root    the get-root check  2/2
        ◐ crlf        the crlf check  1/2
          ✗ GET /: the status line ends with \\n alone  [RFC 9112 §2.2 MUST]
            sent (41 bytes):
              │ GET / HTTP/1.1\\r\\n
              │ Host: 127.0.0.1:41234\\r\\n
              │ \\r\\n
            received (39 bytes):
              │ HTTP/1.1 200 OK\\n
              │                ^
              │ Content-Length: 2\\r\\n
              │ \\r\\n
              │ hi
            protocol violation at byte 15 (bare-lf): line ends with LF alone
            by hand (PORT=8080): printf 'GET / HTTP/1.1\\r\\nHost: 127.0.0.1:8080\\r\\n\\r\\n' | nc 127.0.0.1 8080
            hint: Every line of an HTTP head ends with \\r\\n, not \\n alone.
        ✗ not-found   the not-found check  0/2
          ✗ GET /nope: the server closed the connection without answering
            sent (45 bytes):
              │ GET /nope HTTP/1.1\\r\\n
              │ Host: 127.0.0.1:41234\\r\\n
              │ \\r\\n
            received: nothing
            expected: status 200
            by hand (PORT=8080): printf 'GET /nope HTTP/1.1\\r\\nHost: 127.0.0.1:8080\\r\\n\\r\\n' | nc 127.0.0.1 8080
            hint: Did it read the whole request and write a response before closing?
          ✗ GET /gone: the server closed the connection without answering  (eof-before-response, as in "GET /nope" above)
        ◐ pipelining  Pipelined requests answered in order  2/4
          ✗ 2 of 4 pipelined responses came back
          measured: sent=4  inOrder=true
            latency={"p50":1.5,"p99":[3,4]}
        server output (last lines):
          | listening on 41234
          | TypeError: boom

      Total 5/10 (50%)  pass mark 100%  not passed  2.3 s
      Repeat these exact probes with --seed 5eed1234
      "
    `);
  });

  it('puts the caret under the first offending byte of the received bytes', () => {
    const lines = render(mixed()).split('\n');
    const shown = lines.findIndex((l) => l.endsWith('HTTP/1.1 200 OK\\n'));
    expect(lines[shown]!.slice(lines[shown + 1]!.indexOf('^'))).toBe('\\n');
  });

  it('gives each failed case its own line, never joined with the others', () => {
    const codes = ['wrong-status', 'wrong-header', 'wrong-status'];
    const cases = ['/a', '/b', '/c'].map((p, i) => ({ ...eofCase(p), code: codes[i], message: `got 404 for ${p}` }));
    const lines = render(run([exercise([check('routes', cases)])])).split('\n');
    expect(lines.filter((l) => /^ {4}✗ GET \/[abc]: got 404 for \/[abc]/.test(l))).toHaveLength(3);
  });
});

describe('renderTerminal: failures that share a cause', () => {
  it('shows the first failure of a code in full and points back to it from later ones in other checks', () => {
    const text = render(run([exercise([check('get-root', [eofCase('/')]), check('crlf', [bareLf]), check('head', [eofCase('/h')])])]));
    expect(text).toContain('    ✗ GET /h: the server closed the connection without answering  (eof-before-response, as in get-root above)');
    expect(occurrences(text, 'sent (')).toBe(2);
    expect(occurrences(text, EOF_HINT)).toBe(1);
  });

  it('says once, under the exercise, when every failed case has one cause, and keeps each check to its line', () => {
    const text = render(run([exercise([check('get-root', [eofCase('/'), eofCase('/x')]), check('head', [eofCase('/h')]), check('post', [eofCase('/p')])])]));
    const lines = text.split('\n');
    expect(lines[3]).toBe('  Every failed case has one cause: the server closed the connection without answering (eof-before-response), in 4 cases of 3 checks');
    expect(occurrences(text, 'sent (')).toBe(1);
    expect(occurrences(text, 'GET /x')).toBe(0);
    expect(lines.find((l) => l.includes('head '))).toBe('  ✗ head      the head check  0/2');
    expect(lines[lines.indexOf('  ✗ head      the head check  0/2') + 1]).toBe('  ✗ post      the post check  0/2');
  });

  it('says one case of one check in the singular, and has no headline for a lone failure', () => {
    const two = render(run([exercise([check('get-root', [eofCase('/'), eofCase('/x')])])]));
    expect(two).toContain('in 2 cases of 1 check\n');
    expect(render(run([exercise([check('get-root', [eofCase('/')])])]))).not.toContain('Every failed case');
  });

  it('has no headline when the causes differ', () => {
    expect(render(mixed())).not.toContain('Every failed case');
  });

  it('says once when every failed case got the same wrong answer, and not when the same code has different causes', () => {
    const stub = (name: string, expected: string): CaseResult => ({ name, status: 'fail', code: 'wrong-status', message: `status was 501, expected ${expected}`, exchange: exchange(get('/'), 'HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\n\r\n') });
    const same = render(run([exercise([check('inspect-path', [stub('a', '200'), stub('b', '200')]), check('not-found', [stub('c', '404')])])]));
    expect(same).toContain('Every failed case has one cause: status was 501 (wrong-status), in 3 cases of 2 checks');
    const header = (name: string, what: string): CaseResult => ({ name, status: 'fail', code: 'missing-header', message: `no ${what} header` });
    const two = render(run([exercise([check('required-headers', [header('Date', 'Date'), header('Server', 'Server')])])]));
    expect(two).not.toContain('Every failed case');
    expect(two).toContain('✗ Server: no Server header');
  });

  it('shows a transcript two cases share once', () => {
    const shared = exchange(get('/'), 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi');
    const a: CaseResult = { name: 'status 201', status: 'fail', message: 'status was 200', exchange: { ...shared, expected: 'status 201' } };
    const b: CaseResult = { name: 'a Date', status: 'fail', message: 'no Date header', exchange: { ...shared, expected: 'a Date header' } };
    const text = render(run([exercise([check('get-root', [a, b])])]));
    expect(occurrences(text, 'sent (')).toBe(1);
    expect(text).toContain('      (the same exchange as in "status 201" above)\n      expected: a Date header');
  });
});

describe('renderTerminal: hints', () => {
  it('gives each hint once in the whole run, the first time its code appears', () => {
    const text = render(run([exercise([check('get-root', [eofCase('/')])]), { ...exercise([check('query', [eofCase('/?q')])]), id: '03-urls' }]));
    expect(occurrences(text, EOF_HINT)).toBe(1);
    expect(occurrences(text, 'sent (')).toBe(2);
  });

  it('gives no hint for a code that has none', () => {
    const wrong = { ...eofCase('/'), code: 'wrong-status', message: 'got 404, expected 200' };
    expect(render(run([exercise([check('get-root', [wrong])])]))).not.toContain('hint:');
  });
});

describe('renderTerminal: rules', () => {
  const courseRule = { id: 'announce-close', source: 'course rule', note: 'HTTP allows closing without saying so; the course asks for more because a client that is told stops sending' };
  const closeCase = (path: string): CaseResult => ({ ...eofCase(path), code: 'close-not-announced', message: 'closed without Connection: close', rule: courseRule });

  it("shows a course rule's note once, under the failed case", () => {
    const lines = render(run([exercise([check('close', [closeCase('/a'), closeCase('/b')])])])).split('\n');
    const at = lines.findIndex((l) => l.startsWith('    ✗ GET /a:'));
    expect(lines[at + 1]).toBe(`      course rule: ${courseRule.note}`);
    expect(lines.filter((l) => l.includes('course rule:'))).toHaveLength(1);
  });

  it('names the source of an RFC rule on the first full transcript of that rule only', () => {
    const again = { ...bareLf, name: 'GET /again' };
    const text = render(run([exercise([check('crlf', [bareLf, again])])]));
    expect(text).toContain('    ✗ GET /: the status line ends with \\n alone  [RFC 9112 §2.2 MUST]\n');
    expect(occurrences(text, '[RFC 9112')).toBe(1);
  });
});

describe('renderTerminal: bytes', () => {
  it('summarises a binary body on both sides and keeps the message naming the first difference', () => {
    const body = binary(300);
    const sent = `POST /echo HTTP/1.1\r\nHost: 127.0.0.1:${PORT}\r\nContent-Length: 300\r\n\r\n${body}`;
    const got = `HTTP/1.1 200 OK\r\nContent-Length: 300\r\n\r\n${body.slice(0, 17)}\0${body.slice(18)}`;
    const echo: CaseResult = { name: '300 binary bytes', status: 'fail', code: 'body-mismatch', message: 'the body differs: 300 bytes for 300 expected, first difference at byte 17', exchange: exchange(sent, got, { expected: 'the 300 bytes sent as the body' }) };
    const text = render(run([exercise([check('post-echo', [echo])])]));
    expect(text).toContain('        │ <300 bytes of binary body, starting 07 8a 0d 90 13 96 19 9c …>\n');
    expect(text).toMatch(/│ <300 bytes of binary body, starting 07 8a 0d 90 13 96 19 9c …; from byte 17: 00 /);
    expect(text).toContain('first difference at byte 17');
    expect(text).toContain('expected: the 300 bytes sent as the body');
    expect(text).not.toMatch(/(\\x[0-9a-f]{2}){4}/);
  });

  it('shows a UTF-8 body as text on both sides, and the head byte for byte', () => {
    const body = utf8('café ✓');
    const sent = `POST /echo HTTP/1.1\r\nHost: 127.0.0.1:${PORT}\r\nX-Name: ${utf8('é')}\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const got = `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    const text = render(run([exercise([check('post-echo', [{ name: 'UTF-8 text', status: 'fail', code: 'wrong-header', message: 'x', exchange: exchange(sent, got) }])])]));
    expect(occurrences(text, '│ café ✓\n')).toBe(2);
    expect(text).toContain('│ X-Name: \\xc3\\xa9\\r\\n');
  });

  it('says how a split request was cut', () => {
    const split: CaseResult = { ...eofCase('/'), exchange: exchange(get('/'), '', { split: 'in 3-byte writes' }) };
    expect(render(run([exercise([check('split-request', [split])])]))).toContain('      sent (41 bytes, in 3-byte writes):\n');
  });

  it('gives a command to repeat the first full transcript by hand, not the ones pointing back', () => {
    const text = render(run([exercise([check('a', [eofCase('/')]), check('b', [{ ...eofCase('/b'), code: 'connection-reset' }]), check('c', [eofCase('/c')])])]));
    expect(occurrences(text, 'by hand (PORT=8080): printf ')).toBe(2);
    expect(text).toContain("      by hand (PORT=8080): printf 'GET / HTTP/1.1\\r\\nHost: 127.0.0.1:8080\\r\\n\\r\\n' | nc 127.0.0.1 8080\n");
  });

  it('gives curl for a long request, and says when a request cannot be pasted', () => {
    const long = `GET / HTTP/1.1\r\nHost: 127.0.0.1:${PORT}\r\nX-Long: ${'a'.repeat(500)}\r\n\r\n`;
    const bad = `GET / HTTP/1.1\r\nHost: 127.0.0.1:${PORT}\r\nBad Name: ${'a'.repeat(500)}\r\n\r\n`;
    const cases = [
      { ...eofCase('/'), exchange: exchange(long) },
      { ...eofCase('/'), name: 'bad', code: 'connection-reset', exchange: exchange(bad) },
    ];
    const text = render(run([exercise([check('long', cases)])]));
    expect(text).toContain(`by hand (PORT=8080): curl -v -H 'X-Long: ${'a'.repeat(500)}' 'http://127.0.0.1:8080/'`);
    expect(text).toContain(`by hand: cannot be pasted as a command (${bad.length} bytes, too long, and not one well-formed request for curl)`);
  });
});

describe('renderTerminal: server output and starts', () => {
  it("shows a check's own output instead of the server's output tail", () => {
    const crashed = check('get-root', [eofCase('/')], { code: 'server-exited', evidence: { message: '1 of 1 case failed (the server process exited: code 1)', output: 'Error: boom' } });
    const text = render(run([exercise([crashed])]));
    expect(text).toContain('    server output (last lines):\n      | Error: boom\n');
    expect(text).toContain('    ✗ 1 of 1 case failed (the server process exited: code 1)\n');
    expect(text).not.toContain('TypeError: boom');
  });

  it('shows the same output twice only once', () => {
    const crashed = (id: string, code: string) => check(id, [{ ...eofCase(`/${id}`), code }], { evidence: { message: 'x', output: 'Error: boom' } });
    const text = render(run([exercise([crashed('a', 'connection-reset'), crashed('b', 'eof-before-response')])]));
    expect(occurrences(text, '| Error: boom')).toBe(1);
    expect(text).toContain('    server output: the same as above');
  });

  it('leaves out the server output when every check passed', () => {
    expect(render(run([exercise([check('get-root', [passCase('status 200')])])]))).not.toContain('server output');
  });

  it('shows a start that failed for the first check at the top, with output and hint, and the checks not run as one line', () => {
    const notRun = (id: string): CheckResult => ({ id, title: `the ${id} check`, points: 2, score: 0, status: 'not-run', notRun: 'server-did-not-start', durationMs: 0, evidence: { message: 'not run' } });
    const ex = exercise([notRun('get-root'), notRun('head'), notRun('post')], {
      server: { command: 'python3 -u server.py', starts: 1, leftBehind: [], outputTail: 'Traceback', startFailures: [{ check: 'get-root', code: 'server-exited', message: 'the server exited before listening (exit code 1)', output: 'Traceback\nNameError: x' }] },
    });
    const text = render(run([ex], { hints: { 'server-exited': 'Look at its output.' } }));
    expect(text).toContain(
      [
        '02-http [ts] HTTP/1.1 by hand  0/6',
        '  ✗ server start failed: the server exited before listening (exit code 1)',
        '  server output (last lines):',
        '    | Traceback',
        '    | NameError: x',
        '  hint: Look at its output.',
        '  · not run (the server did not start, see above): get-root, head, post',
        '',
      ].join('\n'),
    );
  });

  it('shows a start that failed for a later check under that check, and one not-run check on its own dim line', () => {
    const ex = exercise(
      [
        check('get-root', [passCase('status 200')]),
        { id: 'head', title: 'the head check', points: 2, score: 0, status: 'not-run', notRun: 'server-did-not-start', durationMs: 0, evidence: { message: 'not run' } },
        { id: 'post', title: 'the post check', points: 2, score: 0, status: 'not-run', notRun: 'bail', durationMs: 0, evidence: { message: 'not run' } },
      ],
      { server: { command: 'x', starts: 2, leftBehind: [], startFailures: [{ check: 'head', code: 'never-listened', message: 'the restart never listened' }] } },
    );
    const text = render(run([ex]));
    expect(text).toContain('  · head      the head check  not run: the server did not start, see above\n    ✗ server start failed: the restart never listened\n');
    expect(text).toContain('  · post      the post check  not run: --bail stopped here\n');
  });

  it('names processes left behind after SIGTERM', () => {
    const ex = exercise([check('get-root', [passCase('status 200')])]);
    ex.server!.leftBehind = ['4242 python3 server.py'];
    expect(render(run([ex]))).toContain('processes the grader had to kill (still running after SIGTERM, or escaped from the process group):\n      4242 python3 server.py');
  });

  it('shows control characters from the server instead of obeying them', () => {
    const ex = exercise([check('get-root', [{ ...eofCase('/'), message: 'Content-Type was "\x1b[31m"' }])]);
    ex.server!.outputTail = 'ok\x1b[2K\x1b[1A✓ every check passed';
    ex.server!.leftBehind = ['1 evil\x1b[31m'];
    const text = render(run([ex]));
    expect(text).not.toContain('\x1b');
    expect(text).toContain('ok\\x1b[2K\\x1b[1A✓ every check passed');
  });
});

describe('renderTerminal: summary', () => {
  it('gives the pass mark as the percentage asked for', () => {
    expect(render(mixed())).toContain('Total 5/10 (50%)  pass mark 100%  not passed  2.3 s\n');
  });

  it('adds the points below 100%', () => {
    expect(render(run(mixed().exercises, { passPercent: 50, passMark: 5, passed: true }))).toContain('Total 5/10 (50%)  pass mark 50% (5 points)  passed  2.3 s\n');
    expect(render(run(mixed().exercises, { passPercent: 10, passMark: 1 }))).toContain('pass mark 10% (1 point)');
  });

  it('gives grader errors, unfinished checks and --bail a sentence each, in the singular for one', () => {
    const text = render(run(mixed().exercises, { graderErrors: 1, unfinished: 2, bailed: true }));
    expect(text).toContain('1 check hit a bug in the grader itself: it counts for nothing, and the run cannot pass. Please report it, with the seed.');
    expect(text).toContain('2 checks were not started because the run reached its time limit: they count for nothing, and the run cannot pass.');
    expect(text).toContain('--bail stopped the run at the first failed check: the checks after it were not run, and the run cannot pass.');
    expect(render(mixed())).not.toMatch(/grader itself|time limit|--bail/);
  });

  it('names the seed in the header and in the repeat line', () => {
    const text = render(mixed());
    expect(text.split('\n')[0]).toContain('seed 5eed1234');
    expect(text.trimEnd().split('\n').at(-1)).toBe('Repeat these exact probes with --seed 5eed1234');
  });
});

describe('renderTerminal: verbose', () => {
  it('shows every case, passing ones too, every transcript in full and every hint where it applies', () => {
    const r = run([exercise([check('get-root', [passCase('status 200'), eofCase('/a'), eofCase('/b')]), check('head', [eofCase('/h')])])]);
    const quiet = render(r);
    const loud = render(r, true);
    expect(quiet).not.toContain('status 200: status 200 seen');
    expect(loud).toContain('    ✓ status 200: status 200 seen\n      sent (41 bytes):');
    expect(occurrences(loud, 'sent (')).toBe(4);
    expect(occurrences(loud, EOF_HINT)).toBe(3);
  });

  it('shows the evidence of passing checks without cases', () => {
    const seen: CheckResult = { id: 'backlog', title: 'the backlog', points: 1, score: 1, status: 'pass', durationMs: 1, evidence: { message: 'backlog 7 as asked', values: { backlog: 7 } } };
    expect(render(run([exercise([seen])]))).not.toContain('backlog 7 as asked');
    expect(render(run([exercise([seen])]), true)).toContain('    ✓ backlog 7 as asked\n    measured: backlog=7\n');
  });
});

describe('renderTerminal: checks without cases', () => {
  it('shows why a check was skipped, on one dim line', () => {
    const skipped: CheckResult = { id: 'backlog', title: 'the backlog', points: 1, score: 0, status: 'skipped', durationMs: 0, evidence: { message: 'skipped: needs /proc/net/tcp' } };
    expect(render(run([exercise([skipped])]))).toContain('  - backlog  the backlog  0/1\n    skipped: needs /proc/net/tcp\n\n');
  });


  it('renders the message, exchanges, values and a multi-line value as lines', () => {
    const fault: CheckResult = {
      id: 'keep-alive',
      title: 'Two requests on one connection',
      points: 2,
      score: 0,
      status: 'error',
      durationMs: 1,
      code: 'grader-error',
      evidence: { message: 'grader error: oops', exchanges: [exchange(get('/') + get('/'), '', { label: 'two GETs' })], values: { stack: 'Error: oops\n    at x' } },
    };
    const text = render(run([exercise([fault])]));
    expect(text).toContain('  ! keep-alive  Two requests on one connection  0/2\n    ✗ grader error: oops\n      ── two GETs\n      sent (82 bytes):');
    expect(text).toContain('    measured:\n      stack:\n        Error: oops\n            at x\n');
  });
});

describe('renderTerminal: color', () => {
  it('has no ANSI escapes at all without color', () => {
    expect(render(mixed())).not.toMatch(ANSI);
  });

  it('uses ANSI escapes with color, and says the same words', () => {
    const colored = renderTerminal(mixed(), { color: true });
    expect(colored).toMatch(ANSI);
    expect(colored.replace(/\u001b\[\d+(;\d+)*m/g, '')).toBe(render(mixed()));
  });
});

describe('renderTerminal: process trees and measurements', () => {
  const tree = {
    caption: 'after 40 requests released together',
    rootPid: 100,
    processes: [
      { pid: 100, ppid: 1, state: 'S', command: 'python3 server.py', threads: 1, fds: { total: 4, sockets: 1, listener: true, clients: 0 } },
      { pid: 120, ppid: 100, state: 'Z', command: 'python3', marks: ['zombie'] },
      { pid: 121, ppid: 100, state: 'S', command: 'python3 server.py', threads: 1, fds: { total: 5, sockets: 2, listener: true, clients: 1 }, marks: ['holds the listening socket'] },
      { pid: 130, ppid: 1, state: 'S', command: 'python3 server.py', marks: ['orphan'] },
    ],
    acceptQueue: 0,
    backlog: 128,
    connections: { CLOSE_WAIT: 12 },
  };
  const zombieCase: CaseResult = { name: 'after the burst', status: 'fail', code: 'zombies', message: '2 zombies stayed', tree };

  it("draws a failed case's processes as a tree, with the check's marks, the zombie and the port's state", () => {
    const lines = render(run([exercise([check('no-zombies', [zombieCase])])])).split('\n');
    const at = lines.findIndex((l) => l.includes('after 40 requests released together:'));
    expect(at).toBeGreaterThan(0);
    expect(lines[at + 1]).toMatch(/^ {8}pid 100 {2}sleeping, 1 thread, 4 fds: the listening socket {2}python3 server\.py$/);
    expect(lines[at + 2]).toMatch(/├─ pid 120 {2}zombie {2}\(exited, not collected\) {2}← zombie$/);
    expect(lines[at + 3]).toMatch(/└─ pid 121 .*5 fds: the listening socket \+ 1 client .*← holds the listening socket$/);
    expect(lines[at + 4]).toContain("(parent 1, outside the server's tree:)");
    expect(lines[at + 5]).toMatch(/pid 130 .*← orphan$/);
    expect(lines[at + 6]).toContain('port: accept queue 0 of 128; connections CLOSE_WAIT 12');
  });

  it('shows forty zombies as the first one and one line for the rest, with their pids as ranges', () => {
    const many = {
      caption: 'forty children later',
      rootPid: 100,
      processes: [
        { pid: 100, ppid: 1, state: 'S', command: 'python3 server.py', threads: 1 },
        ...Array.from({ length: 40 }, (_, i) => ({ pid: 200 + i + (i >= 30 ? 5 : 0), ppid: 100, state: 'Z', command: 'python3', marks: ['zombie'] })),
        { pid: 300, ppid: 100, state: 'S', command: 'python3 server.py', threads: 1 },
      ],
    };
    const lines = render(run([exercise([check('no-zombies', [{ ...zombieCase, tree: many }])])])).split('\n');
    const at = lines.findIndex((l) => l.includes('forty children later:'));
    expect(lines[at + 2]).toMatch(/├─ pid 200 {2}zombie/);
    expect(lines[at + 3]).toMatch(/├─ … 39 more the same: pids 201-229, 235-244$/);
    expect(lines[at + 4]).toMatch(/└─ pid 300 /);
  });

  it('shows measurements beside a passing check, with what was predicted', () => {
    const ch = check('throughput', [passCase('load')], { evidence: { message: 'ok', measurements: [{ label: 'requests per second', value: 29.6, unit: 'req/s', expected: 'predicted 3 threads / 0.1 s = 30 req/s', headline: true }, { label: 'threads', value: 5 }] } });
    const text = render(run([exercise([ch])]));
    expect(text).toContain('measured: requests per second 29.6 req/s  (predicted 3 threads / 0.1 s = 30 req/s)');
    // The other figures of a passing check are for --verbose.
    expect(text).not.toContain('measured: threads');
    expect(render(run([exercise([ch])]), true)).toContain('measured: threads 5');
  });
});

describe('REPORTERS', () => {
  it('renders the terminal report and the JSON document', () => {
    const r = mixed();
    expect(REPORTERS.terminal(r, { color: false, verbose: false })).toBe(render(r));
    expect(JSON.parse(REPORTERS.json(r))).toEqual(r);
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
