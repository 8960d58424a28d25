// 08-event-loop reference solution: Node's one loop, never blocked.
//
// Run it:    PORT=8080 node --import tsx solutions/08-event-loop/server.ts
import net from 'node:net';
import { createHash } from 'node:crypto';

// ---- Given: the HTTP part. Call these; keeping the loop free is yours. ------------------------

const HOST = '127.0.0.1';
const PORT = Number(process.env.PORT ?? 8080); // the grader picks a free port for you
const MAX_ROUNDS = 10_000_000;
const MAX_BIG = 50 * 1024 * 1024;
const LETTERS = 'abcdefghijklmnopqrstuvwxyz';
const REASONS: Record<number, string> = { 200: 'OK', 400: 'Bad Request', 404: 'Not Found' };

/** What a request asks for: a response ready to send, a hash chain to compute, or /big's length. */
type Plan = { kind: 'answer'; bytes: Buffer } | { kind: 'hash'; rounds: number; seed: string } | { kind: 'big'; length: number };

/** The status line and headers of a response whose body is `length` bytes long. */
function responseHead(status: number, length: number): Buffer {
  return Buffer.from(
    `HTTP/1.1 ${status} ${REASONS[status]}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${length}\r\n` +
      `Connection: close\r\nX-Served-By: ${process.pid}\r\n\r\n`,
  );
}

/** A whole response: head and body. */
function response(status: number, body: string): Buffer {
  const bytes = Buffer.from(body);
  return Buffer.concat([responseHead(status, bytes.length), bytes]);
}

/** h_0 of the /hash chain: sha256 of the seed's UTF-8 bytes. */
function firstDigest(seed: string): Buffer {
  return createHash('sha256').update(seed).digest();
}

/** `rounds` more steps of the chain, h = sha256(h); a million take about 1.4 s. */
function moreRounds(digest: Buffer, rounds: number): Buffer {
  for (let i = 0; i < rounds; i++) digest = createHash('sha256').update(digest).digest();
  return digest;
}

/** Bytes start .. start+length-1 of /big's body, where byte i is the letter 'a' + i % 26. */
function bigPiece(start: number, length: number): Buffer {
  const from = start % 26;
  return Buffer.alloc(length, LETTERS.slice(from) + LETTERS.slice(0, from));
}

/** `text` as a whole number from low to high, written in decimal digits; otherwise undefined. */
function wholeNumber(text: string | null, low: number, high: number): number | undefined {
  const n = Number(text);
  return /^\d+$/.test(String(text)) && n >= low && n <= high ? n : undefined;
}

/** What the request head asks for. The loop never waits in here: it is quick for every route. */
function route(head: Buffer): Plan {
  const url = new URL(head.toString('latin1').split(' ')[1]!, 'http://host');
  const args = url.searchParams;
  if (url.pathname === '/') return { kind: 'answer', bytes: response(200, 'hello\n') };
  if (url.pathname === '/pid') return { kind: 'answer', bytes: response(200, `${process.pid}\n`) };
  if (url.pathname === '/hash') {
    const rounds = wholeNumber(args.get('rounds'), 1, MAX_ROUNDS);
    if (rounds === undefined) return { kind: 'answer', bytes: response(400, 'bad request\n') };
    return { kind: 'hash', rounds, seed: args.get('seed') ?? '' };
  }
  if (url.pathname === '/big') {
    const length = wholeNumber(args.get('bytes'), 0, MAX_BIG);
    if (length === undefined) return { kind: 'answer', bytes: response(400, 'bad request\n') };
    return { kind: 'big', length };
  }
  return { kind: 'answer', bytes: response(404, 'not found\n') };
}

// ---- Keeping the loop free ------------------------------------------------------------------

const SLICE = 1000; // rounds per turn of the loop: about a millisecond of work
const PIECE = 64 * 1024; // /big is made as the socket takes it, this much at a time

/** The hash chain a slice at a time, with a turn of the loop (setImmediate) between slices. */
function hashInSlices(rounds: number, seed: string, done: (digest: Buffer) => void): void {
  let digest = firstDigest(seed);
  let left = rounds;
  const slice = () => {
    const now = Math.min(SLICE, left);
    digest = moreRounds(digest, now);
    left -= now;
    if (left) setImmediate(slice);
    else done(digest);
  };
  slice();
}

/** /big a piece at a time: when write() says the buffer is full, go on only at 'drain'. */
function sendBig(socket: net.Socket, length: number): void {
  let at = 0;
  const more = () => {
    while (at < length) {
      const piece = bigPiece(at, Math.min(PIECE, length - at));
      at += piece.length;
      if (!socket.write(piece)) return void socket.once('drain', more);
    }
    socket.end();
  };
  socket.write(responseHead(200, length));
  more();
}

const server = net.createServer((socket) => {
  let received = Buffer.alloc(0);
  socket.on('error', () => {}); // a client that vanished: Node closes the socket itself
  socket.on('data', (chunk) => {
    received = Buffer.concat([received, chunk]);
    if (!received.includes('\r\n\r\n')) return;
    socket.pause(); // the request is whole: read nothing more
    const plan = route(received);
    if (plan.kind === 'answer') socket.end(plan.bytes);
    else if (plan.kind === 'hash') hashInSlices(plan.rounds, plan.seed, (digest) => socket.end(response(200, `${digest.toString('hex')}\n`)));
    else sendBig(socket, plan.length);
  });
});

server.listen({ port: PORT, host: HOST, backlog: 1024 });
