// Exercise 01-sockets: a TCP server that answers each connection with the request line it read.
//
// Read exercises/01-sockets/README.md first: it explains every step below, says which of them
// Node's `net` module does for you, and says exactly what the grader expects.
//
// Run it:    PORT=8080 BACKLOG=5 node --import tsx exercises/01-sockets/server.ts
// Poke it:   curl -v http://127.0.0.1:8080/hello
// Grade it:  npm run grade -- 01

const HOST = '127.0.0.1';
const PORT = Number(process.env.PORT ?? 8080); // the grader picks a free port for you
const BACKLOG = Number(process.env.BACKLOG ?? 5); // the grader picks a different number every run
const CLIENT_TIMEOUT_MS = 1000; // how long a client may stay silent before you give up on it

// TODO 1. Create a server with a function that is called once for every accepted connection.
//   Hint: `import net from 'node:net'` at the top of this file, then net.createServer(...).
//   Node creates the socket and sets SO_REUSEADDR for you when you listen; the README says why
//   that option matters.

// TODO 2. In that function you get a NEW socket for one client (the listening socket stays with
//   the server). Give up on a client that stays silent for CLIENT_TIMEOUT_MS: see
//   socket.setTimeout, and destroy the socket when it fires.
//   Also handle the socket's 'error' event: a client that vanishes must not crash your server.

// TODO 3. Collect the request head. 'data' events hand you Buffers, and one event is NOT one
//   request: a request can arrive a few bytes at a time. Append each chunk to what you have,
//   until it contains the blank line "\r\n\r\n".

// TODO 4. Answer. The body is the request line: everything before the first "\r\n".
//   Write "HTTP/1.1 200 OK", a Content-Type header, optionally Content-Length, a blank line,
//   then the body. Lines in the head end with "\r\n". Then close your side: socket.end(...) can
//   write the last bytes and close in one call. Answer once, even if more data arrives.

// TODO 5. Listen on HOST:PORT with the backlog BACKLOG.
//   Hint: server.listen({ port, host, backlog }). Without `host`, Node listens on every address.

// Delete the next lines once the steps above are written.
process.stderr.write(
  `01-sockets: server.ts is not implemented yet (PORT=${PORT}, BACKLOG=${BACKLOG}, host ${HOST}, ` +
    `client timeout ${CLIENT_TIMEOUT_MS} ms); follow the TODOs and exercises/01-sockets/README.md\n`,
);
process.exit(1);
