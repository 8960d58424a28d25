"""05-fork reference solution: one child process per connection, reaped by a SIGCHLD handler."""
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
# The process model.
# ---------------------------------------------------------------------------------------------

children: set[int] = set()  # pids of the children still running, for SIGTERM


class Stop(BaseException):
    """Raised by the SIGTERM handler to leave the accept loop (no `except Exception` catches it)."""


def reap_children(signum, frame) -> None:
    # One SIGCHLD may stand for many exited children: collect every one that has finished.
    while True:
        try:
            pid, _status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return  # no children at all
        if pid == 0:
            return  # children left, none of them finished
        children.discard(pid)


def on_sigterm(signum, frame) -> None:
    raise Stop()


def serve_in_child(listener: socket.socket, client: socket.socket) -> None:
    """Runs in the child: serve this one client, then end the process."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the parent's shutdown is not the child's
    listener.close()
    try:
        serve_connection(client)
    finally:
        os._exit(0)


def shut_down(listener: socket.socket) -> None:
    listener.close()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for pid in list(children):
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    while True:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            break


def main() -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((HOST, PORT))
    listener.listen(128)
    signal.signal(signal.SIGCHLD, reap_children)
    signal.signal(signal.SIGTERM, on_sigterm)
    try:
        while True:
            client, _address = listener.accept()
            try:
                pid = os.fork()
            except OSError:
                client.close()  # no more processes to be had: drop this client, keep serving
                continue
            if pid == 0:
                serve_in_child(listener, client)
            children.add(pid)
            client.close()
    except Stop:
        shut_down(listener)


if __name__ == "__main__":
    main()
