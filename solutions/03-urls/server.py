"""03-urls reference solution.

Takes the request-target apart (host, port, path, query), percent-decodes it by hand, and routes
the decoded path to a handler function.

Routes:
    GET /                  a short text page listing the routes
    GET /inspect[/...]     JSON saying how this request's URL was parsed
    GET /greet/<name>      "Hello, <name>!"
    anything else          404
"""
import json
import os
import socket
import threading

HOST = "127.0.0.1"
PORT = int(os.environ["PORT"])
CLIENT_TIMEOUT = 5.0  # seconds a client may stay silent before we give up on it
MAX_HEAD_BYTES = 64 * 1024  # a request head larger than this is refused
DEFAULT_PORT = 80  # http's well-known port

# ---------------------------------------------------------------------------------------------
# The URL part: everything in this section is the lesson.
# ---------------------------------------------------------------------------------------------


class BadTarget(Exception):
    """A request-target we cannot parse; the server answers 400."""


HEX_DIGITS = b"0123456789abcdefABCDEF"


def percent_decode(text: str) -> str:
    """Percent-decoding.

    Each "%XX" (two hex digits, either case) becomes the byte 0xXX. Anything else, including a "%"
    that is not followed by two hex digits, is kept as it is. The decoded bytes are then read as
    UTF-8, so "%C3%A9" (two bytes) becomes the one character "é". Bytes that are not valid UTF-8
    become U+FFFD rather than an error.
    """
    data = text.encode("utf-8")
    out = bytearray()
    i = 0
    while i < len(data):
        if data[i : i + 1] == b"%" and i + 2 < len(data) and data[i + 1] in HEX_DIGITS and data[i + 2] in HEX_DIGITS:
            out.append(int(data[i + 1 : i + 3], 16))
            i += 3
        else:
            out.append(data[i])
            i += 1
    return out.decode("utf-8", errors="replace")


def parse_query(query: str) -> list:
    """A query string ("a=1&b=x+y&c") becomes a list of [name, value] pairs, in order.

    Pieces are separated by "&" (empty pieces skipped); the first "=" splits name from value (no
    "=" means the value is ""). In a query "+" means a space: it is replaced BEFORE
    percent-decoding, so "%2B" still decodes to a real "+". Repeated names are all kept.
    """
    pairs = []
    for piece in query.split("&"):
        if piece == "":
            continue
        name, _equals, value = piece.partition("=")
        pairs.append([percent_decode(name.replace("+", " ")), percent_decode(value.replace("+", " "))])
    return pairs


def split_host_port(authority: str) -> tuple:
    """'host', 'host:port' or '[v6::addr]:port' -> (lower-cased host, port as an int, 80 if absent).

    This is the format of both the Host header and the authority of an absolute URL.
    """
    if authority.startswith("["):
        close = authority.find("]")
        if close < 0:
            raise BadTarget(f'unclosed "[" in "{authority}"')
        host, rest = authority[: close + 1], authority[close + 1 :]
    else:
        host, colon, port_text = authority.partition(":")
        rest = colon + port_text
    if host == "":
        raise BadTarget("empty host")
    port = DEFAULT_PORT
    if rest:
        digits = rest[1:]  # after the ":"
        if not rest.startswith(":") or not (digits == "" or (digits.isascii() and digits.isdigit())):
            raise BadTarget(f'bad port in "{authority}"')
        if digits:  # "host:" with nothing after it still means 80
            port = int(digits)
        if port > 65535:
            raise BadTarget(f"port {digits} is out of range")
    return host.lower(), port


def parse_target(target: str, host_header) -> dict:
    """Takes a request-target apart. Two forms reach a server:

        origin-form    /path?query                   (host and port come from the Host header)
        absolute-form  http://host:port/path?query   (what a proxy receives; its authority wins)
    """
    scheme = "http://"
    if target[: len(scheme)].lower() == scheme:
        after_scheme = target[len(scheme) :]
        # The authority runs up to the first "/" or "?"; a URL with no path at all means "/".
        end = len(after_scheme)
        for i, ch in enumerate(after_scheme):
            if ch in "/?":
                end = i
                break
        authority = after_scheme[:end].rpartition("@")[2]  # drop any "user:password@"
        rest = after_scheme[end:]
        if not rest.startswith("/"):
            rest = "/" + rest
    elif target.startswith("/"):
        if host_header is None:
            raise BadTarget("no Host header")
        authority = host_header.strip()
        rest = target
    else:
        raise BadTarget(f'"{target}" is neither /path nor http://host/path')

    raw_path, _question, raw_query = rest.partition("?")
    host, port = split_host_port(authority)
    return {
        "scheme": "http",
        "host": host,
        "port": port,
        "path": percent_decode(raw_path),
        "query": parse_query(raw_query),
        "target": target,
    }


# ---------------------------------------------------------------------------------------------
# Routing: a table from path patterns to handler functions.
# A handler takes (url, params) and returns (status, content_type, body as str).
# ---------------------------------------------------------------------------------------------

TEXT = "text/plain; charset=utf-8"


def home(url, params):
    lines = [
        "serverlab 03-urls",
        "",
        "GET /inspect/...   how this server parsed your URL, as JSON",
        "GET /greet/<name>  a greeting",
        "",
    ]
    return 200, TEXT, "\n".join(lines)


def inspect(url, params):
    return 200, "application/json", json.dumps(url, ensure_ascii=False) + "\n"


def greet(url, params):
    return 200, TEXT, f"Hello, {params['name']}!"


# Patterns, tried in order against the DECODED path:
#   "/exact"          only that path
#   "/prefix/*"       anything that starts with "/prefix/" (even nothing after it)
#   "/prefix/<name>"  "/prefix/" followed by at least one character, handed over as params["name"]
ROUTES = [
    ("/", home),
    ("/inspect", inspect),
    ("/inspect/*", inspect),
    ("/greet/<name>", greet),
]


def match_route(pattern: str, path: str):
    """The params dict if the path fits the pattern, else None."""
    if pattern.endswith("/*"):
        return {} if path.startswith(pattern[:-1]) else None
    if pattern.endswith(">") and "/<" in pattern:
        prefix, _, name = pattern.rpartition("/<")
        prefix += "/"
        name = name[:-1]
        if not path.startswith(prefix) or len(path) == len(prefix):
            return None
        return {name: path[len(prefix) :]}
    return {} if path == pattern else None


def route(url: dict):
    for pattern, handler in ROUTES:
        params = match_route(pattern, url["path"])
        if params is not None:
            return handler(url, params)
    return 404, TEXT, f"Not found: {url['path']}\n"


# ---------------------------------------------------------------------------------------------
# HTTP plumbing: read one request head, answer it, close.
# ---------------------------------------------------------------------------------------------

REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 405: "Method Not Allowed", 431: "Request Header Fields Too Large"}


def serialize(status: int, content_type: str, body: str, with_body: bool = True) -> bytes:
    payload = body.encode("utf-8")
    lines = [
        f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}",
        f"Content-Type: {content_type}",
        f"Content-Length: {len(payload)}",
        "Connection: close",
    ]
    if status == 405:
        lines.append("Allow: GET, HEAD")
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
    return head + payload if with_body else head  # one write: no Nagle stall between head and body


def respond(head: str) -> bytes:
    request_line, *header_lines = head.split("\r\n")
    parts = request_line.split(" ")
    if len(parts) != 3:
        return serialize(400, TEXT, "Bad request line\n")
    method, target, _version = parts
    if method not in ("GET", "HEAD"):
        return serialize(405, TEXT, "Only GET and HEAD\n")

    host_header = None
    for line in header_lines:
        name, colon, value = line.partition(":")
        if colon and name.strip().lower() == "host":
            host_header = value.strip()

    try:
        url = parse_target(target, host_header)
    except BadTarget as e:
        return serialize(400, TEXT, f"Bad request: {e}\n")
    return serialize(*route(url), with_body=(method == "GET"))


def read_head(client: socket.socket):
    """Reads until the blank line that ends the request head; None if it never comes."""
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > MAX_HEAD_BYTES:
            return data
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
                client.sendall(serialize(431, TEXT, "Request head too large\n"))
            else:
                client.sendall(respond(data[:end].decode("utf-8", errors="replace")))
        except OSError:
            pass  # a silent, slow or vanished client: drop it


def main() -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((HOST, PORT))
    listener.listen(64)
    while True:
        client, _address = listener.accept()
        threading.Thread(target=serve, args=(client,), daemon=True).start()


if __name__ == "__main__":
    main()
