import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { printfFormat, reproduce, shellQuote, toHandPort, type Reproduction } from '../../src/report/reproduce.ts';

const PORT = 41234;
const get = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1:${PORT}\r\n${extra}\r\n`;
const exchange = (sent: string, more: { sentBytes?: number; split?: string; port?: number; heldBack?: string } = {}) => ({ sent, sentBytes: more.sentBytes ?? sent.length, port: PORT, ...more });
const binary = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 131 + 7) % 256)).toString('latin1');
const post = (body: string, sentBytes = body.length) =>
  `POST /echo HTTP/1.1\r\nHost: 127.0.0.1:${PORT}\r\nContent-Type: application/octet-stream\r\nContent-Length: ${sentBytes}\r\n\r\n${body}`;

/** What `sh -c` makes of the shell code, as latin-1 text: the bytes a student's shell would send. */
const runInShell = (code: string): string => execFileSync('sh', ['-c', code]).toString('latin1');

function asPrintf(r: Reproduction | undefined) {
  if (r?.kind !== 'printf') throw new Error(`expected a printf reproduction, got ${JSON.stringify(r)}`);
  return r;
}

describe('reproduce: printf', () => {
  it('pipes a short request into nc on port 8080, with the Host rewritten to match', () => {
    const r = asPrintf(reproduce(exchange(get('/'))));
    expect(r.command).toBe(`printf 'GET / HTTP/1.1\\r\\nHost: 127.0.0.1:8080\\r\\n\\r\\n' | nc 127.0.0.1 8080`);
    expect(r.bytes).toBe('GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n');
  });

  it('escapes %, quotes, backslashes, tabs and other bytes so that printf writes exactly them', () => {
    expect(printfFormat("100% it's a\\b\tc\x00\x017\xe9")).toBe("100%% it's a\\\\b\\tc\\000\\0017\\351");
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
  });

  it('writes the original bytes, run through sh -c', () => {
    const every = Array.from({ length: 256 }, (_, i) => String.fromCharCode(i)).join('');
    const sent = `GET /%41%zz?q='"\\$(x)\`y\` HTTP/1.1\r\nHost: 127.0.0.1:${PORT}\r\nX-All: ${every}\r\n\r\n`;
    const r = asPrintf(reproduce(exchange(sent)));
    expect(r.bytes).toBe(sent.replace(`127.0.0.1:${PORT}`, '127.0.0.1:8080'));
    expect(runInShell(r.printf)).toBe(r.bytes);
  });

  it('sends a request the grader split in two writes a second apart, and says so', () => {
    const r = asPrintf(reproduce(exchange(get('/'), { split: 'in 3-byte writes' })));
    expect(r.printf).toMatch(/^\(printf '[^']+'; sleep 1; printf '[^']+'\)$/);
    expect(r.note).toBe('in two writes a second apart, where the grader sent it in 3-byte writes');
    expect(runInShell(r.printf)).toBe(r.bytes);
  });

  it('sends a request whose rest was held back as the piece the server answered, then the rest', () => {
    const whole = get('/held');
    const r = asPrintf(reproduce({ ...exchange(whole.slice(0, 5), { split: '5 bytes at a time' }), heldBack: whole.slice(5) }));
    expect(r.printf).toBe(`(printf 'GET /'; sleep 1; printf 'held HTTP/1.1\\r\\nHost: 127.0.0.1:8080\\r\\n\\r\\n')`);
    expect(r.note).toBe('the piece the server answered, then a second later the rest, which the grader held back');
    expect(runInShell(r.printf)).toBe(whole.replace(`127.0.0.1:${PORT}`, '127.0.0.1:8080'));
  });

  it('rewrites only the port the server listened on', () => {
    expect(asPrintf(reproduce({ ...exchange(get('/')), port: 8080 })).bytes).toBe(get('/'));
  });

  it("rewrites the Host header's port where the server's port is not known", () => {
    const { port: _, ...noPort } = exchange(`GET / HTTP/1.1\r\nhost: 127.0.0.1:${PORT}\r\nReferer: http://127.0.0.1:${PORT}/\r\n\r\n`);
    expect(asPrintf(reproduce(noPort)).bytes).toBe(`GET / HTTP/1.1\r\nhost: 127.0.0.1:8080\r\nReferer: http://127.0.0.1:${PORT}/\r\n\r\n`);
  });

  it('gives nothing to repeat when nothing was sent', () => {
    expect(reproduce(exchange(''))).toBeUndefined();
  });
});

describe('toHandPort', () => {
  it('rewrites the port in every head but never in a body, whose length Content-Length counts', () => {
    const body = `see 127.0.0.1:${PORT}`;
    const text = `${get('/')}POST / HTTP/1.1\r\nHost: 127.0.0.1:${PORT}\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
    expect(toHandPort(text, PORT)).toBe(`${get('/')}POST / HTTP/1.1\r\nHost: 127.0.0.1:${PORT}\r\nContent-Length: ${body.length}\r\n\r\n${body}`.replaceAll(`Host: 127.0.0.1:${PORT}`, 'Host: 127.0.0.1:8080'));
  });
});

describe('reproduce: curl', () => {
  it('gives curl for a well-formed request with a binary body, with a note on the body file', () => {
    const r = reproduce(exchange(post(binary(64))));
    expect(r).toEqual({
      kind: 'curl',
      command: `curl -v -X POST -H 'Content-Type: application/octet-stream' --data-binary @body.bin 'http://127.0.0.1:8080/echo'`,
      note: 'body.bin: a file of 64 bytes like the body sent, for example from head -c 64 /dev/urandom > body.bin',
    });
  });

  it('gives curl for a long request kept only in part, and says curl does not split it the same way', () => {
    const kept = post(binary(4000), 100_000).slice(0, 4096);
    const r = reproduce(exchange(kept, { sentBytes: post('', 100_000).length + 100_000, split: 'in 1000-byte writes' }));
    expect(r?.kind).toBe('curl');
    expect(r?.kind === 'curl' && r.note).toBe(
      'body.bin: a file of 100000 bytes like the body sent, for example from head -c 100000 /dev/urandom > body.bin; curl writes the request its own way, not in 1000-byte writes',
    );
  });

  it('keeps headers, quoted for the shell, and the HTTP version and HEAD method', () => {
    const long = `HEAD /a HTTP/1.0\r\nHost: 127.0.0.1:${PORT}\r\nX-Note: it's ${'x'.repeat(400)}\r\n\r\n`;
    const r = reproduce(exchange(long));
    expect(r?.kind === 'curl' && r.command).toBe(`curl -v --http1.0 -I -H 'X-Note: it'\\''s ${'x'.repeat(400)}' 'http://127.0.0.1:8080/a'`);
  });

  it('takes curl default Content-Type off a body sent without one', () => {
    const body = 'a'.repeat(500);
    const r = reproduce(exchange(`PUT /f HTTP/1.1\r\nHost: 127.0.0.1:${PORT}\r\nContent-Length: 500\r\n\r\n${body}`));
    expect(r?.kind === 'curl' && r.command).toBe(`curl -v -X PUT --data-binary @body.bin -H 'Content-Type:' 'http://127.0.0.1:8080/f'`);
    expect(r?.kind === 'curl' && r.note).toBe('body.bin: the 500-byte body shown above');
  });
});

describe('reproduce: neither', () => {
  it('says a long malformed request cannot be pasted, and gives its size', () => {
    const sent = `GET / HTTP/1.1\r\nHost: 127.0.0.1:${PORT}\r\nBad Header: ${'x'.repeat(500)}\r\n\r\n`;
    expect(reproduce(exchange(sent))).toEqual({ kind: 'none', reason: `${sent.length} bytes, too long, and not one well-formed request for curl` });
  });

  it('says so for several requests together, binary and kept in part', () => {
    const sent = post(binary(64)) + post(binary(64));
    expect(reproduce(exchange(sent, { sentBytes: 9000 }))).toEqual({ kind: 'none', reason: '9000 bytes, too long, binary, not all kept in this report, and not one well-formed request for curl' });
  });
});
