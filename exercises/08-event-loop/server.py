"""Exercise 08-event-loop: one thread serves every client, with non-blocking sockets and a selector.

Read exercises/08-event-loop/README.md first: it explains the event loop, what to watch by hand,
and exactly what the grader tries. Use only the standard library.

Run it:    PORT=8080 python3 exercises/08-event-loop/server.py
Poke it:   curl -v http://127.0.0.1:8080/
Grade it:  npm run grade -- 08 --track py
"""
import hashlib
import os
import selectors
import socket
import sys
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


# ---- The event loop: yours ------------------------------------------------------------------

BACKLOG = 1024  # the grader opens a few hundred connections at once


def main() -> None:
    # TODO 1. Make the listening socket (SO_REUSEADDR, bind to (HOST, PORT), listen(BACKLOG)),
    #   switch it to non-blocking, and register it with a selectors.DefaultSelector() for reading.

    # TODO 2. The loop: for key, events in selector.select(timeout): ... forever.
    #   A readable listening socket: accept every connection waiting (until BlockingIOError), make
    #   each one non-blocking, and register it for reading with a fresh per-connection state
    #   object as its `data` (bytes received so far, bytes left to send, work in progress).

    # TODO 3. A readable client: recv once, append to its state, and look for the end of the head
    #   (head_end). Not there yet: go back to the loop. b"": the client left; finish it.
    #   Whole: route(head) says what to do. Stop reading from it.

    # TODO 4. Sending: register for EVENT_WRITE only once there is something to send. On each
    #   writable event, send() what is left and keep what it did not take (it returns a count).
    #   For /big, send response_head(200, n) and then big_piece()s, making each piece only when the
    #   last one is gone. When everything is sent: unregister and close.

    # TODO 5. /hash: never compute it in one go. Write a generator that does a slice of rounds
    #   (more_rounds) per next() and yields; resume each such generator once per turn of the loop,
    #   and while any is under way, call select with timeout=0 so it does not sleep.

    # TODO 6. BlockingIOError from recv, send or accept means "not now": keep the state and go on.
    #   ConnectionResetError / BrokenPipeError (any other OSError) mean the client is gone: finish
    #   it (unregister, close).

    # Delete the next line once the steps above are written.
    not_implemented()


def not_implemented() -> None:
    print(f"08-event-loop: server.py is not implemented yet (PORT={PORT}); follow the TODOs and exercises/08-event-loop/README.md", file=sys.stderr)
    sys.exit(1)


if __name__ == "__main__":
    main()
