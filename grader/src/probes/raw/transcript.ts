import type { Exchange } from '../../report/model.ts';

// Transcripts keep the start of each direction: enough to show a student what happened without
// putting a megabyte body in a report. A violation further in is shown with the bytes around it.
export const TRANSCRIPT_LIMIT = 4096;
const BEFORE_VIOLATION = 1024;
const AFTER_VIOLATION = 256;

export function toExchange(sent: Buffer, received: Buffer, extra: Partial<Exchange> = {}): Exchange {
  const offset = extra.violation?.offset;
  const from = offset !== undefined && offset + AFTER_VIOLATION > TRANSCRIPT_LIMIT ? Math.max(0, offset - BEFORE_VIOLATION) : 0;
  const to = from ? Math.min(received.length, offset! + AFTER_VIOLATION) : Math.min(received.length, TRANSCRIPT_LIMIT);
  return {
    sent: sent.toString('latin1', 0, Math.min(sent.length, TRANSCRIPT_LIMIT)),
    sentBytes: sent.length,
    received: received.toString('latin1', from, to),
    receivedBytes: received.length,
    ...(from ? { receivedFrom: from } : {}),
    ...extra,
  };
}
