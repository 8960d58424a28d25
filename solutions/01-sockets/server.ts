// 01-sockets reference solution: answers each connection with its request line, then closes.
import net from 'node:net';

const PORT = Number(process.env.PORT);
const BACKLOG = Number(process.env.BACKLOG ?? 5);
const CLIENT_TIMEOUT_MS = 1000; // a client may stay silent this long before we give up on it

const server = net.createServer((socket) => {
  let head = Buffer.alloc(0);
  socket.setTimeout(CLIENT_TIMEOUT_MS, () => socket.destroy());
  socket.on('error', () => socket.destroy()); // a client that vanishes must not crash the server
  socket.on('data', (chunk) => {
    head = Buffer.concat([head, chunk]);
    const end = head.indexOf('\r\n\r\n');
    if (end < 0) return;
    const requestLine = head.subarray(0, head.indexOf('\r\n'));
    const body = Buffer.concat([requestLine, Buffer.from('\n')]);
    socket.end(
      Buffer.concat([
        Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`),
        body,
      ]),
    );
    socket.removeAllListeners('data');
  });
});

server.listen({ port: PORT, host: '127.0.0.1', backlog: BACKLOG });
