import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import getPort from 'get-port';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import probeApp, { type ProbeAnswer, type Violation } from '../../apps/gateway/probe-app.ts';
import { seenFile } from '../../apps/gateway/seen-file.ts';
import { isProbeError } from '../../src/probes/errors.ts';
import { RawConnection } from '../../src/probes/raw/connection.ts';
import { header, headerAll, type ParsedResponse } from '../../src/probes/raw/parse-response.ts';
import { RunningServer } from '../../src/server/server.ts';
import { tempDirs } from '../support/temp.ts';
import { startAdapter, type Adapter, type AdapterFault } from './fixtures/fetch-adapter.ts';
import { unlessRequired } from '../support/peers.ts';

// The 04-gateway probe apps (grader/apps/gateway) proven both ways over real sockets. The WSGI
// probe under real WSGI servers (wsgiref, gunicorn, waitress) and a small correct one reports
// nothing wrong, except where a server departs from PEP 3333: each such case is named below with
// the PEP's words. Under the small server with one fault switched on, the probe names exactly that
// fault. The fetch-handler probe gets the same treatment under a small node:http adapter.

const APPS = fileURLToPath(new URL('../../apps/gateway/', import.meta.url));
const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const tempDir = tempDirs();

/** A correct server answers long before this, however loaded the machine. */
const ANSWER_MS = 8000;
/** How long a request that reads past its body may go unanswered before it counts as hung. */
const HANG_MS = 3000;
/** How long close() (or a stream's cancel) may take to show in the log after the response. */
const LOG_MS = 5000;

// --- servers -----------------------------------------------------------------------------------

interface LogEvent {
  id: string;
  event: string;
  [field: string]: unknown;
}

interface Target {
  port: number;
  /** The events the probe app logged under this id, from its PROBE_LOG file. */
  events(id: string): LogEvent[];
  /** Runs requests at the same time in one process, so a barrier of three is met. */
  concurrent: boolean;
  /** The PROBE_LOG file, beside which a gated stream looks for what the client has seen. */
  log: string;
}

function readLog(file: string, id: string): LogEvent[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const events: LogEvent[] = [];
  for (const line of text.split('\n')) {
    try {
      const e = JSON.parse(line) as LogEvent;
      if (e.id === id) events.push(e);
    } catch {
      // empty, or a line still being written
    }
  }
  return events;
}

async function waitForEvent(t: Target, id: string, event: string, timeoutMs = LOG_MS): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (t.events(id).some((e) => e.event === event)) return true;
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
}

interface PyServer {
  name: string;
  /** Why it cannot run here; the tests say so and are skipped. */
  missing?: string;
  concurrent: boolean;
  argv(port: number): string[];
}

const hasModule = (module: string) =>
  existsSync('/usr/bin/python3') && spawnSync('/usr/bin/python3', ['-c', `import ${module}`], { stdio: 'ignore' }).status === 0;

const WSGIREF: PyServer = { name: 'wsgiref.simple_server', concurrent: false, argv: () => ['python', path.join(FIXTURES, 'wsgiref_serve.py')] };
const TINY: PyServer = { name: 'tiny_wsgi (fixture)', concurrent: true, argv: () => ['python', path.join(FIXTURES, 'tiny_wsgi.py')] };
const GUNICORN: PyServer = {
  name: 'gunicorn',
  concurrent: true,
  ...(existsSync('/usr/bin/gunicorn') ? {} : { missing: unlessRequired('no /usr/bin/gunicorn (Debian package python3-gunicorn)') }),
  // gthread: the worker class that runs requests at once and keeps connections alive.
  argv: (port) => ['/usr/bin/gunicorn', '--bind', `127.0.0.1:${port}`, '--workers', '1', '--worker-class', 'gthread', '--threads', '4', '--graceful-timeout', '1', '--chdir', APPS, 'probe_app:app'],
};
const WAITRESS: PyServer = {
  name: 'waitress',
  concurrent: true,
  ...(hasModule('waitress') ? {} : { missing: unlessRequired('no waitress for /usr/bin/python3 (Debian package python3-waitress)') }),
  argv: (port) => ['/usr/bin/python3', '-m', 'waitress', `--listen=127.0.0.1:${port}`, '--threads=4', 'probe_app:app'],
};

// The grader starts a server.py; this one becomes the server under test. "python" is the
// interpreter the grader found (the student's), which runs wsgiref and the fixture.
const LAUNCHER = `import json, os, sys
argv = json.loads(os.environ['PROBE_SERVER_ARGV'])
if argv[0] == 'python':
    argv[0] = sys.executable
os.execv(argv[0], argv)
`;

interface Started {
  server: RunningServer;
  target: Target;
}

async function startPy(kind: PyServer, env: Record<string, string> = {}): Promise<Started> {
  const dir = tempDir('gateway-py');
  writeFileSync(path.join(dir, 'server.py'), LAUNCHER);
  const port = await getPort({ host: '127.0.0.1' });
  const log = path.join(dir, 'probe.log');
  const server = await RunningServer.start({
    dir,
    track: 'py',
    port,
    readyTimeoutMs: 15_000,
    env: { APP: 'probe_app:app', PYTHONPATH: APPS, PROBE_LOG: log, PROBE_SERVER_ARGV: JSON.stringify(kind.argv(port)), ...env },
  });
  return { server, target: { port, concurrent: kind.concurrent, log, events: (id) => readLog(log, id) } };
}

// --- requests and what came back ---------------------------------------------------------------

interface Req {
  method?: string;
  target: string;
  version?: string;
  headers?: Array<[string, string]>;
  body?: Buffer;
}

function bytesOf(port: number, r: Req): Buffer {
  const lines = [`${r.method ?? 'GET'} ${r.target} ${r.version ?? 'HTTP/1.1'}`, `Host: 127.0.0.1:${port}`, ...(r.headers ?? []).map(([n, v]) => `${n}: ${v}`)];
  if (r.body) lines.push(`Content-Length: ${r.body.length}`);
  // latin1: a header value may carry a byte such as 0xE9 as it is.
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), r.body ?? Buffer.alloc(0)]);
}

const opened: RawConnection[] = [];
afterEach(() => {
  for (const conn of opened.splice(0)) conn.close();
});

async function connect(port: number, idleMs = ANSWER_MS): Promise<RawConnection> {
  const conn = await RawConnection.open({ port, idleTimeoutMs: idleMs });
  opened.push(conn);
  return conn;
}

interface Exchanged {
  res?: ParsedResponse;
  /** Why no whole response came (the strict parser's code: no-response, eof-mid-response, ...). */
  code?: string;
  conn: RawConnection;
}

async function exchange(port: number, r: Req, idleMs = ANSWER_MS): Promise<Exchanged> {
  const conn = await connect(port, idleMs);
  try {
    await conn.send(bytesOf(port, r));
    return { res: await conn.readResponse({ method: r.method ?? 'GET' }), conn };
  } catch (e) {
    if (isProbeError(e)) return { code: e.code, conn };
    throw e;
  }
}

/** The header that tells the probe what was sent; JSON kept to ASCII, as a header value should be. */
const expectHeader = (wanted: Record<string, unknown>): [string, string] => [
  'X-Probe-Expect',
  JSON.stringify(wanted).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
];

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

function answerOf(res: ParsedResponse | undefined): ProbeAnswer | undefined {
  try {
    const a = JSON.parse(res!.body.toString('utf8')) as ProbeAnswer;
    return typeof a.route === 'string' && Array.isArray(a.violations) && a.saw && typeof a.saw === 'object' ? a : undefined;
  } catch {
    return undefined;
  }
}

/**
 * What a case found wrong, as names: the probe's violation keys, and what only the wire or the
 * log shows ("status 200", "close() not called", ...). Empty when all is right.
 */
class Outcome {
  readonly findings = new Set<string>();
  readonly violations: Violation[] = [];

  add(finding: string): void {
    this.findings.add(finding);
  }

  /** Reads one probe answer: its status, its route, its violations and, if given, how many expectations arrived. */
  probe(x: Exchanged, status: number, route: string, expectations?: number): ProbeAnswer | undefined {
    if (!x.res) {
      this.add(x.code === 'no-response' ? 'no answer' : `no whole response (${x.code})`);
      return undefined;
    }
    if (x.res.status !== status) this.add(`status ${x.res.status}`);
    const a = answerOf(x.res);
    if (!a || a.route !== route) {
      this.add("body is not the probe's JSON");
      return undefined;
    }
    for (const v of a.violations) {
      this.violations.push(v);
      this.add(v.key);
    }
    const keys = a.saw.expected_keys;
    if (expectations !== undefined && (!Array.isArray(keys) || keys.length !== expectations)) this.add('X-Probe-Expect lost');
    return a;
  }

  get list(): string[] {
    return [...this.findings].sort();
  }

  get detail(): string {
    return JSON.stringify(this.violations);
  }
}

interface Case {
  name: string;
  run(t: Target): Promise<Outcome>;
}

let seq = 0;
const newId = (label: string) => `${label}-${process.pid}-${++seq}`;

// --- shared cases: streams, errors and exact responses, the same on both tracks ------------------

/**
 * Streams three chunks, gated: the app makes the second only once this client has written that it
 * saw the first, and gives up waiting after 10 s. A server that streams shows the first chunk at
 * once; one that holds the body back shows nothing within ANSWER_MS, however loaded the machine.
 */
async function streamCase(t: Target): Promise<Outcome> {
  const out = new Outcome();
  const id = newId('stream');
  const conn = await connect(t.port);
  await conn.send(bytesOf(t.port, { target: `/stream?id=${id}&n=3&ms=50&gate=1` }));
  const deadline = Date.now() + ANSWER_MS;
  while (!conn.received.includes('"of"') && !conn.eof && Date.now() < deadline) await conn.waitForBytes(deadline - Date.now());
  if (!conn.received.includes('"of"')) {
    out.add('chunks held back until the end');
    return out;
  }
  writeFileSync(seenFile(t.log, id, 0), '');
  let res: ParsedResponse;
  try {
    res = await conn.readResponse();
  } catch (e) {
    if (!isProbeError(e)) throw e;
    out.add(`no whole response (${e.code})`);
    return out;
  }
  const lines = res.body.toString('utf8').split('\n').filter(Boolean);
  const chunks = lines.slice(0, -1).map((line) => JSON.parse(line) as { chunk: number });
  if (chunks.length !== 3 || chunks.some((c, i) => c.chunk !== i)) out.add('chunks missing or out of order');
  const last = answerOf({ ...res, body: Buffer.from(lines.at(-1) ?? '') });
  if (last?.route !== 'stream') out.add("body is not the probe's JSON");
  return out;
}

/**
 * The client leaves after the first chunk: the server must close the iterable (cancel the stream).
 * The stream would run for 8 s, longer than the wait for the event: a server that kept iterating to
 * the end and only then called close() is not taken for one that stopped.
 */
async function disconnectCase(t: Target, event: 'close' | 'cancel'): Promise<Outcome> {
  const out = new Outcome();
  const id = newId('gone');
  const conn = await connect(t.port);
  await conn.send(bytesOf(t.port, { target: `/stream?id=${id}&n=200&ms=40` }));
  const deadline = Date.now() + ANSWER_MS;
  while (!conn.received.includes('"of"') && !conn.eof && Date.now() < deadline) await conn.waitForBytes(deadline - Date.now());
  conn.reset();
  if (!(await waitForEvent(t, id, event))) out.add(event === 'close' ? 'close() not called' : 'stream not cancelled');
  return out;
}

/** The app's body is longer than its own Content-Length: exactly that many bytes may go out. */
async function overlongCase(t: Target): Promise<Outcome> {
  const out = new Outcome();
  const x = await exchange(t.port, { target: `/overlong?id=${newId('overlong')}`, headers: [['Connection', 'close']] });
  out.probe(x, 200, 'overlong');
  await x.conn.waitForEof(ANSWER_MS);
  if (x.conn.unconsumed.length) out.add('stray bytes after the body');
  return out;
}

/** An empty chunk is neither the end of the body nor a reason to send the headers. */
async function emptyChunksCase(t: Target): Promise<Outcome> {
  const out = new Outcome();
  out.probe(await exchange(t.port, { target: '/empty-chunks' }), 200, 'empty-chunks');
  return out;
}

/** Status line and header lines exactly as the app gave them, each Set-Cookie on a line of its own. */
async function respondCase(t: Target): Promise<Outcome> {
  const out = new Outcome();
  const x = await exchange(t.port, { target: '/respond?status=299&reason=Odd+Reason&h=X-Probe-A:1&h=Set-Cookie:a%3D1&h=Set-Cookie:b%3D2' });
  out.probe(x, 299, 'respond');
  if (x.res) {
    if (x.res.reason !== 'Odd Reason') out.add('reason phrase');
    if (JSON.stringify(headerAll(x.res, 'set-cookie')) !== JSON.stringify(['a=1', 'b=2'])) out.add('Set-Cookie lines');
    if (header(x.res, 'x-probe-a') !== '1') out.add('X-Probe-A');
  }
  return out;
}

/** Three requests wait for each other; a server that runs them at once lets them meet. */
async function barrierCase(t: Target): Promise<Outcome> {
  const out = new Outcome();
  const id = newId('barrier');
  const all = await Promise.all([0, 1, 2].map(() => exchange(t.port, { target: `/barrier?id=${id}&n=3&timeout=2`, headers: [['Connection', 'close']] })));
  const met = all.map((x) => out.probe(x, 200, 'barrier')?.saw.met);
  if (met.some((m) => m !== t.concurrent)) out.add(t.concurrent ? 'barrier not met' : 'barrier met');
  return out;
}

/** The app is loaded once: the same module answers one request after another. */
async function instanceCase(t: Target): Promise<Outcome> {
  const out = new Outcome();
  const a = out.probe(await exchange(t.port, { target: '/instance', headers: [['Connection', 'close']] }), 200, 'instance');
  const b = out.probe(await exchange(t.port, { target: '/instance', headers: [['Connection', 'close']] }), 200, 'instance');
  if (a && b && a.saw.pid === b.saw.pid && (a.saw.loaded !== b.saw.loaded || Number(b.saw.served) <= Number(a.saw.served))) out.add('app imported again');
  return out;
}

/** After an app error the server still answers. */
async function stillServes(t: Target, out: Outcome, route = 'instance'): Promise<void> {
  const x = await exchange(t.port, { target: `/${route}`, headers: [['Connection', 'close']] });
  if (x.res?.status !== 200) out.add('the server stopped answering');
}

// --- WSGI cases --------------------------------------------------------------------------------

// Every byte value but \n, in lines of 40 that each end in \n: binary, and fit for readline().
const BODY = Buffer.concat(
  Array.from({ length: 48 }, (_, i) => [Buffer.from(Array.from({ length: 40 }, (_, j) => (i * 40 + j) % 256).map((b) => (b === 10 ? 11 : b))), Buffer.from('\n')]).flat(),
);
/** The read modes of /input that read past CONTENT_LENGTH; a server must give b'' there, not wait. */
const READS_PAST = ['readlines', 'iter', 'all', 'past-end'];

const PY_CASES: Case[] = [
  {
    name: 'environ: GET with an encoded path, a raw query, repeated and latin-1 headers',
    async run(t) {
      const target = '/environ/caf%C3%A9%20%E9/%41?q=%41+b&r=caf%C3%A9';
      const wanted = {
        target,
        REQUEST_METHOD: 'GET',
        SERVER_PROTOCOL: 'HTTP/1.1',
        SERVER_PORT: String(t.port),
        HTTP_HOST: `127.0.0.1:${t.port}`,
        HTTP_X_REPEAT: ['one', 'two'],
        HTTP_X_LATIN: 'caf\u00e9',
        HTTP_X_DASH_NAME: 'v',
        HTTP_X_ABSENT: null,
        CONTENT_TYPE: null,
        CONTENT_LENGTH: null,
        'wsgi.url_scheme': 'http',
        'wsgi.run_once': false,
      };
      const headers: Array<[string, string]> = [['X-Repeat', 'one'], ['X-Dash-Name', 'v'], ['X-Repeat', 'two'], ['X-Latin', 'caf\u00e9'], expectHeader(wanted)];
      const out = new Outcome();
      out.probe(await exchange(t.port, { target, headers }), 200, 'environ', Object.keys(wanted).length);
      return out;
    },
  },
  {
    name: 'environ: POST with Content-Type and Content-Length',
    async run(t) {
      const wanted = { target: '/environ', REQUEST_METHOD: 'POST', CONTENT_TYPE: 'text/plain; charset=utf-8', CONTENT_LENGTH: '5', HTTP_CONTENT_TYPE: null, HTTP_CONTENT_LENGTH: null };
      const headers: Array<[string, string]> = [['Content-Type', 'text/plain; charset=utf-8'], ['Connection', 'close'], expectHeader(wanted)];
      const out = new Outcome();
      out.probe(await exchange(t.port, { method: 'POST', target: '/environ', headers, body: Buffer.from('hello') }), 200, 'environ', Object.keys(wanted).length);
      return out;
    },
  },
  {
    name: 'environ: an HTTP/1.0 request',
    async run(t) {
      const wanted = { target: '/environ/', SERVER_PROTOCOL: 'HTTP/1.0' };
      const out = new Outcome();
      out.probe(await exchange(t.port, { target: '/environ/', version: 'HTTP/1.0', headers: [expectHeader(wanted)] }), 200, 'environ', 2);
      return out;
    },
  },
  ...['read', 'small', 'readline', ...READS_PAST].map(
    (mode): Case => ({
      name: `input: ${mode}`,
      async run(t) {
        // Kept alive: a server whose wsgi.input reads from the socket itself waits for more.
        const headers: Array<[string, string]> = [['Content-Type', 'application/octet-stream'], expectHeader({ body_sha256: sha256(BODY) })];
        const x = await exchange(t.port, { method: 'POST', target: `/input?read=${mode}`, headers, body: BODY }, READS_PAST.includes(mode) ? HANG_MS : ANSWER_MS);
        const out = new Outcome();
        const a = out.probe(x, 200, 'input');
        if (a && a.saw.length !== BODY.length) out.add('body length');
        return out;
      },
    }),
  ),
  ...['before', 'after-empty'].map(
    (when): Case => ({
      name: `late-error ${when}: start_response again with exc_info turns the 200 into a 500`,
      async run(t) {
        const out = new Outcome();
        const x = await exchange(t.port, { target: `/late-error?when=${when}`, headers: [['Connection', 'close']] });
        out.probe(x, 500, 'late-error');
        if (x.res && header(x.res, 'x-probe-discarded') !== undefined) out.add('a header of the replaced 200 was sent');
        return out;
      },
    }),
  ),
  {
    name: 'late-error after-body: start_response with exc_info raises, close() is called, the connection closes',
    async run(t) {
      const out = new Outcome();
      const id = newId('after-body');
      const x = await exchange(t.port, { target: `/late-error?when=after-body&id=${id}` });
      if (x.code === 'response-never-ends') out.add('connection left open');
      else if (x.code !== 'eof-mid-response') out.add(x.res ? 'the response looked complete' : `no whole response (${x.code})`);
      if (!(await waitForEvent(t, id, 'close'))) out.add('close() not called');
      const events = t.events(id);
      const raised = events.find((e) => e.event === 'start_response-raised');
      if (!raised) out.add(events.some((e) => e.event === 'start_response-returned') ? 'start_response returned' : 'start_response not logged');
      // PEP 3333: it "must raise an error, and should re-raise using the exc_info tuple".
      else if (raised.same !== true) out.add('start_response raised another error');
      return out;
    },
  },
  { name: 'empty-chunks: empty chunks before, between and after the body', run: emptyChunksCase },
  {
    name: 'start-twice: a second start_response without exc_info raises in the app',
    async run(t) {
      const out = new Outcome();
      out.probe(await exchange(t.port, { target: '/start-twice', headers: [['Connection', 'close']] }), 200, 'start-twice');
      return out;
    },
  },
  {
    name: 'lazy: start_response called on the first iteration',
    async run(t) {
      const out = new Outcome();
      out.probe(await exchange(t.port, { target: '/lazy' }), 200, 'lazy');
      return out;
    },
  },
  ...['0', '1'].map(
    (cl): Case => ({
      name: `write: the write callable, then the iterable${cl === '1' ? ', with a Content-Length' : ''}`,
      async run(t) {
        const out = new Outcome();
        out.probe(await exchange(t.port, { target: `/write?cl=${cl}` }), 200, 'write');
        return out;
      },
    }),
  ),
  {
    name: 'close: close() called after a normal end, and /log reads it back',
    async run(t) {
      const out = new Outcome();
      const id = newId('close');
      out.probe(await exchange(t.port, { target: `/close?id=${id}` }), 200, 'close');
      if (!(await waitForEvent(t, id, 'close'))) out.add('close() not called');
      const log = out.probe(await exchange(t.port, { target: `/log?id=${id}`, headers: [['Connection', 'close']] }), 200, 'log');
      if (log && (log.saw.events as unknown[]).length !== t.events(id).length) out.add('/log differs from PROBE_LOG');
      return out;
    },
  },
  {
    name: 'raise-late: an exception after the headers closes the connection, close() is called, the server lives',
    async run(t) {
      const out = new Outcome();
      const id = newId('raise-late');
      const x = await exchange(t.port, { target: `/raise-late?id=${id}` });
      if (x.code === 'response-never-ends') out.add('connection left open');
      else if (x.code !== 'eof-mid-response') out.add(x.res ? 'the response looked complete' : `no whole response (${x.code})`);
      if (!(await waitForEvent(t, id, 'close'))) out.add('close() not called');
      await stillServes(t, out);
      return out;
    },
  },
  {
    name: 'raise-early: an exception before start_response gives a 500, the server lives',
    async run(t) {
      const out = new Outcome();
      const x = await exchange(t.port, { target: '/raise-early', headers: [['Connection', 'close']] });
      if (!x.res) out.add(`no whole response (${x.code})`);
      else if (x.res.status !== 500) out.add(`status ${x.res.status}`);
      await stillServes(t, out);
      return out;
    },
  },
  { name: 'stream: chunks reach the client as they are made', run: streamCase },
  { name: 'stream: the client leaves mid-stream and close() is called', run: (t) => disconnectCase(t, 'close') },
  { name: 'overlong: the body is cut at the app\'s Content-Length', run: overlongCase },
  { name: 'barrier: wsgi.multithread is true where requests meet', run: barrierCase },
  { name: 'respond: the status line and headers as the app gave them', run: respondCase },
  { name: 'instance: the app is imported once', run: instanceCase },
];

const pyCase = (prefix: string) => PY_CASES.find((c) => c.name.startsWith(prefix))!;
const caseName = (prefix: string) => pyCase(prefix).name;
const HEADERS_DEFERRED = ['a header of the replaced 200 was sent', 'start_response', 'status 200'];
const HUNG = ['no answer'];

/**
 * Where a real server departs from PEP 3333 and the probe is right: by server and case, what the
 * case finds there, with the PEP's words. Seen with Python 3.11's wsgiref, gunicorn 20.1.0 and
 * waitress 2.1.2; waitress departs nowhere.
 */
const DEPARTURES: Record<string, Record<string, string[]>> = {
  [WSGIREF.name]: {
    // CONTENT_TYPE is "the contents of any Content-Type fields in the HTTP request. May be empty or
    // absent." With none in the request, wsgiref puts "text/plain" there (the default of the
    // email parser it reads the headers with).
    [caseName('environ: GET')]: ['CONTENT_TYPE'],
    // Input streams, note 1: the server "should simulate an end-of-file condition if the
    // application attempts to read past that point", "should allow read() to be called without an
    // argument, and return the remainder of the client's input stream", and "should return empty
    // bytestrings from any attempt to read from an empty or exhausted input stream". wsgiref hands
    // the app the socket's own file, so each of these waits for bytes the client never sends.
    [caseName('input: readlines')]: HUNG,
    [caseName('input: iter')]: HUNG,
    [caseName('input: all')]: HUNG,
    [caseName('input: past-end')]: HUNG,
    // start_response "must store them for the server or gateway to transmit only after the first
    // iteration of the application return value that yields a non-empty bytestring". wsgiref sends
    // them for an empty one, so the app's later call with exc_info must raise, and the 500 is lost.
    [caseName('late-error after-empty')]: HEADERS_DEFERRED,
    // "the server should not transmit more bytes to the client than the header allows, and should
    // stop iterating over the response when enough data has been sent". wsgiref sends them all
    // (its handler leaves truncation as a to-do).
    [caseName('overlong')]: ['stray bytes after the body'],
  },
  [GUNICORN.name]: {
    // "If exc_info is supplied, and no HTTP headers have been output yet, start_response should
    // replace the currently-stored HTTP response headers with the newly-supplied ones". gunicorn
    // sends the 500 with the 200's headers still there, and both Content-Type lines.
    [caseName('late-error before')]: ['a header of the replaced 200 was sent'],
    // As wsgiref: the headers go out for an empty chunk ("only after the first iteration of the
    // application return value that yields a non-empty bytestring").
    [caseName('late-error after-empty')]: HEADERS_DEFERRED,
  },
};

// --- the WSGI probe under real servers ---------------------------------------------------------

describe('probe_app.py called directly never raises on a bad environ', () => {
  it('answers each bad environ with JSON that names the key', () => {
    const script = `
import io, json, sys
sys.path.insert(0, sys.argv[1])
import probe_app
def call(environ):
    seen = []
    def start_response(status, headers, exc_info=None):
        seen.append(status)
        return lambda data: None
    body = b''.join(probe_app.app(environ, start_response))
    answer = json.loads(body)
    return [seen[-1], sorted({v['key'] for v in answer['violations']})]
print(json.dumps([call(e) for e in [
    {'PATH_INFO': '/environ'},
    {'PATH_INFO': '/environ', 'REQUEST_METHOD': 5, 'SERVER_PORT': 80, 'HTTP_x-y': 'v', 'wsgi.input': 'text', 'wsgi.errors': None},
    {'PATH_INFO': '/environ', 'HTTP_X_PROBE_EXPECT': '{not json'},
    {'PATH_INFO': '/input', 'CONTENT_LENGTH': '3', 'wsgi.input': 'not a stream'},
    {'PATH_INFO': '/input', 'CONTENT_LENGTH': 'abc', 'wsgi.input': io.BytesIO(b'')},
    {'PATH_INFO': b'/environ'},
    {'PATH_INFO': '/respond', 'QUERY_STRING': 'status=abc'},
]]))
`;
    const r = spawnSync('python3', ['-c', script, APPS], { encoding: 'utf8', env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' } });
    expect(r.stderr).toBe('');
    const [empty, wrongTypes, badExpect, badInput, badLength, bytesPath, badRespond] = JSON.parse(r.stdout) as Array<[string, string[]]>;
    expect(empty![0]).toBe('200 OK');
    expect(empty![1]).toEqual(expect.arrayContaining(['REQUEST_METHOD', 'SERVER_NAME', 'SERVER_PORT', 'wsgi.input', 'wsgi.version', 'wsgi.multithread']));
    expect(wrongTypes![1]).toEqual(expect.arrayContaining(['REQUEST_METHOD', 'SERVER_PORT', 'HTTP_x-y', 'wsgi.input', 'wsgi.errors']));
    expect(badExpect![1]).toContain('HTTP_X_PROBE_EXPECT');
    expect(badInput).toEqual(['200 OK', ['wsgi.input']]);
    expect(badLength![1]).toEqual(['CONTENT_LENGTH']);
    expect(bytesPath![0]).toBe('404 Not Found');
    expect(badRespond).toEqual(['400 Bad Request', []]);
  });
});

for (const kind of [WSGIREF, GUNICORN, WAITRESS, TINY]) {
  describe.skipIf(kind.missing !== undefined)(`probe_app.py under ${kind.name}${kind.missing ? ` (skipped: ${kind.missing})` : ''}`, () => {
    let started: Started | undefined;
    beforeAll(async () => {
      started = await startPy(kind);
    });
    afterAll(async () => {
      await started?.server.stop();
    });
    for (const c of PY_CASES) {
      const departs = DEPARTURES[kind.name]?.[c.name];
      it(`${c.name}${departs ? ` — departs from PEP 3333: ${departs.join(', ')}` : ''}`, async () => {
        const out = await c.run(started!.target);
        expect(out.list, out.detail).toEqual(departs ?? []);
      });
    }
  });
}

// --- the WSGI probe catches faults -------------------------------------------------------------


const PY_FAULTS: Array<{ fault: string; case: string; findings: string[]; got?: RegExp }> = [
  { fault: 'path-encoded', case: 'environ: GET', findings: ['PATH_INFO'], got: /caf%C3%A9%20%E9\/%41/ },
  { fault: 'path-utf8', case: 'environ: GET', findings: ['PATH_INFO'], got: /caf\\u00e9 / },
  { fault: 'query-decoded', case: 'environ: GET', findings: ['QUERY_STRING'], got: /q=A\+b/ },
  { fault: 'headers-overwrite', case: 'environ: GET', findings: ['HTTP_X_REPEAT'], got: /^"two"$/ },
  { fault: 'http-content-type', case: 'environ: POST', findings: ['HTTP_CONTENT_LENGTH', 'HTTP_CONTENT_TYPE'] },
  { fault: 'port-int', case: 'environ: GET', findings: ['SERVER_PORT'], got: /^\d+$/ },
  { fault: 'errors-bytes', case: 'environ: GET', findings: ['wsgi.errors'], got: /TypeError/ },
  { fault: 'input-unbounded', case: 'input: past-end', findings: ['no answer'] },
  { fault: 'eager-headers', case: 'late-error before', findings: ['a header of the replaced 200 was sent', 'start_response', 'status 200'], got: /raised/ },
  { fault: 'start-twice-ok', case: 'start-twice', findings: ['start_response'], got: /returned/ },
  { fault: 'empty-chunk', case: 'empty-chunks', findings: ["body is not the probe's JSON"] },
  { fault: 'no-cut', case: 'overlong', findings: ['stray bytes after the body'] },
  { fault: 'no-close', case: 'close:', findings: ['close() not called'] },
  { fault: 'multithread-false', case: 'barrier', findings: ['wsgi.multithread'], got: /False/ },
  { fault: 'reimport', case: 'instance', findings: ['app imported again'] },
];

describe('probe_app.py under tiny_wsgi with one fault names exactly that fault', () => {
  for (const f of PY_FAULTS) {
    it(`${f.fault}: ${f.findings.join(', ')}`, async () => {
      const started = await startPy(TINY, { FAULT: f.fault });
      try {
        const out = await pyCase(f.case).run(started.target);
        expect(out.list, out.detail).toEqual(f.findings);
        if (f.got) expect(out.violations.find((v) => f.findings.includes(v.key))?.got ?? '').toMatch(f.got);
      } finally {
        await started.server.stop();
      }
    });
  }
});

// --- the fetch-handler probe -------------------------------------------------------------------

const TEXT = Buffer.from('h\u00e9llo w\u00f6rld, \u2603\n'.repeat(40), 'utf8');

const TS_CASES: Case[] = [
  {
    name: 'request: GET with an encoded path, a raw query, repeated headers, no body',
    async run(t) {
      const target = '/request/a%20b/%41?q=%41+b';
      const wanted = { target, method: 'GET', 'header:x-repeat': 'one, two', 'header:x-absent': null, 'header:host': `127.0.0.1:${t.port}` };
      const out = new Outcome();
      const headers: Array<[string, string]> = [['X-Repeat', 'one'], ['X-Other', 'v'], ['X-Repeat', 'two'], expectHeader(wanted)];
      out.probe(await exchange(t.port, { target, headers }), 200, 'request', Object.keys(wanted).length);
      return out;
    },
  },
  {
    name: 'request: POST with a binary body, read as an ArrayBuffer',
    async run(t) {
      const wanted = { method: 'POST', body_length: BODY.length, body_sha256: sha256(BODY), 'header:content-type': 'application/octet-stream' };
      const out = new Outcome();
      const headers: Array<[string, string]> = [['Content-Type', 'application/octet-stream'], expectHeader(wanted)];
      out.probe(await exchange(t.port, { method: 'POST', target: '/request', headers, body: BODY }), 200, 'request', 4);
      return out;
    },
  },
  ...['text', 'stream', 'blob'].map(
    (read): Case => ({
      name: `body: read with ${read}()`,
      async run(t) {
        const out = new Outcome();
        const headers: Array<[string, string]> = [['Content-Type', 'text/plain; charset=utf-8'], expectHeader({ body_length: TEXT.length, body_sha256: sha256(TEXT) })];
        const a = out.probe(await exchange(t.port, { method: 'PUT', target: `/body?read=${read}`, headers, body: TEXT }), 200, 'body');
        if (a && (a.saw.body as { read?: string } | null)?.read !== read) out.add('read another way');
        return out;
      },
    }),
  ),
  ...['sync', 'async'].map(
    (route): Case => ({
      name: `${route}: a handler that returns ${route === 'sync' ? 'a Response' : 'a Promise of one'}`,
      async run(t) {
        const out = new Outcome();
        out.probe(await exchange(t.port, { target: `/${route}?ms=100` }), 200, route);
        return out;
      },
    }),
  ),
  ...['throws', 'rejects'].map(
    (route): Case => ({
      name: `${route}: a failing handler gives a 500, the server lives`,
      async run(t) {
        const out = new Outcome();
        const x = await exchange(t.port, { target: `/${route}`, headers: [['Connection', 'close']] });
        if (x.res?.status !== 500) out.add(x.res ? `status ${x.res.status}` : `no whole response (${x.code})`);
        await stillServes(t, out, 'sync');
        return out;
      },
    }),
  ),
  { name: 'stream: a ReadableStream body reaches the client as it is made', run: streamCase },
  { name: 'stream: the client leaves mid-stream and the body stream is cancelled', run: (t) => disconnectCase(t, 'cancel') },
  {
    name: 'stream-error: a body stream that fails after the headers closes the connection',
    async run(t) {
      const out = new Outcome();
      const x = await exchange(t.port, { target: `/stream-error?id=${newId('stream-error')}` });
      if (x.code === 'response-never-ends') out.add('connection left open');
      else if (x.code !== 'eof-mid-response') out.add(x.res ? 'the response looked complete' : `no whole response (${x.code})`);
      await stillServes(t, out, 'sync');
      return out;
    },
  },
  { name: "overlong: the body is cut at the Response's Content-Length", run: overlongCase },
  { name: 'empty-chunks: empty chunks in the body stream', run: emptyChunksCase },
  { name: 'respond: status, reason and headers exactly, each Set-Cookie on its own line', run: respondCase },
  { name: 'barrier: requests run at once', run: barrierCase },
  { name: 'instance: the app is imported once', run: instanceCase },
];

const tsCase = (prefix: string) => TS_CASES.find((c) => c.name.startsWith(prefix))!;

describe('probe-app.ts', () => {
  let log = '';
  const target = (port: number): Target => ({ port, concurrent: true, log, events: (id) => readLog(log, id) });
  beforeAll(() => {
    // The app reads PROBE_LOG when it logs; it runs in this process, under the adapters below.
    log = path.join(tempDir('gateway-ts'), 'probe.log');
    process.env.PROBE_LOG = log;
  });
  afterAll(() => {
    delete process.env.PROBE_LOG;
  });

  it('answers a bad request object or expectation with JSON that names it, never a throw', async () => {
    const bad = (await probeApp.fetch({ url: '/request', headers: new Headers() } as unknown as Request)) as Response;
    expect(((await bad.json()) as ProbeAnswer).violations.map((v) => v.key)).toEqual(['request']);
    const badExpect = await probeApp.fetch(new Request('http://127.0.0.1/request', { headers: { 'x-probe-expect': '{no' } }));
    expect(((await badExpect.json()) as ProbeAnswer).violations.map((v) => v.key)).toEqual(['header:x-probe-expect']);
    const relative = await probeApp.fetch({ url: 'not a url', method: 'GET', headers: new Headers() } as unknown as Request);
    expect(relative.status).toBe(404);
  });

  describe('under a correct fetch adapter', () => {
    let adapter: Adapter | undefined;
    beforeAll(async () => {
      adapter = await startAdapter(probeApp);
    });
    afterAll(async () => {
      await adapter?.close();
    });
    for (const c of TS_CASES) {
      it(c.name, async () => {
        const out = await c.run(target(adapter!.port));
        expect(out.list, out.detail).toEqual([]);
      });
    }
  });

  const TS_FAULTS: Array<{ fault: AdapterFault; case: string; findings: string[] }> = [
    { fault: 'url-no-host', case: 'request: GET', findings: ['url'] },
    { fault: 'headers-overwrite', case: 'request: GET', findings: ['header:x-repeat'] },
    { fault: 'set-cookie-joined', case: 'respond', findings: ['Set-Cookie lines'] },
    { fault: 'no-await', case: 'async', findings: ["body is not the probe's JSON", 'status 500'] },
    { fault: 'no-cut', case: 'overlong', findings: ['stray bytes after the body'] },
    { fault: 'no-cancel', case: 'stream: the client leaves', findings: ['stream not cancelled'] },
  ];

  describe('under a fetch adapter with one fault, names exactly that fault', () => {
    for (const f of TS_FAULTS) {
      it(`${f.fault}: ${f.findings.join(', ')}`, async () => {
        const adapter = await startAdapter(probeApp, f.fault);
        try {
          const out = await tsCase(f.case).run(target(adapter.port));
          expect(out.list, out.detail).toEqual(f.findings);
        } finally {
          await adapter.close();
        }
      });
    }
  });
});
