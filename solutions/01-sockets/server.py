"""01-sockets reference solution: one client at a time, each answered with its request line."""
import os
import socket

HOST = "127.0.0.1"
PORT = int(os.environ["PORT"])
BACKLOG = int(os.environ.get("BACKLOG", "5"))
CLIENT_TIMEOUT = 1.0  # seconds a client may stay silent before we give up on it


def read_head(client: socket.socket) -> bytes:
    """Reads until the blank line that ends the request head (or the client stops sending)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = client.recv(4096)
        if not chunk:
            break
        data += chunk
    return data


def answer(client: socket.socket) -> None:
    head = read_head(client)
    if not head:
        return
    request_line = head.split(b"\r\n", 1)[0]
    body = request_line + b"\n"
    response = (
        b"HTTP/1.1 200 OK\r\n"
        b"Content-Type: text/plain\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n"
        b"Connection: close\r\n"
        b"\r\n" + body
    )
    client.sendall(response)


def main() -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((HOST, PORT))
    listener.listen(BACKLOG)
    while True:
        client, _address = listener.accept()
        client.settimeout(CLIENT_TIMEOUT)
        try:
            answer(client)
        except OSError:
            pass  # a silent, slow or vanished client: drop it and serve the next one
        finally:
            client.close()


if __name__ == "__main__":
    main()
