"""04-gateway reference solution: a threaded HTTP/1.1 server that runs a WSGI app (PEP 3333).

The app is named by APP ("module:callable", as gunicorn takes it) and found in the folder APP_DIR,
which goes first on sys.path. It is imported once, at start-up. Each connection gets a thread and
is kept alive; each request becomes an environ, the app is called with start_response, and what it
returns is written back: with the app's Content-Length if it gave one (cut there), chunked if not.
"""
import importlib
import os
import socket
import sys
import threading
import traceback
from datetime import datetime, timezone
from urllib.parse import unquote_to_bytes

HOST = "127.0.0.1"
PORT = int(os.environ["PORT"])
CLIENT_TIMEOUT = 10.0  # seconds a keep-alive client may stay silent
MAX_LINE = 64 * 1024
MAX_HEADERS = 200


def load_app():
    module_name, _, attr = os.environ["APP"].partition(":")
    app_dir = os.environ.get("APP_DIR")
    if app_dir:
        sys.path.insert(0, app_dir)
    return getattr(importlib.import_module(module_name), attr or "application")


APP = load_app()


# ---------------------------------------------------------------------------------------------
# The request: a head read line by line from a buffered file over the socket.
# ---------------------------------------------------------------------------------------------


class BadRequest(Exception):
    pass


def read_head(rfile):
    """(method, target, version, [(name, value)]), or None when the client closed between requests."""
    line = rfile.readline(MAX_LINE)
    while line in (b"\r\n", b"\n"):  # RFC 9112 2.2: a stray empty line before a request is ignored
        line = rfile.readline(MAX_LINE)
    if not line:
        return None
    parts = line.rstrip(b"\r\n").split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        raise BadRequest("bad request line")
    method, target, version = (p.decode("latin-1") for p in parts)
    headers = []
    while True:
        line = rfile.readline(MAX_LINE)
        if not line:
            raise BadRequest("the head ended early")
        if line in (b"\r\n", b"\n"):
            break
        name, colon, value = line.rstrip(b"\r\n").partition(b":")
        if not colon or not name or name != name.strip() or len(headers) >= MAX_HEADERS:
            raise BadRequest("bad header line")
        headers.append((name.decode("latin-1"), value.strip(b" \t").decode("latin-1")))
    return method, target, version, headers


class Input:
    """wsgi.input: reads the body from the socket, and gives b'' once CONTENT_LENGTH bytes are read."""

    def __init__(self, rfile, length):
        self.rfile = rfile
        self.left = length

    def _size(self, size):
        return self.left if size is None or size < 0 else min(size, self.left)

    def read(self, size=-1):
        size = self._size(size)
        data = self.rfile.read(size) if size else b""
        self.left -= len(data)
        return data

    def readline(self, size=-1):
        size = self._size(size)
        data = self.rfile.readline(size) if size else b""
        self.left -= len(data)
        return data

    def readlines(self, hint=-1):
        lines = []
        total = 0
        for line in self:
            lines.append(line)
            total += len(line)
            if 0 < hint <= total:
                break
        return lines

    def __iter__(self):
        return iter(self.readline, b"")

    def drain(self):
        """What the app left unread, so the next request on the connection starts where it should."""
        while self.left and self.read(65536):
            pass


def build_environ(method, target, version, headers, body):
    path, _, query = target.partition("?")
    if "://" in path:  # absolute-form: the path starts after the authority
        path = "/" + path.split("://", 1)[1].partition("/")[2]
    environ = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        # PEP 3333: native strings hold bytes, one code point per byte (latin-1).
        "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
        "QUERY_STRING": query,
        "SERVER_NAME": HOST,
        "SERVER_PORT": str(PORT),
        "SERVER_PROTOCOL": version,
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": body,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in headers:
        key = name.upper().replace("-", "_")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            environ[key] = value  # never also as HTTP_CONTENT_*
            continue
        key = "HTTP_" + key
        # RFC 9110 5.3: repeated field lines are one list, joined by commas in order.
        environ[key] = environ[key] + ", " + value if key in environ else value
    host = environ.get("HTTP_HOST")
    if host:
        environ["SERVER_NAME"] = host.rpartition(":")[0] if host.rpartition(":")[2].isdigit() else host
    return environ


# ---------------------------------------------------------------------------------------------
# The response: start_response stores the status and headers; they go out with the first
# non-empty chunk (or at the end), so a late start_response with exc_info can still replace them.
# ---------------------------------------------------------------------------------------------


class ClientGone(Exception):
    """The client went away while we wrote."""


def http_date():
    return datetime.now(timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")


class Response:
    def __init__(self, sock, method, version, keep_alive):
        self.sock = sock
        self.method = method
        self.version = version
        self.keep_alive = keep_alive
        self.status = None
        self.headers = None
        self.sent_headers = False
        self.length = None  # the app's Content-Length, if it gave one
        self.sent = 0  # body bytes sent
        self.chunked = False

    def start_response(self, status, headers, exc_info=None):
        if exc_info:
            try:
                if self.sent_headers:
                    # Too late to replace anything: PEP 3333 says re-raise, so the app stops.
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None  # no reference cycle through the traceback
        elif self.status is not None:
            raise AssertionError("start_response called a second time without exc_info")
        self.status = status
        self.headers = list(headers)
        return self.write

    def send(self, data):
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise ClientGone() from e

    def send_headers(self):
        names = {name.lower() for name, _ in self.headers}
        lines = ["HTTP/1.1 " + self.status]
        for name, value in self.headers:
            if name.lower() == "content-length":
                self.length = int(value)
            lines.append(name + ": " + value)
        if "date" not in names:
            lines.append("Date: " + http_date())
        if "server" not in names:
            lines.append("Server: serverlab-gateway")
        bodyless = self.method == "HEAD" or self.status[:3] in ("204", "304") or self.status[:1] == "1"
        if self.length is None and not bodyless:
            if self.version == "HTTP/1.1":
                self.chunked = True
                lines.append("Transfer-Encoding: chunked")
            else:
                self.keep_alive = False  # HTTP/1.0 and no length: the body ends at the close
        if not self.keep_alive:
            lines.append("Connection: close")
        self.bodyless = bodyless
        self.sent_headers = True
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def write(self, data):
        if self.status is None:
            raise AssertionError("write() before start_response")
        if not isinstance(data, bytes):
            raise TypeError("a body chunk must be bytes, not %s" % type(data).__name__)
        if not data:
            return  # an empty chunk is neither the end nor a reason to send the headers
        head = b"" if self.sent_headers else self.send_headers()
        if self.bodyless:
            data = b""
        elif self.length is not None:
            data = data[: self.length - self.sent]  # never more than the app's own Content-Length
        self.sent += len(data)
        if self.chunked and data:
            data = b"%x\r\n%s\r\n" % (len(data), data)
        self.send(head + data)

    def done(self):
        return self.length is not None and self.sent >= self.length

    def finish(self):
        if not self.sent_headers:
            if self.length is None and not any(n.lower() == "content-length" for n, _ in self.headers):
                self.headers.append(("Content-Length", "0"))
            self.send(self.send_headers())
        elif self.chunked:
            self.send(b"0\r\n\r\n")
        if self.length is not None and self.sent < self.length:
            self.keep_alive = False  # a short body: only closing tells the client it is cut


def simple(status, text, keep_alive):
    body = text.encode("utf-8")
    head = [
        "HTTP/1.1 " + status,
        "Content-Type: text/plain; charset=utf-8",
        "Content-Length: %d" % len(body),
        "Date: " + http_date(),
        "Server: serverlab-gateway",
    ]
    if not keep_alive:
        head.append("Connection: close")
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def run_app(sock, environ, response):
    """Calls the app and writes its answer; False when the connection must close."""
    result = None
    try:
        result = APP(environ, response.start_response)
        for chunk in result:
            if response.status is None:
                raise AssertionError("the app yielded a body before calling start_response")
            response.write(chunk)
            if response.done():
                break  # PEP 3333: stop iterating once the Content-Length is sent
        if response.status is None:
            raise AssertionError("the app returned without calling start_response")
        response.finish()
        return response.keep_alive
    except ClientGone:
        return False
    except Exception:
        traceback.print_exc(file=sys.stderr)
        if response.sent_headers:
            return False  # the status is out: all we can do is cut the response short
        try:
            sock.sendall(simple("500 Internal Server Error", "Internal Server Error\n", False))
        except OSError:
            pass
        return False
    finally:
        # PEP 3333: close() on every path, the client gone or the app failed included.
        if hasattr(result, "close"):
            try:
                result.close()
            except Exception:
                traceback.print_exc(file=sys.stderr)


def serve(sock):
    rfile = sock.makefile("rb")
    try:
        sock.settimeout(CLIENT_TIMEOUT)
        while True:
            try:
                head = read_head(rfile)
            except BadRequest as e:
                sock.sendall(simple("400 Bad Request", str(e) + "\n", False))
                return
            if head is None:
                return
            method, target, version, headers = head
            fields = {name.lower(): value for name, value in headers}
            raw_length = fields.get("content-length", "0")
            if "transfer-encoding" in fields:
                sock.sendall(simple("501 Not Implemented", "chunked request bodies are not supported\n", False))
                return
            if not raw_length.isdigit() or len({v for n, v in headers if n.lower() == "content-length"}) > 1:
                sock.sendall(simple("400 Bad Request", "bad Content-Length\n", False))
                return
            connection = fields.get("connection", "").lower()
            keep_alive = "close" not in connection if version == "HTTP/1.1" else "keep-alive" in connection
            body = Input(rfile, int(raw_length))
            environ = build_environ(method, target, version, headers, body)
            if not run_app(sock, environ, Response(sock, method, version, keep_alive)):
                return
            body.drain()
    except OSError:
        pass  # a silent or vanished client
    finally:
        rfile.close()
        sock.close()


def main():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((HOST, PORT))
    listener.listen(64)
    while True:
        client, _ = listener.accept()
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # each chunk goes out as it is written
        threading.Thread(target=serve, args=(client,), daemon=True).start()


if __name__ == "__main__":
    main()
