import { describe, expect, it } from 'vitest';
import { header, headerAll, parseResponse, type ParseOptions, type ParsedResponse } from '../../src/probes/raw/parse-response.ts';

const bytes = (text: string) => Buffer.from(text, 'latin1');
const parse = (text: string, opts: ParseOptions = {}) => parseResponse(bytes(text), 0, opts);

/** Parses text that must be one complete response, and returns it. */
function complete(text: string, opts: ParseOptions = {}, start = 0): ParsedResponse {
  const outcome = parseResponse(bytes(text), start, opts);
  if (outcome.kind !== 'complete') throw new Error(`expected a complete response, got ${JSON.stringify(outcome)}`);
  return outcome.response;
}

const OK = 'HTTP/1.1 200 OK\r\n'; // 17 bytes: the first header line starts at offset 17
const CHUNKED = `${OK}Transfer-Encoding: chunked\r\n\r\n`; // 47 bytes: the chunked body starts at offset 47

describe('parseResponse: valid framings', () => {
  const cases: Array<{ name: string; text: string; opts?: ParseOptions; status: number; framing: ParsedResponse['framing']; body: string; end?: number }> = [
    { name: 'Content-Length body', text: `${OK}Content-Length: 5\r\n\r\nhello`, status: 200, framing: 'content-length', body: 'hello' },
    { name: 'Content-Length: 0', text: `${OK}Content-Length: 0\r\n\r\n`, status: 200, framing: 'content-length', body: '' },
    {
      name: 'Content-Length stops at its length, leaving later bytes alone',
      text: `${OK}Content-Length: 2\r\n\r\nhiHTTP/1.1`,
      status: 200,
      framing: 'content-length',
      body: 'hi',
      end: 40,
    },
    { name: 'repeated equal Content-Length values', text: `${OK}Content-Length: 2, 2\r\nContent-Length: 2\r\n\r\nhi`, status: 200, framing: 'content-length', body: 'hi' },
    { name: 'single chunk', text: `${CHUNKED}5\r\nhello\r\n0\r\n\r\n`, status: 200, framing: 'chunked', body: 'hello' },
    {
      name: 'several chunks, upper-case hex size',
      text: `${CHUNKED}5\r\nhello\r\nA\r\n 0123456\r\n\r\n0\r\n\r\n`,
      status: 200,
      framing: 'chunked',
      body: 'hello 0123456\r\n',
    },
    {
      name: 'chunk extensions and trailers',
      text: `${CHUNKED}5;name=value\r\nhello\r\n6 ; quoted="a;b"\r\n world\r\n0;last\r\nX-Checksum: abc\r\nX-Other: 1\r\n\r\n`,
      status: 200,
      framing: 'chunked',
      body: 'hello world',
    },
    {
      name: 'Transfer-Encoding with chunked last',
      text: `${OK}Transfer-Encoding: gzip\r\nTransfer-Encoding: Chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n`,
      status: 200,
      framing: 'chunked',
      body: 'hi',
    },
    { name: 'close-delimited body ends at EOF', text: `${OK}Content-Type: text/plain\r\n\r\nuntil the end`, opts: { eof: true }, status: 200, framing: 'close', body: 'until the end' },
    { name: 'close-delimited empty body', text: `${OK}\r\n`, opts: { eof: true }, status: 200, framing: 'close', body: '' },
    { name: 'Transfer-Encoding not ending in chunked is close-delimited', text: `${OK}Transfer-Encoding: gzip\r\n\r\nzz`, opts: { eof: true }, status: 200, framing: 'close', body: 'zz' },
    { name: 'HEAD response has no body despite Content-Length', text: `${OK}Content-Length: 5\r\n\r\n`, opts: { method: 'HEAD' }, status: 200, framing: 'none', body: '' },
    { name: 'method name is case-insensitive for HEAD', text: `${OK}Content-Length: 5\r\n\r\n`, opts: { method: 'head' }, status: 200, framing: 'none', body: '' },
    { name: '204 has no body', text: 'HTTP/1.1 204 No Content\r\nServer: x\r\n\r\n', status: 204, framing: 'none', body: '' },
    { name: '204 may say Content-Length: 0', text: 'HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n', status: 204, framing: 'none', body: '' },
    { name: '304 has no body despite Content-Length', text: 'HTTP/1.1 304 Not Modified\r\nContent-Length: 120\r\n\r\n', status: 304, framing: 'none', body: '' },
    { name: 'HTTP/1.0 with empty reason phrase', text: 'HTTP/1.0 200 \r\nContent-Length: 1\r\n\r\nx', status: 200, framing: 'content-length', body: 'x' },
    { name: 'reason phrase with tab and obs-text', text: 'HTTP/1.1 404 Not\tFound \xe9\r\nContent-Length: 0\r\n\r\n', status: 404, framing: 'content-length', body: '' },
  ];

  it.each(cases)('$name', ({ text, opts, status, framing, body, end }) => {
    const res = complete(text, opts);
    expect(res.status).toBe(status);
    expect(res.framing).toBe(framing);
    expect(res.body.toString('latin1')).toBe(body);
    expect(res.start).toBe(0);
    expect(res.end).toBe(end ?? text.length);
  });

  it('splits the status line into version, status and reason', () => {
    const res = complete('HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n');
    expect(res).toMatchObject({ version: 'HTTP/1.0', status: 404, reason: 'Not Found' });
  });

  it('keeps header names as sent, in order, with values stripped of surrounding whitespace', () => {
    const res = complete(`${OK}content-TYPE:\ttext/plain  \r\nX-Empty:\r\nContent-Length:2\r\n\r\nhi`);
    expect(res.headers).toEqual([
      ['content-TYPE', 'text/plain'],
      ['X-Empty', ''],
      ['Content-Length', '2'],
    ]);
  });

  it('collects 1xx interim responses before the final one', () => {
    const text = `HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\n${OK}Content-Length: 2\r\n\r\nok`;
    const res = complete(text);
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('ok');
    expect(res.interim.map((r) => r.status)).toEqual([100, 103]);
    expect(header(res.interim[1]!, 'link')).toBe('</a.css>');
    expect(res.start).toBe(0);
    expect(res.end).toBe(text.length);
  });

  it('treats 101 Switching Protocols as the final response', () => {
    const text = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n\x81\x00';
    const res = complete(text);
    expect(res.status).toBe(101);
    expect(res.interim).toEqual([]);
    expect(res.end).toBe(text.indexOf('\x81'));
  });

  it('parses pipelined responses one after the other from `start`', () => {
    const first = `${OK}Content-Length: 3\r\n\r\none`;
    const second = 'HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n';
    const buf = bytes(first + second);
    const a = parseResponse(buf, 0);
    expect(a).toMatchObject({ kind: 'complete', response: { status: 200, start: 0, end: first.length } });
    if (a.kind !== 'complete') return;
    const b = parseResponse(buf, a.response.end);
    expect(b).toMatchObject({ kind: 'complete', response: { status: 404, start: first.length, end: buf.length } });
    if (b.kind === 'complete') expect(b.response.body.toString()).toBe('two');
  });

  it('reports invalid offsets in the whole stream when parsing from `start`', () => {
    const first = `${OK}Content-Length: 0\r\n\r\n`;
    const outcome = parseResponse(bytes(`${first}HTTP/1.1 200 OK\n`), first.length);
    expect(outcome).toMatchObject({ kind: 'invalid', code: 'bare-lf', offset: first.length + 15 });
  });
});

describe("parseResponse: requireFraming 'content-length'", () => {
  const opts: ParseOptions = { requireFraming: 'content-length' };

  it('accepts a Content-Length body', () => {
    expect(complete(`${OK}Content-Length: 2\r\n\r\nhi`, opts).framing).toBe('content-length');
  });

  it('accepts a 204 without Content-Length', () => {
    expect(complete('HTTP/1.1 204 No Content\r\n\r\n', opts).framing).toBe('none');
  });

  it('rejects a chunked body, pointing at the Transfer-Encoding header', () => {
    const text = `${CHUNKED}2\r\nhi\r\n0\r\n\r\n`;
    expect(parse(text, opts)).toMatchObject({ kind: 'invalid', code: 'framing-not-allowed', offset: 17 });
  });

  it('rejects a close-delimited body, pointing at the blank line that ends the headers without Content-Length', () => {
    const text = `${OK}Content-Type: text/plain\r\n\r\nbody`;
    expect(parse(text, { ...opts, eof: true })).toMatchObject({ kind: 'invalid', code: 'missing-content-length', offset: 43 });
    expect(text.slice(43, 45)).toBe('\r\n');
  });

  it('rejects a missing Content-Length before EOF, without waiting for the close', () => {
    expect(parse(`${OK}\r\n`, opts)).toMatchObject({ kind: 'invalid', code: 'missing-content-length' });
  });
});

describe('parseResponse: incomplete', () => {
  const cases: Array<{ name: string; text: string; opts?: ParseOptions; part: 'status-line' | 'headers' | 'body'; need?: number }> = [
    { name: 'nothing yet', text: '', part: 'status-line' },
    { name: 'partial status line', text: 'HTTP/1.1 20', part: 'status-line' },
    { name: 'status line waiting for its LF', text: 'HTTP/1.1 200 OK\r', part: 'status-line' },
    { name: 'partial header line', text: `${OK}Content-Len`, part: 'headers' },
    { name: 'headers without the blank line', text: `${OK}Content-Length: 5\r\n`, part: 'headers' },
    { name: 'partial Content-Length body', text: `${OK}Content-Length: 5\r\n\r\nhel`, part: 'body', need: 43 },
    { name: 'partial Content-Length body at EOF', text: `${OK}Content-Length: 5\r\n\r\nhel`, opts: { eof: true }, part: 'body', need: 43 },
    { name: 'partial chunk size line', text: `${CHUNKED}5`, part: 'body' },
    { name: 'partial chunk data', text: `${CHUNKED}5\r\nhel`, part: 'body', need: CHUNKED.length + 3 + 7 },
    { name: 'chunk data without its CRLF yet', text: `${CHUNKED}5\r\nhello`, part: 'body', need: CHUNKED.length + 3 + 7 },
    { name: 'no last chunk yet', text: `${CHUNKED}5\r\nhello\r\n`, part: 'body' },
    { name: 'last chunk without the final CRLF', text: `${CHUNKED}5\r\nhello\r\n0\r\n`, part: 'body' },
    { name: 'partial trailer section', text: `${CHUNKED}0\r\nX-Trailer: 1\r\n`, part: 'body' },
    { name: 'close-delimited body before EOF', text: `${OK}\r\nsome body`, part: 'body', need: Infinity },
    { name: 'interim response, final not yet', text: 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1', part: 'status-line' },
  ];

  it.each(cases)('$name', ({ text, opts, part, need }) => {
    // `need`, where known, is the stream length below which parsing again cannot progress.
    expect(parse(text, opts)).toEqual({ kind: 'incomplete', part, ...(need !== undefined ? { need } : {}) });
  });
});

describe('parseResponse: invalid, with the offset of the first offending byte', () => {
  const CL = `${OK}Content-Length: `; // 33 bytes: the value starts at offset 33
  const cases: Array<{ name: string; text: string; opts?: ParseOptions; code: string; offset: number; byte: string }> = [
    { name: 'status line ending in bare LF', text: 'HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n', code: 'bare-lf', offset: 15, byte: '\n' },
    { name: 'header line ending in bare LF', text: `${OK}Content-Length: 0\n\r\n`, code: 'bare-lf', offset: 34, byte: '\n' },
    { name: 'blank line as bare LF', text: `${OK}Content-Length: 0\r\n\n`, code: 'bare-lf', offset: 36, byte: '\n' },
    { name: 'bare CR inside a header value', text: `${OK}X-A: a\rb\r\n\r\n`, code: 'bare-cr', offset: 23, byte: '\r' },
    { name: 'bare CR in the status line', text: 'HTTP/1.1 200 O\rK\r\n', code: 'bare-cr', offset: 14, byte: '\r' },
    { name: 'not starting with HTTP/', text: 'hello world\r\n\r\n', code: 'bad-status-line', offset: 0, byte: 'h' },
    { name: 'wrong letter in HTTP/', text: 'HTTQ/1.1 200 OK\r\n\r\n', code: 'bad-status-line', offset: 3, byte: 'Q' },
    { name: 'wrong prefix seen before the line is complete', text: 'HTX', code: 'bad-status-line', offset: 2, byte: 'X' },
    { name: 'non-digit minor version', text: 'HTTP/1.x 200 OK\r\n\r\n', code: 'bad-status-line', offset: 7, byte: 'x' },
    { name: 'two-digit status code', text: 'HTTP/1.1 20 OK\r\n\r\n', code: 'bad-status-line', offset: 11, byte: ' ' },
    { name: 'letter in the status code', text: 'HTTP/1.1 2x0 OK\r\n\r\n', code: 'bad-status-line', offset: 10, byte: 'x' },
    { name: 'no status code', text: 'HTTP/1.1 OK\r\n\r\n', code: 'bad-status-line', offset: 9, byte: 'O' },
    { name: 'two spaces before the status code', text: 'HTTP/1.1  200 OK\r\n\r\n', code: 'bad-status-line', offset: 9, byte: ' ' },
    { name: 'status code below 100', text: 'HTTP/1.1 099 Low\r\n\r\n', code: 'bad-status-code', offset: 9, byte: '0' },
    { name: 'status code above 599', text: 'HTTP/1.1 600 High\r\n\r\n', code: 'bad-status-code', offset: 9, byte: '6' },
    { name: 'no space after the status code', text: 'HTTP/1.1 200OK\r\n\r\n', code: 'bad-status-line', offset: 12, byte: 'O' },
    { name: 'four-digit status code', text: 'HTTP/1.1 2000 OK\r\n\r\n', code: 'bad-status-line', offset: 12, byte: '0' },
    { name: 'status line ending right after the code', text: 'HTTP/1.1 200\r\n\r\n', code: 'bad-status-line', offset: 12, byte: '\r' },
    { name: 'HTTP/2.0 version', text: 'HTTP/2.0 200 OK\r\n\r\n', code: 'bad-version', offset: 5, byte: '2' },
    { name: 'control character in the reason phrase', text: 'HTTP/1.1 200 O\x01K\r\n\r\n', code: 'bad-reason-phrase', offset: 14, byte: '\x01' },
    { name: 'obs-fold continuation line', text: `${OK}X-A: a\r\n  b\r\nContent-Length: 0\r\n\r\n`, code: 'obs-fold', offset: 25, byte: ' ' },
    { name: 'header line without colon', text: `${OK}NoColonHere\r\n\r\n`, code: 'header-without-colon', offset: 28, byte: '\r' },
    { name: 'header line of words without colon', text: `${OK}Foo bar\r\n\r\n`, code: 'header-without-colon', offset: 20, byte: ' ' },
    { name: 'space before colon', text: `${OK}Content-Length : 0\r\n\r\n`, code: 'space-before-colon', offset: 31, byte: ' ' },
    { name: 'several spaces before colon', text: `${OK}Content-Length \t : 0\r\n\r\n`, code: 'space-before-colon', offset: 31, byte: ' ' },
    { name: 'bad character in a header name', text: `${OK}X(A): 1\r\n\r\n`, code: 'bad-header-name', offset: 18, byte: '(' },
    { name: 'space inside a header name', text: `${OK}X A : 1\r\n\r\n`, code: 'bad-header-name', offset: 18, byte: ' ' },
    { name: 'empty header name', text: `${OK}: 1\r\n\r\n`, code: 'bad-header-name', offset: 17, byte: ':' },
    { name: 'NUL in a header value', text: `${OK}X-A: a\x00b\r\n\r\n`, code: 'bad-header-value', offset: 23, byte: '\x00' },
    { name: 'DEL in a header value', text: `${OK}X-A: \x7f\r\n\r\n`, code: 'bad-header-value', offset: 22, byte: '\x7f' },
    { name: 'Content-Length: abc', text: `${CL}abc\r\n\r\n`, code: 'bad-content-length', offset: 33, byte: 'a' },
    { name: 'Content-Length: -1', text: `${CL}-1\r\n\r\n`, code: 'bad-content-length', offset: 33, byte: '-' },
    { name: 'Content-Length: +5', text: `${CL}+5\r\n\r\nhello`, code: 'bad-content-length', offset: 33, byte: '+' },
    { name: 'Content-Length with a trailing letter', text: `${CL}12a\r\n\r\n`, code: 'bad-content-length', offset: 35, byte: 'a' },
    { name: 'empty Content-Length', text: `${CL}\r\n\r\n`, code: 'bad-content-length', offset: 33, byte: '\r' },
    { name: 'bad second Content-Length header', text: `${CL}2\r\nContent-Length: x\r\n\r\nhi`, code: 'bad-content-length', offset: 52, byte: 'x' },
    {
      name: 'conflicting Content-Length headers',
      text: `${CL}5\r\nContent-Length: 6\r\n\r\nhello!`,
      code: 'conflicting-content-length',
      offset: 52,
      byte: '6',
    },
    { name: 'conflicting Content-Length list', text: `${CL}5, 6\r\n\r\nhello!`, code: 'conflicting-content-length', offset: 36, byte: '6' },
    {
      name: 'Transfer-Encoding after Content-Length',
      text: `${CL}5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
      code: 'te-and-content-length',
      offset: 36,
      byte: 'T',
    },
    {
      name: 'Content-Length after Transfer-Encoding',
      text: `${OK}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n`,
      code: 'te-and-content-length',
      offset: 45,
      byte: 'C',
    },
    { name: 'non-hex chunk size', text: `${CHUNKED}zz\r\n`, code: 'bad-chunk-size', offset: 47, byte: 'z' },
    { name: 'chunk size with a trailing non-hex character', text: `${CHUNKED}1z\r\nh\r\n`, code: 'bad-chunk-size', offset: 48, byte: 'z' },
    { name: 'chunk size with leading whitespace', text: `${CHUNKED} 1\r\nh\r\n`, code: 'bad-chunk-size', offset: 47, byte: ' ' },
    { name: 'empty chunk size line', text: `${CHUNKED}\r\n`, code: 'bad-chunk-size', offset: 47, byte: '\r' },
    { name: 'chunk size line with bare LF', text: `${CHUNKED}5\nhello\r\n`, code: 'bare-lf', offset: 48, byte: '\n' },
    { name: 'chunk data longer than its size', text: `${CHUNKED}3\r\nabcd\r\n0\r\n\r\n`, code: 'bad-chunk-end', offset: 53, byte: 'd' },
    { name: 'chunk data followed by CR without LF', text: `${CHUNKED}3\r\nabc\rX0\r\n\r\n`, code: 'bad-chunk-end', offset: 54, byte: 'X' },
    { name: 'bad trailer name', text: `${CHUNKED}0\r\nX(T): 1\r\n\r\n`, code: 'bad-header-name', offset: 51, byte: '(' },
    {
      name: '204 with Content-Length > 0',
      text: 'HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n',
      code: 'body-not-allowed',
      offset: 25,
      byte: 'C',
    },
    {
      name: '204 with Transfer-Encoding',
      text: 'HTTP/1.1 204 No Content\r\nServer: x\r\nTransfer-Encoding: chunked\r\n\r\n',
      code: 'body-not-allowed',
      offset: 36,
      byte: 'T',
    },
    {
      name: '100 Continue with Content-Length > 0',
      text: 'HTTP/1.1 100 Continue\r\nContent-Length: 1\r\n\r\nx',
      code: 'body-not-allowed',
      offset: 23,
      byte: 'C',
    },
    {
      name: 'header section longer than maxHeaderBytes',
      text: `${OK}X-Long: ${'a'.repeat(40)}\r\n\r\n`,
      opts: { maxHeaderBytes: 32 },
      code: 'headers-too-large',
      offset: 32,
      byte: 'a',
    },
    {
      name: 'unfinished header line already past maxHeaderBytes',
      text: `${OK}X-Long: ${'a'.repeat(40)}`,
      opts: { maxHeaderBytes: 32 },
      code: 'headers-too-large',
      offset: 32,
      byte: 'a',
    },
    {
      name: 'unfinished status line already past maxHeaderBytes',
      text: `HTTP/1.1 200 ${'O'.repeat(40)}`,
      opts: { maxHeaderBytes: 32 },
      code: 'headers-too-large',
      offset: 32,
      byte: 'O',
    },
    {
      name: 'blank line that makes the header section one byte too long',
      text: `${OK}X-A: 1\r\n\r\n`,
      opts: { maxHeaderBytes: 26 },
      code: 'headers-too-large',
      offset: 26,
      byte: '\n',
    },
  ];

  it.each(cases)('$name', ({ text, opts, code, offset, byte }) => {
    const outcome = parse(text, opts);
    expect(outcome).toMatchObject({ kind: 'invalid', code, offset });
    expect(text[offset]).toBe(byte);
  });

  it('explains the violation in words', () => {
    const outcome = parse('HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n');
    expect(outcome.kind === 'invalid' && outcome.message).toMatch(/CRLF/);
  });

  it('accepts a header section of exactly maxHeaderBytes', () => {
    expect(complete(`${OK}X-A: 1\r\n\r\n`, { maxHeaderBytes: 27, eof: true }).framing).toBe('close');
  });
});

describe('header() and headerAll()', () => {
  const res = { headers: [['Set-Cookie', 'a=1'], ['content-type', 'text/html'], ['SET-COOKIE', 'b=2']] as Array<[string, string]> };

  it('header() finds a header whatever the case of the name', () => {
    expect(header(res, 'Content-Type')).toBe('text/html');
    expect(header(res, 'CONTENT-TYPE')).toBe('text/html');
  });

  it('header() returns the first of repeated headers', () => {
    expect(header(res, 'set-cookie')).toBe('a=1');
  });

  it('header() returns undefined for a missing header', () => {
    expect(header(res, 'Content-Length')).toBeUndefined();
  });

  it('headerAll() returns every value in order, matching names case-insensitively', () => {
    expect(headerAll(res, 'Set-Cookie')).toEqual(['a=1', 'b=2']);
  });

  it('headerAll() returns an empty list for a missing header', () => {
    expect(headerAll(res, 'Date')).toEqual([]);
  });
});
