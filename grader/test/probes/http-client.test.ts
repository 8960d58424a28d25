import net, { type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { httpCall } from '../../src/probes/http/client.ts';

const servers: net.Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

/** A raw server that answers every connection with these bytes once a request head has arrived. */
async function serve(answer: string | null): Promise<number> {
  const server = net.createServer((socket) => {
    socket.on('error', () => socket.destroy());
    socket.on('data', (d) => {
      if (!d.includes('\r\n\r\n')) return;
      if (answer === null) socket.resetAndDestroy();
      else socket.end(answer);
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

describe('httpCall (undici)', () => {
  it('answers with status and body, and a transcript of the head undici wrote', async () => {
    const port = await serve('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Mixed-Case: yes\r\n\r\nhi');
    const a = await httpCall(port, { method: 'POST', path: '/p', body: Buffer.from('abc') }, { timeoutMs: 2000 });
    expect([a.status, a.body?.toString(), a.error]).toEqual([200, 'hi', undefined]);
    expect(a.exchange.sent).toMatch(/^POST \/p HTTP\/1\.1\r\nhost: 127\.0\.0\.1:\d+\r\n/);
    expect(a.exchange.sent.endsWith('content-length: 3\r\n\r\nabc')).toBe(true);
    expect(a.exchange.received).toContain('X-Mixed-Case: yes\r\n');
    expect(a.exchange.received.endsWith('\r\n\r\nhi')).toBe(true);
  });

  it('turns a reset into an answer with undici\'s error code, not a throw', async () => {
    const port = await serve(null);
    const a = await httpCall(port, { method: 'GET', path: '/' }, { timeoutMs: 2000 });
    expect(a.status).toBeUndefined();
    expect(a.error).toMatch(/^UND_ERR_SOCKET|ECONNRESET/);
  });

  it('reports a response llhttp refuses', async () => {
    const port = await serve('HTTP/1.1 200 OK\nContent-Length: 0\n\n');
    const a = await httpCall(port, { method: 'GET', path: '/' }, { timeoutMs: 2000 });
    expect(a.error).toMatch(/^(HTTPParserError|HPE_).*CR/);
  });
});
