// 06-prefork reference solution: a primary that keeps WORKERS worker processes, each serving
// connections on the one listening socket, with Node's cluster module.
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
// The process model.
// ---------------------------------------------------------------------------------------------

if (cluster.isPrimary) {
  let stopping = false;
  for (let i = 0; i < WORKERS; i++) cluster.fork();
  // A worker that dies is replaced, unless we are the ones stopping it.
  cluster.on('exit', () => {
    if (!stopping) cluster.fork();
  });
  // Once the last worker has exited nothing keeps the primary's event loop alive, and it exits.
  process.on('SIGTERM', () => {
    stopping = true;
    for (const worker of Object.values(cluster.workers!)) worker!.kill();
  });
} else {
  net.createServer(handle).listen(PORT, '127.0.0.1');
}
