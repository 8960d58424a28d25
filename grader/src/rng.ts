import { createHash, randomBytes } from 'node:crypto';

// Probes draw names, bodies and values from a seeded generator, so a server that hard-codes answers
// to known probes fails, and `--seed` reproduces any run exactly.

export interface Rng {
  /** A float in [0, 1). */
  next(): number;
  int(min: number, max: number): number;
  pick<T>(items: readonly T[]): T;
  /** Lower-case letters and digits, starting with a letter. */
  word(length?: number): string;
  /** Like word, in mixed case ("kQzA9p"): a server that lower-cases or matches case fails. */
  mixedWord(length?: number): string;
  /** Text with characters outside ASCII (é, ü, ß, 東, emoji), for UTF-8 handling. */
  unicodeWord(length?: number): string;
  /** A shuffled copy. */
  shuffle<T>(items: readonly T[]): T[];
  bytes(n: number): Buffer;
}

const NON_ASCII = ['é', 'ü', 'ß', 'ñ', 'ø', 'ç', 'Ж', 'λ', '東', '京', '✓', '€', '😀'];

/** What a seed given on a command line may look like. */
export const SEED = /^[0-9a-zA-Z_-]{1,64}$/;

export const newSeed = (): string => randomBytes(4).toString('hex');

/** A generator for one purpose (a check id), independent of every other purpose's draws. */
export function rngFor(seed: string, purpose: string): Rng {
  const h = createHash('sha256').update(`${seed}/${purpose}`).digest();
  let a = h.readUInt32LE(0);
  // mulberry32: small, fast, and good enough to vary probes
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  const alnum = letters + '0123456789';
  return {
    next,
    int,
    pick: (items) => items[Math.floor(next() * items.length)]!,
    word: (length = 8) => letters[int(0, 25)] + Array.from({ length: length - 1 }, () => alnum[int(0, 35)]).join(''),
    mixedWord: (length = 8) => {
      const w = letters[int(0, 25)] + Array.from({ length: length - 1 }, () => alnum[int(0, 35)]).join('');
      // At least one capital and one small letter, wherever they fall.
      const chars = [...w].map((ch) => (next() < 0.5 ? ch.toUpperCase() : ch));
      chars[0] = chars[0]!.toUpperCase();
      const small = chars.findIndex((ch, i) => i > 0 && /[a-z]/i.test(ch));
      if (small > 0) chars[small] = chars[small]!.toLowerCase();
      else chars.push('q');
      return chars.join('');
    },
    unicodeWord: (length = 6) => {
      const out = Array.from({ length }, () => (next() < 0.5 ? letters[int(0, 25)] : NON_ASCII[int(0, NON_ASCII.length - 1)]));
      out[int(0, length - 1)] = NON_ASCII[int(0, NON_ASCII.length - 1)]!;
      return out.join('');
    },
    shuffle: (items) => {
      const out = [...items];
      for (let i = out.length - 1; i > 0; i--) {
        const j = int(0, i);
        [out[i], out[j]] = [out[j]!, out[i]!];
      }
      return out;
    },
    bytes: (n) => {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = int(0, 255);
      return b;
    },
  };
}
