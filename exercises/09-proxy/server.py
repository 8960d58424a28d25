"""Exercise 09-proxy: a proxy to a slow upstream, and a cache in front of it over memcached's protocol.

Read exercises/09-proxy/README.md first: it explains what a proxy must forward and what it must not,
the memcached commands, and what the grader tries. Standard library only (socket, threading,
http.client, ...). The process model is yours: threads, processes or a selector loop.

Run it:    npm run fixture -- upstream --port 9000 --delay 1000     (in a first terminal)
           npm run fixture -- cache --port 9001                     (in a second one)
           PORT=8080 UPSTREAM_URL=http://127.0.0.1:9000 CACHE_ADDR=127.0.0.1:9001 python3 exercises/09-proxy/server.py
Poke it:   curl -v http://127.0.0.1:8080/proxy/hello
Grade it:  npm run grade -- 09 --track py
"""
import hashlib
import http.client
import os
import socket
import threading
import urllib.parse

# === Given: the HTTP part. Call these functions; you should not need to change them. ===========

HOST = "127.0.0.1"
PORT = int(os.environ.get("PORT", "8080"))
UPSTREAM_URL = os.environ.get("UPSTREAM_URL", "http://127.0.0.1:9000")
CACHE_ADDR = os.environ.get("CACHE_ADDR", "127.0.0.1:9001")
UPSTREAM_TIMEOUT = int(os.environ.get("UPSTREAM_TIMEOUT_MS", "1500")) / 1000
CACHE_TIMEOUT = int(os.environ.get("CACHE_TIMEOUT_MS", "1000")) / 1000
CLIENT_TIMEOUT = 5.0  # seconds a client may stay silent before read_request gives up on it
VIA = "1.1 serverlab-proxy"
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 502: "Bad Gateway", 504: "Gateway Timeout"}


class Request:
    def __init__(self, method: str, target: str, headers: "list[tuple[str, str]]", body: bytes):
        self.method = method
        self.target = target  # as sent: "/proxy/a/b?x=1"
        self.headers = headers  # in order, names as sent, repeats kept
        self.body = body


def open_listener() -> socket.socket:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((HOST, PORT))
    listener.listen(128)
    return listener


def read_request(client: socket.socket) -> "Request | None":
    """Reads one request, its body too (by Content-Length); None if no whole request came.

    Raises OSError (TimeoutError, ConnectionResetError) when the client stays silent or goes away."""
    client.settimeout(CLIENT_TIMEOUT)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = client.recv(65536)
        if not chunk:
            return None
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3:
        return None
    headers = []
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon:
            headers.append((name.strip(), value.strip()))
    length = int(header(headers, "content-length") or "0")
    while len(rest) < length:
        chunk = client.recv(65536)
        if not chunk:
            return None
        rest += chunk
    return Request(parts[0], parts[1], headers, rest[:length])


def header(headers: "list[tuple[str, str]]", name: str) -> "str | None":
    """The first value of a header, by name in any case."""
    for n, v in headers:
        if n.lower() == name.lower():
            return v
    return None


def write_response(client: socket.socket, status: int, headers: "list[tuple[str, str]]", body: bytes, reason: str = "") -> None:
    """Writes the whole response with its Content-Length and Connection: close, in one sendall."""
    head = f"HTTP/1.1 {status} {reason or REASONS.get(status, 'Unknown')}\r\n"
    for name, value in headers:
        head += f"{name}: {value}\r\n"
    head += f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    client.sendall(head.encode("latin-1") + body)


def text(client: socket.socket, status: int, body: str, extra: "list[tuple[str, str]]" = []) -> None:
    """A response of the server's own, in plain text."""
    write_response(client, status, [("Content-Type", "text/plain; charset=utf-8"), *extra], body.encode("utf-8"))


def hash_chain(query: str) -> "tuple[int, str]":
    """CPU work: h0 = sha256(seed), then rounds times h = sha256(h); answers hex(h)."""
    args = urllib.parse.parse_qs(query)
    rounds = args.get("rounds", [""])[0]
    if not rounds.isdigit() or not 1 <= int(rounds) <= 10_000_000:
        return 400, "rounds must be a whole number from 1 to 10000000\n"
    h = hashlib.sha256(args.get("seed", [""])[0].encode("utf-8")).digest()
    for _ in range(int(rounds)):
        h = hashlib.sha256(h).digest()
    return 200, h.hex() + "\n"


# === Yours: the proxy, the cache client, and the process model. ================================

HOP_BY_HOP = {"connection", "keep-alive", "proxy-authorization", "proxy-authenticate", "te", "trailer", "transfer-encoding", "upgrade"}


def proxy(client: socket.socket, req: Request) -> None:
    """/proxy/<rest>: forward req to UPSTREAM_URL/<rest> and write the upstream's answer back.

    TODO 1. Call the upstream (http.client.HTTPConnection with timeout=UPSTREAM_TIMEOUT, or a socket
      of your own): the same method, the path after /proxy with its query, the body with its
      Content-Length, every header but the hop-by-hop ones (HOP_BY_HOP and whatever Connection
      names), Host set to the upstream's host:port, and a Via header added.
    TODO 2. Write back the upstream's status, reason, headers (minus hop-by-hop ones, plus Via) and
      body with write_response. Refused or reset: 502. No answer within UPSTREAM_TIMEOUT: 504.
    """
    raise NotImplementedError("proxy")


def cached(client: socket.socket, req: Request) -> None:
    """/cache/<key>: the value from the cache, or from the upstream on a miss.

    TODO 3. Connect to CACHE_ADDR (timeout=CACHE_TIMEOUT) and send `get <key>\\r\\n`. Read the whole
      reply: `VALUE <key> <flags> <bytes>`, the data, `END` (a hit), or `END` alone (a miss).
    TODO 4. Hit: 200 with the value, X-Cache: HIT. Miss: GET UPSTREAM_URL/<key>; a 200 is stored
      with `set <key> 0 0 <bytes>` and answered with X-Cache: MISS; any other status is passed on
      and not stored. A cache that fails or is slow counts as a miss.
    """
    raise NotImplementedError("cached")


def serve(client: socket.socket) -> None:
    """One connection from start to end: read_request, route, answer, close. It must never raise."""
    try:
        req = read_request(client)
        if req is None:
            return
        path, _, query = req.target.partition("?")
        if path.startswith("/proxy/"):
            proxy(client, req)
        elif path.startswith("/cache/") and req.method == "GET":
            cached(client, req)
        elif path == "/hash":
            status, body = hash_chain(query)
            text(client, status, body)
        else:
            text(client, 404, "not found\n")
    except OSError:
        pass
    finally:
        client.close()


def main() -> None:
    # TODO 5. Serve many connections at once, in the model of your choice: a thread per connection
    #   (threading.Thread(target=serve, args=(client,)).start() after each accept), a pool, forked
    #   processes, or a selector loop (then serve() must be cut into steps). The lines below serve
    #   one connection at a time, which the grader fails on purpose.
    #
    # Delete the next line once proxy() and cached() are written.
    not_implemented()
    listener = open_listener()
    while True:
        client, _ = listener.accept()
        serve(client)


def not_implemented() -> None:
    raise SystemExit(
        f"09-proxy: server.py is not implemented yet (PORT={PORT}, UPSTREAM_URL={UPSTREAM_URL}, CACHE_ADDR={CACHE_ADDR}); "
        "follow the TODOs and exercises/09-proxy/README.md"
    )


if __name__ == "__main__":
    main()
