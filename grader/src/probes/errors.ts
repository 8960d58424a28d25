import type { Exchange } from '../report/model.ts';
import type { FailureCode } from '../checks/codes.ts';

// A probe failure caused by the server (refused, reset, silent, malformed). The runner turns it into
// a failed check with this evidence; any other exception is a grader error.
export class ProbeError extends Error {
  constructor(
    readonly code: FailureCode,
    message: string,
    readonly exchange?: Exchange,
    /** The server's own output, when it explains the failure (a crash on restart). */
    readonly output?: string,
  ) {
    super(message);
    this.name = 'ProbeError';
  }
}

export const isProbeError = (e: unknown): e is ProbeError => e instanceof ProbeError;
