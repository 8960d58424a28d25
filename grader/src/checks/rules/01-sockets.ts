import { defineRules } from '../rules.ts';

// exercises/01-sockets/README.md, rule by rule.

export default defineRules([
  { id: 'status', check: 'answers-request', readme: 'Answer with status `HTTP/1.1 200 OK`', source: { spec: 'RFC 9112', section: '4', level: 'MUST' } },
  { id: 'echo-line', check: 'answers-request', readme: 'a body that is the *request line*', source: { course: true, allows: 'any body', why: 'echoing the request line proves the server read the request' } },
  { id: 'content-type', check: 'answers-request', readme: 'a `Content-Type` header (`text/plain` is right)', source: { spec: 'RFC 9110', section: '8.3', level: 'SHOULD' } },
  { id: 'close', check: 'closes-connection', readme: 'Close the connection.', source: { course: true, allows: 'keeping an HTTP/1.1 connection open', why: 'this first server frames its response by closing; keep-alive comes in 02' } },
  { id: 'one-after-another', check: 'many-in-a-row', readme: 'For each connection, one after another', source: { course: true, allows: 'anything', why: 'a server serves every client, not just the first' } },
  { id: 'survives-reset', check: 'many-in-a-row', readme: 'A client that resets its connection in the middle of a request (a crashing client does) must\n  not take the server down', source: { course: true, allows: 'anything after a client resets', why: 'a server is a program that accepts input from anyone on the network, and one rude client must not stop it serving the rest' } },
  { id: 'whole-head', check: 'reads-whole-request', readme: 'Read the request head: everything up to and including the first `\\r\\n\\r\\n`.', source: { spec: 'RFC 9112', section: '2.2', level: 'MUST' } },
  { id: 'read-timeout', check: 'silent-client', readme: 'If a client sends nothing for about 1 to 2 seconds, drop it and go on to the next one.', source: { course: true, allows: 'waiting for a client as long as the server likes', why: 'a one-at-a-time server without a read timeout is stopped by any silent client' } },
  { id: 'backlog', check: 'listen-backlog', readme: '`BACKLOG` (the backlog to pass\n  to `listen`)', source: { course: true, allows: 'any backlog', why: 'it shows the listen queue is a setting the server chooses' } },
  { id: 'reuse-address', check: 'reuse-address', readme: '`SO_REUSEADDR` set', source: { course: true, allows: 'a server that cannot rebind its port during TIME_WAIT', why: 'a server restarted after a crash must come back on its port at once' } },
]);
