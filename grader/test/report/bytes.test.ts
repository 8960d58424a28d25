import { describe, expect, it } from 'vitest';
import { bodyKind, decodeUtf8, hexPrefix, showBytes, showMessage, showText, splitMessages, type ShownLine } from '../../src/report/bytes.ts';

const texts = (lines: ShownLine[]) => lines.map((l) => l.text);
const caretLines = (lines: ShownLine[]) => lines.filter((l) => l.caret !== undefined);

/** `count` lines "line 0\r\n", "line 1\r\n", ... */
const numbered = (count: number) => Array.from({ length: count }, (_, i) => `line ${i}\r\n`).join('');

describe('showBytes: escaping', () => {
  it.each([
    ['CR and LF', 'a\r\n', 'a\\r\\n'],
    ['tab', 'a\tb', 'a\\tb'],
    ['backslash', 'C:\\dir', 'C:\\\\dir'],
    ['NUL', 'a\x00b', 'a\\x00b'],
    ['ESC', '\x1b[31m', '\\x1b[31m'],
    ['DEL', '\x7f', '\\x7f'],
    ['high latin-1 byte', 'caf\xe9', 'caf\\xe9'],
    ['printable ASCII unchanged', 'GET /a?b=c#d HTTP/1.1', 'GET /a?b=c#d HTTP/1.1'],
  ])('%s', (_name, input, shown) => {
    expect(texts(showBytes(input))).toEqual([shown]);
  });
});

describe('showBytes: lines', () => {
  it('gives one line per LF in the input, each ending with its \\n', () => {
    expect(texts(showBytes('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))).toEqual(['GET / HTTP/1.1\\r\\n', 'Host: x\\r\\n', '\\r\\n']);
  });

  it('keeps a last line that has no LF', () => {
    expect(texts(showBytes('HTTP/1.1 200 OK\r\n\r\nbody'))).toEqual(['HTTP/1.1 200 OK\\r\\n', '\\r\\n', 'body']);
  });

  it('splits on a bare LF too', () => {
    expect(texts(showBytes('a\nb'))).toEqual(['a\\n', 'b']);
  });

  it('shows nothing for empty text', () => {
    expect(showBytes('')).toEqual([]);
  });
});

describe('showBytes: caret', () => {
  it('marks the column of a byte on the first line', () => {
    const lines = showBytes('HTTP/1.1 200 OK\nContent-Length: 0\r\n', { caretAt: 15 });
    expect(lines[0]).toEqual({ text: 'HTTP/1.1 200 OK\\n', caret: 15 });
    expect(caretLines(lines)).toHaveLength(1);
  });

  it('counts escaped bytes at their shown width', () => {
    const [line] = showBytes('a\tb\x00c', { caretAt: 4 });
    expect(line).toEqual({ text: 'a\\tb\\x00c', caret: 8 });
    expect(line!.text[line!.caret!]).toBe('c');
  });

  it('marks a byte on a later line, at its column within that line', () => {
    const lines = showBytes('ab\r\ncd\r\nef', { caretAt: 5 });
    expect(lines).toEqual([{ text: 'ab\\r\\n' }, { text: 'cd\\r\\n', caret: 1 }, { text: 'ef' }]);
  });

  it('marks the LF that ends a line on that line', () => {
    const lines = showBytes('ab\r\ncd\r\n', { caretAt: 3 });
    expect(lines[0]).toEqual({ text: 'ab\\r\\n', caret: 4 });
  });

  it('puts a caret at the end of text that ends in LF on a new empty line', () => {
    expect(showBytes('ab\r\n', { caretAt: 4 })).toEqual([{ text: 'ab\\r\\n' }, { text: '', caret: 0 }]);
  });

  it('puts a caret at the end of text without a final LF just after the last byte', () => {
    expect(showBytes('ab\r\ncd', { caretAt: 6 })).toEqual([{ text: 'ab\\r\\n' }, { text: 'cd', caret: 2 }]);
  });

  it('puts a caret at offset 0 of empty text on an empty line', () => {
    expect(showBytes('', { caretAt: 0 })).toEqual([{ text: '', caret: 0 }]);
  });
});

describe('showBytes: truncation', () => {
  it('cuts a long line and says how much was left out', () => {
    const [line] = showBytes('a'.repeat(200), { maxLineLength: 160 });
    expect(line!.text).toBe(`${'a'.repeat(160)}… (40 more)`);
  });

  it('measures line length after escaping', () => {
    const [line] = showBytes('\r'.repeat(10), { maxLineLength: 8 });
    expect(line!.text).toBe('\\r\\r\\r\\r… (12 more)');
  });

  it('keeps the caret in view on a long line when the caret is past the cut', () => {
    const text = `${'a'.repeat(300)}X${'b'.repeat(300)}`;
    const [line] = showBytes(text, { caretAt: 300, maxLineLength: 40 });
    expect(line!.caret).toBeDefined();
    expect(line!.text[line!.caret!]).toBe('X');
    expect(line!.text).toMatch(/^… \(\d+ before\) a+Xb+… \(\d+ more\)$/);
  });

  it('keeps a caret before the cut where it is', () => {
    const [line] = showBytes('x'.repeat(200), { caretAt: 10, maxLineLength: 160 });
    expect(line!.caret).toBe(10);
  });

  it('shows the first maxLines lines of many and counts the rest', () => {
    const lines = showBytes(numbered(30), { maxLines: 24 });
    expect(lines).toHaveLength(25);
    expect(lines[23]!.text).toBe('line 23\\r\\n');
    expect(lines[24]!.text).toBe('… 6 more lines');
  });

  it('shows exactly maxLines lines without a note', () => {
    expect(showBytes(numbered(24), { maxLines: 24 })).toHaveLength(24);
  });

  it('keeps a caret line further down visible, with the lines around it and honest counts', () => {
    const text = numbered(50);
    const lines = showBytes(text, { caretAt: text.indexOf('line 40'), maxLines: 24 });
    expect(texts(lines)).toEqual([
      'line 0\\r\\n',
      'line 1\\r\\n',
      'line 2\\r\\n',
      'line 3\\r\\n',
      '… 34 lines …',
      'line 38\\r\\n',
      'line 39\\r\\n',
      'line 40\\r\\n',
      'line 41\\r\\n',
      'line 42\\r\\n',
      '… 7 more lines',
    ]);
    expect(caretLines(lines)).toEqual([{ text: 'line 40\\r\\n', caret: 0 }]);
  });

  it('keeps a caret at the end of many lines visible', () => {
    const text = numbered(40);
    const lines = showBytes(text, { caretAt: text.length, maxLines: 24 });
    expect(lines.at(-1)).toEqual({ text: '', caret: 0 });
    expect(texts(lines)).toContain('line 39\\r\\n');
  });
});

/** UTF-8 text as the transcripts hold it: one latin-1 char per byte. */
const utf8 = (s: string) => Buffer.from(s, 'utf8').toString('latin1');
const binary = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 131 + 7) % 256)).toString('latin1');
const response = (body: string, type = 'text/plain') => `HTTP/1.1 200 OK\r\nContent-Type: ${type}\r\nContent-Length: ${body.length}\r\n\r\n${body}`;

describe('showText', () => {
  it('shows non-ASCII characters as themselves and still escapes controls', () => {
    expect(texts(showText('café ✓\x1b[2J\u0085\r\n'))).toEqual(['café ✓\\x1b[2J\\x85\\r\\n']);
  });

  it('shows characters that reorder text as escapes', () => {
    expect(texts(showText('a\u202eb'))).toEqual(['a\\u{202e}b']);
  });
});

describe('decodeUtf8 and bodyKind', () => {
  it('decodes UTF-8 bytes, dropping a sequence cut at the end', () => {
    expect(decodeUtf8(utf8('café'))).toBe('café');
    expect(decodeUtf8(utf8('café').slice(0, -1))).toBe('caf');
    expect(decodeUtf8('caf\xe9 au lait')).toBeUndefined();
  });

  it.each([
    ['plain ASCII', 'hello\r\n', 'ascii'],
    ['UTF-8 text', utf8('naïve café — ✓'), 'utf8'],
    ['latin-1 text with one odd byte', 'caf\xe9 au lait', 'bytes'],
    ['random bytes', binary(64), 'binary'],
    ['NULs in valid UTF-8', '\x00'.repeat(16), 'binary'],
    ['random bytes decoded as text, replacing what is not UTF-8', utf8(Buffer.from(binary(64), 'latin1').toString('utf8')), 'binary'],
    ['text with one replacement character', utf8('caf\ufffd au lait'), 'utf8'],
    ['empty', '', 'ascii'],
  ])('%s', (_name, body, kind) => {
    expect(bodyKind(body)).toBe(kind);
  });

  it('gives the first bytes in hex', () => {
    expect(hexPrefix('\x3f\xa1\x00')).toBe('3f a1 00');
    expect(hexPrefix(binary(20), 4)).toBe('07 8a 0d 90 …');
  });
});

describe('splitMessages', () => {
  it('cuts pipelined responses by Content-Length', () => {
    const parts = splitMessages(response('ab') + response('cd'));
    expect(parts.map((p) => p.body)).toEqual(['ab', 'cd']);
    expect(parts[1]!.at).toBe(response('ab').length);
  });

  it('gives a request without Content-Length no body, and a response without one the rest', () => {
    const req = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n';
    expect(splitMessages(req + req).map((p) => p.head)).toEqual([req, req]);
    expect(splitMessages('HTTP/1.1 200 OK\r\n\r\nto the end')[0]!.body).toBe('to the end');
  });

  it('does not take the next response for the body of a response to HEAD', () => {
    const head = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n';
    expect(splitMessages(head + response('hello')).map((p) => p.body)).toEqual(['', 'hello']);
  });

  it('keeps text without a blank line as one head', () => {
    expect(splitMessages('HTTP/1.1 200 OK\r\nDate')).toEqual([{ at: 0, head: 'HTTP/1.1 200 OK\r\nDate', body: '' }]);
  });
});

describe('showMessage', () => {
  it('shows a binary body as its size and first bytes, the head byte for byte', () => {
    const lines = showMessage(response(binary(200), 'application/octet-stream'));
    expect(lines.at(-1)).toEqual({ text: '<200 bytes of binary body, starting 07 8a 0d 90 13 96 19 9c …>', note: true });
    expect(texts(lines)[0]).toBe('HTTP/1.1 200 OK\\r\\n');
    expect(lines).toHaveLength(5);
  });

  it('counts the bytes of a binary body left out of the transcript, and says when it differs from Content-Length', () => {
    const cut = response(binary(200)).slice(0, -100);
    expect(showMessage(cut, { total: cut.length + 100 }).at(-1)!.text).toMatch(/^<200 bytes of binary body, starting /);
    const short = response(binary(200)).slice(0, -100);
    expect(showMessage(short).at(-1)!.text).toMatch(/^<100 bytes of binary body \(Content-Length said 200\), starting /);
  });

  it('counts the replacement characters of bytes that went through a text decoder', () => {
    const mangled = utf8(Buffer.from(binary(64), 'latin1').toString('utf8'));
    const count = mangled.split(utf8('\ufffd')).length - 1;
    expect(showMessage(response(mangled)).at(-1)!.text).toBe(
      `<${mangled.length} bytes of binary body, starting ${hexPrefix(mangled)}; it holds ${count} U+FFFD (ef bf bd), the character that replaces bytes which are not valid text>`,
    );
  });

  it('shows the bytes where a binary body first differs', () => {
    const body = binary(40);
    expect(showMessage(response(body), { bodyMark: 17 }).at(-1)!.text).toBe(`<40 bytes of binary body, starting ${hexPrefix(body)}; from byte 17: ${hexPrefix(body.slice(17))}>`);
  });

  it('shows a UTF-8 body as text, and the head byte for byte', () => {
    const text = showMessage(`HTTP/1.1 200 OK\r\nX-Name: ${utf8('é')}\r\n\r\n${utf8('café ✓')}`);
    expect(texts(text)).toEqual(['HTTP/1.1 200 OK\\r\\n', 'X-Name: \\xc3\\xa9\\r\\n', '\\r\\n', 'café ✓']);
  });

  it('shows every message of a stream, each body its own way', () => {
    const lines = texts(showMessage(response(binary(64)) + response('ok')));
    expect(lines.filter((l) => l.startsWith('<64 bytes of binary body'))).toHaveLength(1);
    expect(lines.at(-1)).toBe('ok');
  });

  it('leaves out a later message whose head does not fit, counting the bytes from its start', () => {
    const req = 'GET / HTTP/1.1\r\nHost: x\r\n\r\n';
    const lines = showMessage(req.repeat(5), { maxLines: 10 });
    expect(texts(lines)).toEqual([...Array(3).fill(['GET / HTTP/1.1\\r\\n', 'Host: x\\r\\n', '\\r\\n']).flat(), `… ${2 * req.length} more bytes not shown`]);
  });

  it('shows the whole stream byte for byte when the caret is past the first head', () => {
    const stream = response('ab') + 'HTTP/1.1 200 OK\nX: y\r\n\r\n';
    const lines = showMessage(stream, { caretAt: stream.indexOf('\nX') });
    // The second response follows the first body on the same line: the bytes, exactly as they came.
    expect(caretLines(lines)).toEqual([{ text: 'abHTTP/1.1 200 OK\\n', caret: 17 }]);
  });

  it('puts the caret in the head when the violation is there', () => {
    const lines = showMessage('HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n', { caretAt: 15 });
    expect(caretLines(lines)).toEqual([{ text: 'HTTP/1.1 200 OK\\n', caret: 15 }]);
  });

  it('says how many bytes of a text body were left out', () => {
    const cut = response('x'.repeat(100)).slice(0, -60);
    expect(showMessage(cut, { total: cut.length + 60 }).at(-1)).toEqual({ text: '… 60 more bytes not shown', note: true });
  });
});
