"""Exercise 07-threads: a thread per request, then a fixed pool of THREADS threads, then PROCESSES processes.

Read exercises/07-threads/README.md first: it explains threads, pools and processes of threads, and
says exactly what the grader expects. Standard library only (threading, socket, os).

Run it:    npm run fixture -- upstream --port 9000 --delay 1000     (in a first terminal)
           PORT=8080 UPSTREAM_URL=http://127.0.0.1:9000 THREADS=3 python3 exercises/07-threads/server.py
Poke it:   curl -v http://127.0.0.1:8080/upstream/hello
Grade it:  npm run grade -- 07 --track py
"""
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
    """One connection from start to end: read_request, route, write_response, and close the socket.

    TODO 1. Write it so that it never raises: an exception that leaves it ends the thread that runs it.
      - route() raises OSError when the upstream call fails: answer BAD_GATEWAY (502) then.
      - read_request() and write_response() raise OSError when the client stays silent or goes away:
        that request is over, but the thread must go on.
      - Close the client's socket whatever happened (try/finally).
    """
    raise NotImplementedError("serve")


def main() -> None:
    # TODO 2. THREADS=0: a thread per request. listener = open_listener(), then for ever: accept()
    #   a connection and start a threading.Thread that runs serve(client) for it.
    #
    # TODO 3. THREADS=k: a pool of k threads, started once. Take a connection only when a thread is
    #   free to serve it: for example k threads that each loop accept() -> serve(). Then the requests
    #   no thread can take yet wait in the kernel's accept queue (see `ss -ltn`), not in a queue of yours.
    #
    # TODO 4. PROCESSES=n (n > 1): open the listener, then os.fork() n children; each child runs its
    #   own pool (TODO 3) on the shared listener, the parent only waits for them (os.wait()).
    #   Fork before you start any thread.
    #
    # Delete the next line once the steps above are written.
    not_implemented()


def not_implemented() -> None:
    raise SystemExit(
        f"07-threads: server.py is not implemented yet (PORT={PORT}, THREADS={THREADS}, PROCESSES={PROCESSES}); "
        "follow the TODOs and exercises/07-threads/README.md"
    )


if __name__ == "__main__":
    main()
