// What a fixture service's checks wait on: a condition over its record, tested again whenever the
// record changes, with a deadline and the check's abort signal. A reset lets every waiter go.

interface Waiter {
  test: () => boolean;
  resolve: (ok: boolean) => void;
}

export class Waiters {
  private waiting: Waiter[] = [];

  /** True as soon as `test` holds; false when the time or the signal runs out first, or on `cancelAll`. */
  when(test: () => boolean, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<boolean> {
    if (test()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        opts.signal?.removeEventListener('abort', onAbort);
        this.waiting = this.waiting.filter((w) => w !== waiter);
        resolve(ok);
      };
      const onAbort = () => done(false);
      const waiter: Waiter = { test, resolve: done };
      const timer = setTimeout(() => done(false), opts.timeoutMs);
      opts.signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  /** Tests every waiter again: call it whenever the record changes. */
  wake(): void {
    for (const w of [...this.waiting]) if (w.test()) w.resolve(true);
  }

  cancelAll(): void {
    for (const w of this.waiting.splice(0)) w.resolve(false);
  }
}
