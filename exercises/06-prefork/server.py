"""Exercise 06-prefork: a master that forks WORKERS workers sharing one listening socket.

Read exercises/06-prefork/README.md first: it explains the master's jobs, how one socket is shared
after fork, and exactly what the grader expects. Use only the standard library.

Run it:    PORT=8080 UPSTREAM_URL=http://127.0.0.1:9000 WORKERS=3 python3 exercises/06-prefork/server.py
Poke it:   curl -v http://127.0.0.1:8080/pid
Grade it:  npm run grade -- 06 --track py
"""
import hashlib
import os
import signal
import socket
import sys
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
# The process model: your part.
# ---------------------------------------------------------------------------------------------


def main() -> None:
    # TODO 0. Block SIGTERM and SIGINT first (signal.pthread_sigmask(signal.SIG_BLOCK, ...)):
    #   they then wait until the master lets them in, in TODO 4. The README says why.

    # TODO 1. Make the listening socket once, here in the master, before any fork:
    #   bound to (HOST, PORT), with SO_REUSEADDR, listening. socket.create_server does all three.
    #   Every worker you fork inherits this one socket, with its one accept queue.

    # TODO 2. Catch SIGTERM (and SIGINT, for Ctrl-C) in the master with signal.signal. The handler
    #   remembers that the server is stopping and sends SIGTERM to every worker (os.kill).

    # TODO 3. Fork WORKERS workers and remember their pids.
    #   In the child (fork() returned 0): set SIGTERM and SIGINT back to signal.SIG_DFL, unblock
    #   them, then loop for ever: accept() a connection, call handle(conn), close conn. One
    #   connection at a time. The child must never return into this function: end it with
    #   os._exit(), not return or sys.exit().

    # TODO 4. Watch the workers: unblock the stop signals, block in os.wait() (it returns when ANY
    #   child ends, with its pid, and reaps it: no zombie), block the signals again. Forget that
    #   pid; unless the server is stopping, fork a new worker in its place. When no worker is
    #   left, return: the master exits. The master never calls accept() itself.

    # Delete the next line once the steps above are written.
    not_implemented()


def not_implemented() -> None:
    print(
        f"06-prefork: server.py is not implemented yet (PORT={PORT}, WORKERS={WORKERS}); "
        "follow the TODOs and exercises/06-prefork/README.md",
        file=sys.stderr,
    )
    sys.exit(1)


if __name__ == "__main__":
    main()
