"""02-http reference solution: HTTP/1.1 written by hand on top of the socket module.

Bytes come in as a stream; the server cuts requests out of it one after another (keep-alive,
pipelining, requests split over many packets), answers each with a Content-Length-framed
response, and turns any malformed request into a 400 and a clean close. One thread per
connection, so a client that keeps its connection open and idle does not hold up the others.
"""
import email.utils
import os
import re
import socket
import sys
import threading
import time
import traceback

HOST = "127.0.0.1"
PORT = int(os.environ["PORT"])
SERVER_NAME = "serverlab-ref/1.0"
IDLE_TIMEOUT = 10.0  # seconds: close keep-alive connections that stay silent this long
LINGER_TIMEOUT = 1.0  # seconds: how long to drain a client's leftover bytes before closing
MAX_HEAD_BYTES = 16 * 1024  # request line + headers; more than this is refused (431)
MAX_BODY_BYTES = 16 * 1024 * 1024  # bodies are held in memory, so cap them (413)

KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"}
TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 token: methods and header names
VERSION = re.compile(r"HTTP/(\d)\.(\d)")
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")  # control characters other than HTAB
BAD_TARGET = re.compile(r"[\x00-\x20\x7f]")

REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    413: "Content Too Large",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    501: "Not Implemented",
    505: "HTTP Version Not Supported",
}

HOME_PAGE = """<!doctype html>
<html>
  <head><meta charset="utf-8"><title>serverlab</title></head>
  <body><h1>Hello from serverlab</h1><p>This page was served by a hand-written HTTP/1.1 server.</p></body>
</html>
"""


class HttpError(Exception):
    """A request we refuse; `status` is the answer, and the connection is closed after it."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class Request:
    def __init__(self, method, target, minor, headers, body_length):
        self.method = method
        self.target = target
        self.minor = minor  # HTTP/1.<minor>: 0 and 1 differ in Host and keep-alive rules
        self.headers = headers  # lower-case name -> list of every value, in order
        self.body_length = body_length
        self.body = b""  # filled in once all body_length bytes have arrived


class Response:
    def __init__(self, status, content_type, body, extra_headers=()):
        self.status = status
        self.content_type = content_type
        self.body = body
        self.extra_headers = list(extra_headers)


# ---------------------------------------------------------------------------------------------
# Reading: bytes in, requests out


class RequestReader:
    """Cuts complete requests off the front of the byte stream of one connection."""

    def __init__(self):
        self.buffer = bytearray()  # bytes received but not yet used
        self.head = None  # a parsed request still waiting for its body

    def push(self, data):
        self.buffer += data

    def next(self):
        """The next complete request, or None until more bytes arrive. Raises HttpError."""
        if self.head is None:
            self.head = self.read_head()
            if self.head is None:
                return None
        if len(self.buffer) < self.head.body_length:
            return None
        request, self.head = self.head, None
        request.body = bytes(self.take(request.body_length))
        return request

    def take(self, n):
        data = self.buffer[:n]
        del self.buffer[:n]
        return data

    def read_head(self):
        # RFC 9112 section 2.2: ignore empty lines before a request (some clients add CRLF
        # after a body).
        while self.buffer.startswith(b"\r\n"):
            del self.buffer[:2]
        # Judge the request line as soon as it is complete: a client sending garbage may never
        # send the blank line that ends a head, and it should get its 400 now, not after a timeout.
        lf = self.buffer.find(b"\n")
        if lf >= 0:
            if lf == 0 or self.buffer[lf - 1] != 0x0D:
                raise HttpError(400, "request line must end with CRLF")
            parse_request_line(self.buffer[: lf - 1].decode("latin-1"))
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            if len(self.buffer) > MAX_HEAD_BYTES:
                raise HttpError(431, "request head too large")
            return None
        if end > MAX_HEAD_BYTES:
            raise HttpError(431, "request head too large")
        head = self.take(end + 4)[:end]
        return parse_head(head.decode("latin-1"))


def parse_request_line(line):
    """`METHOD SP target SP HTTP/x.y`: exactly three parts, single spaces, nothing else."""
    parts = line.split(" ")
    if len(parts) != 3:
        raise HttpError(400, 'request line must be "METHOD target HTTP/x.y"')
    method, target, version = parts
    if not TOKEN.fullmatch(method):
        raise HttpError(400, "method is not a token")
    if not target or BAD_TARGET.search(target):
        raise HttpError(400, "bad request target")
    v = VERSION.fullmatch(version)
    if not v:
        raise HttpError(400, "version must be HTTP/<digit>.<digit>")
    if v.group(1) != "1":
        raise HttpError(505, f"{version} is not supported")
    return method, target, int(v.group(2))


def parse_header_line(line):
    """`Name: value`. Strict on purpose: lenient parsers are how request smuggling happens."""
    if line[:1] in (" ", "\t"):
        raise HttpError(400, "obsolete line folding")
    name, colon, value = line.partition(":")
    if not colon:
        raise HttpError(400, "header line without a colon")
    # A token has no whitespace, so this also refuses "Host : x".
    if not TOKEN.fullmatch(name):
        raise HttpError(400, f"bad header name {name!r}")
    value = value.strip(" \t")
    if CONTROL.search(value):
        raise HttpError(400, f"control character in header {name}")
    return name.lower(), value


def parse_head(text):
    """The head is everything before the blank line: request line and header lines."""
    request_line, *header_lines = text.split("\r\n")
    method, target, minor = parse_request_line(request_line)
    headers = {}
    for line in header_lines:
        name, value = parse_header_line(line)
        headers.setdefault(name, []).append(value)
    hosts = headers.get("host", [])
    if len(hosts) > 1:
        raise HttpError(400, "more than one Host header")
    if minor >= 1 and not hosts:
        raise HttpError(400, "HTTP/1.1 requires a Host header")
    return Request(method, target, minor, headers, body_length(headers))


def body_length(headers):
    """How many body bytes follow the head. Framing must be unambiguous, or the next request on
    the connection would be read from the wrong offset."""
    lengths = headers.get("content-length", [])
    if "transfer-encoding" in headers:
        if lengths:
            raise HttpError(400, "both Transfer-Encoding and Content-Length")
        raise HttpError(501, "Transfer-Encoding is not supported by this server")
    if not lengths:
        return 0
    # Not int(): it would accept "+5", " 5" and "1_000".
    if not all(re.fullmatch(r"[0-9]+", v) for v in lengths):
        raise HttpError(400, "Content-Length must be digits only")
    if len({int(v) for v in lengths}) > 1:
        raise HttpError(400, "conflicting Content-Length headers")
    length = int(lengths[0])
    if length > MAX_BODY_BYTES:
        raise HttpError(413, f"bodies are limited to {MAX_BODY_BYTES} bytes")
    return length


# ---------------------------------------------------------------------------------------------
# Answering: request in, response out


def home(request):
    return html(200, HOME_PAGE)


def echo(request):
    return Response(200, "application/octet-stream", request.body)


ROUTES = {
    "/": (("GET", "HEAD"), home),
    "/echo": (("POST",), echo),
}


def route(request):
    if request.method not in KNOWN_METHODS:
        return text(501, f"Method {request.method} is not implemented.\n")
    path = request.target.split("?", 1)[0]
    if path not in ROUTES:
        return text(404, f"Nothing at {path}.\n")
    allowed, handler = ROUTES[path]
    if request.method not in allowed:
        allow = ", ".join(allowed)
        return Response(405, *plain(f"{path} allows {allow}.\n"), [("Allow", allow)])
    return handler(request)


def html(status, page):
    return Response(status, "text/html; charset=utf-8", page.encode("utf-8"))


def plain(message):
    return "text/plain; charset=utf-8", message.encode("utf-8")


def text(status, message):
    return Response(status, *plain(message))


def keep_alive(request):
    """HTTP/1.1 keeps a connection open unless told otherwise; HTTP/1.0 closes unless asked."""
    tokens = {t.strip().lower() for v in request.headers.get("connection", []) for t in v.split(",")}
    if "close" in tokens:
        return False
    return request.minor >= 1 or "keep-alive" in tokens


def connection_header(request, keep):
    """Say "close" whenever we close; say "keep-alive" only to HTTP/1.0, where it is not the default."""
    if not keep:
        return "close"
    return "keep-alive" if request.minor == 0 else None


def serialize(response, method=None, connection=None):
    """Status line, headers and body as one bytes object, so it goes out in one sendall (one
    packet for a small response: no Nagle delay waiting for the ACK of a header packet)."""
    lines = [
        f"HTTP/1.1 {response.status} {REASONS.get(response.status, 'Unknown')}",
        f"Date: {email.utils.formatdate(usegmt=True)}",  # IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT"
        f"Server: {SERVER_NAME}",
        f"Content-Type: {response.content_type}",
        f"Content-Length: {len(response.body)}",  # bytes, not characters: measure the bytes
    ]
    lines += [f"{name}: {value}" for name, value in response.extra_headers]
    if connection:
        lines.append(f"Connection: {connection}")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    # HEAD gets GET's headers (Content-Length included) but never the body.
    return head if method == "HEAD" else head + response.body


# ---------------------------------------------------------------------------------------------
# Connections


def serve_connection(sock):
    """Answers requests on one connection until either side closes it."""
    reader = RequestReader()
    sock.settimeout(IDLE_TIMEOUT)
    while True:
        try:
            # One recv may hold several pipelined requests, or a fraction of one: answer every
            # complete request, in order, and keep the rest for after the next recv.
            while (request := reader.next()) is not None:
                keep = keep_alive(request)
                sock.sendall(serialize(route(request), request.method, connection_header(request, keep)))
                if not keep:
                    return
        except HttpError as err:
            # A malformed request: we cannot know where the next one would start, so close.
            refusal = text(err.status, f"{REASONS[err.status]}: {err}\n")
            sock.sendall(serialize(refusal, connection="close"))
            return
        data = sock.recv(65536)
        if not data:
            return  # the client closed (possibly halfway through a request)
        reader.push(data)


def close_gracefully(sock):
    """Closes without a reset. Closing a socket whose receive buffer still holds unread bytes
    makes the kernel send RST, which can destroy the response before the client reads it. So:
    send FIN first, then read and discard what the client still sends, briefly, then close."""
    try:
        sock.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + LINGER_TIMEOUT
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            if not sock.recv(65536):
                break
    except OSError:
        pass  # already reset, timed out or gone: nothing more to do
    finally:
        sock.close()


def handle(sock):
    """One thread per connection: whatever goes wrong here stays on this connection."""
    try:
        serve_connection(sock)
    except OSError:
        pass  # the client reset, vanished or stayed silent too long
    except Exception:
        traceback.print_exc(file=sys.stderr)  # a bug: report it, and keep serving the others
        try:
            sock.sendall(serialize(text(500, "Internal Server Error\n"), connection="close"))
        except OSError:
            pass
    finally:
        close_gracefully(sock)


def main():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((HOST, PORT))
    listener.listen(128)
    print(f"listening on http://{HOST}:{PORT}/", flush=True)
    while True:
        try:
            client, _address = listener.accept()
        except OSError:
            time.sleep(0.05)  # e.g. out of file descriptors: wait a moment rather than spin
            continue
        threading.Thread(target=handle, args=(client,), daemon=True).start()


if __name__ == "__main__":
    main()
