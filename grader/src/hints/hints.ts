import type { FailureCode } from '../checks/codes.ts';
import gateway from '../checks/codes/04-gateway.ts';
import fork from '../checks/codes/05-fork.ts';
import prefork from '../checks/codes/06-prefork.ts';
import threads from '../checks/codes/07-threads.ts';
import eventLoop from '../checks/codes/08-event-loop.ts';
import proxy from '../checks/codes/09-proxy.ts';

// Plain words for what usually causes each failure, keyed by the failure code of the case that
// failed. Checks never write hint text themselves. `null` is a decision, not a gap: where a code
// has many possible causes the report shows what was seen and offers no guess.
const HINTS: Record<FailureCode, string | null> = {
  'connection-refused':
    'Connection refused means nothing was listening: your server probably crashed during an earlier check. Look at its output below.',
  'connection-reset':
    'The server reset the connection (RST). That usually means it closed the socket while unread request bytes were still waiting, or the process died mid-request.',
  'eof-before-response':
    'The server closed the connection without answering. Did it read the whole request (up to the blank line \\r\\n\\r\\n) and write a response before closing?',
  'eof-mid-response':
    'The connection closed before the response was complete. Check that Content-Length matches the number of body bytes you actually send.',
  'no-response':
    'The server accepted the connection but never answered. A common cause: reading until the client closes, while the client waits for your response. Stop reading at the blank line that ends the headers (and the Content-Length bytes of a body).',
  'response-never-ends':
    'The body never ended while the connection stayed open. Either there is no Content-Length (so the client cannot know where the body ends), or fewer bytes came than Content-Length announced (in Python, sendall() sends everything; send() may not).',
  'response-stalled': 'The server started a response but stopped sending in the middle of it. Do you write every part of the response, and flush it?',
  'server-exited': 'The server process exited. Its last output, shown with this report, usually says why: look for a traceback or an uncaught error.',
  'never-listened':
    'The server never listened on the port. It must listen on 127.0.0.1 at the port given in the PORT environment variable.',
  'missing-server-file':
    'The grader looks for server.ts (track ts) or server.py (track py) in the exercise folder. Pick your language with --track, or set "serverlab": { "track": "py" } in package.json.',
  'wrong-address':
    'Listen on 127.0.0.1 (or on every address, 0.0.0.0). A socket bound to ::1 or another address is not reachable at 127.0.0.1, where the grader connects.',
  'port-taken':
    'Another program listened on the port the grader gave your server, so your server could not bind it. The grader tried other ports and met the same. Is something on this machine taking ports as fast as they come free?',
  'spawn-failed': 'The grader could not start your server file. Is it there, and is python3 / node on your PATH?',
  'bare-lf': 'Every line of an HTTP head ends with \\r\\n, not \\n alone.',
  'bad-status-line': 'A response starts with a status line: HTTP/1.1, a space, a three-digit code, a space, a reason phrase, then \\r\\n.',
  'missing-content-length': 'This exercise asks for a Content-Length header on every response with a body.',
  'bad-content-length': 'Content-Length must be the number of body bytes, digits only.',
  'space-before-colon': 'A header is "Name: value": no space between the name and the colon.',
  'obs-fold': 'A header line may not start with a space or tab (that is obsolete line folding).',
  'partial-read':
    'One read (recv, or one "data" event) is not one request: TCP delivers bytes in whatever pieces it likes. Keep reading and appending until the request is complete.',
  'not-closed': 'After the response the server must close its side of the connection (close the socket), or the client keeps waiting.',
  'blocked-by-silent-client':
    'While your server waited for bytes from a client that sent nothing, nobody else was served. Put a timeout on reads from a client (settimeout in Python, setTimeout on a Node socket) and drop clients that stay silent.',
  'not-listening': 'The server stopped listening: did it close its listening socket, or leave its accept loop?',
  'wrong-backlog': 'Pass the BACKLOG environment variable, as a number, to listen().',
  'address-in-use':
    'Right after a server closes connections, the kernel keeps them in TIME_WAIT and refuses to bind the port again unless the socket has SO_REUSEADDR set before bind().',
  'wrong-content-length': 'Content-Length counts bytes, not characters: measure the encoded body.',
  'not-kept-alive': 'HTTP/1.1 connections stay open after a response unless the request said Connection: close. Loop: read a request, answer it, read the next.',
  'head-with-body': "A response to HEAD has GET's headers (including its Content-Length) but no body bytes at all.",
  'body-mismatch': 'Read exactly Content-Length bytes of body, even when they arrive in many pieces, and send them back unchanged (they may be binary).',
  'pipelining':
    'A client may send several requests before reading any response. Bytes left in your buffer after one request are the start of the next: keep them.',
  'real-client':
    'Compare header names without regard to case: "host", "Host" and "HOST" are the same header. Real clients (fetch, curl, browsers) do not all write them the same way.',
  'response-too-large': 'The server sent far more than the response should hold: does it keep writing after the response (or loop forever)?',
  'check-timeout':
    'The check ran out of time. The server may be stuck: for example blocked reading from one client while another waits.',
  'connect-failed': null,
  'connect-timeout':
    'The kernel did not complete the connection in time: the listen queue is probably full because the server stopped calling accept().',
  'bad-version': 'The status line starts with the version the server speaks: HTTP/1.1.',
  'bad-status-code': 'A status code is three digits from 100 to 599.',
  'bad-reason-phrase': 'The reason phrase is plain text up to the \r\n: no control characters.',
  'bare-cr': 'A \r in a response head must be followed by \n: every line ends with \r\n.',
  'header-without-colon': 'Every header line is "Name: value"; a line without a colon is not a header.',
  'bad-header-name': 'A header name is a token: letters, digits and a few symbols such as - and _, no spaces.',
  'bad-header-value': 'A header value may not hold control characters (a stray \r, \n or \0, for instance).',
  'headers-too-large': null,
  'conflicting-content-length': 'Send one Content-Length, with the length of the body you send.',
  'te-and-content-length': 'Frame a body with Content-Length only; never send Transfer-Encoding beside it.',
  'body-not-allowed': 'Responses with status 1xx, 204 and 304 have no body and no Content-Length above 0.',
  'framing-not-allowed': 'This exercise frames every body with Content-Length.',
  'bad-chunk-size': null,
  'bad-chunk-end': null,
  'wrong-status': null,
  'missing-header': null,
  'wrong-header': null,
  'wrong-body': null,
  'bytes-after-response':
    'After a response that ends the connection (a 400, an answer to Connection: close), send nothing more: whatever the client sent after it is not a request to answer.',
  'close-not-announced':
    'When the server closes the connection after a response (after a 400, after Connection: close, for HTTP/1.0), the response says so with a Connection: close header, so the client knows not to send more.',
  'blocked-by-idle-client':
    'While one client kept its connection open and idle, the next client was not served: the server handles one connection at a time. Serve each connection on its own (a thread per connection in Python; in Node, never wait for one socket in a way that stops the others).',
  'slow-keep-alive':
    'Each request on a kept-alive connection waited for something before it was answered: a common cause is waiting for more bytes (or a read timeout) after a complete request instead of answering it at once, or writing the head and the body separately (Nagle\'s algorithm then holds the second write until the client acknowledges the first).',
  'wrong-json': null,
  'not-json': 'The answer must be a JSON document with Content-Type: application/json.',
  'start-abandoned': null,
  'run-time-limit': null,
  'grader-error': 'This is a fault in the grader, not in your server: please report it with the seed.',
  'not-concurrent':
    'The requests reached the upstream one after another, never together: the server finishes one request before it starts the next. Each request must be handed to its own process or thread (or, in an event loop, never waited for) before the server accepts the next.',
  'too-many-at-once': null,
  'zombies':
    'A finished child stays a zombie until its parent collects its exit status. Signals of one kind do not queue: one SIGCHLD can stand for many exited children, so a handler must call waitpid(-1, WNOHANG) in a loop until it returns 0 (or raises ChildProcessError).',
  'child-holds-listener':
    'After fork() the child has a copy of every fd of the parent, the listening socket too. A child that serves one client should close its copy of the listening socket first thing.',
  'no-eof':
    'The child closed its socket, but the client saw no end of the connection: another process still holds a copy of the socket. After fork(), the parent must close its copy of the client socket.',
  'close-wait-piles-up':
    'CLOSE_WAIT means the client has closed and the server has not: some process still holds the socket. After fork(), the parent must close its copy of every client socket.',
  'orphans':
    'When the server stops, its children must stop too (or finish and exit): on SIGTERM, pass the signal on to the children and wait for them before exiting.',
  'not-stopped': 'On SIGTERM the server must stop: finish or stop its children, then exit.',
  'process-tree-grows':
    'More processes stay alive than should: a child that serves a client must exit when it is done (os._exit), not return into the accept loop, where it becomes a second acceptor.',
  'wrong-process-count': null,
  'thread-count-grows':
    'The thread count rose with the number of requests: threads are started per request instead of taken from a fixed pool.',
  'wrong-thread-count': null,
  'fd-count-grows': 'Every connection the server is done with must be closed (and, in an event loop, unregistered from the selector).',
  'stalled-by-client':
    'While one client was slow (sending, or reading), other clients were not served: somewhere the server waits on one socket. In an event loop, read and write only what is ready, keep what is unfinished, and go back to the selector.',
  'stalled-by-work':
    'While one request computed, the other clients waited: long CPU work on the loop stops the loop. Cut the work into small pieces between which the loop runs, or move it off the loop.',
  'busy-loop':
    'The server burns CPU with nothing to do: the selector keeps waking it, usually because it waits for sockets to be writable when it has nothing to write. Register for writing only while there is something to send.',
  'throughput-off': null,
  ...fork.hints,
  ...prefork.hints,
  ...gateway.hints,
  ...threads.hints,
  ...eventLoop.hints,
  ...proxy.hints,
};

export function hintFor(code: string | undefined): string | undefined {
  return code && Object.hasOwn(HINTS, code) ? (HINTS[code as FailureCode] ?? undefined) : undefined;
}
