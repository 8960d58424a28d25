import net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Exchange } from '../report/model.ts';
import type { FixtureService } from './service.ts';
import { Waiters } from './waiters.ts';

// The slow cache: a TCP server speaking the part of memcached's text protocol a proxy uses (get,
// set, delete, version, quit), byte for byte as memcached 1.6 answers it, errors included, so a
// server developed against it works against a real memcached and the other way round. It reads a
// real byte stream: a command may come in pieces or several in one read, and replies go out in
// the order the commands came on each connection. Every reply waits a little (a hit is cheaper
// than the upstream, not free), and plans like the upstream's can hold commands, never answer or
// hang up. It records every command, per key how often it was hit, missed and set, the most
// connections open and commands in flight at once, and a short transcript of each connection.

/** How long each reply waits unless a plan says otherwise. */
export const CACHE_DELAY_MS = 20;
/** What `version` answers (memcached's own says `VERSION 1.6.18` and the like). */
export const CACHE_VERSION = '1.6.0-serverlab';

// memcached's limits: keys of at most 250 bytes; a line with no newline in its first 2048 bytes
// closes the connection unless it is a get, whose many keys may run longer; items of at most 1 MiB,
// its own bookkeeping included.
const KEY_MAX = 250;
const LINE_MAX = 2048;
const GET_LINE_MAX = 1024 * 1024;
const ITEM_MAX = 1024 * 1024;
const ITEM_OVERHEAD = 56;
/** Seconds beyond which an exptime is a Unix time rather than a number of seconds from now. */
const RELATIVE_EXPTIME_MAX = 30 * 24 * 3600;

// Bounds on what one connection can make the cache hold, and on the record.
const QUEUE_MAX = 1024;
const RECORD_MAX = 10_000;
const LINE_KEPT = 512;
const DATA_KEPT = 4096;
const TRANSCRIPT_KEPT = 4096;
const TRANSCRIPT_CONNECTIONS = 64;

export interface CacheCommand {
  /** 1, 2, 3, ... in order of arrival since the last reset. */
  seq: number;
  /** The connection it came on (`CacheConnection.id`). */
  connection: number;
  /** The command line as sent, without its line end, as latin-1 (its first 512 bytes). */
  line: string;
  /** Its first word as sent: 'get', 'set', ..., or whatever came ('' for an empty line). */
  command: string;
  /** The keys it names. */
  keys: string[];
  /** For a get, once carried out: whether each key was found, in order. */
  hits?: boolean[];
  /** For a set: flags, exptime and the length its command line gave. */
  flags?: number;
  exptime?: number;
  bytes?: number;
  /** For a set: the data block as it came (its first 4 KiB; `bytes` says how long it was). */
  data?: Buffer;
  /** `noreply` was asked for: the cache answers nothing. */
  noreply?: boolean;
  /** The first line of the reply once sent ('END', 'VALUE k 0 5', 'STORED', 'ERROR', ...); '' for none. */
  reply?: string;
  /** Milliseconds after the last reset: the whole command, data block included, had arrived. */
  arrivedMs: number;
  /** Commands in flight (arrived, not answered) when this one arrived, itself included. */
  inFlightAtArrival: number;
  releasedMs?: number;
  /** When it was carried out and its reply written. */
  repliedMs?: number;
  /** The cache hung up as it arrived (plan `close`). */
  closed?: boolean;
  /** Its connection closed before the reply was written. */
  dropped?: boolean;
}

export interface CacheKeyCounts {
  hits: number;
  misses: number;
  sets: number;
  deletes: number;
}

export interface CacheConnection {
  /** 1, 2, 3, ... in order of opening since the last reset (connections open at a reset are numbered first). */
  id: number;
  /** 0 for a connection that was already open at the last reset. */
  openedMs: number;
  /** Open since before the last reset. */
  carried?: boolean;
  closedMs?: number;
  /** `client`: the student's server hung up; `cache`: the cache did (plan `close`, `quit`, a line too long). */
  closedBy?: 'client' | 'cache';
  /** Why the cache hung up. */
  closeReason?: string;
  commands: number;
}

export interface CacheRecord {
  /** The first 10 000 commands since the last reset. */
  commands: CacheCommand[];
  /** Commands arrived since the last reset, recorded or not. */
  seen: number;
  /** Per key (as UTF-8), what the commands did to it. */
  keys: Map<string, CacheKeyCounts>;
  /** Connections since the last reset (the first 10 000). */
  connections: CacheConnection[];
  openConnections: number;
  /** The most connections open at once since the last reset. */
  maxConnections: number;
  inFlight: number;
  maxInFlight: number;
  /** Commands held right now. */
  held: number;
}

export type CachePlan =
  /** Answer every command after `delayMs` (by default the cache's delay). */
  | { kind: 'answer'; delayMs?: number }
  /** Hold every command until `release()` lets it go. */
  | { kind: 'hold' }
  /** Read every command and never answer it (until a reset); later commands on its connection wait behind it. */
  | { kind: 'never' }
  /** Hang up as each command arrives, without answering. */
  | { kind: 'close' };

export interface CacheOptions {
  port?: number;
  /** The delay of each reply under the default plan (CACHE_DELAY_MS unless given). */
  delayMs?: number;
  /** Called with one line per event, for `npm run fixture -- cache`. */
  log?: (line: string) => void;
}

type Op =
  | { kind: 'get'; keys: string[] }
  | { kind: 'set'; key: string; flags: number; exptime: number; data: Buffer }
  | { kind: 'delete'; key: string }
  | { kind: 'too-large'; key: string }
  | { kind: 'version' }
  | { kind: 'quit' }
  /** An error, answered as it is. */
  | { kind: 'reply'; text: string };

interface Queued {
  rec: CacheCommand;
  op: Op;
  quiet: boolean;
  state: 'due' | 'held' | 'never';
  /** performance.now() at which a due command may be answered. */
  dueAt: number;
}

type ReadState =
  | { kind: 'line' }
  | { kind: 'data'; rec: Omit<CacheCommand, 'seq' | 'arrivedMs' | 'inFlightAtArrival'>; key: string; flags: number; exptime: number; quiet: boolean }
  /** Bytes to throw away (a value too large to keep), then the reply. */
  | { kind: 'swallow'; left: number; rec: Omit<CacheCommand, 'seq' | 'arrivedMs' | 'inFlightAtArrival'>; key: string; quiet: boolean };

/** The start of what went each way on one connection, and how much went in all. */
interface Transcript {
  in: Buffer[];
  inBytes: number;
  out: Buffer[];
  outBytes: number;
}

interface Conn {
  socket: net.Socket;
  info: CacheConnection;
  buf: Buffer;
  read: ReadState;
  queue: Queued[];
  timer?: NodeJS.Timeout;
  /** The client shut down its side: hang up once the replies due have gone. */
  ended: boolean;
  closed: boolean;
  /** The record this connection belongs to; a reset starts a new one. */
  generation: number;
  /** Kept for the first connections since the last reset only. */
  transcript?: Transcript;
}

interface Item {
  data: Buffer;
  flags: number;
  /** performance.now() when it expires; undefined: never. */
  expiresAt?: number;
}


/** A key as bytes on the wire (latin-1, one char a byte) from a JS string, encoded as UTF-8. */
const wire = (key: string): string => Buffer.from(key, 'utf8').toString('latin1');
/** A key as sent, read as UTF-8 for the record. */
const readable = (key: string): string => Buffer.from(key, 'latin1').toString('utf8');

export class SlowCache implements FixtureService {
  readonly name = 'cache';
  private plan: CachePlan = { kind: 'answer' };
  private store = new Map<string, Item>();
  private commands: CacheCommand[] = [];
  private seen = 0;
  private keyCounts = new Map<string, CacheKeyCounts>();
  private connections: CacheConnection[] = [];
  private conns = new Set<Conn>();
  private connCount = 0;
  private maxConnections = 0;
  private inFlight = 0;
  private maxInFlight = 0;
  private generation = 0;
  private epoch = performance.now();
  private readonly waiters = new Waiters();
  /** By connection id, open or closed. */
  private transcriptsById = new Map<number, Transcript>();
  /** Every socket not yet closed, those the record is done with included (one half-closed by the cache, say). */
  private sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    readonly port: number,
    readonly delayMs: number,
    private readonly log?: (line: string) => void,
  ) {}

  static async start(opts: CacheOptions = {}): Promise<SlowCache> {
    // Half-open: a client that shuts down its side after its commands still gets the replies due.
    const server = net.createServer({ allowHalfOpen: true, noDelay: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
    });
    const cache = new SlowCache(server, (server.address() as AddressInfo).port, opts.delayMs ?? CACHE_DELAY_MS, opts.log);
    server.on('connection', (socket) => cache.open(socket));
    return cache;
  }

  get addr(): string {
    return `127.0.0.1:${this.port}`;
  }

  env(): Record<string, string> {
    return { CACHE_ADDR: this.addr };
  }

  /** Changes what happens to commands from now on; commands already held stay held. */
  setPlan(plan: CachePlan): void {
    this.plan = plan;
  }

  /** Stores a value as a `set` would, without counting it as one: what a check starts from. */
  preload(key: string, value: string | Buffer, opts: { flags?: number; exptime?: number } = {}): void {
    this.put(wire(key), Buffer.from(value), opts.flags ?? 0, opts.exptime ?? 0);
  }

  /** What the cache holds for a key now, or undefined. */
  entry(key: string): { value: Buffer; flags: number } | undefined {
    const item = this.live(wire(key));
    return item && { value: item.data, flags: item.flags };
  }

  get record(): CacheRecord {
    let held = 0;
    for (const c of this.conns) held += c.queue.filter((q) => q.state === 'held').length;
    return {
      commands: this.commands.map((c) => ({ ...c, keys: [...c.keys], ...(c.hits ? { hits: [...c.hits] } : {}) })),
      seen: this.seen,
      keys: new Map([...this.keyCounts].map(([k, v]) => [k, { ...v }])),
      connections: this.connections.map((c) => ({ ...c })),
      openConnections: this.conns.size,
      maxConnections: this.maxConnections,
      inFlight: this.inFlight,
      maxInFlight: this.maxInFlight,
      held,
    };
  }

  /** Lets the oldest `count` held commands go (all when left out); returns how many went. */
  release(count = Infinity): number {
    const held = [...this.conns].flatMap((c) => c.queue.filter((q) => q.state === 'held').map((q) => ({ c, q })));
    held.sort((a, b) => a.q.rec.seq - b.q.rec.seq);
    const going = held.slice(0, count);
    const now = performance.now();
    for (const { q } of going) {
      q.state = 'due';
      q.dueAt = now;
      q.rec.releasedMs = this.now();
    }
    for (const c of new Set(going.map((g) => g.c))) this.drive(c);
    return going.length;
  }

  /** True once `n` commands have arrived since the last reset; false if the time or the signal ran out first. */
  whenCommands(n: number, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<boolean> {
    return this.waiters.when(() => this.seen >= n, opts);
  }

  /** True once `n` commands have been carried out (and answered, unless noreply) since the last reset. */
  whenReplied(n: number, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<boolean> {
    return this.waiters.when(() => this.commands.filter((c) => c.repliedMs !== undefined).length >= n, opts);
  }

  /** True once `n` connections have been opened since the last reset (counting those open at it). */
  whenConnections(n: number, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<boolean> {
    return this.waiters.when(() => this.connCount >= n, opts);
  }

  /** True once no command is in flight. */
  whenIdle(opts: { timeoutMs: number; signal?: AbortSignal }): Promise<boolean> {
    return this.waiters.when(() => this.inFlight === 0, opts);
  }

  /**
   * What went each way on the cache's connections, for a check's evidence: `sent` is what the
   * student's server sent the cache, `received` what the cache answered. The first `limit`
   * connections (or those named), each direction cut to `bytes`.
   */
  transcripts(opts: { connections?: number[]; limit?: number; bytes?: number } = {}): Exchange[] {
    const limit = opts.limit ?? 4;
    const bytes = Math.min(opts.bytes ?? 1024, TRANSCRIPT_KEPT);
    const wanted = opts.connections ? new Set(opts.connections) : undefined;
    const out: Exchange[] = [];
    for (const info of this.connections) {
      if (out.length >= limit) break;
      if (wanted && !wanted.has(info.id)) continue;
      const t = this.transcriptsById.get(info.id);
      if (!t) continue;
      const state = info.closedBy === 'client' ? 'closed by your server' : info.closedBy === 'cache' ? `closed by the cache${info.closeReason ? `: ${info.closeReason}` : ''}` : 'still open';
      const sent = Buffer.concat(t.in);
      const received = Buffer.concat(t.out);
      out.push({
        label: `connection ${info.id} to the cache (${state})`,
        sent: sent.toString('latin1', 0, Math.min(sent.length, bytes)),
        sentBytes: t.inBytes,
        received: received.toString('latin1', 0, Math.min(received.length, bytes)),
        receivedBytes: t.outBytes,
      });
    }
    return out;
  }

  /**
   * Back to its first behaviour: no data, an empty record, the default plan. Connections with
   * commands waiting (or a command half sent) are cut; idle ones stay open, numbered afresh.
   */
  reset(): void {
    this.generation++;
    const kept: Conn[] = [];
    for (const c of this.conns) {
      if (c.queue.length || c.read.kind !== 'line' || c.buf.length || c.ended) {
        this.detach(c);
        c.socket.destroy();
      } else kept.push(c);
    }
    this.plan = { kind: 'answer' };
    this.store.clear();
    this.commands = [];
    this.seen = 0;
    this.keyCounts.clear();
    this.connections = [];
    this.transcriptsById.clear();
    this.connCount = 0;
    this.inFlight = 0;
    this.maxInFlight = 0;
    this.epoch = performance.now();
    for (const c of kept) {
      c.generation = this.generation;
      c.info = { id: ++this.connCount, openedMs: 0, carried: true, commands: 0 };
      if (this.connections.length < RECORD_MAX) this.connections.push(c.info);
      c.transcript = this.newTranscript(c.info.id);
    }
    this.maxConnections = kept.length;
    this.waiters.cancelAll();
  }

  async stop(): Promise<void> {
    this.reset();
    for (const c of this.conns) this.detach(c);
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private newTranscript(id: number): Transcript | undefined {
    if (id > TRANSCRIPT_CONNECTIONS) return undefined;
    const t: Transcript = { in: [], inBytes: 0, out: [], outBytes: 0 };
    this.transcriptsById.set(id, t);
    return t;
  }

  private now(): number {
    return Math.round(performance.now() - this.epoch);
  }

  private say(line: string): void {
    this.log?.(`[${(this.now() / 1000).toFixed(3)} s] ${line}`);
  }

  private open(socket: net.Socket): void {
    const info: CacheConnection = { id: ++this.connCount, openedMs: this.now(), commands: 0 };
    const c: Conn = { socket, info, buf: Buffer.alloc(0), read: { kind: 'line' }, queue: [], ended: false, closed: false, generation: this.generation };
    c.transcript = this.newTranscript(info.id);
    if (this.connections.length < RECORD_MAX) this.connections.push(info);
    this.conns.add(c);
    this.sockets.add(socket);
    this.maxConnections = Math.max(this.maxConnections, this.conns.size);
    this.say(`connection ${info.id} opened (${this.conns.size} open)`);
    socket.on('data', (chunk: Buffer) => {
      if (c.closed) return;
      if (c.transcript) keep(c.transcript, 'in', chunk);
      c.buf = c.buf.length ? Buffer.concat([c.buf, chunk]) : chunk;
      this.drive(c);
    });
    socket.on('end', () => {
      c.ended = true;
      this.drive(c);
    });
    // Replies that backed up have gone out: answer and read on.
    socket.on('drain', () => this.drive(c));
    // A reset from the client is its way of hanging up; nothing to report beyond that.
    socket.on('error', () => {});
    socket.on('close', () => {
      this.sockets.delete(socket);
      if (!c.closed) this.closed(c, 'client');
    });
    this.waiters.wake();
  }

  /** Takes a connection out of the record without touching the new one (after a reset). */
  private detach(c: Conn): void {
    c.closed = true;
    clearTimeout(c.timer);
    this.conns.delete(c);
  }

  private closed(c: Conn, by: 'client' | 'cache', reason?: string): void {
    const current = c.generation === this.generation;
    this.detach(c);
    if (!current) return;
    c.info.closedMs = this.now();
    c.info.closedBy = by;
    if (reason) c.info.closeReason = reason;
    for (const q of c.queue) {
      q.rec.dropped = true;
      this.inFlight--;
    }
    c.queue = [];
    this.say(`connection ${c.info.id} closed by ${by === 'client' ? 'the client' : `the cache${reason ? ` (${reason})` : ''}`} (${this.conns.size} open)`);
    this.waiters.wake();
  }

  /** The cache hangs up on a connection. */
  private hangUp(c: Conn, reason: string, gently = false): void {
    if (c.closed) return;
    this.closed(c, 'cache', reason);
    if (gently) c.socket.end();
    else c.socket.destroy();
  }

  /** Reads what can be read, answers what is due, and reads no further while replies back up. */
  private drive(c: Conn): void {
    for (;;) {
      if (c.closed) return;
      const parsed = this.parse(c);
      const answered = this.pump(c);
      if (!parsed && !answered) break;
    }
    if (c.closed) return;
    // The client has shut down its side: it still gets the replies on their way, then the cache
    // closes too; a command held or never to be answered means it gave up waiting, so it goes now.
    if (c.ended && c.queue.every((q) => q.state !== 'due')) {
      this.closed(c, 'client');
      c.socket.end();
      return;
    }
    const backedUp = c.queue.length >= QUEUE_MAX || c.socket.writableNeedDrain;
    if (backedUp && !c.socket.isPaused()) c.socket.pause();
    else if (!backedUp && c.socket.isPaused()) c.socket.resume();
  }

  /** Parses whole commands out of the connection's bytes; true if it took any. */
  private parse(c: Conn): boolean {
    let took = false;
    while (!c.closed && c.queue.length < QUEUE_MAX) {
      const r = c.read;
      if (r.kind === 'swallow') {
        const n = Math.min(r.left, c.buf.length);
        if (n === 0) break;
        r.left -= n;
        c.buf = c.buf.subarray(n);
        took = true;
        if (r.left > 0) break;
        c.read = { kind: 'line' };
        this.arrive(c, r.rec, { kind: 'too-large', key: r.key }, r.quiet);
        continue;
      }
      if (r.kind === 'data') {
        const need = r.rec.bytes! + 2;
        if (c.buf.length < need) break;
        const block = c.buf.subarray(0, need);
        c.buf = c.buf.subarray(need);
        took = true;
        c.read = { kind: 'line' };
        const data = Buffer.from(block.subarray(0, need - 2));
        const rec = { ...r.rec, data: data.subarray(0, DATA_KEPT) };
        // memcached takes exactly `bytes` and two more, which must be CRLF; anything else is read as the next command.
        const ok = block[need - 2] === 0x0d && block[need - 1] === 0x0a;
        this.arrive(c, rec, ok ? { kind: 'set', key: r.key, flags: r.flags, exptime: r.exptime, data } : { kind: 'reply', text: 'CLIENT_ERROR bad data chunk' }, r.quiet);
        continue;
      }
      const nl = c.buf.indexOf(0x0a);
      if (nl < 0) {
        if (c.buf.length > LINE_MAX && (!/^ {0,100}gets? /.test(c.buf.toString('latin1', 0, 110)) || c.buf.length > GET_LINE_MAX)) {
          this.hangUp(c, `a line of more than ${LINE_MAX} bytes with no newline`);
        }
        break;
      }
      const end = nl > 0 && c.buf[nl - 1] === 0x0d ? nl - 1 : nl;
      const line = c.buf.toString('latin1', 0, end);
      c.buf = c.buf.subarray(nl + 1);
      took = true;
      this.command(c, line);
    }
    return took;
  }

  /** One command line, tokenized and checked as memcached does it. */
  private command(c: Conn, line: string): void {
    // memcached splits on spaces only (a tab is part of a word) and counts a closing empty token.
    const tokens = line.split(' ').filter((t) => t !== '');
    const ntokens = tokens.length + 1;
    const cmd = tokens[0] ?? '';
    const base = { connection: c.info.id, line: line.slice(0, LINE_KEPT), command: cmd, keys: [] as string[] };
    const error = (text: string, quiet = false, keys: string[] = []) =>
      this.arrive(c, { ...base, keys: keys.map(readable), ...(quiet ? { noreply: true } : {}) }, { kind: 'reply', text }, quiet);
    const last = tokens[tokens.length - 1];
    if (ntokens < 2 || cmd.length < 2) return error('ERROR');
    if (cmd === 'get') {
      if (ntokens < 3) return error('ERROR');
      const keys = tokens.slice(1);
      // One key too long spoils the whole get, earlier hits included.
      if (keys.some((k) => k.length > KEY_MAX)) return error('CLIENT_ERROR bad command line format', false, keys);
      return this.arrive(c, { ...base, keys: keys.map(readable) }, { kind: 'get', keys }, false);
    }
    if (cmd === 'set') {
      if (ntokens !== 6 && ntokens !== 7) return error('ERROR');
      const quiet = last === 'noreply';
      const key = tokens[1]!;
      const rec = { ...base, keys: [readable(key)], ...(quiet ? { noreply: true } : {}) };
      if (key.length > KEY_MAX) return this.arrive(c, rec, { kind: 'reply', text: 'CLIENT_ERROR bad command line format' }, quiet);
      const flags = cUnsigned32(tokens[2]!);
      const exptime = cSigned32(tokens[3]!);
      const bytes = cSigned32(tokens[4]!);
      // No data block is looked for after these: its bytes are read as commands, as memcached does.
      if (flags === undefined || exptime === undefined || bytes === undefined || bytes < 0 || bytes > 0x7fffffff - 2) {
        return this.arrive(c, rec, { kind: 'reply', text: 'CLIENT_ERROR bad command line format' }, quiet);
      }
      const full = { ...rec, flags, exptime, bytes };
      if (key.length + 1 + bytes + 2 + ITEM_OVERHEAD > ITEM_MAX) c.read = { kind: 'swallow', left: bytes + 2, rec: full, key, quiet };
      else c.read = { kind: 'data', rec: full, key, flags, exptime, quiet };
      return;
    }
    if (cmd === 'delete') {
      if (ntokens < 3 || ntokens > 5) return error('ERROR');
      const key = tokens[1]!;
      let quiet = false;
      if (ntokens > 3) {
        // memcached still takes the old `delete <key> 0` form.
        const holdIsZero = tokens[2] === '0';
        quiet = last === 'noreply';
        const valid = (ntokens === 4 && (holdIsZero || quiet)) || (ntokens === 5 && holdIsZero && quiet);
        if (!valid) return error('CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]', quiet, [key]);
      }
      const rec = { ...base, keys: [readable(key)], ...(quiet ? { noreply: true } : {}) };
      if (key.length > KEY_MAX) return this.arrive(c, rec, { kind: 'reply', text: 'CLIENT_ERROR bad command line format' }, quiet);
      return this.arrive(c, rec, { kind: 'delete', key }, quiet);
    }
    if (cmd === 'version') return this.arrive(c, base, { kind: 'version' }, false);
    if (cmd === 'quit') return this.arrive(c, base, { kind: 'quit' }, false);
    return error('ERROR');
  }

  /** A whole command has arrived: record it and queue it as the plan says. */
  private arrive(c: Conn, partial: Omit<CacheCommand, 'seq' | 'arrivedMs' | 'inFlightAtArrival'>, op: Op, quiet: boolean): void {
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const rec: CacheCommand = { seq: ++this.seen, ...partial, arrivedMs: this.now(), inFlightAtArrival: this.inFlight };
    if (this.commands.length < RECORD_MAX) this.commands.push(rec);
    c.info.commands++;
    this.say(`#${rec.seq} connection ${c.info.id}: ${printable(rec.line)}${rec.data ? ` + ${rec.bytes} bytes of data` : ''} (${this.inFlight} in flight)`);
    const plan = this.plan;
    if (plan.kind === 'close') {
      rec.closed = true;
      this.inFlight--;
      this.hangUp(c, 'on purpose, as a command arrived');
      this.waiters.wake();
      return;
    }
    const state = plan.kind === 'hold' ? 'held' : plan.kind === 'never' ? 'never' : 'due';
    const delay = plan.kind === 'answer' ? (plan.delayMs ?? this.delayMs) : 0;
    c.queue.push({ rec, op, quiet, state, dueAt: performance.now() + delay });
    this.waiters.wake();
  }

  /** Answers the commands at the head of the connection's queue whose time has come; true if any. */
  private pump(c: Conn): boolean {
    let answered = false;
    while (!c.closed && c.queue.length && !c.socket.writableNeedDrain) {
      const q = c.queue[0]!;
      if (q.state !== 'due') break;
      const wait = q.dueAt - performance.now();
      if (wait > 0) {
        if (!c.timer) {
          c.timer = setTimeout(() => {
            c.timer = undefined;
            this.drive(c);
          }, Math.ceil(wait));
        }
        break;
      }
      c.queue.shift();
      answered = true;
      this.execute(c, q);
    }
    return answered;
  }

  private execute(c: Conn, q: Queued): void {
    const { rec, op } = q;
    let reply: Buffer | undefined;
    let summary = '';
    switch (op.kind) {
      case 'get': {
        const parts: Buffer[] = [];
        rec.hits = op.keys.map((k) => {
          const item = this.live(k);
          this.count(k, item ? 'hits' : 'misses');
          if (item) parts.push(Buffer.from(`VALUE ${k} ${item.flags} ${item.data.length}\r\n`, 'latin1'), item.data, Buffer.from('\r\n'));
          return item !== undefined;
        });
        parts.push(Buffer.from('END\r\n'));
        reply = Buffer.concat(parts);
        summary = rec.hits.map((h) => (h ? 'hit' : 'miss')).join(', ');
        break;
      }
      case 'set':
        this.put(op.key, op.data, op.flags, op.exptime);
        this.count(op.key, 'sets');
        reply = Buffer.from('STORED\r\n');
        break;
      case 'delete': {
        const found = this.live(op.key) !== undefined;
        this.store.delete(op.key);
        if (found) this.count(op.key, 'deletes');
        reply = Buffer.from(found ? 'DELETED\r\n' : 'NOT_FOUND\r\n');
        break;
      }
      case 'too-large':
        // memcached drops the old value too, so that a failed set leaves nothing stale behind.
        this.store.delete(op.key);
        reply = Buffer.from('SERVER_ERROR object too large for cache\r\n');
        break;
      case 'version':
        reply = Buffer.from(`VERSION ${CACHE_VERSION}\r\n`);
        break;
      case 'reply':
        reply = Buffer.from(`${op.text}\r\n`, 'latin1');
        break;
      case 'quit':
        break;
    }
    rec.repliedMs = this.now();
    const sent = reply && !q.quiet ? reply : undefined;
    rec.reply = sent ? sent.toString('latin1', 0, sent.indexOf(0x0d)) : '';
    this.inFlight--;
    if (sent) {
      if (c.transcript) keep(c.transcript, 'out', sent);
      c.socket.write(sent);
    }
    this.say(`#${rec.seq} connection ${c.info.id}: ${op.kind === 'quit' ? 'quit' : sent ? printable(rec.reply) : 'no reply (noreply)'}${summary ? ` (${summary})` : ''}`);
    if (op.kind === 'quit') this.hangUp(c, 'quit', true);
    this.waiters.wake();
  }

  private put(key: string, data: Buffer, flags: number, exptime: number): void {
    // memcached's exptime: 0 never, up to 30 days a number of seconds from now, beyond that a Unix
    // time; negative (or a time gone by) is expired already.
    const at = exptime === 0 ? undefined : exptime < 0 ? -Infinity : exptime <= RELATIVE_EXPTIME_MAX ? performance.now() + exptime * 1000 : performance.now() + (exptime * 1000 - Date.now());
    if (at !== undefined && at <= performance.now()) this.store.delete(key);
    else this.store.set(key, { data, flags, ...(at !== undefined ? { expiresAt: at } : {}) });
  }

  private live(key: string): Item | undefined {
    const item = this.store.get(key);
    if (item?.expiresAt !== undefined && item.expiresAt <= performance.now()) {
      this.store.delete(key);
      return undefined;
    }
    return item;
  }

  private count(key: string, what: keyof CacheKeyCounts): void {
    const k = readable(key);
    let counts = this.keyCounts.get(k);
    if (!counts) this.keyCounts.set(k, (counts = { hits: 0, misses: 0, sets: 0, deletes: 0 }));
    counts[what]++;
  }


}

function keep(t: Transcript, dir: 'in' | 'out', chunk: Buffer): void {
  const have = dir === 'in' ? t.inBytes : t.outBytes;
  if (have < TRANSCRIPT_KEPT) t[dir].push(Buffer.from(chunk.subarray(0, TRANSCRIPT_KEPT - have)));
  if (dir === 'in') t.inBytes += chunk.length;
  else t.outBytes += chunk.length;
}

/** A line for the log, control bytes shown as escapes. */
function printable(line: string): string {
  const shown = line.replace(/[\x00-\x1f\x7f-\xff]/g, (ch) => (ch === '\t' ? '\\t' : ch === '\r' ? '\\r' : `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`));
  return shown.length > 120 ? `${shown.slice(0, 120)}…` : shown || '(an empty line)';
}

const C_SPACE = '[ \\t\\n\\v\\f\\r]';
const C_NUMBER = new RegExp(`^${C_SPACE}*([+-]?)(\\d+)(?:${C_SPACE}|$)`);

// memcached reads numbers with strtoul and strtol: white space first, a sign, decimal digits, and
// then the end of the word or white space; a number beyond 64 bits fails, and one beyond 32 bits
// keeps its low 32 bits (so `4294967298` bytes is 2).
function cNumber(token: string): { negative: boolean; digits: bigint } | undefined {
  const m = C_NUMBER.exec(token);
  return m ? { negative: m[1] === '-', digits: BigInt(m[2]!) } : undefined;
}

function cUnsigned32(token: string): number | undefined {
  const n = cNumber(token);
  if (!n || n.digits > 0xffffffffffffffffn) return undefined;
  const value = n.negative ? BigInt.asUintN(64, -n.digits) : n.digits;
  // strtoul takes "-5" as a huge number; memcached refuses a minus sign on one that looks negative.
  if (n.negative && value >= 1n << 63n) return undefined;
  return Number(BigInt.asUintN(32, value));
}

function cSigned32(token: string): number | undefined {
  const n = cNumber(token);
  if (!n) return undefined;
  const value = n.negative ? -n.digits : n.digits;
  if (value > (1n << 63n) - 1n || value < -(1n << 63n)) return undefined;
  return Number(BigInt.asIntN(32, value));
}
