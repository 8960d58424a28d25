// Exercise 06-prefork: a primary that keeps WORKERS worker processes serving one port, with
// Node's cluster module.
//
// Read exercises/06-prefork/README.md first: it explains the primary's jobs, the cluster module's
// scheduling policies, and exactly what the grader expects. Node's own modules only.
//
// Run it:    PORT=8080 UPSTREAM_URL=http://127.0.0.1:9000 WORKERS=3 node --import tsx exercises/06-prefork/server.ts
// Poke it:   curl -v http://127.0.0.1:8080/pid
// Grade it:  npm run grade -- 06
import cluster from 'node:cluster';
import { createHash } from 'node:crypto';
import net from 'node:net';

// ---------------------------------------------------------------------------------------------
// Given: the HTTP part. handle(socket) reads one request, answers it and closes the connection.
// ---------------------------------------------------------------------------------------------

const PORT = Number(process.env.PORT);
const UPSTREAM_URL = process.env.UPSTREAM_URL;
const WORKERS = Number(process.env.WORKERS);

const REASONS: Record<number, string> = { 200: 'OK', 400: 'Bad Request', 404: 'Not Found', 502: 'Bad Gateway' };

function respond(socket: net.Socket, status: number, body: string): void {
  const head = [
    `HTTP/1.1 ${status} ${REASONS[status]}`,
    'Content-Type: text/plain; charset=utf-8',
    `Content-Length: ${Buffer.byteLength(body)}`,
    'Connection: close',
    `X-Served-By: ${process.pid}`,
  ];
  socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
}

/** h_0 = sha256(seed), h_i+1 = sha256(h_i): CPU work that takes as long as `rounds` says. */
function hashRounds(rounds: number, seed: string): string {
  let h = createHash('sha256').update(seed).digest();
  for (let i = 1; i < rounds; i++) h = createHash('sha256').update(h).digest();
  return h.toString('hex');
}

async function route(target: string): Promise<[number, string]> {
  const url = new URL(target, 'http://127.0.0.1');
  if (url.pathname === '/pid') return [200, `${process.pid}\n`];
  if (url.pathname.startsWith('/upstream/')) {
    try {
      const res = await fetch(`${UPSTREAM_URL}/${url.pathname.slice('/upstream/'.length)}`);
      return [200, await res.text()];
    } catch {
      return [502, 'the upstream did not answer\n'];
    }
  }
  if (url.pathname === '/hash') {
    const rounds = Number(url.searchParams.get('rounds'));
    if (!Number.isInteger(rounds) || rounds < 1 || rounds > 10_000_000) return [400, 'rounds must be a whole number from 1 to 10000000\n'];
    return [200, `${hashRounds(rounds, url.searchParams.get('seed') ?? '')}\n`];
  }
  return [404, 'not found\n'];
}

/** Serves one connection: reads the request head, answers it, closes. */
function handle(socket: net.Socket): void {
  let head = '';
  socket.on('error', () => socket.destroy());
  socket.on('data', (chunk) => {
    head += chunk;
    if (head.includes('\r\n\r\n')) void route(head.split(' ')[1]!).then(([status, body]) => respond(socket, status, body));
  });
}

// ---------------------------------------------------------------------------------------------
// The process model: your part.
// ---------------------------------------------------------------------------------------------

if (cluster.isPrimary) {
  // TODO 1. Fork WORKERS workers with cluster.fork(). Keep the default scheduling policy (round
  //   robin): the primary accepts each connection and hands it to the next worker.
  // TODO 2. Replace a worker that dies: cluster.on('exit', ...) forks a new one, unless the server
  //   is shutting down.
  // TODO 3. On SIGTERM (process.on('SIGTERM', ...)): remember that you are shutting down and stop
  //   every worker (cluster.workers holds them; worker.kill() stops one). Once the last worker has
  //   exited, nothing keeps the primary running and it exits by itself.
  //   The primary never serves a request itself.
} else {
  // TODO 4. In a worker: net.createServer(handle).listen(PORT, '127.0.0.1').
}

// Delete the next two lines once the steps above are written.
void handle;
throw new Error(`06-prefork: server.ts is not implemented yet (PORT=${PORT}, WORKERS=${WORKERS}); follow the TODOs and exercises/06-prefork/README.md`);
