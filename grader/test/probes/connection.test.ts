import net, { type AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { ProbeError } from '../../src/probes/errors.ts';
import { MAX_RECEIVED_BYTES, RawConnection, type ConnectOptions } from '../../src/probes/raw/connection.ts';
import { toExchange } from '../../src/probes/raw/transcript.ts';

// Each test starts a raw TCP server on a free port that answers with hand-made bytes, so the
// connection sees exactly the framing (or the failure) under test.

const REQUEST = 'GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
const OK_HELLO = 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello';

const servers: net.Server[] = [];
const serverSockets = new Set<net.Socket>();
const conns: RawConnection[] = [];

afterEach(async () => {
  for (const conn of conns.splice(0)) conn.close();
  for (const socket of serverSockets) socket.destroy();
  serverSockets.clear();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

/** Listens on 127.0.0.1 at a free port; `onSocket` plays the server's part on each connection. */
async function serve(onSocket: (socket: net.Socket) => void): Promise<number> {
  const server = net.createServer((socket) => {
    serverSockets.add(socket);
    socket.on('error', () => {});
    onSocket(socket);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** Runs `reply` once the first bytes of the request arrive. */
const onRequest = (reply: (socket: net.Socket) => void) => (socket: net.Socket) => socket.once('data', () => reply(socket));

async function open(port: number, opts: Partial<ConnectOptions> = {}): Promise<RawConnection> {
  const conn = await RawConnection.open({ port, idleTimeoutMs: 300, ...opts });
  conns.push(conn);
  return conn;
}

/** The ProbeError a probe step must fail with. */
async function probeError(step: Promise<unknown>): Promise<ProbeError> {
  try {
    await step;
  } catch (e) {
    if (e instanceof ProbeError) return e;
    throw e;
  }
  throw new Error('expected the step to fail with a ProbeError');
}

describe('RawConnection: reading responses', () => {
  it('reads a well-formed response', async () => {
    const port = await serve(onRequest((s) => s.write(OK_HELLO)));
    const conn = await open(port);
    await conn.send(REQUEST);
    const res = await conn.readResponse();
    expect(res.status).toBe(200);
    expect(res.body.toString()).toBe('hello');
    expect(conn.received.toString('latin1')).toBe(OK_HELLO);
  });

  it('reads a response that arrives in several writes with pauses between them', async () => {
    const pieces = ['HTTP/1.1 20', '0 OK\r\nContent-Len', 'gth: 5\r\n\r', '\nhel', 'lo'];
    const port = await serve(
      onRequest(async (s) => {
        for (const piece of pieces) {
          s.write(piece);
          await sleep(20);
        }
      }),
    );
    const conn = await open(port);
    await conn.send(REQUEST);
    const res = await conn.readResponse();
    expect(res.body.toString()).toBe('hello');
    expect(res.end).toBe(pieces.join('').length);
  });

  it('reads two pipelined responses one after the other, leaving nothing unconsumed', async () => {
    const first = 'HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none';
    const second = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n';
    const port = await serve(onRequest((s) => s.write(first + second)));
    const conn = await open(port);
    await conn.send(REQUEST + REQUEST);
    const a = await conn.readResponse();
    expect(a.body.toString()).toBe('one');
    expect(conn.unconsumed.toString('latin1')).toBe(second);
    const b = await conn.readResponse();
    expect(b.body.toString()).toBe('two');
    expect(b.start).toBe(first.length);
    expect(conn.unconsumed.length).toBe(0);
  });

  it('reads a HEAD response without waiting for a body', async () => {
    const port = await serve(onRequest((s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n')));
    const conn = await open(port);
    await conn.send('HEAD / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
    const res = await conn.readResponse({ method: 'HEAD' });
    expect(res.body.length).toBe(0);
  });

  it('reads a close-delimited body up to EOF', async () => {
    const port = await serve(onRequest((s) => s.end('HTTP/1.1 200 OK\r\n\r\nall of it')));
    const conn = await open(port);
    await conn.send(REQUEST);
    const res = await conn.readResponse();
    expect(res.framing).toBe('close');
    expect(res.body.toString()).toBe('all of it');
  });
});

describe('RawConnection: failures are ProbeErrors with the transcript', () => {
  it('no-response when the server accepts and stays silent', async () => {
    const port = await serve(() => {});
    const conn = await open(port);
    await conn.send(REQUEST);
    const err = await probeError(conn.readResponse());
    expect(err.code).toBe('no-response');
    expect(err.exchange).toMatchObject({ sent: REQUEST, receivedBytes: 0 });
  });

  it('eof-before-response when the server closes without answering', async () => {
    const port = await serve(onRequest((s) => s.end()));
    const conn = await open(port);
    await conn.send(REQUEST);
    const err = await probeError(conn.readResponse());
    expect(err.code).toBe('eof-before-response');
  });

  it('eof-before-response when the server closes as soon as it accepts', async () => {
    const port = await serve((s) => s.end());
    const conn = await open(port);
    const err = await probeError(conn.readResponse());
    expect(err.code).toBe('eof-before-response');
  });

  it('connection-reset when the server resets the connection', async () => {
    const port = await serve(onRequest((s) => s.resetAndDestroy()));
    const conn = await open(port);
    await conn.send(REQUEST);
    const err = await probeError(conn.readResponse());
    expect(err.code).toBe('connection-reset');
    expect(conn.resetByPeer).toBe(true);
  });

  it('eof-mid-response when the server closes before the body is complete', async () => {
    const partial = 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello';
    const port = await serve(onRequest((s) => s.end(partial)));
    const conn = await open(port);
    await conn.send(REQUEST);
    const err = await probeError(conn.readResponse());
    expect(err.code).toBe('eof-mid-response');
    expect(err.exchange?.received).toBe(partial);
  });

  it('response-never-ends when the body stops short and the connection stays open', async () => {
    const port = await serve(onRequest((s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello')));
    const conn = await open(port);
    await conn.send(REQUEST);
    const err = await probeError(conn.readResponse());
    expect(err.code).toBe('response-never-ends');
  });

  it('response-stalled when the headers stop and the connection stays open', async () => {
    const port = await serve(onRequest((s) => s.write('HTTP/1.1 200 OK\r\nContent-')));
    const conn = await open(port);
    await conn.send(REQUEST);
    const err = await probeError(conn.readResponse());
    expect(err.code).toBe('response-stalled');
  });

  it('an invalid response carries the violation offset and the received bytes', async () => {
    const bad = 'HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n';
    const port = await serve(onRequest((s) => s.write(bad)));
    const conn = await open(port);
    await conn.send(REQUEST);
    const err = await probeError(conn.readResponse());
    expect(err.code).toBe('bare-lf');
    expect(err.exchange?.received).toBe(bad);
    expect(err.exchange?.receivedBytes).toBe(bad.length);
    expect(err.exchange?.violation).toMatchObject({ code: 'bare-lf', offset: 15 });
    expect(err.exchange!.received[err.exchange!.violation!.offset]).toBe('\n');
  });

  it('violation offsets count from the start of the connection, past earlier responses', async () => {
    const first = 'HTTP/1.1 204 No Content\r\n\r\n';
    const port = await serve(onRequest((s) => s.write(`${first}HTTP/1.1 200 OK\r\nBad Name: 1\r\n\r\n`)));
    const conn = await open(port);
    await conn.send(REQUEST + REQUEST);
    await conn.readResponse();
    const err = await probeError(conn.readResponse());
    expect(err.exchange?.violation).toMatchObject({ code: 'bad-header-name', offset: first.length + 20 });
  });

  it('connection-refused when nothing listens on the port', async () => {
    const port = await serve(() => {});
    await new Promise<void>((resolve) => servers.pop()!.close(() => resolve()));
    const err = await probeError(RawConnection.open({ port, idleTimeoutMs: 1000 }));
    expect(err.code).toBe('connection-refused');
  });
});

describe('RawConnection: sending', () => {
  it('a request sent in small pieces with pauses arrives whole', async () => {
    const request = `POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 26\r\n\r\nabcdefghijklmnopqrstuvwxyz`;
    const arrived: Buffer[] = [];
    const port = await serve((s) => s.on('data', (d: Buffer) => arrived.push(d)));
    const conn = await open(port);
    await conn.send(request, { chunkSize: 7, pauseMs: 5 });
    expect(conn.sent.toString('latin1')).toBe(request);
    await vi.waitFor(() => expect(Buffer.concat(arrived).toString('latin1')).toBe(request), { timeout: 2000, interval: 10 });
  });

  it('holds back the rest of a split request when the server answers its first piece, and says so in the transcript', async () => {
    const port = await serve(onRequest((socket) => socket.write(OK_HELLO)));
    const conn = await open(port);
    await conn.send(REQUEST, { chunkSize: 5, pauseMs: 3, afterFirstPieceMs: 2000, holdBackOnAnswer: true });
    expect(conn.sent.toString('latin1')).toBe(REQUEST.slice(0, 5));
    expect(conn.sendCutShort).toBe(true);
    expect(conn.transcript().heldBack).toBe(REQUEST.slice(5));
    expect((await conn.readResponse()).status).toBe(200);
  });

  it('sends the rest of a split request after an answer to its first piece unless told to hold it back (pipelining)', async () => {
    const port = await serve(onRequest((socket) => socket.write(OK_HELLO)));
    const conn = await open(port);
    await conn.send(REQUEST + REQUEST, { sizes: [REQUEST.length], afterFirstPieceMs: 2000 });
    expect(conn.sent.toString('latin1')).toBe(REQUEST + REQUEST);
    expect(conn.transcript().heldBack).toBeUndefined();
  });

  it('stops sending once the server has closed, and still reads what it answered', async () => {
    const port = await serve((socket) => socket.end(OK_HELLO));
    const conn = await open(port);
    await vi.waitFor(() => expect(conn.eof).toBe(true), { timeout: 2000 });
    await conn.send(REQUEST);
    expect(conn.sendCutShort).toBe(true);
    expect(conn.sent.length).toBe(0);
    expect((await conn.readResponse()).status).toBe(200);
  });

  it('says the request was cut short when the server closed without answering', async () => {
    const port = await serve((socket) => socket.end());
    const conn = await open(port);
    await vi.waitFor(() => expect(conn.eof).toBe(true), { timeout: 2000 });
    await conn.send(REQUEST);
    const err = await probeError(conn.readResponse());
    expect(err.code).toBe('eof-before-response');
    expect(err.message).toMatch(/closed before the whole request was sent/);
  });
});

describe('RawConnection: waitForEof', () => {
  it('is true when the server closes after its response', async () => {
    const port = await serve(onRequest((s) => s.end(OK_HELLO)));
    const conn = await open(port);
    await conn.send(REQUEST);
    await conn.readResponse();
    expect(await conn.waitForEof()).toBe(true);
  });

  it('is false when the server keeps the connection open', async () => {
    const port = await serve(onRequest((s) => s.write(OK_HELLO)));
    const conn = await open(port);
    await conn.send(REQUEST);
    await conn.readResponse();
    expect(await conn.waitForEof(100)).toBe(false);
  });
});

describe('RawConnection: bounds', () => {
  it('stops keeping bytes at MAX_RECEIVED_BYTES and fails as response-too-large', async () => {
    const port = await serve(
      onRequest((s) => {
        s.write('HTTP/1.1 200 OK\r\nContent-Length: 999999999\r\n\r\n');
        const chunk = Buffer.alloc(1024 * 1024, 'x');
        let sent = 0;
        // Bounded: a little more than the limit, then stop.
        const pump = () => {
          while (sent < MAX_RECEIVED_BYTES + 8 * chunk.length && s.write(chunk)) sent += chunk.length;
          if (sent < MAX_RECEIVED_BYTES + 8 * chunk.length) s.once('drain', pump);
        };
        pump();
      }),
    );
    const conn = await open(port);
    await conn.send(REQUEST);
    const err = await probeError(conn.readResponse({ idleTimeoutMs: 5000 }));
    expect(err.code).toBe('response-too-large');
    expect(conn.received.length).toBe(MAX_RECEIVED_BYTES);
  });

  it('reads a large Content-Length body whole', async () => {
    const body = Buffer.alloc(20 * 1024 * 1024, 'y');
    const port = await serve(onRequest((s) => s.end(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`), body]))));
    const conn = await open(port);
    await conn.send(REQUEST);
    const res = await conn.readResponse({ idleTimeoutMs: 5000 });
    expect(res.body.equals(body)).toBe(true);
  });
});

describe('transcripts', () => {
  it('keep the bytes around a violation far into the response, and say where they start', () => {
    const received = Buffer.concat([Buffer.alloc(100_000, 'a'), Buffer.from('!'), Buffer.alloc(5000, 'b')]);
    const ex = toExchange(Buffer.from('GET / HTTP/1.1\r\n\r\n'), received, { violation: { code: 'x', message: 'x', offset: 100_000 } });
    expect(ex.receivedFrom).toBe(100_000 - 1024);
    expect(ex.received[1024]).toBe('!');
    expect(ex.received.length).toBe(1024 + 256);
    expect(ex.receivedBytes).toBe(received.length);
  });
});
