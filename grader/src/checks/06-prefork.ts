import { createHash } from 'node:crypto';
import { defineCheck, defineExercise, fail, fromCases, skip, type Case, type CheckContext, type Verdict } from './define.ts';
import rules from './rules/06-prefork.ts';
import type { FailureCode } from './codes.ts';
import { eventually, getOnce, sendAll, servedBy, upstreamOf, upstreamServices, upstreamTarget } from './process-models.ts';
import { descendants, treeEvidence, zombies, type ServerProcess, type ServerSnapshot } from '../probes/proc/inspect.ts';
import { header, type ParsedResponse } from '../probes/raw/parse-response.ts';
import { upstreamBody } from '../services/upstream.ts';
import type { Measurement } from '../report/model.ts';
import { listenRows } from '../probes/proc/listen-table.ts';

// 06-prefork: a master forks WORKERS workers that share one listening socket, replaces any that
// dies, and stops them all on SIGTERM. Everything is judged from outside: the process tree and
// each process's fds in /proc, the X-Served-By pid of each answer, and the slow upstream, which
// holds requests until WORKERS of them have arrived, so a pool that serves fewer at once shows it
// whatever the machine's speed.

const HOLD_MS = 10_000;
const SETTLE_MS = 10_000;

const wanted = (ctx: CheckContext): number => Number(ctx.env.WORKERS);
/** A Node server (the ts track) hands connections out from the primary; a Python one shares the socket. */
const onNode = (ctx: CheckContext): boolean => ctx.track === 'ts';
/** (pid, start time) names a process, even after its pid has been given to another. */
const same = (a: ServerProcess, b: ServerProcess) => a.pid === b.pid && a.startTime === b.startTime;
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : word.endsWith('s') ? 'es' : 's'}`;

/** Marks for the tree: the master, each worker, who holds the listening socket, and the check's own. */
function marked(s: ServerSnapshot, extra: (p: ServerProcess) => string[] = () => []) {
  return (p: ServerProcess) => [
    ...(p.pid === s.rootPid ? ['master'] : p.state === 'Z' ? [] : ['worker']),
    ...(p.fds?.listener ? ['holds the listening socket'] : []),
    ...extra(p),
  ];
}

const REASONS: Record<number, string> = { 200: 'OK', 400: 'Bad Request', 404: 'Not Found', 502: 'Bad Gateway' };

/** What is wrong with an answer to `target`, or undefined: the route contract, header by header. */
function contractProblem(target: string, res: ParsedResponse, upstreamDown = false): { code: FailureCode; message: string } | undefined {
  const want = expectedAnswer(target, upstreamDown);
  const body = res.body.toString('utf8');
  const pid = servedBy(res);
  if (res.status !== want.status) return { code: 'wrong-status', message: `${target} got ${res.status}, expected ${want.status}` };
  if (res.reason !== REASONS[want.status]) return { code: 'bad-reason-phrase', message: `${target}: status line "${res.status} ${res.reason}", expected "${want.status} ${REASONS[want.status]}"` };
  if (pid === undefined) return { code: 'missing-header', message: `${target}: no X-Served-By header with the pid that served it` };
  if (header(res, 'content-type') !== 'text/plain; charset=utf-8') return { code: 'wrong-header', message: `${target}: Content-Type is ${JSON.stringify(header(res, 'content-type') ?? null)}, expected "text/plain; charset=utf-8"` };
  if (header(res, 'connection')?.toLowerCase() !== 'close') return { code: 'missing-header', message: `${target}: no Connection: close` };
  const expectedBody = want.body ?? `${pid}\n`;
  if (want.status === 200 && body !== expectedBody) return { code: 'wrong-body', message: `${target}: body ${JSON.stringify(body.slice(0, 80))}, expected ${JSON.stringify(expectedBody)}` };
  return undefined;
}

/** The answer the route contract gives for a target; a /pid body is the pid in X-Served-By. */
function expectedAnswer(target: string, upstreamDown = false): { status: number; body?: string } {
  const url = new URL(target, 'http://x');
  if (url.pathname === '/pid') return { status: 200 };
  if (url.pathname.startsWith('/upstream/')) return upstreamDown ? { status: 502 } : { status: 200, body: upstreamBody(`/${url.pathname.slice('/upstream/'.length)}`) };
  if (url.pathname === '/hash') {
    const r = url.searchParams.get('rounds') ?? '';
    if (!/^\d+$/.test(r) || Number(r) < 1 || Number(r) > 10_000_000) return { status: 400 };
    let h = createHash('sha256').update(url.searchParams.get('seed') ?? '').digest();
    for (let i = 1; i < Number(r); i++) h = createHash('sha256').update(h).digest();
    return { status: 200, body: `${h.toString('hex')}\n` };
  }
  return { status: 404 };
}

/**
 * Sequential GET /pid until `enough` says so (or the time runs out): the pids seen. On Node a
 * worker gets connections only once it listens, a moment after its process appears.
 */
async function pidsServing(ctx: CheckContext, enough: (seen: Set<number>) => boolean, timeoutMs = SETTLE_MS): Promise<Set<number>> {
  const seen = new Set<number>();
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 200 && !enough(seen) && Date.now() < deadline && !ctx.signal.aborted; i++) {
    const { res, conn } = await getOnce(ctx, '/pid');
    conn.close();
    const pid = servedBy(res);
    if (pid !== undefined) seen.add(pid);
    if (!enough(seen)) await new Promise((r) => setTimeout(r, 20));
  }
  return seen;
}

/** Waits until every live worker has served (up to a bound), so a test of the pool starts with all of it. */
async function settle(ctx: CheckContext): Promise<void> {
  const live = descendants(await ctx.proc.snapshot()).length;
  await pidsServing(ctx, (seen) => seen.size >= Math.min(live, wanted(ctx)));
}

/**
 * How connections reach the workers, which decides whether WORKERS held requests can be promised
 * to WORKERS workers: one shared socket that blocking workers accept on (Python), or Node's primary
 * handing each connection to the next free worker (round robin). Several sockets (SO_REUSEPORT)
 * or workers that accept for themselves under Node spread connections by chance.
 */
function dispatchCase(ctx: CheckContext, s: ServerSnapshot): Case {
  const workers = descendants(s);
  const tree = treeEvidence(s, 'how connections reach the workers', marked(s));
  if (s.listeners.length > 1) {
    return {
      name: 'one accept queue for every worker',
      ok: false,
      code: 'several-listeners',
      rule: ctx.rule('one-socket'),
      message: `${s.listeners.length} sockets listen on port ${ctx.port} (SO_REUSEPORT): the kernel picks a socket by a hash of the client's address and port, not by which worker is free, so requests held at once land on a busy worker by chance`,
      tree,
    };
  }
  if (onNode(ctx)) {
    const accepting = workers.filter((p) => p.fds?.listener);
    return {
      name: "connections handed out by the primary's round robin",
      ok: accepting.length === 0,
      code: 'workers-accept',
      rule: ctx.rule('round-robin'),
      message: accepting.length
        ? `${plural(accepting.length, 'worker')} hold the listening socket and accept on it themselves (scheduling policy "none"): a worker waiting on I/O looks free, so held requests can bunch on one worker`
        : 'only the primary holds the listening socket; it hands each connection to the next free worker',
      tree,
    };
  }
  const one = s.listeners.length === 1;
  return { name: 'one accept queue for every worker', ok: one, code: 'not-listening', rule: ctx.rule('one-socket'), message: one ? `one socket listens on port ${ctx.port}` : `nothing listens on port ${ctx.port}` };
}

/**
 * WORKERS requests through the server to the upstream, held there until all have arrived: they
 * must all arrive, and their answers must name WORKERS different workers, none of them the master.
 */
async function servedAtOnce(ctx: CheckContext, label: string): Promise<Case[]> {
  const want = wanted(ctx);
  await settle(ctx);
  const upstream = upstreamOf(ctx);
  upstream.setPlan({ kind: 'hold' });
  const names = Array.from({ length: want }, (_, i) => `${ctx.rng.word(6)}-${i + 1}`);
  const sent = await sendAll(ctx, names.map(upstreamTarget));
  const arrived = await upstream.whenArrived(want, { timeoutMs: HOLD_MS, signal: ctx.signal });
  const held = await ctx.proc.snapshot();
  const count = upstream.record.requests.length;
  upstream.setPlan({ kind: 'answer' });
  upstream.release();
  const answers = await Promise.all(sent.map((x) => x.answer()));
  const pids = answers.map((a) => (a instanceof Error ? undefined : servedBy(a)));
  const workers = new Set(descendants(held).map((p) => p.pid));
  const distinct = new Set(pids.filter((p): p is number => p !== undefined && workers.has(p)));
  const byMaster = pids.filter((p) => p === held.rootPid).length;
  const serving = (p: ServerProcess) => (p.fds?.clients ? [`serving ${plural(p.fds.clients, 'connection')}`] : []);
  const cases: Case[] = [
    {
      name: `${label}: all ${want} requests reach the upstream at once`,
      ok: arrived,
      code: 'not-concurrent',
      rule: ctx.rule('at-once'),
      message: arrived
        ? `all ${want} were at the upstream together`
        : `only ${count} of ${want} requests reached the upstream in ${HOLD_MS / 1000} s while those were held there: the server served ${plural(count, 'request')} at a time`,
      tree: treeEvidence(held, `while the upstream held ${plural(count, 'request')}`, marked(held, serving)),
    },
  ];
  const broken = answers.map((a, i) => (a instanceof Error ? { code: a.code, message: `${names[i]}: ${a.message}` } : contractProblem(upstreamTarget(names[i]!), a))).find(Boolean);
  const shown = pids.map((p) => (p === undefined ? '?' : p === held.rootPid ? `${p} (the master)` : String(p))).join(', ');
  cases.push({
    name: `${label}: none of them served by the master`,
    ok: byMaster === 0 && pids.some((p) => p !== undefined),
    code: byMaster || !broken ? 'master-serves' : broken.code,
    rule: ctx.rule('master-does-not-serve'),
    message: byMaster
      ? `the master served ${byMaster} of the ${want} held requests itself (X-Served-By: ${shown})`
      : pids.some((p) => p !== undefined) ? `X-Served-By: ${shown}` : `no answer named the process that served it: ${broken?.message ?? 'no X-Served-By'}`,
  });
  cases.push({
    name: `${label}: served by ${want} different workers`,
    ok: distinct.size === want && !broken,
    code: broken?.code ?? 'same-worker',
    rule: ctx.rule('at-once'),
    message: broken ? broken.message : `X-Served-By: ${shown}: ${plural(distinct.size, 'different worker')} for ${want} requests held at once`,
  });
  return cases;
}

const workersRunning = defineCheck({
  id: 'workers-running',
  title: 'Runs WORKERS worker processes that share one listening socket',
  points: 3,
  platforms: ['linux'],
  async run(ctx) {
    const why = ctx.proc.unsupported('fds');
    if (why) return skip(why);
    const want = wanted(ctx);
    (await getOnce(ctx, '/pid')).conn.close();
    await ctx.proc.waitFor((s) => descendants(s).length >= want, { timeoutMs: SETTLE_MS, signal: ctx.signal });
    await settle(ctx);
    // A pool that is between a worker's exit and its replacement gets a moment to be whole again.
    const { snapshot: s } = await ctx.proc.waitFor((x) => descendants(x).length === want && !zombies(x).length, { timeoutMs: 5000, signal: ctx.signal });
    const workers = descendants(s);
    const tree = treeEvidence(s, `the server after a warm-up request (WORKERS=${want})`, marked(s));
    const cases: Case[] = [
      {
        name: `${want} live worker processes under the master`,
        ok: workers.length === want,
        code: 'wrong-process-count',
        rule: ctx.rule('worker-count'),
        message: `${plural(workers.length, 'live worker process')}${zombies(s).length ? ` (and ${plural(zombies(s).length, 'zombie')})` : ''} under the master; WORKERS is ${want}`,
        tree,
      },
      {
        name: `one socket listens on port ${ctx.port}`,
        ok: s.listeners.length === 1,
        code: 'several-listeners',
        rule: ctx.rule('one-socket'),
        message: `${plural(s.listeners.length, 'listening socket')} on port ${ctx.port}${s.listeners.length > 1 ? ': each worker bound a socket of its own (SO_REUSEPORT)' : ''}`,
        ...(s.listeners.length === 1 ? {} : { tree }),
      },
    ];
    const addresses = [...new Set((await listenRows(ctx.port)).map((r) => r.address))];
    cases.push({
      name: 'it listens on 127.0.0.1 only',
      ok: addresses.length > 0 && addresses.every((a) => a === '127.0.0.1'),
      code: 'wrong-address',
      rule: ctx.rule('loopback'),
      message: `listening on ${addresses.join(', ') || 'nothing'}${addresses.some((a) => a !== '127.0.0.1') ? ': every network interface of the machine can reach it, not only this machine' : ''}`,
    });
    if (!onNode(ctx)) {
      const without = workers.filter((p) => !p.fds?.listener);
      cases.push({
        name: 'every worker holds that listening socket',
        ok: workers.length > 0 && without.length === 0 && s.listeners.length === 1,
        code: 'worker-lacks-listener',
        rule: ctx.rule('one-socket'),
        message: workers.length === 0 ? 'there are no workers' : without.length ? `${plural(without.length, 'worker')} of ${workers.length} do not hold the listening socket` : `all ${workers.length} workers hold the one listening socket`,
        ...(without.length ? { tree } : {}),
      });
    }
    return fromCases(cases);
  },
});

const servedAtOnceCheck = defineCheck({
  id: 'served-at-once',
  title: 'WORKERS requests held at once are served by WORKERS different workers',
  points: 4,
  platforms: ['linux'],
  timeoutMs: 40_000,
  async run(ctx) {
    const dispatch = dispatchCase(ctx, await ctx.proc.snapshot());
    if (!dispatch.ok) return fromCases([dispatch]);
    return fromCases([dispatch, ...(await servedAtOnce(ctx, 'held at the upstream'))]);
  },
});

const workerReplaced = defineCheck({
  id: 'worker-replaced',
  title: 'A worker killed with SIGKILL is reaped and replaced',
  points: 4,
  platforms: ['linux'],
  timeoutMs: 60_000,
  async run(ctx) {
    const want = wanted(ctx);
    await settle(ctx);
    const before = await ctx.proc.snapshot();
    const workers = descendants(before);
    // The newest: a master that waits for its workers in the order it forked them waits on another.
    const victim = [...workers].sort((a, b) => b.startTime - a.startTime || b.pid - a.pid)[0];
    if (!victim) return fail('the server has no worker processes to kill', { code: 'wrong-process-count', tree: treeEvidence(before, 'the server before the kill', marked(before)) });
    await ctx.sendSignal(victim.pid, 'SIGKILL');
    const isNew = (p: ServerProcess) => p.pid !== before.rootPid && p.state !== 'Z' && !before.processes.some((q) => same(p, q));
    const { snapshot: after } = await ctx.proc.waitFor(
      (s) => !s.processes.some((p) => same(p, victim)) && descendants(s).length === want && s.processes.some(isNew),
      { timeoutMs: SETTLE_MS, signal: ctx.signal },
    );
    const fresh = after.processes.filter(isNew);
    const corpse = after.processes.find((p) => same(p, victim));
    const tree = treeEvidence(after, `${SETTLE_MS / 1000} s at most after worker ${victim.pid} was killed`, marked(after, (p) => [...(same(p, victim) ? ['the killed worker'] : []), ...(isNew(p) ? ['new'] : [])]));
    const cases: Case[] = [
      {
        name: 'a new worker takes its place',
        ok: fresh.length > 0,
        code: 'not-replaced',
        rule: ctx.rule('replace'),
        message: fresh.length ? `new worker ${fresh.map((p) => p.pid).join(', ')}` : `no new worker appeared within ${SETTLE_MS / 1000} s of killing worker ${victim.pid}`,
        tree,
      },
      {
        name: `${want} live workers again`,
        ok: descendants(after).length === want,
        code: 'wrong-process-count',
        rule: ctx.rule('replace'),
        message: `${plural(descendants(after).length, 'live worker')}; WORKERS is ${want}`,
      },
      {
        name: 'the killed worker is reaped, not left a zombie',
        ok: !corpse,
        code: 'zombies',
        rule: ctx.rule('reap'),
        message: corpse ? `worker ${victim.pid} is still there, in state ${corpse.state}${corpse.state === 'Z' ? ' (a zombie: the master never waited for it)' : ''}` : `worker ${victim.pid} is gone`,
        ...(corpse ? { tree } : {}),
      },
    ];
    const newPids = new Set(fresh.map((p) => p.pid));
    const seen = fresh.length ? await pidsServing(ctx, (pids) => [...pids].some((p) => newPids.has(p))) : new Set<number>();
    const served = [...seen].some((p) => newPids.has(p));
    // Where the workers accept for themselves, the kernel picks which one takes a connection, and on a
    // loaded machine it can pass over the new one many times: there, a new worker that holds the
    // listening socket is ready to serve, and whether connections spread is served-at-once's to judge.
    const selfAccepting = after.processes.filter((p) => p.fds?.listener).length > 1;
    const ready = !served && selfAccepting ? fresh.find((p) => p.fds?.listener) : undefined;
    cases.push({
      name: 'the new worker serves requests',
      ok: served || !!ready,
      code: 'not-replaced',
      rule: ctx.rule('replace'),
      message: served
        ? `GET /pid was answered by new worker ${[...seen].find((p) => newPids.has(p))}`
        : ready
          ? `the kernel gave new worker ${ready.pid} none of the GET /pid connections (${[...seen].join(', ')} answered), but it holds the listening socket, so it accepts when the kernel picks it`
          : fresh.length
            ? `${plural(seen.size, 'process')} answered GET /pid (${[...seen].join(', ')}), never the new worker`
            : 'there is no new worker to serve',
    });
    // Whether held requests can be promised to distinct workers is served-at-once's to judge.
    if (dispatchCase(ctx, await ctx.proc.snapshot()).ok) cases.push(...(await servedAtOnce(ctx, 'after the kill')));
    return fromCases(cases);
  },
});

const steadyUnderLoad = defineCheck({
  id: 'steady-under-load',
  title: 'The same workers serve 60 requests, every answer right, no new zombies',
  points: 2,
  platforms: ['linux'],
  timeoutMs: 60_000,
  async run(ctx) {
    await settle(ctx);
    const before = await ctx.proc.snapshot();
    const targets = (batch: number) => {
      const seed = ctx.rng.word(8);
      return [
        `/pid${batch % 2 ? `?batch=${batch}` : ''}`,
        upstreamTarget(`${ctx.rng.word(5)}-${batch}`),
        `/hash?rounds=${[1, 2, ctx.rng.int(3, 2000)][batch % 3]}&seed=${seed}`,
        `/hash?rounds=${['0', '10000001', ctx.rng.word(3), '-3', '1.5', ''][batch % 6]}&seed=${seed}`,
        [`/${ctx.rng.word(6)}`, `/pid/${ctx.rng.word(3)}`, '/upstream', `/hash${ctx.rng.word(2)}`][batch % 4]!,
      ];
    };
    let total = 0;
    let first: Case | undefined;
    let wrong = 0;
    const servedByPid = new Map<number, number>();
    for (let batch = 1; batch <= 12; batch++) {
      const batchTargets = targets(batch);
      const sent = await sendAll(ctx, batchTargets);
      for (const [i, x] of sent.entries()) {
        const a = await x.answer();
        total++;
        const problem = a instanceof Error ? { code: a.code, message: `${batchTargets[i]}: ${a.message}` } : contractProblem(batchTargets[i]!, a);
        if (!(a instanceof Error)) {
          const pid = servedBy(a);
          if (pid !== undefined) servedByPid.set(pid, (servedByPid.get(pid) ?? 0) + 1);
        }
        if (problem) {
          wrong++;
          first ??= { name: 'every answer follows the route contract', ok: false, code: problem.code, rule: ctx.rule('routes'), message: problem.message, exchange: x.conn.transcript({ expected: describe(batchTargets[i]!) }) };
        }
        x.conn.close();
      }
    }
    // One request in two writes, cut inside its target: the answer must be for the whole target.
    const split = await ctx.connect({ label: 'GET /pid in two writes' });
    await split.send(ctx.request({ target: '/pid' }), { sizes: [6], afterFirstPieceMs: 200 });
    const splitAnswer = await split.readResponse().catch((e: Error) => e);
    total++;
    const splitProblem = splitAnswer instanceof Error ? { code: (splitAnswer as { code?: FailureCode }).code ?? 'no-response', message: `/pid in two writes: ${splitAnswer.message}` } : contractProblem('/pid', splitAnswer);
    if (splitProblem) {
      wrong++;
      first ??= { name: 'every answer follows the route contract', ok: false, code: splitProblem.code, rule: ctx.rule('routes'), message: `a request sent in two writes: ${splitProblem.message}`, exchange: split.transcript({ expected: describe('/pid') }) };
    }
    const after = await ctx.proc.snapshot();
    const w0 = descendants(before);
    const w1 = descendants(after);
    const gone = w0.filter((p) => !w1.some((q) => same(p, q)));
    const arrived = w1.filter((p) => !w0.some((q) => same(p, q)));
    // A zombie an earlier check left is that check's to charge.
    const undead = zombies(after).filter((p) => !zombies(before).some((q) => same(p, q)));
    const tree = treeEvidence(after, `after ${total} requests`, marked(after, (p) => [...(arrived.some((q) => same(p, q)) ? ['new since the first request'] : []), ...(servedByPid.has(p.pid) ? [`served ${servedByPid.get(p.pid)}`] : [])]));
    const cases: Case[] = [
      first ? { ...first, message: `${wrong} of ${total} answers were wrong, the first: ${first.message}` } : { name: 'every answer follows the route contract', ok: true, rule: ctx.rule('routes'), message: `all ${total} answers were right` },
      {
        name: 'the same workers before and after',
        ok: gone.length === 0 && arrived.length === 0 && w1.length === w0.length,
        code: 'workers-restarted',
        rule: ctx.rule('keep-serving'),
        message: gone.length || arrived.length
          ? `${plural(gone.length, 'worker')} of ${w0.length} exited and ${plural(arrived.length, 'new one')} appeared during ${total} requests`
          : `the same ${plural(w1.length, 'worker')} (pids and start times) served all ${total} requests`,
        tree,
      },
      {
        name: 'no new zombies',
        ok: undead.length === 0,
        code: 'zombies',
        rule: ctx.rule('reap'),
        message: `${plural(undead.length, 'new zombie')} after ${total} requests`,
        ...(undead.length ? { tree } : {}),
      },
    ];
    cases.push(await upstreamDownCase(ctx));
    const measurements: Measurement[] = [{ label: 'workers that served a request', value: servedByPid.size, expected: `at most ${wanted(ctx)}` }];
    const v: Verdict = fromCases(cases);
    return { ...v, evidence: { ...v.evidence, measurements } };
  },
});

/** The server started again with an upstream that refuses connections: /upstream/NAME must be a 502. */
async function upstreamDownCase(ctx: CheckContext): Promise<Case> {
  const name = 'a 502 when the upstream is down';
  const target = upstreamTarget(ctx.rng.word(6));
  await ctx.restartServer({ UPSTREAM_URL: 'http://127.0.0.1:1' });
  const conn = await ctx.connect({ label: `${target}, with nothing listening at UPSTREAM_URL` });
  await conn.send(ctx.request({ target }));
  const res = await conn.readResponse().catch((e: Error) => e);
  const problem = res instanceof Error ? { code: (res as { code?: FailureCode }).code ?? 'no-response', message: res.message } : contractProblem(target, res, true);
  return { name, ok: !problem, rule: ctx.rule('routes'), ...(problem ? { code: problem.code, message: problem.message } : { message: 'answered 502' }), exchange: conn.transcript({ expected: describe(target, true) }) };
}

function describe(target: string, upstreamDown = false): string {
  const want = expectedAnswer(target, upstreamDown);
  return `${want.status}, Content-Type: text/plain; charset=utf-8, X-Served-By, Connection: close${want.status === 200 ? `, body ${want.body ? JSON.stringify(want.body) : 'the pid in X-Served-By'}` : ''}`;
}

const cleanShutdown = defineCheck({
  id: 'clean-shutdown',
  title: 'On SIGTERM the master stops its workers and exits, leaving nothing behind',
  points: 3,
  platforms: ['linux'],
  timeoutMs: 30_000,
  async run(ctx) {
    const stopMs = 5000;
    const before = await ctx.proc.snapshot();
    const server = ctx.server;
    await ctx.sendSignal('server', 'SIGTERM');
    const live = async () => (await ctx.proc.processes()).filter((p) => p.state !== 'Z');
    await eventually(async () => !server.alive && (await live()).length === 0, { timeoutMs: stopMs, signal: ctx.signal });
    const after = await ctx.proc.snapshot();
    const left = after.processes.filter((p) => p.state !== 'Z');
    const workersLeft = left.filter((p) => p.pid !== before.rootPid);
    const tree = treeEvidence(after, `${stopMs / 1000} s after SIGTERM to the master (${before.rootPid})`, (p) => [
      ...(p.pid === before.rootPid ? ['master, still running'] : [`${p.ppid === before.rootPid ? 'worker' : 'orphan'}, still running`]),
      ...(p.fds?.listener ? ['holds the listening socket'] : []),
    ]);
    return fromCases([
      {
        name: 'the master exits',
        ok: !server.alive,
        code: 'not-stopped',
        rule: ctx.rule('sigterm'),
        message: server.alive ? `the master (${before.rootPid}) was still running ${stopMs / 1000} s after SIGTERM` : 'the master exited',
        ...(server.alive ? { tree } : {}),
      },
      {
        name: 'no worker outlives the master',
        ok: workersLeft.length === 0,
        code: server.alive ? 'not-stopped' : 'orphans',
        rule: ctx.rule('no-orphans'),
        message: workersLeft.length
          ? `${plural(workersLeft.length, 'worker')} still running ${stopMs / 1000} s after SIGTERM${server.alive ? '' : ', after the master had exited (orphans, adopted by another process)'}`
          : `all ${plural(descendants(before).length, 'worker')} stopped`,
        ...(workersLeft.length ? { tree } : {}),
      },
    ]);
  },
});

export default defineExercise({
  id: '06-prefork',
  // 3 or 4: never the machine's core count of 2, nor the 1 of a server that forks no pool.
  env: (rng) => ({ WORKERS: String(rng.pick([3, 4])) }),
  rules,
  services: upstreamServices,
  framing: 'content-length',
  checks: [workersRunning, servedAtOnceCheck, workerReplaced, steadyUnderLoad, cleanShutdown],
});
