import type { Exchange } from '../../report/model.ts';

// Transcripts keep the start of each direction: enough to show a student what happened without
// putting a megabyte body in a report.
export const TRANSCRIPT_LIMIT = 4096;

export function toExchange(sent: Buffer, received: Buffer, extra: Partial<Exchange> = {}): Exchange {
  const limit = Math.max(TRANSCRIPT_LIMIT, (extra.violation?.offset ?? 0) + 256);
  return {
    sent: sent.toString('latin1', 0, Math.min(sent.length, TRANSCRIPT_LIMIT)),
    sentBytes: sent.length,
    received: received.toString('latin1', 0, Math.min(received.length, limit)),
    receivedBytes: received.length,
    ...extra,
  };
}
