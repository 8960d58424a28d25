// Bytes as a student can read them: CR and LF shown as \r and \n (each line of the transcript ends
// where the bytes had a \n), other invisible bytes as \xNN.

export interface ShownLine {
  text: string;
  /** Column of the byte at `caretAt`, when it falls on this line. */
  caret?: number;
}

function escapeByte(code: number): string {
  if (code === 13) return '\\r';
  if (code === 10) return '\\n';
  if (code === 9) return '\\t';
  if (code === 0x5c) return '\\\\';
  if (code >= 0x20 && code < 0x7f) return String.fromCharCode(code);
  return `\\x${code.toString(16).padStart(2, '0')}`;
}

/** Splits latin-1 text into escaped lines, marking the column of byte `caretAt`. */
export function showBytes(text: string, opts: { caretAt?: number; maxLines?: number; maxLineLength?: number } = {}): ShownLine[] {
  const maxLines = opts.maxLines ?? 24;
  const maxLen = opts.maxLineLength ?? 160;
  const lines: ShownLine[] = [];
  let cur = '';
  let caret: number | undefined;
  let caretLine = -1;
  for (let i = 0; i < text.length; i++) {
    if (i === opts.caretAt) caret = cur.length;
    cur += escapeByte(text.charCodeAt(i));
    if (text.charCodeAt(i) === 10 || i === text.length - 1) {
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
