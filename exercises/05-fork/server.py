"""Exercise 05-fork: a process per connection, with os.fork().

Read exercises/05-fork/README.md first: it explains fork, the copies of every socket, zombies,
SIGCHLD and SIGTERM, and says exactly what the grader tries. Standard library only.

Run it:    PORT=8080 UPSTREAM_URL=http://127.0.0.1:9000 python3 exercises/05-fork/server.py
Poke it:   curl -v http://127.0.0.1:8080/pid
Grade it:  npm run grade -- 05 --track py
"""
import hashlib
import os
import signal
import socket
import urllib.request

# ---------------------------------------------------------------------------------------------
# GIVEN: the HTTP part. Call serve_connection(client) to serve one connection; it reads one
# request, answers it, and closes this process's copy of the socket. You need not change it.
# ---------------------------------------------------------------------------------------------

HOST = "127.0.0.1"
PORT = int(os.environ.get("PORT", "8080"))  # the grader picks a free port for you
UPSTREAM_URL = os.environ.get("UPSTREAM_URL", "http://127.0.0.1:9000").rstrip("/")
READ_TIMEOUT = 10.0  # seconds a client may take to send its request
UPSTREAM_TIMEOUT = 60.0  # seconds to wait for the upstream's answer
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 502: "Bad Gateway"}


def read_request(client: socket.socket) -> str | None:
    """Reads one request head; returns its target (`/pid`, ...), or None if the client sent none."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = client.recv(4096)
        if not chunk:
            return None
        data += chunk
        if len(data) > 65536:
            return None
    parts = data.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
    return parts[1] if len(parts) == 3 else None


def chain_hash(seed: str, rounds: int) -> str:
    h = hashlib.sha256(seed.encode("utf-8")).digest()
    for _ in range(rounds):
        h = hashlib.sha256(h).digest()
    return h.hex()


def route(target: str) -> tuple[int, str]:
    """The answer to a GET of `target`: a status and a body."""
    path, _, query = target.partition("?")
    if path == "/pid":
        return 200, f"{os.getpid()}\n"
    if path.startswith("/upstream/"):
        try:
            with urllib.request.urlopen(UPSTREAM_URL + path[len("/upstream"):], timeout=UPSTREAM_TIMEOUT) as res:
                return 200, res.read().decode("utf-8", "replace")
        except Exception as e:  # refused, reset, timed out, malformed: all a bad gateway
            return 502, f"upstream failed: {e}\n"
    if path == "/hash":
        args = dict(p.partition("=")[::2] for p in query.split("&") if p)
        try:
            rounds = int(args.get("rounds", ""))
        except ValueError:
            rounds = 0
        if not 1 <= rounds <= 10_000_000:
            return 400, "rounds must be a number from 1 to 10000000\n"
        return 200, chain_hash(args.get("seed", ""), rounds) + "\n"
    return 404, "not found\n"


def respond(client: socket.socket, status: int, body: str) -> None:
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


def serve_connection(client: socket.socket) -> None:
    """Serves one connection: one request, one response, then close() (never shutdown())."""
    try:
        client.settimeout(READ_TIMEOUT)
        target = read_request(client)
        if target is not None:
            respond(client, *route(target))
    except OSError:
        pass  # a client that vanished or stayed silent: nothing more to do for it
    finally:
        client.close()


# ---------------------------------------------------------------------------------------------
# YOUR PART: the process model. Everything below is yours to write.
# ---------------------------------------------------------------------------------------------


def main() -> None:
    # TODO 1. Make the listening socket: SO_REUSEADDR, bind to (HOST, PORT), listen with a backlog
    #   of at least 64 (the grader opens 40 connections at once).

    # TODO 2. Install a SIGCHLD handler that collects every finished child: one SIGCHLD can stand
    #   for many children. It must return normally, also when there is nothing to collect.

    # TODO 3. Install a SIGTERM handler: stop accepting, and let no child outlive the server.

    # TODO 4. Loop: accept a client, fork.
    #   In the child (fork returned 0): close the listening socket, serve_connection(client),
    #   then end the process with os._exit(0). Never return into the loop.
    #   In the parent: close the client socket, and accept the next one.

    # Delete the next line once the steps above are written.
    raise NotImplementedError("05-fork: the process model is yours to write; see the TODOs and exercises/05-fork/README.md")


if __name__ == "__main__":
    main()
