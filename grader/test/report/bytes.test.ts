import { describe, expect, it } from 'vitest';
import { showBytes, type ShownLine } from '../../src/report/bytes.ts';

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
