// 07-threads reference solution: a thread per request, a fixed pool of THREADS worker threads,
// PROCESSES processes.
import cluster from 'node:cluster';
import { createHash } from 'node:crypto';
import net from 'node:net';
import { isMainThread, parentPort, Worker } from 'node:worker_threads';

// === Given: the HTTP part. Call these functions; you should not need to change them. ===========

const PORT = Number(process.env.PORT ?? 8080);
const UPSTREAM_URL = process.env.UPSTREAM_URL ?? 'http://127.0.0.1:9000';
const THREADS = Number(process.env.THREADS ?? 4); // 0: a thread per request; k: a pool of k threads
const PROCESSES = Number(process.env.PROCESSES ?? 1); // processes, each with its own THREADS
const REASONS: Record<number, string> = { 200: 'OK', 400: 'Bad Request', 404: 'Not Found', 502: 'Bad Gateway' };

export interface Answer {
  status: number;
  body: string;
}

export const BAD_GATEWAY: Answer = { status: 502, body: 'bad gateway: the upstream call failed\n' };

/** Reads one request head from a client; resolves to its target ("/upstream/a"). */
export function readRequest(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    let head = '';
    socket.on('data', (chunk) => {
      head += chunk;
      if (head.includes('\r\n\r\n')) resolve(head.split(' ')[1]!);
    });
  });
}

/** The answer to one request. Rejects when the call to the upstream fails: a 502 then is yours. */
export async function route(target: string): Promise<Answer> {
  const url = new URL(target, 'http://server');
  if (url.pathname === '/pid') return { status: 200, body: `${process.pid}\n` };
  if (url.pathname.startsWith('/upstream/')) {
    const res = await fetch(UPSTREAM_URL + target.slice('/upstream'.length));
    return { status: 200, body: await res.text() };
  }
  if (url.pathname === '/hash') return hashChain(url.searchParams);
  return { status: 404, body: 'not found\n' };
}

/** CPU work: h0 = sha256(seed), then rounds times h = sha256(h); answers hex(h). */
function hashChain(args: URLSearchParams): Answer {
  const rounds = Number(args.get('rounds'));
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 10_000_000) return { status: 400, body: 'rounds must be a whole number from 1 to 10000000\n' };
  let h = createHash('sha256').update(args.get('seed') ?? '').digest();
  for (let i = 0; i < rounds; i++) h = createHash('sha256').update(h).digest();
  return { status: 200, body: `${h.toString('hex')}\n` };
}

/** Writes the response and closes the connection. */
export function writeResponse(socket: net.Socket, { status, body }: Answer): void {
  const head = `HTTP/1.1 ${status} ${REASONS[status]}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\nX-Served-By: ${process.pid}\r\n\r\n`;
  socket.end(head + body);
}

// === Yours: the process model. ==================================================================

interface Job {
  target: string;
  done: (answer: Answer) => void;
}

/** A new thread for one request, gone once it has answered. */
function threadPerRequest(target: string): Promise<Answer> {
  const worker = new Worker(new URL(import.meta.url));
  worker.postMessage(target);
  return new Promise((done) =>
    worker.once('message', (answer: Answer) => {
      done(answer);
      void worker.terminate();
    }),
  );
}

/** `size` threads, each given one job at a time; the jobs that find none free wait here, in order. */
function threadPool(size: number): (target: string) => Promise<Answer> {
  const idle: Worker[] = [];
  const waiting: Job[] = [];
  const next = (worker: Worker): void => {
    const job = waiting.shift();
    if (!job) {
      idle.push(worker);
      return;
    }
    worker.once('message', (answer: Answer) => {
      job.done(answer);
      next(worker);
    });
    worker.postMessage(job.target);
  };
  for (let i = 0; i < size; i++) next(new Worker(new URL(import.meta.url)));
  return (target) =>
    new Promise((done) => {
      waiting.push({ target, done });
      const worker = idle.pop();
      if (worker) next(worker);
    });
}

if (!isMainThread) {
  // A worker thread: the upstream call and the hashing happen here, off the main thread.
  parentPort!.on('message', async (target: string) => parentPort!.postMessage(await route(target).catch(() => BAD_GATEWAY)));
} else if (cluster.isPrimary && PROCESSES > 1) {
  // The primary only starts the processes; cluster deals the connections out among them.
  for (let i = 0; i < PROCESSES; i++) cluster.fork();
} else {
  // Worker threads cannot be handed a socket: this thread owns the connections.
  const answer = THREADS > 0 ? threadPool(THREADS) : threadPerRequest;
  net
    .createServer(async (socket) => {
      socket.on('error', () => socket.destroy());
      writeResponse(socket, await answer(await readRequest(socket)));
    })
    .listen(PORT, '127.0.0.1');
}
