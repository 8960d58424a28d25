// Bytes as a student can read them: CR and LF shown as \r and \n (each line of the transcript ends
// where the bytes had a \n), other invisible bytes as \xNN. A message head is always shown byte
// for byte; a body that is UTF-8 text is shown as text, and a binary body as its size and first bytes.

export interface ShownLine {
  text: string;
  /** Column of the byte at `caretAt`, when it falls on this line. */
  caret?: number;
  /** Not bytes but words about them: a summary of a binary body, or how much was left out. */
  note?: true;
}

export interface ShowOptions {
  caretAt?: number;
  maxLines?: number;
  maxLineLength?: number;
}

const CONTROL = (cp: number) => cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
/** Characters that reorder or hide text on a terminal: shown as escapes even in decoded text. */
const INVISIBLE = (cp: number) => (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069) || cp === 0x2028 || cp === 0x2029 || cp === 0xfeff || cp === 0x200b;

function escapeCommon(cp: number): string | undefined {
  if (cp === 13) return '\\r';
  if (cp === 10) return '\\n';
  if (cp === 9) return '\\t';
  if (cp === 0x5c) return '\\\\';
  if (CONTROL(cp)) return `\\x${cp.toString(16).padStart(2, '0')}`;
  return undefined;
}

/** One byte (a latin-1 char) as shown: printable ASCII as is, anything else escaped. */
const escapeByte = (cp: number): string => escapeCommon(cp) ?? (cp < 0x7f ? String.fromCharCode(cp) : `\\x${cp.toString(16).padStart(2, '0')}`);

/** One decoded character as shown: printable characters as they are, controls escaped. */
const escapeChar = (cp: number): string => escapeCommon(cp) ?? (INVISIBLE(cp) ? `\\u{${cp.toString(16)}}` : String.fromCodePoint(cp));

/** Splits latin-1 text into escaped lines, marking the column of byte `caretAt`. */
export function showBytes(text: string, opts: ShowOptions = {}): ShownLine[] {
  return showLines(text, escapeByte, opts);
}

/** Like showBytes, for text already decoded (from UTF-8): non-ASCII characters are shown as themselves. */
export function showText(text: string, opts: Omit<ShowOptions, 'caretAt'> = {}): ShownLine[] {
  return showLines(text, escapeChar, opts);
}

function showLines(text: string, escape: (cp: number) => string, opts: ShowOptions): ShownLine[] {
  const maxLines = opts.maxLines ?? 24;
  const maxLen = opts.maxLineLength ?? 160;
  const lines: ShownLine[] = [];
  let cur = '';
  let caret: number | undefined;
  let caretLine = -1;
  for (let i = 0; i < text.length; ) {
    const cp = text.codePointAt(i)!;
    if (i === opts.caretAt) caret = cur.length;
    cur += escape(cp);
    i += cp > 0xffff ? 2 : 1;
    if (cp === 10 || i >= text.length) {
      if (caret !== undefined && caretLine < 0) caretLine = lines.length;
      lines.push(caret !== undefined && caretLine === lines.length ? { text: cur, caret } : { text: cur });
      cur = '';
      caret = undefined;
    }
  }
  if (opts.caretAt !== undefined && opts.caretAt >= text.length) {
    // Just after the last byte: on the last line, or on a new one if the text ended with a \n.
    const last = lines.at(-1);
    if (last && !text.endsWith('\n')) last.caret = last.text.length;
    else lines.push({ text: '', caret: 0 });
    caretLine = lines.length - 1;
  }
  // Keep the start, and the line with the caret if it is further down.
  let shown = lines.slice(0, maxLines);
  if (caretLine >= maxLines) {
    const from = Math.max(4, caretLine - 2);
    const to = caretLine + 3;
    shown = [...lines.slice(0, 4), ...(from > 4 ? [{ text: `… ${from - 4} lines …` }] : []), ...lines.slice(from, to)];
    if (lines.length > to) shown.push({ text: `… ${lines.length - to} more lines` });
  } else if (lines.length > maxLines) shown.push({ text: `… ${lines.length - maxLines} more lines` });
  return shown.map((l) => cutLine(l, maxLen));
}

/** Cuts a long line; when the caret is past the cut, shows a window around it instead. */
function cutLine(l: ShownLine, maxLen: number): ShownLine {
  if (l.text.length <= maxLen) return l;
  if (l.caret === undefined || l.caret < maxLen) return { ...l, text: `${l.text.slice(0, maxLen)}… (${l.text.length - maxLen} more)` };
  const from = l.caret - Math.floor(maxLen / 2);
  const head = `… (${from} before) `;
  const rest = l.text.length - from - maxLen;
  return { text: `${head}${l.text.slice(from, from + maxLen)}${rest > 0 ? `… (${rest} more)` : ''}`, caret: head.length + l.caret - from };
}

/** One HTTP message in a byte stream: `head` runs to the blank line included; `body` follows it. */
export interface MessagePart {
  /** Offset of the head in the text. */
  at: number;
  head: string;
  body: string;
  /** The Content-Length the head announced, when it announced one. */
  declared?: number;
}

/**
 * Cuts latin-1 text into messages: each head up to its blank line, then its body: Content-Length
 * bytes; without one, nothing for a request and the rest for a response; nothing either where the
 * next response starts at once (after HEAD). Text without a complete head is one part with no body.
 */
export function splitMessages(text: string): MessagePart[] {
  const parts: MessagePart[] = [];
  for (let at = 0; at < text.length; ) {
    const end = text.indexOf('\r\n\r\n', at);
    if (end < 0) {
      parts.push({ at, head: text.slice(at), body: '' });
      break;
    }
    const head = text.slice(at, end + 4);
    const m = /^content-length:[ \t]*(\d+)[ \t]*\r$/im.exec(head);
    const declared = m ? Number(m[1]) : undefined;
    const response = head.startsWith('HTTP/');
    // Without Content-Length a request has no body, and a response's body runs to the end.
    let bodyEnd = declared !== undefined ? Math.min(text.length, end + 4 + declared) : response ? text.length : end + 4;
    // A response to HEAD announces a length but has no body: the next message starts right away.
    if (text.startsWith('HTTP/', end + 4)) bodyEnd = end + 4;
    parts.push({ at, head, body: text.slice(end + 4, bodyEnd), ...(declared !== undefined ? { declared } : {}) });
    at = bodyEnd;
  }
  return parts;
}

const decoder = new TextDecoder('utf-8', { fatal: true });

/** Latin-1 text (one char per byte) decoded as UTF-8; undefined when it is not valid UTF-8. A sequence cut at the end is dropped. */
export function decodeUtf8(latin1: string): string | undefined {
  const bytes = Buffer.from(latin1, 'latin1');
  for (let cut = 0; cut <= Math.min(3, bytes.length); cut++) {
    try {
      return decoder.decode(bytes.subarray(0, bytes.length - cut));
    } catch {
      // A multi-byte sequence may have been cut at the end of a transcript: try without its start.
    }
  }
  return undefined;
}

export type BodyKind = 'ascii' | 'utf8' | 'binary' | 'bytes';

const REPLACEMENT = '\ufffd';

/**
 * What a body is, for showing it: plain ASCII, UTF-8 text with other characters, binary (more than
 * a tenth of it, and at least four, are neither printable nor valid UTF-8: controls, bytes outside
 * UTF-8, or U+FFFD, which bytes that were not text become when decoded as text), or bytes with a
 * few odd ones, shown escaped.
 */
export function bodyKind(latin1: string): BodyKind {
  const odd = (n: number, of: number) => n >= 4 && n > of / 10;
  const decoded = decodeUtf8(latin1);
  if (decoded !== undefined) {
    let chars = 0;
    let strange = 0;
    for (const ch of decoded) {
      chars++;
      if ((CONTROL(ch.codePointAt(0)!) && ch !== '\r' && ch !== '\n' && ch !== '\t') || ch === REPLACEMENT) strange++;
    }
    if (odd(strange, chars)) return 'binary';
    return /^[\x00-\x7f]*$/.test(latin1) ? 'ascii' : 'utf8';
  }
  let outside = 0;
  for (let i = 0; i < latin1.length; i++) {
    const b = latin1.charCodeAt(i);
    if (b >= 0x7f || (b < 0x20 && b !== 9 && b !== 10 && b !== 13)) outside++;
  }
  return odd(outside, latin1.length) ? 'binary' : 'bytes';
}

/** The first bytes as hex pairs: "3f a1 07 …". */
export function hexPrefix(latin1: string, count = 8): string {
  const hex = Array.from(latin1.slice(0, count), (ch) => ch.charCodeAt(0).toString(16).padStart(2, '0')).join(' ');
  return latin1.length > count ? `${hex} …` : hex;
}

export interface MessageOptions extends ShowOptions {
  /** Bytes in the stream from the start of `text`, when the text was cut. */
  total?: number;
  /** A body offset worth seeing in a binary body (where it first differs from what was expected). */
  bodyMark?: number;
}

/**
 * An HTTP byte stream as shown: every head byte for byte, every body as text or as a summary. A
 * caret past the first head shows the whole stream byte for byte, so the caret's column is exact.
 */
export function showMessage(text: string, opts: MessageOptions = {}): ShownLine[] {
  const total = Math.max(opts.total ?? text.length, text.length);
  const parts = splitMessages(text);
  const firstHead = parts[0]?.head.length ?? 0;
  if (opts.caretAt !== undefined && (opts.caretAt >= firstHead || !parts[0]?.head.endsWith('\r\n\r\n'))) {
    const lines = showBytes(text, opts);
    return total > text.length ? [...lines, { text: `… ${total - text.length} more bytes not shown`, note: true }] : lines;
  }
  const maxLines = opts.maxLines ?? 24;
  const lines: ShownLine[] = [];
  for (const [i, part] of parts.entries()) {
    const last = i === parts.length - 1;
    const room = maxLines - lines.length;
    // A later message whose head does not fit is left out whole, with the count of what follows.
    if (i > 0 && lineCount(part.head) > room) {
      lines.push({ text: `… ${total - part.at} more bytes not shown`, note: true });
      return lines;
    }
    lines.push(...showBytes(part.head, { ...opts, maxLines: room, ...(i === 0 ? {} : { caretAt: undefined }) }));
    const missing = last ? total - text.length : 0;
    if (part.body || missing) lines.push(...showBody(part, missing, { ...opts, maxLines: Math.max(4, maxLines - lines.length) }));
  }
  return lines;
}

const lineCount = (text: string): number => text.split('\n').length - (text.endsWith('\n') ? 1 : 0);

function showBody(part: MessagePart, missing: number, opts: MessageOptions): ShownLine[] {
  const { body } = part;
  const kind = bodyKind(body);
  if (kind === 'binary') {
    const size = body.length + missing;
    const announced = part.declared !== undefined && part.declared !== size ? ` (Content-Length said ${part.declared})` : '';
    const mark = opts.bodyMark !== undefined && opts.bodyMark > 0 && opts.bodyMark < body.length ? `; from byte ${opts.bodyMark}: ${hexPrefix(body.slice(opts.bodyMark))}` : '';
    const replaced = decodeUtf8(body)?.split(REPLACEMENT).length ?? 1;
    const because = replaced > 1 ? `; it holds ${replaced - 1} U+FFFD (ef bf bd), the character that replaces bytes which are not valid text` : '';
    return [{ text: `<${size} bytes of binary body${announced}, starting ${hexPrefix(body)}${mark}${because}>`, note: true }];
  }
  const limits = { maxLines: opts.maxLines, maxLineLength: opts.maxLineLength };
  const lines = kind === 'utf8' ? showText(decodeUtf8(body)!, limits) : showBytes(body, limits);
  return missing ? [...lines, { text: `… ${missing} more bytes not shown`, note: true }] : lines;
}
