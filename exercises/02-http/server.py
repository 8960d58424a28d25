"""02-http: an HTTP/1.1 server written by hand on top of the socket module.

Read README.md in this folder first: it explains the protocol and lists what the grader tries.
Rules: standard library only, and no http.server or socketserver (they would do the whole
exercise for you).

Run it:    PORT=8080 python3 exercises/02-http/server.py
Grade it:  npm run grade -- 02 --track py

The skeleton below already listens, accepts connections and gives each one its own thread. The
helper functions are a suggested way to split the work; change their shapes if you prefer.
"""
import os
import socket
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field

HOST = "127.0.0.1"
PORT = int(os.environ["PORT"])
SERVER_NAME = "serverlab-student/1.0"  # any non-empty product name will do
IDLE_TIMEOUT = 10.0  # seconds: forget keep-alive connections that stay silent this long

# The methods this server knows. A method outside this set gets 501 Not Implemented.
KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"}

# Reason phrases for the status codes this exercise uses.
REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    405: "Method Not Allowed",
    500: "Internal Server Error",
    501: "Not Implemented",
    505: "HTTP Version Not Supported",
}


@dataclass
class Request:
    """A request, once it has fully arrived."""

    method: str  # "GET"
    target: str  # "/echo"
    version: str  # "HTTP/1.1"
    headers: dict  # lower-case name -> list of every value sent for it, in order
    body: bytes = b""  # exactly Content-Length bytes (empty without Content-Length)


@dataclass
class Response:
    """What the server decided to answer; format_response turns it into bytes."""

    status: int
    content_type: str
    body: bytes
    extra_headers: list = field(default_factory=list)  # for example [("Allow", "GET, HEAD")]


class HttpError(Exception):
    """Raise this for a request you refuse (400 or 505); the connection is then answered and
    closed."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def take_request(received):
    """Looks at the bytes received so far on a connection (a bytearray). If they begin with a
    complete request (the whole head and the whole body), returns (request, used), where used is
    the number of bytes it took; if not all of it has arrived yet, returns None. Raises HttpError
    for a malformed request.

    TODO:
    - Find the blank line (CRLF CRLF) that ends the head. Not there yet? Return None.
    - Decode the head as latin-1 and split it into lines on CRLF: the first is the request line
      (parse_request_line), the others are header lines (parse_header_line).
    - An HTTP/1.1 request needs exactly one Host header.
    - Work out how many body bytes follow the head (body_length). Not all here yet? Return None.
    - Return the request and the number of bytes it took (head + blank line + body).
    """
    raise NotImplementedError("take_request")


def parse_request_line(line):
    """Parses `METHOD SP target SP HTTP/x.y` into (method, target, version).

    TODO:
    - Exactly three parts separated by single spaces, or HttpError(400).
    - The method must be a token (letters, digits and a few symbols such as - and _).
    - The version must look like HTTP/<digit>.<digit>, or 400; a major version other than 1 is
      well-formed but unsupported: 505.
    """
    raise NotImplementedError("parse_request_line")


def parse_header_line(line):
    """Parses `Name: value` into (lower-case name, value without surrounding spaces or tabs).

    TODO: HttpError(400) for a line without a colon, for whitespace between the name and the
    colon, and for a line that starts with a space or a tab (an obsolete "folded" continuation
    line).
    """
    raise NotImplementedError("parse_header_line")


def body_length(headers):
    """How many body bytes follow the head: the Content-Length, or 0 without one.

    TODO: HttpError(400) if a value is not made of digits only, or if two Content-Length headers
    disagree. Careful: int() is more forgiving than HTTP ("+5", " 5" and "1_0" all pass it). Why
    so strict? Read "Framing" in the README.
    """
    raise NotImplementedError("body_length")


def route(request):
    """Decides the Response to a well-formed request.

    TODO:
    - GET / (and HEAD /): 200, an HTML page, Content-Type text/html; charset=utf-8.
    - POST /echo: 200, Content-Type application/octet-stream, the request body as it came.
    - A method not in KNOWN_METHODS: 501.
    - Another path: 404, with a short text/plain body.
    - A known method a path does not take: 405, with an Allow header listing what it does take.
    """
    raise NotImplementedError("route")


def keep_alive(request):
    """Whether the connection stays open after answering this request.

    TODO: HTTP/1.1 stays open unless the request says `Connection: close`; HTTP/1.0 closes unless
    it says `Connection: keep-alive` (honouring that is optional).
    """
    raise NotImplementedError("keep_alive")


def format_response(response, method, close):
    """Turns a Response into the bytes that go on the wire: status line, headers, blank line,
    body.

    TODO:
    - Status line `HTTP/1.1 <code> <reason>`, every line ending in CRLF.
    - Headers Date (now, as an IMF-fixdate; the email.utils module can help), Server,
      Content-Type and Content-Length (a count of bytes, not of characters), plus extra_headers,
      plus `Connection: close` when you will close.
    - For HEAD: the same headers as GET would get, and no body.
    - Return one bytes object with everything, so that it can go out in a single sendall().
    """
    raise NotImplementedError("format_response")


def serve_connection(sock):
    """Answers requests on one connection until it is time to close it. Returning closes it.

    TODO: loop:
    - Answer every complete request at the front of the bytes received so far, in order:
      take_request gives the next one or None; keep the bytes it did not use. One recv() can
      return a fraction of a request, or several pipelined requests.
    - route(), then format_response(), then one sock.sendall() per response.
    - When keep_alive() says no, return after the response.
    - When take_request raises HttpError: answer with its status and `Connection: close`, then
      return. After a malformed request you cannot know where the next one starts.
    - Then sock.recv() more bytes; b"" means the client has closed: return.
    Until then, this server hangs up on everyone.
    """
    sock.settimeout(IDLE_TIMEOUT)  # recv() raises TimeoutError after this long without data


def close_gracefully(sock):
    """Closes without a reset. If the client sent bytes we never read (say, the rest of a
    malformed request), close() alone makes the kernel send RST instead of FIN, and an RST can
    destroy our response before the client has read it. So: send FIN first (shutdown), read and
    throw away whatever still comes for a moment, then close."""
    try:
        sock.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + 1.0
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            if not sock.recv(65536):
                break
    except OSError:
        pass  # already reset, timed out or gone: nothing more to do
    finally:
        sock.close()


def handle(sock):
    """Runs in its own thread, one per connection: whatever goes wrong here stays here."""
    try:
        serve_connection(sock)
    except OSError:
        pass  # the client reset, vanished or stayed silent too long
    except Exception:
        traceback.print_exc(file=sys.stderr)  # a bug in your code: show it, serve the others
    finally:
        close_gracefully(sock)


def main():
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((HOST, PORT))
    listener.listen(128)
    print(f"listening on http://{HOST}:{PORT}/", flush=True)
    while True:
        client, _address = listener.accept()
        # A thread per connection, so that a client keeping an idle connection open does not
        # stop the next one from being served. (Exercise 07 looks at threads properly.)
        threading.Thread(target=handle, args=(client,), daemon=True).start()


if __name__ == "__main__":
    main()
