import { createHash } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { defineCheck, defineExercise, fail, fromCases, pass, probeCase, skip, type Case, type CheckContext, type Verdict } from './define.ts';
import rules from './rules/07-threads.ts';
import { getOnce, sendAll, servedBy, upstreamOf, upstreamServices, upstreamTarget, type Sent } from './process-models.ts';
import { header, type ParsedResponse } from '../probes/raw/parse-response.ts';
import { isProbeError, type ProbeError } from '../probes/errors.ts';
import { treeEvidence, type ServerSnapshot } from '../probes/proc/inspect.ts';
import { threadSwitches } from '../probes/proc/processes.ts';
import { upstreamBody, type SlowUpstream } from '../services/upstream.ts';
import type { Measurement } from '../report/model.ts';
import type { FailureCode } from './codes.ts';

// 07-threads: a thread per request (THREADS=0), a fixed pool of k threads (THREADS=k), and n
// processes of k threads each (PROCESSES=n). Concurrency is read at the slow upstream (how many
// requests it holds at once), threads and the accept queue from /proc. Nothing here is graded by
// the clock: the throughput is shown beside its prediction, and judged from the upstream's record.

/** How long nothing more may arrive before the grader believes no thread is free. */
const QUIET_MS = 1500;
/** How long the grader waits for requests a correct server lets through at once. */
const ARRIVE_MS = 15_000;
/** How long PROCESSES=2 gets for both of its processes to answer after a restart. */
const STARTING_MS = 25_000;
/** A pool's thread count may differ by this much between two load levels. */
const SLACK = 1;

const threadsAsked = (ctx: CheckContext) => Number(ctx.env.THREADS);
/** The Python track takes connections in its threads, so the ones waiting show in the accept queue (seen on Linux). */
const isPython = (ctx: CheckContext) => ctx.track === 'py';
const threadsOf = (s: ServerSnapshot) => s.processes.filter((p) => p.state !== 'Z').reduce((n, p) => n + (p.threads ?? 0), 0);
const names = (ctx: CheckContext, prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i + 1}-${ctx.rng.word(5)}`);
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : word.endsWith('s') ? 'es' : 's'}`;

/** The code for a count of requests at once that is not the one asked for. */
const countCode = (seen: number, want: number) => (seen > want ? 'too-many-at-once' : seen <= 1 ? 'not-concurrent' : 'wrong-thread-count');

/**
 * Holds `targets` at the upstream: waits for `want` to arrive, then a quiet period for one more. A
 * server whose thread count grows meanwhile is starting a thread for a request, which may take a
 * while to reach the upstream (a Worker loads its code first): it is given the full time to arrive.
 */
async function holdAtOnce(ctx: CheckContext, up: SlowUpstream, targets: string[], want: number): Promise<{ sent: Sent[]; atOnce: number }> {
  // Every connection listens for the check's abort: more than Node's default of 10.
  setMaxListeners(64, ctx.signal);
  const before = await liveThreads(ctx);
  up.setPlan({ kind: 'hold' });
  const sent = await sendAll(ctx, targets.map(upstreamTarget));
  if (await up.whenArrived(want, { timeoutMs: ARRIVE_MS, signal: ctx.signal })) {
    const quiet = Date.now() + QUIET_MS;
    let grew = false;
    while (up.record.requests.length <= want && !ctx.signal.aborted && Date.now() < (grew ? quiet + ARRIVE_MS : quiet)) {
      grew ||= (await liveThreads(ctx)) > before + SLACK;
      await up.whenArrived(want + 1, { timeoutMs: 100, signal: ctx.signal });
    }
  }
  return { sent, atOnce: up.record.requests.length };
}

/** Threads of the server's live processes, from a cheap look (no fds). */
const liveThreads = async (ctx: CheckContext) => (await ctx.proc.processes()).filter((p) => p.state !== 'Z').reduce((n, p) => n + (p.threads ?? 0), 0);

/** Lets every held request go, and every later one through at once; reads each answer. */
async function releaseAll(up: SlowUpstream, sent: Sent[]): Promise<(ParsedResponse | ProbeError)[]> {
  up.setPlan({ kind: 'answer' });
  up.release();
  return Promise.all(sent.map((s) => s.answer(ARRIVE_MS)));
}

/** The path the upstream sees for a request sent to the server's `/upstream/NAME`. */
const upstreamPath = (target: string) => target.slice('/upstream'.length);

/** One case: every request got a 200 with its own upstream body. */
function answeredCase(ctx: CheckContext, sent: Sent[], answers: (ParsedResponse | ProbeError)[], rule = 'answered'): Case {
  const wrong = answers.findIndex((a, i) => isProbeError(a) || a.status !== 200 || a.body.toString('utf8') !== upstreamBody(upstreamPath(sent[i]!.name)));
  const bad = answers[wrong];
  return {
    name: `all ${sent.length} requests answered with the upstream's body`,
    ok: wrong < 0,
    rule: ctx.rule(rule),
    ...(bad ? { code: isProbeError(bad) ? bad.code : 'wrong-body', exchange: sent[wrong]!.conn.transcript({ expected: `200 with body ${JSON.stringify(upstreamBody(upstreamPath(sent[wrong]!.name)))}` }) } : {}),
    message: bad ? `${sent[wrong]!.name}: ${isProbeError(bad) ? bad.message : `answered ${bad.status} ${JSON.stringify(bad.body.toString('utf8').slice(0, 60))}`}` : 'every one answered',
  };
}

/** Marks for the process tree: who listens, how many threads each runs. */
const marks = (p: ServerSnapshot['processes'][number]) => [...(p.fds?.listener ? ['holds the listening socket'] : []), ...(p.threads ? [plural(p.threads, 'thread')] : [])];

/** A verdict from cases, with figures the report shows whatever the verdict. */
function withMeasurements(v: Verdict, measurements: Measurement[]): Verdict {
  return { ...v, evidence: { ...v.evidence, measurements } };
}

/** Context switches of every thread of the server (a process's status counts its first thread only). */
async function contextSwitches(s: ServerSnapshot): Promise<{ voluntary: number; involuntary: number } | undefined> {
  if (process.platform !== 'linux') return undefined;
  const total = { voluntary: 0, involuntary: 0 };
  for (const p of s.processes.filter((x) => x.state !== 'Z')) {
    const t = await threadSwitches(p.pid);
    total.voluntary += t.voluntary;
    total.involuntary += t.involuntary;
  }
  return total;
}

function expectedHash(seed: string, rounds: number): string {
  let h = createHash('sha256').update(seed).digest();
  for (let i = 0; i < rounds; i++) h = createHash('sha256').update(h).digest();
  return `${h.toString('hex')}\n`;
}

const routes = defineCheck({
  id: 'answers-routes',
  title: 'Answers /pid, /hash, /upstream/NAME and unknown paths through its threads',
  points: 2,
  async run(ctx) {
    const up = upstreamOf(ctx);
    const rule = ctx.rule('routes');
    // The first answer may wait for the threads to start (a Worker loads its code first).
    (await getOnce(ctx, '/pid', ARRIVE_MS)).conn.close();
    const pid = ctx.server.pid;
    const seed = ctx.rng.word(8);
    const rounds = ctx.rng.int(2, 3000);
    const name = ctx.rng.word(10);
    const tries: Array<{ name: string; target: string; status: number; body?: string; cut?: number }> = [
      { name: '/pid answers the pid that served it', target: '/pid', status: 200, body: `${pid}\n` },
      { name: `/hash with ${rounds} rounds`, target: `/hash?rounds=${rounds}&seed=${seed}`, status: 200, body: expectedHash(seed, rounds) },
      { name: '/hash with 1 round and no seed (an empty seed)', target: '/hash?rounds=1', status: 200, body: expectedHash('', 1) },
      { name: '/hash with 0 rounds is refused', target: `/hash?rounds=0&seed=${seed}`, status: 400 },
      { name: '/hash with 10000001 rounds is refused', target: `/hash?rounds=10000001&seed=${seed}`, status: 400 },
      { name: '/hash with rounds that are not a number is refused', target: `/hash?rounds=${ctx.rng.word(3)}&seed=${seed}`, status: 400 },
      { name: 'an unknown path is not found', target: `/${ctx.rng.word(7)}`, status: 404 },
      { name: '/upstream/NAME answers the upstream body', target: upstreamTarget(name), status: 200, body: upstreamBody(`/${name}`) },
      // Cut inside the target: a server that answers before the whole head is in answers the wrong path.
      { name: '/upstream/NAME sent in two writes, cut inside the path', target: upstreamTarget(`${name}-again`), status: 200, body: upstreamBody(`/${name}-again`), cut: 'GET /upst'.length },
    ];
    const cases: Case[] = [];
    // After one connection that stayed open, the others are not waited on: one is evidence enough.
    let waitForClose = true;
    for (const t of tries) {
      const expected = `${t.status}${t.body !== undefined ? ` with body ${JSON.stringify(t.body)}` : ''}, Content-Type: text/plain; charset=utf-8, X-Served-By: ${pid}, then the connection closes`;
      cases.push(
        await probeCase(t.name, async () => {
          const conn = await ctx.connect({ label: t.target });
          await conn.send(ctx.request({ target: t.target }), t.cut ? { sizes: [t.cut], afterFirstPieceMs: 300 } : {});
          const res = await conn.readResponse();
          const closed = !waitForClose || (await conn.waitForEof());
          waitForClose &&= closed;
          const body = res.body.toString('utf8');
          const problems = [
            ...(res.status !== t.status ? [`status ${res.status}`] : []),
            ...(t.body !== undefined && body !== t.body ? [`body ${JSON.stringify(body.slice(0, 70))}`] : []),
            ...(header(res, 'content-type') !== 'text/plain; charset=utf-8' ? [`Content-Type ${JSON.stringify(header(res, 'content-type') ?? null)}`] : []),
            ...(servedBy(res) !== pid ? [`X-Served-By ${JSON.stringify(header(res, 'x-served-by') ?? null)}`] : []),
            ...(header(res, 'connection')?.toLowerCase() !== 'close' ? ['no Connection: close'] : []),
            ...(!closed ? ['the connection stayed open'] : []),
          ];
          return { ok: !problems.length, code: res.status !== t.status ? ('wrong-status' as const) : ('wrong-body' as const), message: problems.join(', '), exchange: conn.transcript({ expected, ...(t.cut ? { split: `cut after byte ${t.cut}` } : {}) }) };
        }, { rule, expected }),
      );
    }
    const seen = up.record.requests.map((r) => r.path);
    cases.push({ name: 'the upstream was asked for /NAME', ok: seen.includes(`/${name}`), rule, code: 'wrong-body', message: `the upstream saw ${JSON.stringify(seen)}` });
    return fromCases(cases);
  },
});

const poolLimit = defineCheck({
  id: 'pool-limit',
  title: 'A pool of THREADS serves exactly that many requests at once; the rest wait their turn',
  points: 4,
  timeoutMs: 60_000,
  async run(ctx) {
    const k = threadsAsked(ctx);
    const m = 2 * k + 2;
    const up = upstreamOf(ctx);
    const { sent, atOnce } = await holdAtOnce(ctx, up, names(ctx, 'pool', m), k);
    const python = isPython(ctx) && !ctx.proc.unsupported('acceptQueue');
    // What waits must wait in the kernel's accept queue: a server that takes connections only when
    // a thread is free leaves exactly the others there.
    const { snapshot } = python ? await ctx.proc.waitFor((s) => s.acceptQueue >= m - k, { timeoutMs: 3000, signal: ctx.signal }) : { snapshot: await ctx.proc.snapshot() };
    const tree = treeEvidence(snapshot, `${atOnce} of ${m} requests at the upstream, ${snapshot.acceptQueue} in the accept queue (THREADS=${k})`, marks);
    const cases: Case[] = [
      {
        name: `${k} requests at the upstream at once, no more`,
        ok: atOnce === k,
        weight: 2,
        rule: ctx.rule('pool-size'),
        code: countCode(atOnce, k),
        message: atOnce === k ? `${k} arrived, then nothing for ${QUIET_MS / 1000} s` : `${atOnce} of the ${m} requests reached the upstream at once, where THREADS=${k} allows ${k}`,
        tree,
      },
      {
        name: 'one process (PROCESSES=1)',
        ok: snapshot.processes.length === 1,
        rule: ctx.rule('one-process'),
        code: 'wrong-process-count',
        message: `${plural(snapshot.processes.length, 'process')}`,
      },
    ];
    if (python) {
      cases.push({
        name: `the other ${m - k} wait in the kernel's accept queue`,
        ok: snapshot.acceptQueue === m - atOnce && atOnce <= k,
        rule: ctx.rule('accept-when-free'),
        code: 'queued-in-process',
        message: `the accept queue held ${snapshot.acceptQueue} while ${atOnce} requests were at the upstream: ${snapshot.acceptQueue < m - atOnce ? 'the server accepted connections no thread was free to serve, and kept them out of sight' : 'as it should'}`,
        tree,
      });
    }
    if (atOnce === k) {
      // Each release frees one thread, which must take exactly one waiting request.
      let freed = 0;
      while (freed < m - k && up.release(1) === 1) {
        freed++;
        if (!(await up.whenArrived(k + freed, { timeoutMs: ARRIVE_MS, signal: ctx.signal }))) break;
      }
      const record = up.record;
      const ok = freed === m - k && record.requests.length === m && record.maxInFlight === k;
      cases.push({
        name: 'each request let go makes room for exactly one more',
        ok,
        // A thread freed takes one waiting request, and only then: the same in both tracks.
        rule: ctx.rule('accept-when-free'),
        code: record.maxInFlight > k ? 'too-many-at-once' : 'wrong-thread-count',
        message: ok ? `${m - k} let go one by one, each followed by one arrival; never more than ${k} in flight` : `after ${freed} let go, ${record.requests.length} of ${m} had arrived, at most ${record.maxInFlight} in flight at once`,
      });
    }
    cases.push(answeredCase(ctx, sent, await releaseAll(up, sent)));
    return fromCases(cases);
  },
});

const steady = defineCheck({
  id: 'thread-count-steady',
  title: 'The pool does not grow: as many threads with 3k requests waiting as with k',
  points: 2,
  timeoutMs: 40_000,
  async run(ctx) {
    const why = ctx.proc.unsupported('threads');
    if (why) return skip(why);
    const k = threadsAsked(ctx);
    // A fresh server: a pool that grew in an earlier check may have enough threads left over for
    // this one's requests, and would hide that it grows.
    await ctx.restartServer();
    const up = upstreamOf(ctx);
    // A request through each thread first, so whatever a runtime starts on first use is counted in both.
    const warm = await sendAll(ctx, names(ctx, 'warm-up', k).map(upstreamTarget));
    await Promise.all(warm.map((w) => w.answer(ARRIVE_MS)));
    up.reset();
    const first = await holdAtOnce(ctx, up, names(ctx, 'busy', k), k);
    if (first.atOnce < k) {
      await releaseAll(up, first.sent);
      return fail(`only ${first.atOnce} of ${k} requests reached the upstream at once: the pool never had all its ${k} threads busy, so its thread count could not be compared`, { code: countCode(first.atOnce, k) });
    }
    const busy = await ctx.proc.snapshot();
    const more = await sendAll(ctx, names(ctx, 'more', 2 * k).map(upstreamTarget));
    // A pool that grows shows it soon; a fixed one is given the whole quiet period to show it does not.
    // On a loaded machine a new thread (a Node Worker above all) can take seconds to start, so a
    // fixed pool is given a long quiet time to show it does not grow: until the threads grow, or a
    // request beyond the k held reaches the upstream, which only a thread the pool did not have can send.
    const grew = (s: ServerSnapshot) => threadsOf(s) > threadsOf(busy) + SLACK;
    let after = await ctx.proc.waitFor((s) => grew(s) || up.record.requests.length > k, { timeoutMs: 4 * QUIET_MS, signal: ctx.signal });
    if (!grew(after.snapshot) && up.record.requests.length > k) after = await ctx.proc.waitFor(grew, { timeoutMs: 10_000, signal: ctx.signal });
    const answers = await releaseAll(up, [...first.sent, ...more]);
    const [t1, t2] = [threadsOf(busy), threadsOf(after.snapshot)];
    const cases: Case[] = [
      {
        name: `thread count with ${k} requests in flight vs ${3 * k}`,
        ok: t2 <= t1 + SLACK,
        weight: 2,
        rule: ctx.rule('fixed-threads'),
        code: 'thread-count-grows',
        message: `${t1} threads with ${k} requests held, ${t2} with ${3 * k} sent${t2 > t1 + SLACK ? `: ${t2 - t1} more threads for ${2 * k} more requests` : ''}`,
        tree: treeEvidence(after.snapshot, `${3 * k} requests sent, ${k} of them held at the upstream`, marks),
      },
      answeredCase(ctx, [...first.sent, ...more], answers),
    ];
    return withMeasurements(fromCases(cases), [{ label: `threads, ${k} held`, value: t1 }, { label: `threads, ${3 * k} sent`, value: t2, expected: `at most ${t1 + SLACK}` }]);
  },
});

const perRequest = defineCheck({
  id: 'thread-per-request',
  title: 'THREADS=0: a thread per request, gone when the request is done',
  points: 2,
  timeoutMs: 45_000,
  async run(ctx) {
    const why = ctx.proc.unsupported('threads');
    if (why) return skip(why);
    const n = 6;
    await ctx.restartServer({ THREADS: '0' });
    const up = upstreamOf(ctx);
    // A first request, so that whatever a runtime starts on first use is there before the baseline.
    await getOnce(ctx, upstreamTarget(`warm-up-${ctx.rng.word(4)}`), ARRIVE_MS);
    up.reset();
    const base = await settledThreads(ctx);
    const { sent, atOnce } = await holdAtOnce(ctx, up, names(ctx, 'each', n), n);
    const held = await ctx.proc.waitFor((s) => threadsOf(s) >= base + n, { timeoutMs: 3000, signal: ctx.signal });
    const during = threadsOf(held.snapshot);
    const answers = await releaseAll(up, sent);
    // A runtime may keep a thread it started on the way: two are allowed, six (one per request) are not.
    const after = await ctx.proc.waitFor((s) => threadsOf(s) <= base + 2 * SLACK, { timeoutMs: ARRIVE_MS, signal: ctx.signal });
    const rule = ctx.rule('thread-per-request');
    const cases: Case[] = [
      { name: `${n} requests at the upstream at once`, ok: atOnce === n, rule, code: countCode(atOnce, n), message: `${atOnce} of ${n} arrived at once` },
      {
        name: `at least ${n} more threads while ${n} are held`,
        ok: during >= base + n,
        weight: 2,
        rule,
        code: 'wrong-thread-count',
        message: `${base} threads before, ${during} with ${n} requests held`,
        tree: treeEvidence(held.snapshot, `THREADS=0, ${n} requests held at the upstream`, marks),
      },
      answeredCase(ctx, sent, answers, 'answered'),
      {
        name: 'the threads end with their requests',
        ok: after.ok,
        rule,
        code: 'threads-linger',
        message: `${threadsOf(after.snapshot)} threads ${ARRIVE_MS / 1000} s after all ${n} were answered, ${base} before they came`,
        ...(after.ok ? {} : { tree: treeEvidence(after.snapshot, `THREADS=0, all ${n} requests answered`, marks) }),
      },
    ];
    return withMeasurements(fromCases(cases), [
      { label: 'threads before', value: base },
      { label: `threads, ${n} held`, value: during, expected: `at least ${base + n}` },
      { label: 'threads after', value: threadsOf(after.snapshot), expected: `at most ${base + 2 * SLACK}` },
    ]);
  },
});

/** The thread count once it stops changing (a thread that served a request may still be ending). */
async function settledThreads(ctx: CheckContext): Promise<number> {
  let last = threadsOf(await ctx.proc.snapshot());
  for (let i = 0; i < 20; i++) {
    await new Promise((r) => setTimeout(r, 150));
    const now = threadsOf(await ctx.proc.snapshot());
    if (now === last) return now;
    last = now;
  }
  return last;
}

const processes = defineCheck({
  id: 'processes-times-threads',
  title: 'PROCESSES=2: two processes of THREADS threads each, 2 × THREADS requests at once',
  points: 3,
  timeoutMs: 90_000,
  async run(ctx) {
    const k = threadsAsked(ctx);
    const n = 2;
    await ctx.restartServer({ PROCESSES: String(n) });
    const up = upstreamOf(ctx);
    // Wait until both processes answer: a process still starting would not be dealt connections yet.
    // On a loaded machine a process's pool can take many seconds to start: a request it got
    // meanwhile may go unanswered, and the next is tried; what follows judges a server that never answers.
    const pids = new Set<number>();
    const until = Date.now() + STARTING_MS;
    for (let i = 0; i < 200 && pids.size < n && Date.now() < until && !ctx.signal.aborted; i++) {
      try {
        const { res, conn } = await getOnce(ctx, '/pid', ARRIVE_MS);
        conn.close();
        const pid = servedBy(res);
        if (pid) pids.add(pid);
      } catch (e) {
        if (!isProbeError(e)) throw e;
      }
      if (pids.size < n) await new Promise((r) => setTimeout(r, 50));
    }
    const m = 4 * k;
    const { sent, atOnce } = await holdAtOnce(ctx, up, names(ctx, 'proc', m), n * k);
    const python = isPython(ctx) && !ctx.proc.unsupported('acceptQueue');
    const { snapshot } = python ? await ctx.proc.waitFor((s) => s.acceptQueue >= m - n * k, { timeoutMs: 3000, signal: ctx.signal }) : { snapshot: await ctx.proc.snapshot() };
    // The requests at the upstream, by the process that took them (read from their answers).
    const first = new Set(up.record.requests.map((r) => r.path));
    const answers = await releaseAll(up, sent);
    // Per process: how many of its requests were at the upstream at once, of how many it was given.
    const byPid = new Map<number, number>();
    const given = new Map<number, number>();
    for (const [i, a] of answers.entries()) {
      const pid = isProbeError(a) ? undefined : servedBy(a);
      if (pid === undefined) continue;
      pids.add(pid);
      given.set(pid, (given.get(pid) ?? 0) + 1);
      if (first.has(upstreamPath(sent[i]!.name))) byPid.set(pid, (byPid.get(pid) ?? 0) + 1);
    }
    // Node's cluster deals connections to whichever process is ready first, which a loaded machine
    // can skew: a process given fewer than k has all of them at the upstream, one given more has k.
    const full = [...given].every(([pid, c]) => (byPid.get(pid) ?? 0) === Math.min(k, c));
    const serving = [...given.entries()].map(([pid, c]) => `pid ${pid}: ${byPid.get(pid) ?? 0} at once of the ${c} it took`).join(', ') || 'none';
    const tree = treeEvidence(snapshot, `PROCESSES=${n}, THREADS=${k}: ${atOnce} of ${m} requests at the upstream, ${snapshot.acceptQueue} in the accept queue`, (p) => [
      ...(byPid.has(p.pid) ? [`${byPid.get(p.pid)} at the upstream`] : []),
      ...(p.threads ? [plural(p.threads, 'thread')] : []),
    ]);
    const rule = ctx.rule('processes');
    const cases: Case[] = [
      { name: `${n} processes answer requests`, ok: pids.size === n, rule, code: 'wrong-process-count', message: `answers came from ${plural(pids.size, 'process')} (${[...pids].join(', ')})`, tree },
      {
        name: `${k} requests at the upstream at once from each process (${n} × ${k} = ${n * k})`,
        ok: full && given.size > 0,
        weight: 2,
        rule,
        code: countCode(atOnce, n * k),
        message: `${atOnce} of the ${m} requests reached the upstream at once (${serving})`,
      },
    ];
    if (python) {
      cases.push({
        name: `the other ${m - n * k} wait in the kernel's accept queue`,
        ok: snapshot.acceptQueue === m - atOnce && atOnce <= n * k,
        rule: ctx.rule('accept-when-free'),
        code: 'queued-in-process',
        message: `the accept queue held ${snapshot.acceptQueue} while ${atOnce} requests were at the upstream: ${snapshot.acceptQueue < m - atOnce ? 'the processes accepted connections no thread was free to serve, and kept them out of sight' : 'as it should'}`,
      });
    }
    cases.push(answeredCase(ctx, sent, answers));
    return fromCases(cases);
  },
});

const survives = defineCheck({
  id: 'pool-survives-errors',
  title: 'Requests that fail end with a 502; the pool keeps its THREADS threads',
  points: 2,
  timeoutMs: 45_000,
  async run(ctx) {
    const k = threadsAsked(ctx);
    const up = upstreamOf(ctx);
    const failing = await holdAtOnce(ctx, up, names(ctx, 'fails', k), k);
    if (failing.atOnce < k) {
      await releaseAll(up, failing.sent);
      return fail(`only ${failing.atOnce} of ${k} requests reached the upstream at once: the pool never had all its ${k} threads busy, so they could not all meet a failure`, { code: countCode(failing.atOnce, k) });
    }
    // One client gives up (a reset) while its request is at the upstream, so writing its answer fails.
    const [gone, ...waiting] = failing.sent;
    const established = (await ctx.proc.snapshot()).connections.ESTABLISHED ?? 0;
    gone!.conn.reset();
    await ctx.proc.waitFor((s) => (s.connections.ESTABLISHED ?? 0) < established, { timeoutMs: 3000, signal: ctx.signal });
    // The upstream drops every request it holds: each call the server made fails.
    up.reset();
    const answers = await Promise.all(waiting.map((s) => s.answer(ARRIVE_MS)));
    const wrong = answers.findIndex((a) => isProbeError(a) || a.status !== 502);
    const bad = answers[wrong];
    const cases: Case[] = [
      {
        name: `the other ${k - 1} answered 502 Bad Gateway`,
        ok: wrong < 0,
        rule: ctx.rule('bad-gateway'),
        code: bad && isProbeError(bad) ? bad.code : 'wrong-status',
        message: bad ? `${waiting[wrong]!.name}: ${isProbeError(bad) ? bad.message : `answered ${bad.status}`}` : 'each one answered 502',
        ...(bad ? { exchange: waiting[wrong]!.conn.transcript({ expected: '502 once the upstream call failed' }) } : {}),
      },
    ];
    const again = await holdAtOnce(ctx, up, names(ctx, 'again', k + 1), k);
    const snapshot = await ctx.proc.snapshot();
    cases.push({
      name: `${k} requests at the upstream at once again`,
      ok: again.atOnce >= k,
      weight: 2,
      rule: ctx.rule('errors-end-requests'),
      code: 'pool-shrinks',
      message: again.atOnce >= k ? `${again.atOnce} arrived: every thread is still there` : `only ${again.atOnce} of ${k + 1} requests reached the upstream at once, after ${k} requests failed: ${plural(k - again.atOnce, 'thread')} of the pool died and ${k - again.atOnce === 1 ? 'was' : 'were'} not replaced`,
      tree: treeEvidence(snapshot, `after ${k} failed requests: ${again.atOnce} of ${k + 1} new ones at the upstream`, marks),
    });
    cases.push(answeredCase(ctx, again.sent, await releaseAll(up, again.sent)));
    return fromCases(cases);
  },
});

const throughput = defineCheck({
  id: 'throughput',
  title: 'k threads against an upstream that takes d seconds: about k / d requests per second',
  points: 3,
  timeoutMs: 90_000,
  async run(ctx) {
    const k = threadsAsked(ctx);
    const d = ctx.rng.pick([150, 200]);
    const clients = 2 * k + 2;
    const each = k;
    const up = upstreamOf(ctx);
    setMaxListeners(64, ctx.signal);
    up.setPlan({ kind: 'answer', delayMs: d });
    const run = async (targets: (c: number, r: number) => string, want: (target: string) => string, rounds: number, clients: number) => {
      const before = await ctx.proc.snapshot();
      const s0 = await contextSwitches(before);
      const t0 = performance.now();
      const results = await Promise.all(
        Array.from({ length: clients }, async (_, c) => {
          for (let r = 0; r < rounds; r++) {
            const target = targets(c, r);
            try {
              const { res, conn } = await getOnce(ctx, target, ARRIVE_MS);
              conn.close();
              if (res.status !== 200 || res.body.toString('utf8') !== want(target)) return { text: `${target}: answered ${res.status} ${JSON.stringify(res.body.toString('utf8').slice(0, 60))}`, code: 'wrong-body' as FailureCode };
            } catch (e) {
              if (!isProbeError(e)) throw e;
              // The probe's own code (a refusal, a reset), so the runner can tell a crash from a wrong answer.
              return { text: `${target}: ${e.message}`, code: e.code };
            }
          }
          return undefined;
        }),
      );
      const seconds = (performance.now() - t0) / 1000;
      const s1 = await contextSwitches(await ctx.proc.snapshot());
      const switches = s0 && s1 ? { voluntary: s1.voluntary - s0.voluntary, involuntary: s1.involuntary - s0.involuntary } : undefined;
      return { rate: (clients * rounds) / seconds, seconds, error: results.find((x) => x !== undefined), switches, maxInFlight: up.record.maxInFlight };
    };
    const rate = (c: number, r: number) => upstreamTarget(`rate-${c + 1}-${r + 1}`);
    const passedOn = (t: string) => upstreamBody(upstreamPath(t));
    // One request per client first: whatever threads the server starts for them are there when measuring.
    const warm = await run((c) => upstreamTarget(`warm-up-${c + 1}`), passedOn, 1, clients);
    up.reset();
    up.setPlan({ kind: 'answer', delayMs: d });
    const io = warm.error ? warm : await run(rate, passedOn, each, clients);
    const predicted = k / (d / 1000);
    const ratio = io.rate / predicted;
    const measurements: Measurement[] = [
      { label: 'requests per second (upstream)', value: round(io.rate), unit: '/s', expected: `${k} threads / ${d / 1000} s = ${round(predicted)}/s predicted`, headline: true },
      { label: 'measured / predicted', value: round(ratio), expected: 'near 1; lower on a busy machine', headline: true },
      { label: 'most in flight at the upstream', value: io.maxInFlight, expected: `${k}`, headline: true },
      ...switchRows('upstream', io.switches),
    ];
    // The same clients on CPU work: shown beside it, not graded.
    const seed = ctx.rng.word(6);
    const hashRounds = 20_000;
    const hash = (c: number, r: number) => `/hash?rounds=${hashRounds}&seed=${seed}-${c}-${r}`;
    const hashed = (t: string) => expectedHash(new URLSearchParams(t.split('?')[1]).get('seed')!, hashRounds);
    const values = { THREADS: k, upstreamDelayMs: d, clients, requests: clients * each, seconds: round(io.seconds) };
    if (io.error) return fail(`a request went wrong while measuring: ${io.error.text}`, { code: io.error.code, measurements, values });
    const alone = await run(hash, hashed, 3, 1);
    const cpu = await run(hash, hashed, 2, clients);
    measurements.push(
      { label: `requests per second (/hash, ${hashRounds} rounds, 1 client)`, value: round(alone.rate), unit: '/s', expected: 'not graded' },
      { label: `requests per second (/hash, ${clients} clients)`, value: round(cpu.rate), unit: '/s', expected: `not graded: ${round(cpu.rate / alone.rate)} × one client; CPU work is limited by the cores, and on Python by the GIL` },
      ...switchRows('/hash', cpu.switches),
    );
    // Graded from the upstream's record, not from the clock: on a busy machine the grader's clients
    // and the server both run late, and the rate drops with them (more threads than k can then
    // still stay under 1.5 times the prediction), but a pool of k has k requests at the upstream
    // at once, no more and no fewer, on any machine. The rate is shown beside the prediction.
    const message = `${round(io.rate)} requests per second measured, ${round(predicted)} predicted (${k} threads / ${d / 1000} s)`;
    if (io.maxInFlight === k) {
      const slow = ratio < 0.5 ? `: below the prediction, yet the upstream had ${k} requests at once, so the machine, not the pool, set the pace` : '';
      return pass(`${message}${slow}`, { measurements, values });
    }
    const why = io.maxInFlight < k ? `: at most ${plural(io.maxInFlight, 'request')} at the upstream at once, not ${k}` : `: more than ${k} requests at a time (up to ${io.maxInFlight} at the upstream at once)`;
    return fail(`${message}${why}`, { code: 'throughput-off', measurements, values });
  },
});

function switchRows(what: string, s: { voluntary: number; involuntary: number } | undefined): Measurement[] {
  if (!s) return [];
  return [
    { label: `voluntary context switches (${what})`, value: s.voluntary, expected: 'a thread waiting on I/O or a lock gives up the CPU' },
    { label: `involuntary context switches (${what})`, value: s.involuntary, expected: 'the kernel took the CPU from a running thread' },
  ];
}

const round = (n: number) => Math.round(n * 100) / 100;

export default defineExercise({
  id: '07-threads',
  // 3 or 4: never the 1 of a serial server, the 2 of the machine's cores or a usual default.
  env: (rng) => ({ THREADS: String(rng.pick([3, 4])), PROCESSES: '1' }),
  rules,
  services: upstreamServices,
  checks: [routes, poolLimit, steady, perRequest, processes, throughput, survives],
});

