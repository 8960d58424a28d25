"""04-gateway: run a WSGI app you did not write (PEP 3333).

The HTTP plumbing already works: it listens on 127.0.0.1:PORT, gives each connection a thread,
reads each request head (read_head), keeps the connection alive, and answers bad requests. Your
work is the gateway between that and the app: the parts marked TODO.

Until you write them, every request is answered with "501 Not Implemented" and a body naming the
first part that is still missing, so `npm run grade -- 04 --track py` shows you where to start.

The grader starts this file with APP=probe_app:app and APP_DIR set to the folder of its probe app
(grader/apps/gateway). Run it by hand:

    APP=probe_app:app APP_DIR=grader/apps/gateway PORT=8080 python3 exercises/04-gateway/server.py
    curl -v 'http://127.0.0.1:8080/environ/caf%C3%A9?q=%41'

Standard library only, and no wsgiref: writing the gateway is the exercise.
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


class NotWrittenYet(Exception):
    """Raised by the parts you have not written yet; the plumbing turns it into a 501."""


def load_app():
    """The callable APP names ("module:callable"), imported from APP_DIR.

    Put APP_DIR first on sys.path, import the module with importlib.import_module, and take the
    attribute after the colon. Do it once, here: the app keeps state in its module.
    """
    # TODO
    return None

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
    """wsgi.input: the body, read from the socket, with end-of-file where CONTENT_LENGTH says.

    `rfile` is the connection's buffered file; `length` is the Content-Length (0 when none). Every
    read must stop at the end of the body: reading past it returns b'' at once, because on a
    kept-alive connection the next bytes belong to the next request (or never come).
    """

    def __init__(self, rfile, length):
        self.rfile = rfile
        self.left = length

    def read(self, size=-1):
        # TODO: at most `size` bytes (all that is left when size is None or negative)
        raise NotWrittenYet("Input.read")

    def readline(self, size=-1):
        # TODO: one line, never past the end of the body
        raise NotWrittenYet("Input.readline")

    def readlines(self, hint=-1):
        return list(iter(self.readline, b""))

    def __iter__(self):
        return iter(self.readline, b"")

    def drain(self):
        """What the app left unread, so the next request on the connection starts where it should."""
        while self.left and self.read(65536):
            pass

def build_environ(method, target, version, headers, body):
    """The environ for one request: a plain dict.

    - REQUEST_METHOD, SCRIPT_NAME ("" for an app at the root), PATH_INFO (the path before "?",
      percent-decoded, each byte as the character of the same number: latin-1),
      QUERY_STRING (after "?", exactly as sent), SERVER_NAME, SERVER_PORT (a str), SERVER_PROTOCOL
    - CONTENT_TYPE and CONTENT_LENGTH when the request has them, never as HTTP_CONTENT_*
    - HTTP_<NAME> for every other header: upper case, "-" as "_"; repeated headers joined by ", "
    - wsgi.version (1, 0), wsgi.url_scheme, wsgi.input (`body`), wsgi.errors (sys.stderr),
      wsgi.multithread, wsgi.multiprocess, wsgi.run_once
    """
    # TODO
    raise NotWrittenYet("build_environ")

# ---------------------------------------------------------------------------------------------
# The response: start_response stores the status and headers; they go out with the first
# non-empty chunk (or at the end), so a late start_response with exc_info can still replace them.
# ---------------------------------------------------------------------------------------------


class ClientGone(Exception):
    """The client went away while we wrote."""


def http_date():
    return datetime.now(timezone.utc).strftime("%a, %d %b %Y %H:%M:%S GMT")


class Response:
    """One response: start_response stores the status and headers; write() sends body bytes.

    The headers go out with the first non-empty chunk, not when start_response is called, so a
    later start_response(..., exc_info) can still replace them. With the app's Content-Length,
    send no more than it says; without one, use chunked framing on HTTP/1.1.
    """

    def __init__(self, sock, method, version, keep_alive):
        self.sock = sock
        self.method = method
        self.version = version
        self.keep_alive = keep_alive
        self.status = None
        self.headers = None
        self.sent_headers = False

    def start_response(self, status, headers, exc_info=None):
        # TODO: store status and headers; a second call needs exc_info (and re-raises it once the
        # headers are out); return self.write
        raise NotWrittenYet("start_response")

    def write(self, data):
        # TODO: send the headers first if they are not out yet, then the bytes
        raise NotWrittenYet("write")

    def done(self):
        """True once the app's Content-Length has been sent: stop iterating."""
        return False

    def finish(self):
        # TODO: headers if none went out yet, the last chunk of a chunked body
        raise NotWrittenYet("finish")

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
    """Calls the app and writes its answer; returns False when the connection must close.

    Call APP(environ, response.start_response), write each chunk it yields, and call close() on
    what it returned however this ends. An exception before anything was sent is a 500; after,
    only closing the connection can tell the client.
    """
    # TODO
    raise NotWrittenYet("run_app")

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
            try:
                if APP is None:
                    raise NotWrittenYet("load_app")
                environ = build_environ(method, target, version, headers, body)
                if not run_app(sock, environ, Response(sock, method, version, keep_alive)):
                    return
            except NotWrittenYet as e:
                sock.sendall(simple("501 Not Implemented", "TODO: %s is not written yet\n" % e, False))
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
