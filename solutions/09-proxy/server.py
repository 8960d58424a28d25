"""09-proxy reference solution: a thread per connection, each with its own upstream and cache connections."""
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


class UpstreamTimeout(Exception):
    pass


def end_to_end(headers: "list[tuple[str, str]]") -> "list[tuple[str, str]]":
    """The headers minus the hop-by-hop ones, those that Connection names included (RFC 9110 §7.6.1)."""
    named = {t.strip().lower() for n, v in headers if n.lower() == "connection" for t in v.split(",")}
    return [(n, v) for n, v in headers if n.lower() not in HOP_BY_HOP and n.lower() not in named]


def call_upstream(method: str, path: str, headers: "list[tuple[str, str]]", body: bytes, has_body: bool):
    """(status, reason, headers, body) from the upstream. Raises UpstreamTimeout, or OSError/HTTPException when it fails."""
    u = urllib.parse.urlsplit(UPSTREAM_URL)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=UPSTREAM_TIMEOUT)
    try:
        conn.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", f"{u.hostname}:{u.port}")
        for name, value in headers:
            if name.lower() not in ("host", "content-length", "via"):
                conn.putheader(name, value)
        vias = [v for n, v in headers if n.lower() == "via"]
        conn.putheader("Via", ", ".join([*vias, VIA]))
        if has_body:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body if has_body else None)
        res = conn.getresponse()
        return res.status, res.reason, res.getheaders(), res.read()
    except TimeoutError as e:
        raise UpstreamTimeout() from e
    finally:
        conn.close()


def proxy(client: socket.socket, req: Request) -> None:
    try:
        has_body = header(req.headers, "content-length") is not None
        status, reason, headers, body = call_upstream(req.method, req.target[len("/proxy"):], end_to_end(req.headers), req.body, has_body)
    except UpstreamTimeout:
        return text(client, 504, "gateway timeout: the upstream did not answer in time\n")
    except (OSError, http.client.HTTPException):
        return text(client, 502, "bad gateway: the upstream call failed\n")
    vias = [v for n, v in headers if n.lower() == "via"]
    passed = [(n, v) for n, v in end_to_end(headers) if n.lower() not in ("content-length", "via")]
    write_response(client, status, [*passed, ("Via", ", ".join([*vias, VIA]))], body, reason)


def cache_connect() -> "socket.socket | None":
    host, _, port = CACHE_ADDR.rpartition(":")
    try:
        return socket.create_connection((host, int(port)), timeout=CACHE_TIMEOUT)
    except OSError:
        return None


def cache_get(conn: socket.socket, reader, key: str) -> "bytes | None":
    """The value stored for key, or None on a miss. Reads the reply through a buffered reader:
    one recv may hold part of it, or more than it."""
    conn.sendall(f"get {key}\r\n".encode("utf-8"))
    line = reader.readline()
    if line.startswith(b"VALUE "):
        length = int(line.split()[3])
        data = reader.read(length + 2)
        if len(data) != length + 2 or reader.readline() != b"END\r\n":
            raise OSError("short reply from the cache")
        return data[:length]
    if line != b"END\r\n":
        raise OSError(f"unexpected reply from the cache: {line!r}")
    return None


def cache_set(conn: socket.socket, reader, key: str, value: bytes) -> None:
    conn.sendall(f"set {key} 0 0 {len(value)}\r\n".encode("utf-8") + value + b"\r\n")
    reader.readline()


def cached(client: socket.socket, req: Request) -> None:
    key = req.target[len("/cache/"):]
    usable = 0 < len(key.encode("utf-8")) <= 250 and not any(c.isspace() or ord(c) < 33 for c in key)
    conn = cache_connect() if usable else None
    reader = conn.makefile("rb") if conn else None
    try:
        value = None
        if conn:
            try:
                value = cache_get(conn, reader, key)
            except OSError:
                conn.close()
                conn = None  # a cache that fails is a miss, and is not asked again for this request
        if value is not None:
            return write_response(client, 200, [("Content-Type", "application/octet-stream"), ("X-Cache", "HIT")], value)
        try:
            status, reason, headers, body = call_upstream("GET", "/" + key, [], b"", False)
        except UpstreamTimeout:
            return text(client, 504, "gateway timeout: the upstream did not answer in time\n")
        except (OSError, http.client.HTTPException):
            return text(client, 502, "bad gateway: the upstream call failed\n")
        if status == 200 and conn:
            try:
                cache_set(conn, reader, key, body)
            except OSError:
                pass
        write_response(client, status, [("Content-Type", "application/octet-stream"), ("X-Cache", "MISS")], body, reason)
    finally:
        if conn:
            conn.close()


def serve(client: socket.socket) -> None:
    """One connection from start to end; it never raises, so nothing it meets ends the server."""
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
        pass  # the client went away or stayed silent
    finally:
        client.close()


def main() -> None:
    listener = open_listener()
    while True:
        client, _ = listener.accept()
        threading.Thread(target=serve, args=(client,), daemon=True).start()


if __name__ == "__main__":
    main()
