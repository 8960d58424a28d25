"""Exercise 01-sockets: a TCP server that answers each connection with the request line it read.

Read exercises/01-sockets/README.md first: it explains every step below and says exactly what the
grader expects. Use only the standard library (the socket module is all you need).

Run it:    PORT=8080 BACKLOG=5 python3 exercises/01-sockets/server.py
Poke it:   curl -v http://127.0.0.1:8080/hello
Grade it:  npm run grade -- 01 --track py
"""
import os
import sys

HOST = "127.0.0.1"
PORT = int(os.environ.get("PORT", "8080"))  # the grader picks a free port for you
BACKLOG = int(os.environ.get("BACKLOG", "5"))  # the grader picks a different number every run
CLIENT_TIMEOUT = 1.0  # seconds a client may stay silent before you give up on it


def main() -> None:
    # TODO 1. Create a TCP socket for IPv4.
    #   Hint: socket.socket(family, type). TCP is a "stream" socket; IPv4 is the "INET" family.

    # TODO 2. Allow the address to be reused, before you bind.
    #   Hint: setsockopt(level, option, value) with the socket-level option SO_REUSEADDR.
    #   Without it, restarting the server right after it served someone fails with
    #   "Address already in use" (the README's part on TIME_WAIT says why).

    # TODO 3. Bind the socket to (HOST, PORT), then make it a listening socket with BACKLOG.
    #   Hint: bind() takes one argument, a (host, port) tuple. listen() takes the backlog.

    # TODO 4. Serve clients one after another, forever.
    #   Hint: accept() blocks until a client connects, then returns a NEW socket for that client
    #   and the client's (host, port). Keep the listening socket for the next accept().

    # TODO 5. Don't let one client hold you up: give the client's socket a timeout of
    #   CLIENT_TIMEOUT seconds (settimeout). A recv() that waits longer then raises an OSError
    #   (socket.timeout is one); catch it, drop that client, and go back to accept().

    # TODO 6. Read the request head: call recv() until the bytes you have collected contain the
    #   blank line b"\r\n\r\n" (or recv() returns b"", which means the client closed).
    #   Hint: one recv() is NOT one request. A request can arrive a few bytes at a time.

    # TODO 7. Answer. The body is the request line: everything before the first b"\r\n".
    #   Send "HTTP/1.1 200 OK", a Content-Type header, optionally Content-Length, a blank line,
    #   then the body. Lines in the head end with b"\r\n". Build the response as bytes and send it
    #   with one sendall().

    # TODO 8. Close the client's socket (always, even after an error), then accept the next one.

    # Delete the next line once the steps above are written.
    not_implemented()


def not_implemented() -> None:
    print(
        f"01-sockets: server.py is not implemented yet (PORT={PORT}, BACKLOG={BACKLOG}); "
        "follow the TODOs and exercises/01-sockets/README.md",
        file=sys.stderr,
    )
    sys.exit(1)


if __name__ == "__main__":
    main()
