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
  bytes(n: number): Buffer;
}

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
    bytes: (n) => {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = int(0, 255);
      return b;
    },
  };
}
