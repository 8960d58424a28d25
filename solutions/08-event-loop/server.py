"""08-event-loop reference solution: one thread, non-blocking sockets and one selector.

Run it:    PORT=8080 python3 solutions/08-event-loop/server.py
"""
import hashlib
import os
import selectors
import socket
from urllib.parse import parse_qsl, urlsplit

# ---- Given: the HTTP part. Call these; the event loop below is yours. -------------------------

HOST = "127.0.0.1"
PORT = int(os.environ.get("PORT", "8080"))  # the grader picks a free port for you
MAX_ROUNDS = 10_000_000
MAX_BIG = 50 * 1024 * 1024
LETTERS = b"abcdefghijklmnopqrstuvwxyz"
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found"}


def head_end(received: bytes) -> int:
    """Where the request head ends in the bytes received so far (just after \\r\\n\\r\\n), or -1."""
    at = received.find(b"\r\n\r\n")
    return -1 if at < 0 else at + 4


def response_head(status: int, length: int) -> bytes:
    """The status line and headers of a response whose body is `length` bytes long."""
    return (
        f"HTTP/1.1 {status} {REASONS[status]}\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {length}\r\n"
        "Connection: close\r\n"
        f"X-Served-By: {os.getpid()}\r\n"
        "\r\n"
    ).encode("latin-1")


def response(status: int, body: bytes) -> bytes:
    """A whole response: head and body."""
    return response_head(status, len(body)) + body


def first_digest(seed: str) -> bytes:
    """h_0 of the /hash chain: sha256 of the seed's UTF-8 bytes."""
    return hashlib.sha256(seed.encode("utf-8")).digest()


def more_rounds(digest: bytes, rounds: int) -> bytes:
    """`rounds` more steps of the chain, h = sha256(h); a million take about 0.4 s."""
    for _ in range(rounds):
        digest = hashlib.sha256(digest).digest()
    return digest


def big_piece(start: int, length: int) -> bytes:
    """Bytes start .. start+length-1 of /big's body, where byte i is the letter 'a' + i % 26."""
    offset = start % 26
    return (LETTERS * (length // 26 + 2))[offset : offset + length]


def whole_number(text, low: int, high: int):
    """`text` as a whole number from low to high, written in decimal digits; otherwise None."""
    if text is None or not (text.isascii() and text.isdigit()) or not low <= int(text) <= high:
        return None
    return int(text)


def route(head: bytes):
    """What a request head asks for, as one of:
    ("answer", response_bytes)   a response ready to send
    ("hash", rounds, seed)       a hash chain to compute, then answer 200 with its hex and "\\n"
    ("big", length)              /big: a 200 of `length` bytes made by big_piece
    """
    words = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
    target = urlsplit(words[1] if len(words) == 3 else "*")
    args = dict(parse_qsl(target.query, keep_blank_values=True))
    if target.path == "/":
        return "answer", response(200, b"hello\n")
    if target.path == "/pid":
        return "answer", response(200, f"{os.getpid()}\n".encode())
    if target.path == "/hash":
        rounds = whole_number(args.get("rounds"), 1, MAX_ROUNDS)
        if rounds is None:
            return "answer", response(400, b"bad request\n")
        return "hash", rounds, args.get("seed", "")
    if target.path == "/big":
        length = whole_number(args.get("bytes"), 0, MAX_BIG)
        if length is None:
            return "answer", response(400, b"bad request\n")
        return "big", length
    return "answer", response(404, b"not found\n")


# ---- The event loop -------------------------------------------------------------------------

BACKLOG = 1024  # the grader opens a few hundred connections at once
HASH_SLICE = 2_000  # rounds per turn of the loop: about a millisecond of work
PIECE = 64 * 1024  # /big is made as the socket takes it, this much at a time

selector = selectors.DefaultSelector()
computing = []  # connections whose /hash is under way; each gets one slice per turn


class Connection:
    """One client's state between turns of the loop."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.received = b""  # the request head so far
        self.unsent = b""  # bytes ready to go out
        self.pieces = iter(())  # what comes after them, made only once they are gone
        self.job = None  # the /hash in progress


def accept(listener: socket.socket) -> None:
    # Take every connection the kernel has queued, not just one per wake-up.
    while True:
        try:
            sock, _ = listener.accept()
        except BlockingIOError:
            return
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, Connection(sock))


def on_readable(conn: Connection) -> None:
    try:
        data = conn.sock.recv(65536)
    except BlockingIOError:
        return  # not now
    except OSError:
        return finish(conn)
    if not data:
        return finish(conn)  # the client left before its request was whole
    conn.received += data
    end = head_end(conn.received)
    if end < 0:
        return  # keep what came; the rest comes on a later turn
    selector.unregister(conn.sock)  # nothing more to read from this client
    plan = route(conn.received[:end])
    if plan[0] == "hash":
        conn.job = hashing(plan[1], plan[2])
        computing.append(conn)
    elif plan[0] == "big":
        send_later(conn, response_head(200, plan[1]), big_pieces(plan[1]))
    else:
        send_later(conn, plan[1])


def hashing(rounds: int, seed: str):
    """The hash chain, one slice per resumption: the loop runs in between. Returns the digest."""
    digest = first_digest(seed)
    for done in range(0, rounds, HASH_SLICE):
        digest = more_rounds(digest, min(HASH_SLICE, rounds - done))
        yield
    return digest


def big_pieces(length: int):
    for start in range(0, length, PIECE):
        yield big_piece(start, min(PIECE, length - start))


def send_later(conn: Connection, data: bytes, pieces=iter(())) -> None:
    # Write interest only now that there is something to send: a socket is almost always
    # writable, and a selector asked about it would wake the loop at once, every time.
    conn.unsent, conn.pieces = data, pieces
    selector.register(conn.sock, selectors.EVENT_WRITE, conn)


def on_writable(conn: Connection) -> None:
    try:
        sent = conn.sock.send(conn.unsent)
    except BlockingIOError:
        return  # the socket's buffer is full: wait for the next writable event
    except OSError:
        return finish(conn)  # the client went away
    conn.unsent = conn.unsent[sent:] or next(conn.pieces, b"")  # send may take only part
    if not conn.unsent:
        finish(conn)


def finish(conn: Connection) -> None:
    selector.unregister(conn.sock)
    conn.sock.close()


def run_slices() -> None:
    for conn in list(computing):
        try:
            next(conn.job)
        except StopIteration as done:
            computing.remove(conn)
            send_later(conn, response(200, done.value.hex().encode() + b"\n"))


def main() -> None:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((HOST, PORT))
    listener.listen(BACKLOG)
    listener.setblocking(False)
    selector.register(listener, selectors.EVENT_READ)
    while True:
        # With hashes under way, only look at the sockets; otherwise sleep until one is ready.
        for key, events in selector.select(timeout=0 if computing else None):
            if key.data is None:
                accept(listener)
            elif events & selectors.EVENT_READ:
                on_readable(key.data)
            else:
                on_writable(key.data)
        run_slices()


if __name__ == "__main__":
    main()
