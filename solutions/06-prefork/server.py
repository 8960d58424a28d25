"""06-prefork reference solution: a master that forks WORKERS workers sharing one listening socket.

The master binds and listens once, forks the workers, and then only watches them: it reaps and
replaces any worker that dies, and on SIGTERM stops them all and exits. Each worker accepts and
serves one connection at a time.
"""
import hashlib
import os
import signal
import socket
import urllib.parse
import urllib.request

# ---------------------------------------------------------------------------------------------
# Given: the HTTP part. handle(conn) reads one request, answers it; the caller closes the socket.
# ---------------------------------------------------------------------------------------------

HOST = "127.0.0.1"
PORT = int(os.environ.get("PORT", "8080"))
UPSTREAM_URL = os.environ.get("UPSTREAM_URL", "http://127.0.0.1:9000")
WORKERS = int(os.environ.get("WORKERS", "3"))

REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 502: "Bad Gateway"}


def hash_rounds(rounds: int, seed: str) -> str:
    """h_0 = sha256(seed), h_i+1 = sha256(h_i): CPU work that takes as long as `rounds` says."""
    h = hashlib.sha256(seed.encode()).digest()
    for _ in range(rounds - 1):
        h = hashlib.sha256(h).digest()
    return h.hex()


def route(target: str) -> tuple[int, str]:
    path, _, query = target.partition("?")
    if path == "/pid":
        return 200, f"{os.getpid()}\n"
    if path.startswith("/upstream/"):
        try:
            with urllib.request.urlopen(f"{UPSTREAM_URL}/{path[len('/upstream/'):]}", timeout=60) as res:
                return 200, res.read().decode()
        except OSError:
            return 502, "the upstream did not answer\n"
    if path == "/hash":
        args = urllib.parse.parse_qs(query)
        rounds = args.get("rounds", [""])[0]
        if not rounds.isdigit() or not 1 <= int(rounds) <= 10_000_000:
            return 400, "rounds must be a whole number from 1 to 10000000\n"
        return 200, hash_rounds(int(rounds), args.get("seed", [""])[0]) + "\n"
    return 404, "not found\n"


def handle(conn: socket.socket) -> None:
    """Serves one connection: reads the request head, answers it. Does not close the socket."""
    conn.settimeout(5)
    try:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = conn.recv(4096)
            if not chunk:
                return
            head += chunk
        status, body = route(head.split(b" ")[1].decode("latin-1"))
        data = body.encode()
        conn.sendall(
            f"HTTP/1.1 {status} {REASONS[status]}\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(data)}\r\n"
            "Connection: close\r\n"
            f"X-Served-By: {os.getpid()}\r\n\r\n".encode() + data
        )
    except (OSError, IndexError):
        pass  # a client that vanished or sent garbage: drop it


# ---------------------------------------------------------------------------------------------
# The process model.
# ---------------------------------------------------------------------------------------------


STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


def work(listener: socket.socket) -> None:
    """A worker: accept, serve, close, for ever; one connection at a time."""
    while True:
        conn, _ = listener.accept()
        with conn:
            handle(conn)


def spawn(listener: socket.socket) -> int:
    """Forks a worker. The caller blocks STOP_SIGNALS, so none lands between fork() and the master
    recording the pid, nor in a new worker that still has the master's handlers."""
    pid = os.fork()
    if pid == 0:
        try:
            for sig in STOP_SIGNALS:
                signal.signal(sig, signal.SIG_DFL)  # a worker simply dies of them
            signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
            work(listener)
        finally:
            os._exit(0)  # never return into the master's code
    return pid


def main() -> None:
    # Stop signals wait until the master is ready for them, in wait() below.
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    # Bound and listening once, before any fork: every worker inherits this one socket.
    listener = socket.create_server((HOST, PORT))  # sets SO_REUSEADDR
    workers: set[int] = set()
    stopping = False

    def stop(signum, frame):
        nonlocal stopping
        stopping = True
        for pid in workers:
            os.kill(pid, signal.SIGTERM)

    for sig in STOP_SIGNALS:
        signal.signal(sig, stop)
    for _ in range(WORKERS):
        workers.add(spawn(listener))
    while workers:
        # A stop signal is let in only here: a handler that returns does not break wait() (PEP 475).
        signal.pthread_sigmask(signal.SIG_UNBLOCK, STOP_SIGNALS)
        pid, _ = os.wait()  # reaps whichever worker ended
        signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
        workers.discard(pid)
        if not stopping:
            workers.add(spawn(listener))


if __name__ == "__main__":
    main()
