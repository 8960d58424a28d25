import { createHash, randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import { seenFile } from './seen-file.ts';

// The fetch-handler probe app for 04-gateway: the default export has fetch(request), which the
// server under test calls with a Request made from the raw HTTP and whose Response it writes back.
// Every route answers what it received as JSON, { route, saw, violations: [{ key, expected, got }] },
// the same shape as the WSGI probe (probe_app.py). A failed check is data; an unexpected error
// becomes a 500 that names it. Only /throws and /rejects fail on purpose.
//
// What a route cannot say in its answer (a body stream cancelled after the client left) is
// appended to the file named by PROBE_LOG, one JSON line per event, which /log reads back.
// Node built-ins and web globals only: it runs inside the student's server.

export interface Violation {
  key: string;
  expected: string;
  /** What was found, as evidence; null when it was absent. */
  got: string | null;
}

export interface ProbeAnswer {
  route: string;
  saw: Record<string, unknown>;
  violations: Violation[];
}

/** New on every load: a server that imports the app again per request shows it at /instance. */
const LOADED = randomUUID();
let served = 0;
const memoryLog: LogEvent[] = [];
const barriers = new Map<string, { arrived: number; release: Array<(met: boolean) => void> }>();
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const encoder = new TextEncoder();

interface LogEvent {
  id: string;
  event: string;
  pid: number;
  t: number;
  [field: string]: unknown;
}

/** A value as evidence: strings JSON-quoted, so escapes and the type both show. */
function show(value: unknown): string | null {
  if (value === undefined) return null;
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (typeof value === 'object') return `[${value.constructor?.name ?? 'object'}]`;
  return typeof value;
}

class Probe {
  readonly saw: Record<string, unknown> = {};
  readonly violations: Violation[] = [];
  constructor(readonly route: string) {}

  violation(key: string, expected: string, got: unknown): void {
    this.violations.push({ key, expected, got: show(got) });
  }

  /** `got` is already words: what happened rather than a value. */
  violationText(key: string, expected: string, got: string): void {
    this.violations.push({ key, expected, got });
  }

  body(): string {
    const answer: ProbeAnswer = { route: this.route, saw: this.saw, violations: this.violations };
    return JSON.stringify(answer);
  }

  answer(status = 200, headers: Array<[string, string]> = [], statusText?: string): Response {
    const all = new Headers([['content-type', 'application/json'], ...headers]);
    return new Response(this.body(), { status, headers: all, ...(statusText !== undefined ? { statusText } : {}) });
  }
}

function bounded(url: URL, name: string, fallback: number, low: number, high: number): number {
  const value = Number(url.searchParams.get(name) ?? fallback);
  return Math.min(Math.max(Number.isFinite(value) ? value : fallback, low), high);
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

// --- the event log -------------------------------------------------------------------------------

function logEvent(id: string, event: string, fields: Record<string, unknown> = {}): void {
  if (!id) return;
  const entry: LogEvent = { id, event, pid: process.pid, t: Date.now() / 1000, ...fields };
  const file = process.env.PROBE_LOG;
  if (file) {
    try {
      // One append of one short line, so lines from several processes stay whole.
      appendFileSync(file, `${JSON.stringify(entry)}\n`);
      return;
    } catch {
      // falls back to memory
    }
  }
  memoryLog.push(entry);
}

function readLog(id: string): LogEvent[] {
  const events: LogEvent[] = [];
  const file = process.env.PROBE_LOG;
  if (file) {
    let text = '';
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      // no events yet
    }
    for (const line of text.split('\n')) {
      try {
        const entry = JSON.parse(line) as LogEvent;
        if (entry?.id === id) events.push(entry);
      } catch {
        // a line being written
      }
    }
  }
  events.push(...memoryLog.filter((e) => e.id === id));
  return events.sort((a, b) => a.t - b.t);
}

// --- /request and /body --------------------------------------------------------------------------

/** What the grader says it sent (the app cannot see the wire): the X-Probe-Expect header, JSON. */
function expectations(request: Request, probe: Probe): Record<string, unknown> {
  const raw = request.headers.get('x-probe-expect');
  if (raw === null) return {};
  try {
    const wanted: unknown = JSON.parse(raw);
    if (wanted && typeof wanted === 'object' && !Array.isArray(wanted)) return wanted as Record<string, unknown>;
  } catch {
    // reported below
  }
  probe.violation('header:x-probe-expect', 'the JSON object the grader sent, unchanged', raw);
  return {};
}

function checkRequest(request: unknown, probe: Probe): request is Request {
  if (!(request instanceof Request)) {
    probe.violation('request', 'a Request (the global one)', request);
    return false;
  }
  if (typeof request.method !== 'string' || !TOKEN.test(request.method)) probe.violation('method', 'the method, a token such as "GET"', request.method);
  if (!(request.headers instanceof Headers)) probe.violation('headers', 'a Headers object', request.headers);
  let url: URL | undefined;
  try {
    url = new URL(request.url);
  } catch {
    probe.violation('url', 'an absolute URL: http://, the Host, then the request target', request.url);
  }
  if (url && url.protocol !== 'http:' && url.protocol !== 'https:') probe.violation('url', 'an http: or https: URL', request.url);
  const host = request.headers.get('host');
  if (url && host !== null && url.host !== host.toLowerCase().replace(/:80$/, '')) {
    probe.violation('url', `a URL on the Host the client named, ${JSON.stringify(host)}`, request.url);
  }
  return true;
}

/** Checks the expectations that are about the request line and the headers. */
function compareHead(request: Request, wanted: Record<string, unknown>, probe: Probe): void {
  for (const [key, want] of Object.entries(wanted)) {
    if (key === 'target' && typeof want === 'string') {
      const host = request.headers.get('host') ?? 'host.invalid';
      let href: string | undefined;
      try {
        href = new URL(want, `http://${host}`).href;
      } catch {
        // a target no URL can hold: nothing to compare
      }
      if (href !== undefined && request.url !== href) {
        probe.violation('url', `${JSON.stringify(href)}: http://, the Host, then the target as sent (not decoded)`, request.url);
      }
    } else if (key === 'method' && request.method !== want) {
      probe.violation('method', show(want) ?? 'absent', request.method);
    } else if (key.startsWith('header:')) {
      const got = request.headers.get(key.slice(7));
      if (want === null && got !== null) probe.violation(key, 'absent', got);
      // The Fetch standard combines repeated fields with ", ", so here the joint is exact.
      else if (typeof want === 'string' && got !== want) probe.violation(key, show(want)!, got ?? undefined);
    }
  }
}

const READS = ['arrayBuffer', 'text', 'blob', 'stream'];

async function readBody(request: Request, how: string): Promise<Uint8Array> {
  if (how === 'text') return encoder.encode(await request.text());
  if (how === 'blob') return new Uint8Array(await (await request.blob()).arrayBuffer());
  if (how === 'stream') {
    const parts: Uint8Array[] = [];
    const reader = request.body!.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      parts.push(value);
    }
    return new Uint8Array(Buffer.concat(parts));
  }
  return new Uint8Array(await request.arrayBuffer());
}

async function compareBody(request: Request, wanted: Record<string, unknown>, how: string, probe: Probe): Promise<void> {
  if (request.method === 'GET' || request.method === 'HEAD') {
    if (request.body !== null) probe.violation('body', `null: a ${request.method} request has no body`, request.body);
    probe.saw.body = null;
    return;
  }
  if (request.body === null) {
    if (typeof wanted.body_length === 'number' && wanted.body_length > 0) probe.violation('body', `the ${wanted.body_length} bytes sent`, null);
    probe.saw.body = null;
    return;
  }
  const bytes = await readBody(request, how);
  const digest = sha256(bytes);
  probe.saw.body = { read: how, length: bytes.length, sha256: digest };
  if (typeof wanted.body_length === 'number' && bytes.length !== wanted.body_length) {
    probe.violationText('body', `the ${wanted.body_length} bytes sent`, `${bytes.length} bytes`);
  } else if (typeof wanted.body_sha256 === 'string' && digest !== wanted.body_sha256) {
    probe.violationText('body', `the bytes sent (sha256 ${wanted.body_sha256})`, `other bytes (sha256 ${digest})`);
  }
}

async function routeRequest(request: Request, url: URL, route: string): Promise<Response> {
  const probe = new Probe(route);
  const read = route === 'body' ? (url.searchParams.get('read') ?? 'arrayBuffer') : 'arrayBuffer';
  if (!READS.includes(read)) {
    probe.saw.error = `read=${JSON.stringify(read)}: one of ${READS.join(', ')}`;
    return probe.answer(400);
  }
  if (!checkRequest(request, probe)) return probe.answer();
  const wanted = expectations(request, probe);
  compareHead(request, wanted, probe);
  probe.saw.method = request.method;
  probe.saw.url = request.url;
  probe.saw.headers = [...request.headers];
  probe.saw.expected_keys = Object.keys(wanted).sort();
  await compareBody(request, wanted, read, probe);
  return probe.answer();
}

// --- streams -------------------------------------------------------------------------------------

/** How long a gated stream waits for the client to have seen its first chunk. */
const GATE_MS = 10_000;

/**
 * Until the client says it has seen chunk `n` (a file beside PROBE_LOG, named for the id and the
 * chunk), or GATE_MS has passed. Without PROBE_LOG, or with an id unfit for a file name, at once.
 */
async function seenByClient(id: string, n: number): Promise<void> {
  const file = process.env.PROBE_LOG;
  if (!file || !/^[A-Za-z0-9-]{1,64}$/.test(id)) return;
  const deadline = Date.now() + GATE_MS;
  while (Date.now() < deadline && !existsSync(seenFile(file, id, n))) await sleep(10);
}

function routeStream(url: URL): Response {
  const id = url.searchParams.get('id') ?? '';
  const count = bounded(url, 'n', 5, 1, 200);
  const ms = Math.min(bounded(url, 'ms', 100, 0, 1000), Math.floor(30_000 / count));
  // gate=1: the second chunk is made only once the client has seen the first.
  const gate = url.searchParams.get('gate') === '1';
  let n = 0;
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (n === 1 && gate) await seenByClient(id, 0);
      if (n > 0) await sleep(ms);
      if (cancelled) return;
      if (n < count) {
        logEvent(id, 'chunk', { n });
        controller.enqueue(encoder.encode(`${JSON.stringify({ chunk: n, of: count, t: Date.now() / 1000 })}\n`));
        n += 1;
        return;
      }
      const probe = new Probe('stream');
      Object.assign(probe.saw, { id, chunks: count, ms });
      controller.enqueue(encoder.encode(`${probe.body()}\n`));
      controller.close();
    },
    // The client left: a server that stops reading should cancel the stream, as it would close() in WSGI.
    cancel(reason) {
      cancelled = true;
      logEvent(id, 'cancel', { reason: String(reason) });
    },
  });
  return new Response(body, { headers: { 'content-type': 'application/x-ndjson' } });
}

function routeStreamError(url: URL): Response {
  const id = url.searchParams.get('id') ?? '';
  const first = encoder.encode('the headers and this chunk are out; then the stream fails\n');
  let sent = false;
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (!sent) {
        sent = true;
        logEvent(id, 'chunk', { n: 0 });
        controller.enqueue(first);
        return;
      }
      logEvent(id, 'error');
      controller.error(new Error('probe: the body stream failed after its first chunk, as /stream-error does'));
    },
    cancel(reason) {
      logEvent(id, 'cancel', { reason: String(reason) });
    },
  });
  return new Response(body, { headers: { 'content-type': 'text/plain', 'content-length': String(first.length * 3) } });
}

function routeOverlong(): Response {
  const probe = new Probe('overlong');
  const extra = 'EXTRA BYTES BEYOND THE CONTENT-LENGTH';
  probe.saw.extra_bytes = extra.length;
  const body = probe.body();
  return new Response(body + extra, { headers: { 'content-type': 'application/json', 'content-length': String(encoder.encode(body).length) } });
}

/** Overlong as a stream: the cut falls inside a chunk, and bytes past it keep coming for 20 s unless cancelled. */
function routeOverlongStream(url: URL): Response {
  const id = url.searchParams.get('id') ?? '';
  const probe = new Probe('overlong-stream');
  const extra = 'EXTRA BYTES BEYOND THE CONTENT-LENGTH';
  probe.saw.extra_bytes = extra.length;
  const bytes = encoder.encode(probe.body());
  const half = Math.floor(bytes.length / 2);
  const chunks = [bytes.subarray(0, half), Buffer.concat([bytes.subarray(half), encoder.encode(extra)])];
  let more = 200;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = chunks.shift();
      if (next) return controller.enqueue(next);
      if (more-- <= 0) return controller.close();
      await sleep(100);
      controller.enqueue(encoder.encode('MORE BYTES BEYOND THE CONTENT-LENGTH\n'));
    },
    cancel(reason) {
      more = 0;
      logEvent(id, 'cancel', { reason: String(reason) });
    },
  }, { highWaterMark: 0 });
  return new Response(body, { headers: { 'content-type': 'application/json', 'content-length': String(bytes.length) } });
}

/** A Content-Length longer than the body stream gives: the body ends short. */
function routeShortBody(): Response {
  const probe = new Probe('short-body');
  const missing = 100;
  probe.saw.missing_bytes = missing;
  const bytes = encoder.encode(probe.body());
  return new Response(bytes, { headers: { 'content-type': 'application/json', 'content-length': String(bytes.length + missing) } });
}

/** The answer with its own Content-Length, exact. */
function routeSized(): Response {
  const bytes = encoder.encode(new Probe('sized').body());
  return new Response(bytes, { headers: { 'content-type': 'application/json', 'content-length': String(bytes.length) } });
}

function routeEmptyChunks(): Response {
  const probe = new Probe('empty-chunks');
  probe.saw.chunks = ['', 'first half', '', 'second half', ''];
  const bytes = encoder.encode(probe.body());
  const half = Math.floor(bytes.length / 2);
  const chunks = [new Uint8Array(0), bytes.subarray(0, half), new Uint8Array(0), bytes.subarray(half), new Uint8Array(0)];
  const body = new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = chunks.shift();
      if (next) controller.enqueue(next);
      else controller.close();
    },
  });
  return new Response(body, { headers: { 'content-type': 'application/json' } });
}

// --- exact responses, concurrency, bookkeeping ---------------------------------------------------

function routeRespond(url: URL): Response {
  const probe = new Probe('respond');
  const status = Number(url.searchParams.get('status') ?? 200);
  const reason = url.searchParams.get('reason') ?? undefined;
  const headers: Array<[string, string]> = [];
  let error: string | undefined;
  if (!Number.isInteger(status) || status < 200 || status > 599 || status === 204 || status === 304) {
    error = `status ${JSON.stringify(url.searchParams.get('status'))}: from 200 to 599, not 204 or 304`;
  }
  if (reason !== undefined && /[\x00-\x1f\x7f]|[^\x00-\xff]/.test(reason)) error = `reason ${JSON.stringify(reason)}: no control characters`;
  for (const h of url.searchParams.getAll('h')) {
    const at = h.indexOf(':');
    const name = h.slice(0, at);
    const value = h.slice(at + 1);
    if (at < 0 || !TOKEN.test(name) || /[\x00-\x1f\x7f]|[^\x00-\xff]/.test(value)) {
      error = `header ${JSON.stringify(h)}: Name:value, a token name and a value without control characters`;
      break;
    }
    headers.push([name, value]);
  }
  if (error) {
    probe.saw.error = error;
    return probe.answer(400);
  }
  Object.assign(probe.saw, { status, reason: reason ?? null, headers });
  return probe.answer(status, headers, reason);
}

async function routeBarrier(url: URL): Promise<Response> {
  const id = url.searchParams.get('id') ?? 'default';
  const parties = bounded(url, 'n', 2, 2, 16);
  const timeoutMs = bounded(url, 'timeout', 5, 0.1, 10) * 1000;
  const key = `${id}/${parties}`;
  const started = Date.now();
  let group = barriers.get(key);
  if (!group) barriers.set(key, (group = { arrived: 0, release: [] }));
  const joined = group;
  joined.arrived += 1;
  let met: boolean;
  if (joined.arrived >= parties) {
    barriers.delete(key);
    for (const release of joined.release.splice(0)) release(true);
    met = true;
  } else {
    met = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        // A timed-out barrier is broken for every request still waiting on it, as in Python.
        if (barriers.get(key) === joined) barriers.delete(key);
        for (const release of joined.release.splice(0)) release(false);
      }, timeoutMs);
      joined.release.push((value) => {
        clearTimeout(timer);
        resolve(value);
      });
    });
  }
  const probe = new Probe('barrier');
  Object.assign(probe.saw, { id, n: parties, met, waited_ms: Date.now() - started, pid: process.pid });
  return probe.answer();
}

function routeInstance(): Response {
  const probe = new Probe('instance');
  Object.assign(probe.saw, { loaded: LOADED, pid: process.pid, served });
  return probe.answer();
}

function routeLog(url: URL): Response {
  const id = url.searchParams.get('id') ?? '';
  const probe = new Probe('log');
  Object.assign(probe.saw, { id, source: process.env.PROBE_LOG ? 'file' : 'memory', events: id ? readLog(id) : [] });
  return probe.answer();
}

type Route = (request: Request, url: URL, name: string) => Response | Promise<Response>;

const ROUTES: Record<string, Route> = {
  request: routeRequest,
  body: routeRequest,
  // A plain Response, not a Promise: a server must take both.
  sync: () => new Probe('sync').answer(),
  async: async (_request, url) => {
    await sleep(bounded(url, 'ms', 50, 0, 2000));
    return new Probe('async').answer();
  },
  throws: () => {
    throw new Error('probe: the handler threw, as /throws does');
  },
  rejects: () => Promise.reject(new Error('probe: the handler rejected, as /rejects does')),
  stream: (_request, url) => routeStream(url),
  'stream-error': (_request, url) => routeStreamError(url),
  overlong: () => routeOverlong(),
  'overlong-stream': (_request, url) => routeOverlongStream(url),
  'short-body': () => routeShortBody(),
  sized: () => routeSized(),
  // A 204 has no body: the Response constructor refuses one.
  'no-content': () => new Response(null, { status: 204, headers: { 'x-probe-route': 'no-content' } }),
  // Nor has a 304: the client's cached copy is the body.
  'not-modified': () => new Response(null, { status: 304, headers: { 'x-probe-route': 'not-modified', etag: '"probe"' } }),
  'empty-chunks': () => routeEmptyChunks(),
  respond: (_request, url) => routeRespond(url),
  barrier: (_request, url) => routeBarrier(url),
  instance: () => routeInstance(),
  log: (_request, url) => routeLog(url),
};

function failed(name: string, error: unknown): Response {
  const probe = new Probe(name || 'not-found');
  probe.violationText('probe', 'the probe to run to its end', error instanceof Error ? `${error.name}: ${error.message}` : String(error));
  if (error instanceof Error && error.stack) probe.saw.stack = error.stack.split('\n').slice(0, 6);
  return probe.answer(500);
}

function fetch(request: Request): Response | Promise<Response> {
  served += 1;
  let url: URL;
  try {
    url = new URL(request.url);
  } catch {
    // Routed anyway, so that /request can say what was wrong with the URL.
    url = new URL(String(request?.url ?? '/'), 'http://host.invalid');
  }
  const name = url.pathname.split('/')[1] ?? '';
  const route = ROUTES[name];
  if (!route) {
    const probe = new Probe('not-found');
    Object.assign(probe.saw, { path: url.pathname, routes: Object.keys(ROUTES).sort() });
    return probe.answer(404);
  }
  if (name === 'throws' || name === 'rejects') return route(request, url, name);
  try {
    const answer = route(request, url, name);
    return answer instanceof Promise ? answer.catch((e: unknown) => failed(name, e)) : answer;
  } catch (e) {
    return failed(name, e);
  }
}

export default { fetch };
