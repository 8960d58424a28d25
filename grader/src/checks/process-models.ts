import type { CheckContext } from './define.ts';
import { SlowUpstream } from '../services/upstream.ts';
import type { RawConnection } from '../probes/raw/connection.ts';
import { header, type ParsedResponse } from '../probes/raw/parse-response.ts';
import { isProbeError, ProbeError } from '../probes/errors.ts';

// What the process-model exercises (05-08) share: the slow upstream their servers call, requests
// sent through the server to it, and reading who served each one.

/** The services of an exercise whose server calls the slow upstream. */
export const upstreamServices = async () => [await SlowUpstream.start()];

export const upstreamOf = (ctx: CheckContext): SlowUpstream => ctx.service<SlowUpstream>('upstream');

/** The server's route to the upstream: `GET /upstream/NAME` makes it fetch `UPSTREAM_URL/NAME`. */
export const upstreamTarget = (name: string): string => `/upstream/${name}`;

export interface Sent {
  name: string;
  conn: RawConnection;
  /** Reads the answer; a probe failure (silence, reset, malformed bytes) comes back as the error. */
  answer(idleTimeoutMs?: number): Promise<ParsedResponse | ProbeError>;
}

/**
 * Opens one connection per target, all first, then sends the requests, last opened first: a server
 * that serves one connection at a time then waits on a connection whose request comes last, and
 * deadlocks instead of passing by luck.
 */
export async function sendAll(ctx: CheckContext, targets: string[]): Promise<Sent[]> {
  const conns: RawConnection[] = [];
  for (const t of targets) conns.push(await ctx.connect({ label: t }));
  for (let i = targets.length - 1; i >= 0; i--) await conns[i]!.send(ctx.request({ target: targets[i]! }));
  return targets.map((name, i) => {
    const conn = conns[i]!;
    let read: Promise<ParsedResponse | ProbeError> | undefined;
    return {
      name,
      conn,
      answer: (idleTimeoutMs?: number) =>
        (read ??= conn.readResponse(idleTimeoutMs ? { idleTimeoutMs } : {}).catch((e: unknown) => {
          if (isProbeError(e)) return e;
          throw e;
        })),
    };
  });
}

/** One request on a connection of its own, and its answer; a probe failure is thrown. */
export async function getOnce(ctx: CheckContext, target: string, idleTimeoutMs?: number): Promise<{ res: ParsedResponse; conn: RawConnection }> {
  const conn = await ctx.connect({ label: target });
  await conn.send(ctx.request({ target }));
  const res = await conn.readResponse(idleTimeoutMs ? { idleTimeoutMs } : {});
  return { res, conn };
}

/** The pid the server says served a response (`X-Served-By`), or undefined. */
export function servedBy(res: ParsedResponse): number | undefined {
  const v = header(res, 'x-served-by');
  return v && /^\d+$/.test(v.trim()) ? Number(v.trim()) : undefined;
}

/** Polls `test` every few milliseconds until it holds or `timeoutMs` passes; true if it held. */
export async function eventually(test: () => Promise<boolean> | boolean, opts: { timeoutMs: number; signal?: AbortSignal; intervalMs?: number }): Promise<boolean> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    if (await test()) return true;
    if (Date.now() > deadline || opts.signal?.aborted) return false;
    await new Promise((r) => setTimeout(r, opts.intervalMs ?? 25));
  }
}

export { ProbeError };
