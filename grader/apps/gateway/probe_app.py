"""The WSGI probe app for 04-gateway (PEP 3333), loaded by the server under test as APP=probe_app:app.

Every route answers what it received as JSON, {"route", "saw", "violations": [{"key", "expected",
"got"}]}, so a check's evidence names the environ key or the call that was wrong. The app never
lets its own checks crash it: a failed check is data, and an unexpected exception becomes a 500
whose body says where it happened. Only /raise-early and /raise-late raise on purpose.

What a route cannot tell in its answer (close() calls, what happened after the headers went out)
it appends to the file named by PROBE_LOG, one JSON line per event, which /log also reads back.
Appends of one short line each are safe across the processes and threads of any server model.

Standard library only: it runs inside the student's server, under their python3.
"""

import hashlib
import json
import os
import re
import sys
import threading
import time
import traceback
import uuid
import warnings
from http import HTTPStatus
from urllib.parse import parse_qsl, unquote_to_bytes

# New on every import: a server that imports the app again for each request shows it at /instance.
LOADED = uuid.uuid4().hex
_served = 0
_lock = threading.Lock()
_memory_log = []
_barriers = {}

MISSING = object()
JSON = ('Content-Type', 'application/json')
TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
# PEP 3333: these "may be empty or absent" (the rest must be present, or be absent when empty).
EMPTY_OR_ABSENT = ('SCRIPT_NAME', 'PATH_INFO', 'QUERY_STRING', 'CONTENT_TYPE', 'CONTENT_LENGTH')
LIMIT = 64 * 1024 * 1024


class ProbeRaised(Exception):
    """Raised on purpose by a route; the app lets it reach the server."""


def show(value):
    """A value as evidence: strings JSON-quoted, so escapes and the type both show."""
    if value is MISSING:
        return None
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, bytes):
        return repr(value[:200]) + ('...' if len(value) > 200 else '')
    return repr(value)


def jsonable(value):
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return '<%s.%s>' % (type(value).__module__, type(value).__qualname__)


class Probe:
    def __init__(self, route):
        self.route = route
        self.saw = {}
        self.violations = []

    def violation(self, key, expected, got):
        """`got` is the value found (MISSING when absent), rendered by show()."""
        self.violations.append({'key': key, 'expected': expected, 'got': show(got)})

    def violation_text(self, key, expected, got):
        """`got` is already words: what happened rather than a value."""
        self.violations.append({'key': key, 'expected': expected, 'got': got})

    def body(self):
        return json.dumps({'route': self.route, 'saw': self.saw, 'violations': self.violations}).encode('ascii')

    def answer(self, start_response, status='200 OK', headers=()):
        body = self.body()
        start_response(status, [JSON, ('Content-Length', str(len(body)))] + list(headers))
        return [body]


def query(environ):
    qs = environ.get('QUERY_STRING', '')
    return parse_qsl(qs if isinstance(qs, str) else '', keep_blank_values=True)


def param(environ, name, default=None):
    found = [v for k, v in query(environ) if k == name]
    return found[-1] if found else default


def bounded(environ, name, default, low, high, kind=int):
    try:
        value = kind(param(environ, name, default))
    except ValueError:
        value = default
    if value != value:  # NaN passes every bound
        value = default
    return min(max(value, low), high)


# --- the event log ---------------------------------------------------------------------------

def log_event(rid, event, **fields):
    """One JSON line per event in PROBE_LOG (in memory when it is unset or cannot be written)."""
    if not rid:
        return
    entry = dict(id=rid, event=event, pid=os.getpid(), thread=threading.get_ident(), t=time.time(), **fields)
    path = os.environ.get('PROBE_LOG')
    if path:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                # One write of one short line: O_APPEND keeps concurrent writers' lines whole.
                os.write(fd, (json.dumps(entry) + '\n').encode('ascii'))
            finally:
                os.close(fd)
            return
        except OSError:
            pass
    with _lock:
        _memory_log.append(entry)


def read_log(rid):
    events = []
    path = os.environ.get('PROBE_LOG')
    if path:
        try:
            with open(path, 'rb') as f:
                for line in f:
                    try:
                        entry = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(entry, dict) and entry.get('id') == rid:
                        events.append(entry)
        except OSError:
            pass
    with _lock:
        events.extend(e for e in _memory_log if e['id'] == rid)
    return sorted(events, key=lambda e: e['t'])


class Tracked:
    """A response iterable with close(), which the server must call however the response ends."""

    def __init__(self, rid, chunks):
        self.rid = rid
        self._chunks = chunks
        self.calls = 0

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._chunks)

    def close(self):
        self.calls += 1
        log_event(self.rid, 'close', calls=self.calls)
        self._chunks.close()


# --- /environ ----------------------------------------------------------------------------------

def expectations(environ, probe):
    """What the grader says it sent (the app cannot see the wire): the X-Probe-Expect header, JSON."""
    raw = environ.get('HTTP_X_PROBE_EXPECT', MISSING)
    if raw is MISSING:
        return {}
    try:
        wanted = json.loads(raw)
    except (TypeError, ValueError):
        wanted = None
    if not isinstance(wanted, dict):
        probe.violation('HTTP_X_PROBE_EXPECT', 'the JSON object the grader sent, unchanged', raw)
        return {}
    return wanted


def compare(environ, key, want, probe):
    got = environ.get(key, MISSING)
    if want is None:
        # Header-derived CGI variables may be empty instead of absent; HTTP_* must be absent.
        ok = got is MISSING or (key in EMPTY_OR_ABSENT and got == '')
        if not ok:
            probe.violation(key, 'absent' + (' or empty' if key in EMPTY_OR_ABSENT else ''), got)
    elif isinstance(want, list):
        # RFC 9110 5.3: repeated field lines combine in order, separated by a comma and optional
        # whitespace; "a,b" and "a, b" are both right.
        ok = isinstance(got, str) and [part.strip(' \t') for part in got.split(',')] == want
        if not ok:
            probe.violation(key, '%s: every value, in order, joined by commas' % json.dumps(', '.join(want)), got)
    elif type(got) is not type(want) or got != want:
        probe.violation(key, show(want), got)


def check_target(environ, target, probe):
    """PATH_INFO percent-decoded with bytes as latin-1 code points; QUERY_STRING exactly as sent."""
    path, _, query_string = target.partition('?')
    if '://' in path:
        path = '/' + path.split('://', 1)[1].partition('/')[2]
    want = unquote_to_bytes(path).decode('latin-1')
    script = environ.get('SCRIPT_NAME', '')
    info = environ.get('PATH_INFO', MISSING)
    if isinstance(script, str) and (info is MISSING or isinstance(info, str)):
        got = script + ('' if info is MISSING else info)
        if got != want:
            where = ' after SCRIPT_NAME %s' % json.dumps(script) if script else ''
            probe.violation('PATH_INFO', '%s: the path percent-decoded, each byte as the code point of the same '
                            'value (latin-1)%s' % (json.dumps(want), where), info)
    got_query = environ.get('QUERY_STRING', MISSING)
    if query_string == '':
        ok = got_query is MISSING or got_query == ''
    else:
        ok = got_query == query_string
    if not ok:
        probe.violation('QUERY_STRING', '%s: everything after "?", exactly as sent (not decoded)' % json.dumps(query_string), got_query)


def check_environ(environ, probe):
    if type(environ) is not dict:
        probe.violation_text('environ', 'a builtin dict (PEP 3333: not a subclass or emulation)', type(environ).__qualname__)
    not_str = set()
    for key, value in list(environ.items()):
        if not isinstance(key, str):
            probe.violation('environ', 'str keys only', key)
            continue
        if '.' in key:
            continue
        if not isinstance(value, str):
            not_str.add(key)
            probe.violation(key, 'a str (PEP 3333: every CGI variable is a native string)', value)
        elif any(ord(c) > 0xFF for c in value):
            probe.violation(key, 'a native string: code points up to U+00FF, one per byte (latin-1)', value)
        if key.startswith('HTTP_') and not re.fullmatch(r'HTTP_[A-Z0-9_]+', key):
            probe.violation_text(key, 'HTTP_ and the header name upper-cased, with "-" as "_"', 'a key named %s' % json.dumps(key))

    for key in ('REQUEST_METHOD', 'SERVER_NAME', 'SERVER_PORT', 'SERVER_PROTOCOL'):
        value = environ.get(key, MISSING)
        if value is MISSING or value == '':
            probe.violation(key, 'present and not empty', value)
    rules = (
        ('REQUEST_METHOD', TOKEN, 'the method, a token such as "GET"'),
        ('SERVER_PORT', re.compile(r'[0-9]+'), 'the port as a str of digits'),
        ('SERVER_PROTOCOL', re.compile(r'HTTP/[0-9]\.[0-9]'), 'the request\'s version, such as "HTTP/1.1"'),
        ('CONTENT_LENGTH', re.compile(r'[0-9]*'), 'the Content-Length as sent: digits, or empty'),
    )
    for key, shape, expected in rules:
        value = environ.get(key, MISSING)
        if isinstance(value, str) and value and key not in not_str and not shape.fullmatch(value):
            probe.violation(key, expected, value)
    script = environ.get('SCRIPT_NAME', '')
    if isinstance(script, str) and script and (not script.startswith('/') or script == '/'):
        probe.violation('SCRIPT_NAME', 'empty for an app at the root, else "/..." but never "/"', script)
    info = environ.get('PATH_INFO', '')
    if isinstance(info, str) and info and not info.startswith('/'):
        probe.violation('PATH_INFO', 'empty or starting with "/"', info)
    for key in ('HTTP_CONTENT_TYPE', 'HTTP_CONTENT_LENGTH'):
        if key in environ:
            probe.violation(key, 'absent: the header goes in %s only' % key[5:], environ[key])

    version = environ.get('wsgi.version', MISSING)
    if type(version) is not tuple or version != (1, 0):
        probe.violation('wsgi.version', 'the tuple (1, 0)', version)
    scheme = environ.get('wsgi.url_scheme', MISSING)
    if scheme not in ('http', 'https'):
        probe.violation('wsgi.url_scheme', '"http" or "https"', scheme)
    stream = environ.get('wsgi.input', MISSING)
    missing = [m for m in ('read', 'readline', 'readlines', '__iter__') if not callable(getattr(stream, m, None))]
    if stream is MISSING or missing:
        probe.violation_text('wsgi.input', 'a stream with read, readline, readlines and __iter__',
                             'absent' if stream is MISSING else '%s without %s' % (type(stream).__qualname__, ', '.join(missing)))
    errors = environ.get('wsgi.errors', MISSING)
    missing = [m for m in ('write', 'writelines', 'flush') if not callable(getattr(errors, m, None))]
    if errors is MISSING or missing:
        probe.violation_text('wsgi.errors', 'a text stream with write, writelines and flush',
                             'absent' if errors is MISSING else '%s without %s' % (type(errors).__qualname__, ', '.join(missing)))
    else:
        try:
            errors.write('')
            errors.flush()
        except Exception as e:
            probe.violation_text('wsgi.errors', 'a text stream: write(str) works', '%s: %s' % (type(e).__name__, e))
    for key in ('wsgi.multithread', 'wsgi.multiprocess', 'wsgi.run_once'):
        value = environ.get(key, MISSING)
        if not isinstance(value, bool):
            probe.violation(key, 'True or False', value)

    # wsgiref's own validator, as a second opinion on what the checks above might have missed.
    if not probe.violations:
        from wsgiref.validate import check_environ as wsgiref_check
        try:
            with warnings.catch_warnings():
                warnings.simplefilter('ignore')
                wsgiref_check(environ)
        except AssertionError as e:
            probe.violation_text('wsgiref.validate', 'check_environ() passes', str(e))


def route_environ(environ, start_response):
    probe = Probe('environ')
    wanted = expectations(environ, probe)
    check_environ(environ, probe)
    target = wanted.pop('target', None)
    if isinstance(target, str):
        check_target(environ, target, probe)
    for key, want in wanted.items():
        if key not in ('body_sha256',):
            compare(environ, key, want, probe)
    # Variables inherited from the server's own environment (allowed, PEP 3333) are left out.
    probe.saw['environ'] = {k: jsonable(v) for k, v in environ.items()
                            if isinstance(k, str) and not (k in os.environ and os.environ[k] == v)}
    probe.saw['expected_keys'] = sorted(wanted) + (['target'] if isinstance(target, str) else [])
    return probe.answer(start_response)


# --- /input ------------------------------------------------------------------------------------

READ_MODES = ('read', 'small', 'readline', 'readlines', 'iter', 'all', 'past-end')


def read_body(stream, mode, length, probe):
    """Reads the body the way `mode` says; the modes after "readline" read past CONTENT_LENGTH."""
    def call(what, *args):
        value = getattr(stream, what)(*args)
        if what == 'readlines':
            if not isinstance(value, list) or not all(isinstance(v, bytes) for v in value):
                raise TypeError('readlines() gave %r, not a list of bytes' % type(value).__qualname__)
            return b''.join(value)
        if not isinstance(value, bytes):
            raise TypeError('%s() gave %s, not bytes' % (what, type(value).__qualname__))
        return value

    body = b''
    if mode == 'read':
        body = call('read', length) if length else b''
    elif mode == 'small':
        while len(body) < length:
            want = min(5, length - len(body))
            piece = call('read', want)
            if not piece or len(piece) > want:
                probe.violation('wsgi.input.read(%d)' % want, '1 to %d bytes: %d of %d are still to come' % (want, length - len(body), length), piece)
                break
            body += piece
    elif mode == 'readline':
        while len(body) < length:
            line = call('readline')
            if not line:
                probe.violation('wsgi.input.readline()', 'a line: %d of %d bytes are still to come' % (length - len(body), length), line)
                break
            if not line.endswith(b'\n') and len(body) + len(line) < length:
                probe.violation('wsgi.input.readline()', 'a whole line, ending in \\n', line)
                break
            body += line
    elif mode == 'readlines':
        body = call('readlines')
    elif mode == 'iter':
        lines = []
        for line in stream:
            if not isinstance(line, bytes):
                raise TypeError('iterating gave %s, not bytes' % type(line).__qualname__)
            lines.append(line)
            if sum(map(len, lines)) > LIMIT:
                break
        body = b''.join(lines)
    elif mode == 'all':
        body = call('read')
        more = call('read')
        if more:
            probe.violation('wsgi.input.read()', "b'' the second time: the body was all read", more)
    elif mode == 'past-end':
        body = call('read', length) if length else b''
        for what, args in (('read', (1,)), ('readline', ()), ('read', ())):
            more = call(what, *args)
            if more:
                probe.violation('wsgi.input.%s(%s)' % (what, ', '.join(map(str, args))),
                                "b'': the body ended at CONTENT_LENGTH (PEP 3333: simulate end-of-file)", more)
                break
    return body


def route_input(environ, start_response):
    probe = Probe('input')
    wanted = expectations(environ, probe)
    mode = param(environ, 'read', 'read')
    if mode not in READ_MODES:
        probe.saw['error'] = 'read=%s: one of %s' % (json.dumps(mode), ', '.join(READ_MODES))
        return probe.answer(start_response, '400 Bad Request')
    raw = environ.get('CONTENT_LENGTH', '')
    length = 0
    if isinstance(raw, str) and re.fullmatch(r'[0-9]*', raw):
        length = int(raw or '0')
    else:
        probe.violation('CONTENT_LENGTH', 'digits, or empty', raw)
    body = b''
    stream = environ.get('wsgi.input', MISSING)
    found = len(probe.violations)
    if length > LIMIT:
        probe.saw['error'] = 'CONTENT_LENGTH beyond what the probe reads'
    elif stream is MISSING:
        probe.violation('wsgi.input', 'a stream with the body', MISSING)
    else:
        try:
            body = read_body(stream, mode, length, probe)
        except Exception as e:
            probe.violation_text('wsgi.input', 'a stream whose read, readline, readlines and iteration give bytes',
                                 '%s: %s' % (type(e).__name__, e))
    if len(body) != length and len(probe.violations) == found:
        probe.violation_text('wsgi.input', 'the body: %d bytes, as CONTENT_LENGTH says' % length, '%d bytes' % len(body))
    digest = hashlib.sha256(body).hexdigest()
    want = wanted.get('body_sha256')
    if isinstance(want, str) and want != digest and len(probe.violations) == found:
        probe.violation_text('wsgi.input', 'the bytes sent (sha256 %s)' % want, 'other bytes (sha256 %s)' % digest)
    probe.saw.update(mode=mode, content_length=jsonable(raw), length=len(body), sha256=digest)
    return probe.answer(start_response)


# --- start_response: deferred headers, exc_info, a second call ---------------------------------

def late_error(start_response, probe, rid):
    """After start_response and before any body, the app fails and starts again with exc_info."""
    try:
        raise ProbeRaised('probe: failed before the first non-empty body chunk')
    except ProbeRaised:
        exc = sys.exc_info()
        try:
            start_response('500 Internal Server Error', [JSON], exc)
            probe.saw['second_call'] = 'returned'
        except Exception as e:
            # Reported, not re-raised: no body was yielded, so the server had no right to send
            # the first status yet, and the answer should say so.
            probe.saw['second_call'] = 'raised'
            probe.violation_text('start_response', 'the call with exc_info returns and replaces the 200: the headers '
                                 'wait for the first non-empty body chunk (PEP 3333)', 'raised %s: %s' % (type(e).__name__, e))
        finally:
            del exc
    log_event(rid, 'answered', second_call=probe.saw['second_call'])
    return probe.body()


def error_after_body(start_response, rid):
    first = b'the first chunk, and then the app fails\n'
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(first) * 3))])
    yield first
    try:
        raise ProbeRaised('probe: failed after the first body chunk')
    except ProbeRaised:
        exc = sys.exc_info()
        try:
            start_response('500 Internal Server Error', [JSON], exc)
        except BaseException as e:
            # PEP 3333: the headers are out, so start_response must raise (should re-raise exc_info),
            # and the app must let that propagate.
            log_event(rid, 'start_response-raised', error='%s: %s' % (type(e).__name__, e), same=e is exc[1])
            raise
        finally:
            del exc
        log_event(rid, 'start_response-returned')


def route_late_error(environ, start_response):
    when = param(environ, 'when', 'before')
    rid = param(environ, 'id', '')
    probe = Probe('late-error')
    probe.saw['when'] = when
    if when not in ('before', 'after-empty', 'after-body'):
        probe.saw['error'] = 'when=%s: before, after-empty or after-body' % json.dumps(when)
        return probe.answer(start_response, '400 Bad Request')
    first = [('Content-Type', 'text/plain'), ('X-Probe-Discarded', 'from the 200 that the 500 replaces')]
    if when == 'after-body':
        return Tracked(rid, error_after_body(start_response, rid))
    if when == 'after-empty':
        def chunks():
            start_response('200 OK', first)
            yield b''
            yield late_error(start_response, probe, rid)
        return Tracked(rid, chunks())
    start_response('200 OK', first)
    return [late_error(start_response, probe, rid)]


def route_empty_chunks(environ, start_response):
    probe = Probe('empty-chunks')
    probe.saw['chunks'] = ['', 'first half', '', 'second half', '']
    body = probe.body()
    half = len(body) // 2
    start_response('200 OK', [JSON])

    def chunks():
        for chunk in (b'', body[:half], b'', body[half:], b''):
            yield chunk
    return chunks()


def route_start_twice(environ, start_response):
    probe = Probe('start-twice')
    start_response('200 OK', [JSON, ('X-Probe-Call', 'first')])
    try:
        start_response('200 OK', [JSON, ('X-Probe-Call', 'second')])
    except Exception as e:
        probe.saw['second_call'] = 'raised %s' % type(e).__name__
    else:
        probe.saw['second_call'] = 'returned'
        probe.violation_text('start_response', 'an error: calling it again without exc_info is a fatal error (PEP 3333)', 'returned')
    return [probe.body()]


def route_lazy(environ, start_response):
    probe = Probe('lazy')
    probe.saw['start_response'] = 'called on the first iteration'

    def chunks():
        # PEP 3333: a server must not assume start_response was called before it iterates.
        body = probe.body()
        start_response('200 OK', [JSON, ('Content-Length', str(len(body)))])
        yield body
    return chunks()


def route_write(environ, start_response):
    probe = Probe('write')
    probe.saw['parts'] = ['write()', 'write()', 'iterable', 'iterable']
    with_length = param(environ, 'cl') == '1'
    probe.saw['content_length'] = with_length
    body = probe.body()
    cuts = [0, len(body) // 4, len(body) // 2, 3 * len(body) // 4, len(body)]
    parts = [body[a:b] for a, b in zip(cuts, cuts[1:])]
    headers = [JSON] + ([('Content-Length', str(len(body)))] if with_length else [])
    write = start_response('200 OK', headers)
    if not callable(write):
        probe.violation('write', 'start_response returns the write callable', write)
        return [probe.body()]
    write(parts[0])
    write(parts[1])
    return [parts[2], parts[3]]


# --- close(), streaming, errors ----------------------------------------------------------------

def route_close(environ, start_response):
    rid = param(environ, 'id', '')
    probe = Probe('close')
    probe.saw['id'] = rid
    body = probe.body()
    third = len(body) // 3
    parts = [body[:third], body[third:2 * third], body[2 * third:]]
    start_response('200 OK', [JSON, ('Content-Length', str(len(body)))])

    def chunks():
        for n, part in enumerate(parts):
            log_event(rid, 'chunk', n=n)
            yield part
    return Tracked(rid, chunks())


def route_raise_late(environ, start_response):
    rid = param(environ, 'id', '')
    first = b'the headers and this chunk are out; then the app raises\n'
    start_response('200 OK', [('Content-Type', 'text/plain'), ('Content-Length', str(len(first) * 3))])

    def chunks():
        log_event(rid, 'chunk', n=0)
        yield first
        log_event(rid, 'raise')
        raise ProbeRaised('probe: raised after the headers went out, as /raise-late does')
    return Tracked(rid, chunks())


def route_raise_early(environ, start_response):
    log_event(param(environ, 'id', ''), 'raise')
    raise ProbeRaised('probe: raised before start_response, as /raise-early does')


GATE_S = 10


def seen_by_client(rid, n):
    """Until the client says it has seen chunk n (a file beside PROBE_LOG, named for the id and
    the chunk), or GATE_S has passed. Without PROBE_LOG, or with an id unfit for a file name, at once."""
    path = os.environ.get('PROBE_LOG')
    if not path or not re.fullmatch(r'[A-Za-z0-9-]{1,64}', rid):
        return
    deadline = time.monotonic() + GATE_S
    while time.monotonic() < deadline and not os.path.exists('%s.seen-%s-%d' % (path, rid, n)):
        time.sleep(0.01)


def route_stream(environ, start_response):
    rid = param(environ, 'id', '')
    count = bounded(environ, 'n', 5, 1, 200)
    ms = bounded(environ, 'ms', 100, 0, 1000)
    ms = min(ms, 30000 // count)
    # gate=1: the second chunk is made only once the client has seen the first.
    gate = param(environ, 'gate', '') == '1'
    start_response('200 OK', [('Content-Type', 'application/x-ndjson')])

    def chunks():
        for n in range(count):
            if n == 1 and gate:
                seen_by_client(rid, 0)
            if n:
                time.sleep(ms / 1000)
            t = time.time()
            log_event(rid, 'chunk', n=n)
            yield (json.dumps({'chunk': n, 'of': count, 't': t}) + '\n').encode('ascii')
        probe = Probe('stream')
        probe.saw.update(id=rid, chunks=count, ms=ms)
        yield probe.body() + b'\n'
    return Tracked(rid, chunks())


def route_overlong(environ, start_response):
    rid = param(environ, 'id', '')
    probe = Probe('overlong')
    extra = b'EXTRA BYTES BEYOND THE CONTENT-LENGTH'
    probe.saw['extra_bytes'] = len(extra)
    body = probe.body()
    start_response('200 OK', [JSON, ('Content-Length', str(len(body)))])

    def chunks():
        log_event(rid, 'chunk', n=0)
        yield body
        # PEP 3333: the server should not send these, and should stop iterating before asking.
        log_event(rid, 'chunk', n=1)
        yield extra
    return Tracked(rid, chunks())


# --- concurrency, exact responses, bookkeeping -------------------------------------------------

def route_barrier(environ, start_response):
    group = param(environ, 'id', 'default')
    parties = bounded(environ, 'n', 2, 2, 16)
    timeout = bounded(environ, 'timeout', 5.0, 0.1, 10.0, float)
    with _lock:
        barrier = _barriers.get((group, parties))
        if barrier is None:
            if len(_barriers) > 256:
                _barriers.clear()
            barrier = _barriers[(group, parties)] = threading.Barrier(parties)
    started = time.time()
    try:
        barrier.wait(timeout)
        met = True
    except threading.BrokenBarrierError:
        met = False
    probe = Probe('barrier')
    multithread = environ.get('wsgi.multithread', MISSING)
    probe.saw.update(id=group, n=parties, met=met, waited_ms=round((time.time() - started) * 1000),
                     multithread=jsonable(multithread), multiprocess=jsonable(environ.get('wsgi.multiprocess', MISSING)),
                     pid=os.getpid(), thread=threading.get_ident())
    if met and multithread is not True:
        probe.violation('wsgi.multithread', 'True: %d requests ran in this process at once' % parties, multithread)
    return probe.answer(start_response)


def route_respond(environ, start_response):
    probe = Probe('respond')
    code = param(environ, 'status', '200')
    reason = param(environ, 'reason')
    headers = []
    error = None
    if not re.fullmatch(r'[2-5][0-9]{2}', code) or code in ('204', '304'):
        error = 'status %s: three digits from 200 to 599, not 204 or 304' % json.dumps(code)
    elif reason is None:
        try:
            reason = HTTPStatus(int(code)).phrase
        except ValueError:
            reason = 'Unknown'
    elif re.search(r'[\x00-\x1f\x7f]', reason) or any(ord(c) > 0xFF for c in reason):
        error = 'reason %s: no control characters' % json.dumps(reason)
    for k, v in query(environ):
        if k != 'h' or error:
            continue
        name, sep, value = v.partition(':')
        if not sep or not TOKEN.fullmatch(name) or re.search(r'[\x00-\x1f\x7f]', value) or any(ord(c) > 0xFF for c in value):
            error = 'header %s: Name:value, a token name and a value without control characters' % json.dumps(v)
        headers.append((name, value))
    if error:
        probe.saw['error'] = error
        return probe.answer(start_response, '400 Bad Request')
    probe.saw.update(status=int(code), reason=reason, headers=[list(h) for h in headers])
    return probe.answer(start_response, '%s %s' % (code, reason), headers)


def route_instance(environ, start_response):
    probe = Probe('instance')
    probe.saw.update(loaded=LOADED, pid=os.getpid(), served=_served)
    return probe.answer(start_response)


def route_log(environ, start_response):
    rid = param(environ, 'id', '')
    probe = Probe('log')
    probe.saw.update(id=rid, source='file' if os.environ.get('PROBE_LOG') else 'memory', events=read_log(rid) if rid else [])
    return probe.answer(start_response)


ROUTES = {
    'environ': route_environ,
    'input': route_input,
    'late-error': route_late_error,
    'empty-chunks': route_empty_chunks,
    'start-twice': route_start_twice,
    'lazy': route_lazy,
    'write': route_write,
    'close': route_close,
    'raise-late': route_raise_late,
    'raise-early': route_raise_early,
    'stream': route_stream,
    'overlong': route_overlong,
    'barrier': route_barrier,
    'respond': route_respond,
    'instance': route_instance,
    'log': route_log,
}


def app(environ, start_response):
    global _served
    with _lock:
        _served += 1
    try:
        path = environ.get('PATH_INFO', '')
    except Exception:
        path = ''
    name = path.split('/')[1] if isinstance(path, str) and path.startswith('/') else ''
    route = ROUTES.get(name)
    try:
        if route is None:
            probe = Probe('not-found')
            probe.saw['path'] = jsonable(path)
            probe.saw['routes'] = sorted(ROUTES)
            return probe.answer(start_response, '404 Not Found')
        return route(environ, start_response)
    except ProbeRaised:
        raise
    except Exception as e:
        probe = Probe(name or 'not-found')
        probe.violation_text('probe', 'the probe to run to its end', '%s: %s' % (type(e).__name__, e))
        probe.saw['traceback'] = traceback.format_exc().splitlines()[-6:]
        body = probe.body()
        exc = sys.exc_info()
        try:
            # Raises again if the headers are already out, which is what PEP 3333 asks for.
            start_response('500 Internal Server Error', [JSON, ('Content-Length', str(len(body)))], exc)
        finally:
            del exc
        return [body]
