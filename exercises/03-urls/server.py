"""03-urls: take a URL apart and route it.

The HTTP plumbing at the bottom of this file already works: it listens on 127.0.0.1:PORT, reads
one request head, calls your code, writes the response with a Content-Length, and closes the
connection. Your work is the top half: the functions marked TODO.

Until you write them, every request is answered with "501 Not Implemented" and a body naming the
first function that is still missing, so `npm run grade -- 03 --track py` shows you where to start.

Run it by hand:   PORT=8080 python3 exercises/03-urls/server.py
Then try:         curl -v 'http://127.0.0.1:8080/inspect/a%20b?x=1+2'

Standard library only, and no urllib.parse: writing the parser is the exercise.
"""
import json
import os
import socket
import threading
import traceback

HOST = "127.0.0.1"
DEFAULT_PORT = 80  # the port an http URL means when it names none


class BadTarget(Exception):
    """Raise this from your parser for a request-target that makes no sense; the client gets 400."""


# ---------------------------------------------------------------------------------------------
# Part 1: decoding
# ---------------------------------------------------------------------------------------------


def percent_decode(text: str) -> str:
    """Undo percent-encoding.

    "%XX", where XX are two hex digits in either case, stands for the byte 0xXX. Everything else
    is kept as it is, including a "%" that is not followed by two hex digits ("100%" stays "100%").

    Work on bytes, not characters: one character can take several bytes. "%C3%A9" is the two
    bytes C3 A9, which UTF-8 reads as the single character "é". So: turn `text` into bytes
    (text.encode("utf-8")), build the decoded bytes, then turn them back into a str with
    .decode("utf-8", errors="replace") so broken UTF-8 cannot crash the server.

    A "+" is NOT touched here; only the query string treats "+" as a space (see parse_query).

        percent_decode("a%20b")     == "a b"
        percent_decode("%41%7e")    == "A~"
        percent_decode("caf%C3%A9") == "café"
        percent_decode("100%-%zz")  == "100%-%zz"
        percent_decode("a+b")       == "a+b"
    """
    # TODO
    raise NotImplementedError("percent_decode")


def parse_query(query: str) -> list:
    """Turn a query string (the part after "?") into a list of [name, value] pairs.

    - pieces are separated by "&"; skip empty pieces ("a=1&&b=2" has two pairs)
    - the FIRST "=" in a piece separates the name from the value ("a=b=c" -> ["a", "b=c"])
    - a piece with no "=" has the value "" ("flag" -> ["flag", ""])
    - in names and values, "+" means a space: replace it BEFORE percent-decoding, so that "%2B"
      still ends up as a real "+"
    - keep the order, and keep repeated names

        parse_query("")                 == []
        parse_query("x=1+2&y=%41")      == [["x", "1 2"], ["y", "A"]]
        parse_query("k=2&k=1&flag")     == [["k", "2"], ["k", "1"], ["flag", ""]]
    """
    # TODO
    raise NotImplementedError("parse_query")


# ---------------------------------------------------------------------------------------------
# Part 2: taking the request-target apart
# ---------------------------------------------------------------------------------------------


def split_host_port(authority: str) -> tuple:
    """Split "host" or "host:port" into (host, port).

    The host comes back in lower case (host names are case-insensitive) and the port as an int,
    DEFAULT_PORT when there is none. Raise BadTarget for a port that is not a number.

        split_host_port("Example.TEST:8080") == ("example.test", 8080)
        split_host_port("example.test")      == ("example.test", 80)
    """
    # TODO
    raise NotImplementedError("split_host_port")


def parse_target(target: str, host_header) -> dict:
    """Take the request-target from the request line apart.

    `target` is the second word of the request line, exactly as the client sent it. It comes in
    one of two forms:

        origin-form    /inspect/a%20b?x=1              the usual one; host and port come from
                                                       `host_header` (the Host header's value)
        absolute-form  http://host:port/inspect?x=1    what a proxy receives; host and port come
                                                       from the target itself, and the Host
                                                       header is ignored

    In absolute-form the path starts at the first "/" after the host (no path at all means "/").
    In both forms the path ends at the first "?"; what follows is the query string.

    `host_header` is None when the request had no Host header. Raise BadTarget for anything you
    cannot parse (that includes origin-form with no Host header).

    Return a dict with exactly these keys (the /inspect route sends it back as JSON):

        "scheme"  always "http"
        "host"    lower case, without the port
        "port"    an int, 80 when none is given
        "path"    percent-decoded ("+" stays "+")
        "query"   parse_query() of the query string ([] when there is none)
        "target"  the target exactly as received

    Example: parse_target("/inspect/a%20b?x=1+2", "127.0.0.1:8080") ==
        {"scheme": "http", "host": "127.0.0.1", "port": 8080, "path": "/inspect/a b",
         "query": [["x", "1 2"]], "target": "/inspect/a%20b?x=1+2"}
    """
    # TODO
    raise NotImplementedError("parse_target")


# ---------------------------------------------------------------------------------------------
# Part 3: routing
# A handler takes (url, params) and returns (status, content_type, body). `url` is what
# parse_target returned; `params` holds the parts of the path a route pattern captured.
# ---------------------------------------------------------------------------------------------

TEXT = "text/plain; charset=utf-8"


def home(url, params):
    return 200, TEXT, "03-urls\n\nGET /inspect/...   how the URL was parsed, as JSON\nGET /greet/<name>  a greeting\n"


def inspect(url, params):
    return 200, "application/json", json.dumps(url, ensure_ascii=False) + "\n"


def greet(url, params):
    """GET /greet/<name> -> 200 text/plain, body exactly "Hello, <name>!" (name decoded)."""
    # TODO
    raise NotImplementedError("greet")


# Which function answers which path. The path here is the DECODED path from parse_target.
ROUTES = [
    ("/", home),
    ("/inspect", inspect),
    # TODO: "/inspect/" followed by anything at all also goes to inspect (but "/inspector" is not
    #       a match: it does not start with "/inspect/").
    # TODO: "/greet/<name>" goes to greet, with params["name"] set to the rest of the path.
    #       An empty name ("/greet/") is not a match.
    # Choose how to write these patterns, and teach route() below to understand them.
]


def route(url: dict):
    """Find the handler for url["path"] and call it; 404 when no route matches.

    As given, a pattern only matches a path that is exactly equal to it.
    """
    path = url["path"]
    for pattern, handler in ROUTES:
        # TODO: also match prefixes and capture path parameters.
        if path == pattern:
            return handler(url, {})
    return 404, TEXT, f"Not found: {path}\n"


# ---------------------------------------------------------------------------------------------
# The HTTP plumbing below is given and works; you should not need to change it.
# ---------------------------------------------------------------------------------------------

CLIENT_TIMEOUT = 5.0  # seconds a client may stay silent before we give up on it
MAX_HEAD_BYTES = 64 * 1024
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 431: "Request Header Fields Too Large", 500: "Internal Server Error", 501: "Not Implemented"}


def response_bytes(status: int, content_type: str, body: str) -> bytes:
    payload = body.encode("utf-8")
    head = (
        f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}\r\n"
        f"Content-Type: {content_type}\r\n"
        f"Content-Length: {len(payload)}\r\n"
        "Connection: close\r\n"
        "\r\n"
    )
    return head.encode("utf-8") + payload  # one write, so the client gets it all at once


def respond(head: str) -> bytes:
    """From a request head (request line and header lines, without the blank line) to a response."""
    request_line, *header_lines = head.split("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3:
        return response_bytes(400, TEXT, "Bad request line\n")
    method, target, _version = parts
    if method != "GET":
        return response_bytes(405, TEXT, "Only GET is supported\n")

    host_header = None
    for line in header_lines:
        name, colon, value = line.partition(":")
        if colon and name.strip().lower() == "host":
            host_header = value.strip()

    try:
        url = parse_target(target, host_header)
        return response_bytes(*route(url))
    except BadTarget as e:
        return response_bytes(400, TEXT, f"Bad request: {e}\n")
    except NotImplementedError as e:
        return response_bytes(501, TEXT, f"TODO: {e}() is not written yet\n")
    except Exception:
        traceback.print_exc()  # a bug in your code: the traceback is in the terminal running the server
        return response_bytes(500, TEXT, "Internal server error (see the server's stderr)\n")


def read_head(client: socket.socket):
    """Read until the blank line that ends the request head; None if the client gives up first."""
    data = b""
    while b"\r\n\r\n" not in data and len(data) <= MAX_HEAD_BYTES:
        chunk = client.recv(4096)
        if not chunk:
            return None
        data += chunk
    return data


def serve(client: socket.socket) -> None:
    with client:
        try:
            client.settimeout(CLIENT_TIMEOUT)
            data = read_head(client)
            if data is None:
                return
            end = data.find(b"\r\n\r\n")
            if end < 0 or end > MAX_HEAD_BYTES:
                client.sendall(response_bytes(431, TEXT, "Request head too large\n"))
            else:
                client.sendall(respond(data[:end].decode("utf-8", errors="replace")))
        except OSError:
            pass  # a silent, slow or vanished client: drop it


def main() -> None:
    port = int(os.environ["PORT"])
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((HOST, port))
    listener.listen(64)
    print(f"listening on http://{HOST}:{port}/", flush=True)
    while True:
        client, _address = listener.accept()
        threading.Thread(target=serve, args=(client,), daemon=True).start()


if __name__ == "__main__":
    main()
