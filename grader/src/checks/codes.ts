// Every failure code a case, a probe or a server start can report: one typed list, so a hint, a
// grouping in the report and a broken fixture's fault.json can only name codes that exist. Each
// code says in a few words what was seen; hints (hints/hints.ts) say what usually causes it.

import gateway from './codes/04-gateway.ts';
import fork from './codes/05-fork.ts';
import prefork from './codes/06-prefork.ts';
import threads from './codes/07-threads.ts';
import eventLoop from './codes/08-event-loop.ts';
import proxy from './codes/09-proxy.ts';

const BASE_CODES = {
  // The connection itself
  'connection-refused': 'the connection was refused (nothing listening)',
  'connect-failed': 'the connection could not be opened',
  'connect-timeout': 'the connection was not accepted in time',
  'connection-reset': 'the server reset the connection without answering',
  'eof-before-response': 'the server closed the connection without answering',
  'eof-mid-response': 'the connection closed in the middle of a response',
  'no-response': 'the server accepted the connection but never answered',
  'response-never-ends': 'the response body never ended',
  'response-stalled': 'the response stopped in the middle',
  'response-too-large': 'far more bytes came back than a response should hold',
  // The strict response parser
  'bad-status-line': 'the status line is malformed',
  'bad-version': 'the status line names an HTTP version other than 1.x',
  'bad-status-code': 'the status code is out of range',
  'bad-reason-phrase': 'the reason phrase holds a control character',
  'bare-lf': 'a line ends with \\n alone, not \\r\\n',
  'bare-cr': 'a \\r is not followed by \\n',
  'obs-fold': 'a header line starts with whitespace',
  'header-without-colon': 'a header line has no colon',
  'space-before-colon': 'whitespace between a header name and its colon',
  'bad-header-name': 'a header name holds a character a name may not have',
  'bad-header-value': 'a header value holds a control character',
  'headers-too-large': 'the response head is far too long',
  'bad-content-length': 'Content-Length is not a number of bytes',
  'conflicting-content-length': 'two Content-Length values disagree',
  'te-and-content-length': 'both Transfer-Encoding and Content-Length were sent',
  'body-not-allowed': 'a response that may not have a body has one',
  'framing-not-allowed': 'the body is not framed by Content-Length',
  'missing-content-length': 'a response has no Content-Length',
  'bad-chunk-size': 'a chunk size is not hexadecimal',
  'bad-chunk-end': 'chunk data is not followed by \\r\\n',
  // What a case compares
  'wrong-status': 'the status code is not the expected one',
  'missing-header': 'a required header is missing',
  'wrong-header': 'a header has the wrong value',
  'wrong-content-length': 'Content-Length does not count the body bytes',
  'wrong-body': 'the body is not the expected one',
  'body-mismatch': 'the echoed body differs from what was sent',
  'head-with-body': 'a response to HEAD carried a body',
  'not-closed': 'the connection stayed open after a response that should end it',
  'bytes-after-response': 'more bytes came after a response that should have been the last',
  'close-not-announced': 'the server closed the connection without saying Connection: close',
  'not-kept-alive': 'the server closed a connection that should stay open',
  'pipelining': 'requests sent together were not all answered in order',
  'partial-read': 'a request sent in pieces was answered as if the first piece were all of it',
  'blocked-by-idle-client': 'a client holding an idle connection kept the next client waiting',
  'blocked-by-silent-client': 'a client that sent nothing kept the next client waiting',
  'slow-keep-alive': 'requests on one connection took far longer than they should',
  'real-client': 'a standard HTTP client could not talk to the server',
  'wrong-json': 'the JSON answer has wrong fields',
  'not-json': 'the answer is not the JSON asked for',
  'not-listening': 'the server stopped listening',
  'wrong-backlog': 'the listen backlog is not the one asked for',
  'address-in-use': 'the server could not bind its port again right after serving',
  // Process models, seen from outside
  'not-concurrent': 'requests that should have run at once ran one at a time',
  'too-many-at-once': 'more requests ran at once than the server should allow',
  'zombies': 'finished children were left as zombies',
  'child-holds-listener': 'a child process holds the listening socket',
  'no-eof': 'the response came but the connection never closed: another process still holds the socket',
  'close-wait-piles-up': 'connections the clients closed stay open on the server side (CLOSE_WAIT)',
  'orphans': 'processes of the server outlived it',
  'not-stopped': 'the server did not stop on SIGTERM',
  'process-tree-grows': 'the server keeps more processes than it should',
  'wrong-process-count': 'the server does not run the number of processes asked for',
  'thread-count-grows': 'the thread count grows with the load',
  'wrong-thread-count': 'the server does not run the number of threads asked for',
  'fd-count-grows': 'the number of open fds grows with the number of connections served',
  'stalled-by-client': 'one client stalled the others',
  'stalled-by-work': 'one long request stalled the others',
  'busy-loop': 'the server spends CPU while it has nothing to do',
  'throughput-off': 'the requests per second are far from what the model predicts',
  // The server process
  'server-exited': 'the server process exited',
  'never-listened': 'the server never listened on its port',
  'wrong-address': 'the server listens where 127.0.0.1 cannot reach',
  'spawn-failed': 'the server could not be started',
  'missing-server-file': 'there is no server file to start',
  'start-abandoned': 'a start was abandoned when its check ran out of time',
  'port-taken': 'another program took the port while the server started',
  // The grader's own bounds
  'check-timeout': 'the check ran out of time',
  'run-time-limit': "the run reached its time limit",
  'grader-error': 'the grader itself failed',
} as const satisfies Record<string, string>;

export const FAILURE_CODES = { ...BASE_CODES, ...gateway.codes, ...fork.codes, ...prefork.codes, ...threads.codes, ...eventLoop.codes, ...proxy.codes } as const;

export type FailureCode = keyof typeof FAILURE_CODES;

export const isFailureCode = (s: string | undefined): s is FailureCode => s !== undefined && Object.hasOwn(FAILURE_CODES, s);

/** What a code says was seen, in words. */
export const describeCode = (code: FailureCode): string => FAILURE_CODES[code];

/** Codes that usually mean the server process is dying, so the runner looks at it before blaming the case. */
export const CRASH_SIGNS: ReadonlySet<FailureCode> = new Set(['connection-refused', 'connection-reset', 'eof-before-response', 'eof-mid-response']);

/** Codes for a case where no complete answer came back, so no rule about the answer was tested. */
export const NO_ANSWER: ReadonlySet<string> = new Set<FailureCode>([
  ...CRASH_SIGNS, 'connect-failed', 'connect-timeout', 'no-response', 'not-kept-alive', 'response-never-ends', 'response-stalled', 'response-too-large', 'server-exited', 'check-timeout',
]);
