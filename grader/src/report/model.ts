// The one result model every reporter renders. Its JSON Schema is grader/schema/result.schema.json;
// keep the two in step (a test validates real runs against the schema).

export type Track = 'ts' | 'py';

/**
 * `not-run`: the check was never run (the server could not be started for it, --bail stopped the
 * unit, or the run reached its time limit); `error`: the grader itself failed, which costs nothing.
 */
export type CheckStatus = 'pass' | 'fail' | 'partial' | 'error' | 'skipped' | 'not-run';

export type NotRunReason = 'server-did-not-start' | 'bail' | 'run-time-limit';

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
  /** How the request was cut into writes, when it was not sent in one. */
  split?: string;
  /** The rest of a split request, not sent because the server had answered its first piece. */
  heldBack?: string;
  /** The port the server listened on, so the report can turn the request into a command to paste. */
  port?: number;
}

/** Where a rule comes from: the HTTP specifications, or the course asking for more than they do. */
export interface RuleRef {
  id: string;
  /** "RFC 9112 §6.3 (MUST)", or "course rule". */
  source: string;
  /** For a course rule: what HTTP itself allows, and why the course asks for more. */
  note?: string;
}

/** One case of a check: one request (or one small exchange) and its verdict. */
export interface CaseResult {
  name: string;
  status: 'pass' | 'fail';
  code?: string;
  rule?: RuleRef;
  /** Why it failed, in one line; what was seen, for a pass. */
  message?: string;
  exchange?: Exchange;
  /** The server's processes as the case saw them, when that is its evidence. */
  tree?: ProcessTree;
  weight?: number;
}

/** One process of the server, as a process check saw it. */
export interface ProcessNode {
  pid: number;
  ppid: number;
  /** One letter, as ps shows it: R running, S sleeping, Z zombie, ... */
  state: string;
  command: string;
  threads?: number;
  /** Open fds: sockets apart, whether it holds the listening socket, how many client connections. */
  fds?: { total: number; sockets: number; listener: boolean; clients: number };
  rssKb?: number;
  /** What the check points at: "zombie", "holds the listening socket", "orphan", ... */
  marks?: string[];
}

/** The server's process tree at one moment, with the state of its port. */
export interface ProcessTree {
  caption: string;
  rootPid: number;
  processes: ProcessNode[];
  acceptQueue?: number;
  backlog?: number;
  /** The server's side of the connections on its port, by TCP state. */
  connections?: Record<string, number>;
}

/** A figure a check measured, shown beside what was predicted or allowed, pass or fail. */
export interface Measurement {
  label: string;
  value: number;
  unit?: string;
  /** What the course predicts or allows, in words ("3 threads / 0.1 s = 30/s"). */
  expected?: string;
  /** Shown under a passing check too (a throughput beside its prediction); the rest only when it fails, or with --verbose. */
  headline?: boolean;
  /** The latencies behind a figure measured under load, drawn as a small chart. */
  latency?: LatencySummary;
}

/** Latencies of one load run, in ms, with their counts over a log scale: enough to draw them. */
export interface LatencySummary {
  /** Responses timed. */
  count: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
  /** Responses by latency, `fromMs` ≤ latency < `toMs`, on a 1-2-5 scale, from the first range with any to the last. */
  buckets: LatencyBucket[];
}

export interface LatencyBucket {
  fromMs: number;
  toMs: number;
  count: number;
}

/** A structured figure: a number, a word, or a small table (percentiles, a process snapshot). */
export type Value = string | number | boolean | null | Value[] | { [key: string]: Value };

export interface Evidence {
  /** One line: what was wrong, or what was seen. */
  message: string;
  exchanges?: Exchange[];
  /** Figures and facts measured during the check. */
  values?: Record<string, Value>;
  /** The last lines the server printed (stdout and stderr together), when they explain the failure. */
  output?: string;
  /** The server's processes, as the check saw them. */
  tree?: ProcessTree;
  /** Figures shown in the report whatever the verdict (throughput beside its prediction, context switches). */
  measurements?: Measurement[];
}

export interface CheckResult {
  id: string;
  title: string;
  points: number;
  score: number;
  status: CheckStatus;
  durationMs: number;
  /** Stable machine code for the failure (the first failed case's, or the check's own); keys the hints. */
  code?: string;
  /** Why a `not-run` check did not run. */
  notRun?: NotRunReason;
  /** The cases the check is made of, in order, passing ones too. */
  cases?: CaseResult[];
  evidence: Evidence;
  hint?: string;
}

/** One start of the server that failed: the first, or a restart before or during a check. */
export interface StartFailure {
  /** The check it was started for. */
  check: string;
  code: string;
  message: string;
  output?: string;
  hint?: string;
}

export interface ServerReport {
  command: string;
  /** Milliseconds from spawn until the port was listening (first start). */
  startMs?: number;
  starts: number;
  /** Processes still alive after SIGTERM, and descendants that had left the server's process group; all killed. */
  leftBehind: string[];
  /** The last lines the server printed, stdout and stderr interleaved. */
  outputTail?: string;
  /** Every start that failed, in order, each named by the check it was for. */
  startFailures: StartFailure[];
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
  /** The percentage of maxScore needed to pass, as given by --pass-mark. */
  passPercent: number;
  /** Score needed to pass, in points. */
  passMark: number;
  passed: boolean;
  /** Checks where the grader itself failed; they cost no points but block passing. */
  graderErrors: number;
  /** Checks not started because the run reached its time limit; they cost no points but block passing. */
  unfinished: number;
  /** --bail stopped the run at the first failed check. */
  bailed: boolean;
  /** The hint for every failure code in this result that has one, said once. */
  hints: Record<string, string>;
  exercises: ExerciseResult[];
}
