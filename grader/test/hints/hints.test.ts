import { describe, expect, it } from 'vitest';
import { FAILURE_CODES, type FailureCode } from '../../src/checks/codes.ts';
import { hintFor } from '../../src/hints/hints.ts';

// Hints follow failure codes: every code has an entry (a hint, or a deliberate null where the
// cause is uncertain), and the codes students meet most often have a real hint.
const OFTEN: FailureCode[] = [
  'connection-refused', 'connection-reset', 'eof-before-response', 'eof-mid-response', 'no-response', 'response-never-ends',
  'server-exited', 'never-listened', 'wrong-address', 'missing-server-file', 'bare-lf', 'missing-content-length', 'wrong-content-length',
  'partial-read', 'not-closed', 'close-not-announced', 'not-kept-alive', 'head-with-body', 'body-mismatch', 'pipelining',
  'blocked-by-idle-client', 'blocked-by-silent-client', 'slow-keep-alive', 'real-client', 'address-in-use', 'wrong-backlog', 'check-timeout',
];

describe('hints', () => {
  it('the codes students meet most have a hint in plain words', () => {
    for (const code of OFTEN) expect(hintFor(code), code).toMatch(/\w{3,} \w{3,}/);
  });

  it('codes whose cause is uncertain carry no guess', () => {
    for (const code of ['wrong-status', 'wrong-header', 'wrong-body', 'connect-failed'] as const) expect(hintFor(code), code).toBeUndefined();
  });

  it('only known codes have hints, and unknown ones get none', () => {
    expect(Object.keys(FAILURE_CODES).length).toBeGreaterThan(40);
    expect(hintFor('no-such-code')).toBeUndefined();
    expect(hintFor(undefined)).toBeUndefined();
  });
});
