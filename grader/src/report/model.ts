// The one result model every reporter renders. Its JSON Schema is grader/schema/result.schema.json;
// keep the two in step (a test validates real runs against the schema).

export type Track = 'ts' | 'py';

export type CheckStatus = 'pass' | 'fail' | 'partial' | 'error' | 'skipped';

/** Bytes exchanged on one connection, as latin-1 text (one char per byte), cut to a readable size. */
export interface Exchange {
  label?: string;
  sent: string;
  sentBytes: number;
  received: string;
  receivedBytes: number;
  /** Offset in the stream of the first byte of `received`, when the start was left out. */
  receivedFrom?: number;
  /** What a correct server would have sent, in words or bytes. */
  expected?: string;
  /** The first protocol violation in `received`, with the offset of the offending byte. */
  violation?: { code: string; message: string; offset: number };
}

export interface Evidence {
  /** One line: what was wrong, or what was seen. */
  message: string;
  exchanges?: Exchange[];
  /** Numbers and facts measured during the check. */
  values?: Record<string, string | number | boolean>;
  /** Tail of the server's stderr, when the server's own output explains the failure. */
  stderr?: string;
}

export interface CheckResult {
  id: string;
  title: string;
  points: number;
  score: number;
  status: CheckStatus;
  durationMs: number;
  /** Stable machine code for the failure (probe error or check-specific); keys the hints. */
  code?: string;
  evidence: Evidence;
  hint?: string;
}

export interface ServerReport {
  command: string;
  /** Milliseconds from spawn until the port was listening (first start). */
  startMs?: number;
  starts: number;
  /** Processes still alive after SIGTERM, and descendants that had left the server's process group; all killed. */
  leftBehind: string[];
  stderrTail?: string;
  /** Why the server could not be started (or restarted); the checks after it did not run. */
  startFailure?: { code: string; message: string; output?: string; hint?: string };
}

export interface ExerciseResult {
  id: string;
  title: string;
  track: Track;
  score: number;
  maxScore: number;
  durationMs: number;
  server?: ServerReport;
  checks: CheckResult[];
}

export interface RunResult {
  tool: { name: 'serverlab'; version: string };
  target: string;
  seed: string;
  startedAt: string;
  durationMs: number;
  platform: string;
  score: number;
  maxScore: number;
  /** Score needed to pass, in points. */
  passMark: number;
  passed: boolean;
  /** Checks the grader could not run (a grader error, or the run's time limit); they cost no points but block passing. */
  graderErrors: number;
  exercises: ExerciseResult[];
}
