"""07-threads reference solution: a thread per request, a fixed pool of THREADS threads, PROCESSES processes."""
import hashlib
import os
import socket
import threading
import urllib.parse
import urllib.request

# === Given: the HTTP part. Call these functions; you should not need to change them. ===========

HOST = "127.0.0.1"
PORT = int(os.environ.get("PORT", "8080"))
UPSTREAM_URL = os.environ.get("UPSTREAM_URL", "http://127.0.0.1:9000")
THREADS = int(os.environ.get("THREADS", "4"))  # 0: a thread per request; k: a pool of k threads
PROCESSES = int(os.environ.get("PROCESSES", "1"))  # processes, each with its own THREADS
CLIENT_TIMEOUT = 5.0  # seconds a client may stay silent before read_request gives up on it
UPSTREAM_TIMEOUT = 30.0
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 502: "Bad Gateway"}
BAD_GATEWAY = (502, "bad gateway: the upstream call failed\n")


def open_listener() -> socket.socket:
    """The listening socket on HOST:PORT (exercise 01 showed each step)."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((HOST, PORT))
    listener.listen(128)
    return listener


def read_request(client: socket.socket) -> "str | None":
    """Reads one request head; returns its target ("/upstream/a"), or None if no whole head came.

    Raises OSError (TimeoutError, ConnectionResetError) when the client stays silent or goes away."""
    client.settimeout(CLIENT_TIMEOUT)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = client.recv(4096)
        if not chunk:
            return None
        data += chunk
    parts = data.split(b"\r\n", 1)[0].split(b" ")
    return parts[1].decode("latin-1") if len(parts) == 3 else None


def route(target: str) -> "tuple[int, str]":
    """The answer to one request, as (status, body).

    Raises OSError when the call to the upstream fails: answering 502 then is the caller's job."""
    path, _, query = target.partition("?")
    if path == "/pid":
        return 200, f"{os.getpid()}\n"
    if path.startswith("/upstream/"):
        with urllib.request.urlopen(UPSTREAM_URL + target[len("/upstream"):], timeout=UPSTREAM_TIMEOUT) as res:
            return 200, res.read().decode("utf-8")
    if path == "/hash":
        return hash_chain(urllib.parse.parse_qs(query))
    return 404, "not found\n"


def hash_chain(args: "dict[str, list[str]]") -> "tuple[int, str]":
    """CPU work: h0 = sha256(seed), then rounds times h = sha256(h); answers hex(h)."""
    rounds = args.get("rounds", [""])[0]
    if not rounds.isdigit() or not 1 <= int(rounds) <= 10_000_000:
        return 400, "rounds must be a whole number from 1 to 10000000\n"
    h = hashlib.sha256(args.get("seed", [""])[0].encode("utf-8")).digest()
    for _ in range(int(rounds)):
        h = hashlib.sha256(h).digest()
    return 200, h.hex() + "\n"


def write_response(client: socket.socket, status: int, body: str) -> None:
    """Writes the whole response in one sendall. Raises OSError if the client went away."""
    data = body.encode("utf-8")
    head = (
        f"HTTP/1.1 {status} {REASONS[status]}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(data)}\r\n"
        "Connection: close\r\n"
        f"X-Served-By: {os.getpid()}\r\n"
        "\r\n"
    )
    client.sendall(head.encode("latin-1") + data)


# === Yours: the process model. ==================================================================


def serve(client: socket.socket) -> None:
    """One connection from start to end. It never raises, so the thread that runs it lives on."""
    try:
        target = read_request(client)
        if target is not None:
            try:
                status, body = route(target)
            except OSError:
                status, body = BAD_GATEWAY
            write_response(client, status, body)
    except OSError:
        pass  # the client went away or stayed silent: this request ends, the thread does not
    finally:
        client.close()


def pool_thread(listener: socket.socket) -> None:
    """One thread of the pool: it takes a connection only when it is free to serve it."""
    while True:
        client, _ = listener.accept()
        serve(client)


def run(listener: socket.socket) -> None:
    if THREADS == 0:
        while True:
            client, _ = listener.accept()
            threading.Thread(target=serve, args=(client,)).start()
    for _ in range(THREADS):
        threading.Thread(target=pool_thread, args=(listener,)).start()


def main() -> None:
    listener = open_listener()
    if PROCESSES == 1:
        return run(listener)
    # Fork before any thread exists: a child gets a copy of this one thread only.
    for _ in range(PROCESSES):
        if os.fork() == 0:
            return run(listener)
    for _ in range(PROCESSES):
        os.wait()


if __name__ == "__main__":
    main()
