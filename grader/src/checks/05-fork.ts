import { setMaxListeners } from 'node:events';
import { defineCheck, defineExercise, fromCases, probeCase, skip, type Case, type CheckContext } from './define.ts';
import rules from './rules/05-fork.ts';
import { eventually, getOnce, sendAll, servedBy, upstreamOf, upstreamServices, upstreamTarget, type Sent } from './process-models.ts';
import { descendants, treeEvidence, zombies } from '../probes/proc/inspect.ts';
import { upstreamBody } from '../services/upstream.ts';
import { isProbeError } from '../probes/errors.ts';
import type { ParsedResponse } from '../probes/raw/parse-response.ts';
import type { Measurement } from '../report/model.ts';

// 05-fork: a process per connection. The parent accepts, forks, closes its copy of the client and
// accepts again; the child closes the listener, serves its one client and ends with os._exit;
// SIGCHLD collects the children; SIGTERM lets none outlive the server. Each check waits on events
// (upstream arrivals, EOF, a state the tree reaches in /proc), never on how fast the machine is.

const body = (res: ParsedResponse) => res.body.toString('utf8');
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
const pids = (ps: { pid: number }[]) => (ps.length > 5 ? `${ps.slice(0, 5).map((p) => p.pid).join(', ')} and ${ps.length - 5} more` : ps.map((p) => p.pid).join(', '));

/** Waits until the server has no live child (zombies aside): what a request leaves behind is settled. */
const settled = (ctx: CheckContext, timeoutMs = 5000) => ctx.proc.waitFor((s) => descendants(s).length === 0, { timeoutMs, signal: ctx.signal });

/** Held requests are let go and the server is left with nothing in flight, whatever the check saw. */
function releaseAtEnd(ctx: CheckContext) {
  ctx.defer(async () => {
    const up = upstreamOf(ctx);
    up.setPlan({ kind: 'answer' });
    up.release();
    await up.whenIdle({ timeoutMs: 5000 });
  });
}

async function answersAll(sent: Sent[], idleMs: number) {
  return Promise.all(sent.map(async (s) => ({ s, r: await s.answer(idleMs) })));
}

const childPerConnection = defineCheck({
  id: 'child-per-connection',
  title: 'Serves each connection in a new child process',
  points: 2,
  async run(ctx) {
    const rule = ctx.rule('child-serves');
    const root = ctx.server.pid;
    const seen: number[] = [];
    const cases: Case[] = [];
    for (let i = 1; i <= 3; i++) {
      cases.push(await probeCase(`connection ${i} is served by a child`, async () => {
        const { res, conn } = await getOnce(ctx, '/pid');
        conn.close();
        const pid = Number(body(res).trim());
        const header = servedBy(res);
        const exchange = conn.transcript({ label: `connection ${i}`, expected: `200 with a pid other than the server's own (${root})` });
        if (res.status !== 200 || !Number.isInteger(pid) || pid <= 0) return { ok: false, code: 'wrong-body' as const, message: `GET /pid answered ${res.status} ${JSON.stringify(body(res).slice(0, 40))}, not a pid`, exchange };
        if (header !== undefined && header !== pid) return { ok: false, code: 'wrong-header' as const, message: `the body says pid ${pid} but X-Served-By says ${header}`, exchange };
        seen.push(pid);
        if (pid === root) {
          const s = await ctx.proc.snapshot();
          return { ok: false, code: 'served-by-parent' as const, message: `answered by pid ${pid}, the server's own process: no child was made for the connection`, exchange, tree: treeEvidence(s, 'the server after answering', (p) => (p.pid === root ? ['answered /pid itself'] : [])) };
        }
        if (seen.indexOf(pid) !== seen.length - 1) return { ok: false, code: 'same-process-twice' as const, message: `answered by pid ${pid}, which had already answered an earlier connection`, exchange };
        return { ok: true, message: `answered by pid ${pid}`, exchange };
      }, { rule }));
    }
    return fromCases(cases);
  },
});

const parentClosesClient = defineCheck({
  id: 'parent-closes-client',
  title: "The parent closes its copy of each client socket (EOF after the response, no CLOSE_WAIT)",
  points: 2,
  platforms: ['linux'],
  timeoutMs: 40_000,
  async run(ctx) {
    const eof = await probeCase('the client sees the connection end after the response', async () => {
      const { conn } = await getOnce(ctx, '/pid');
      const ended = await conn.waitForEof(ctx.ioTimeoutMs);
      const exchange = conn.transcript({ expected: 'the response, then the end of the connection (EOF)' });
      conn.close();
      if (ended) return { ok: true, message: 'EOF came right after the response', exchange };
      const s = await ctx.proc.snapshot();
      return {
        ok: false,
        code: 'no-eof' as const,
        message: `the whole response came, but the connection was still open ${ctx.ioTimeoutMs / 1000} s later: another process still holds a copy of the client socket`,
        exchange,
        tree: treeEvidence(s, 'the server while the client waited for EOF', (p) => (p.fds?.clients ? ['holds a client connection'] : [])),
      };
    }, { rule: ctx.rule('parent-closes') });
    await settled(ctx);
    const n = 20;
    const pile = await probeCase(`no CLOSE_WAIT pile after ${n} connections the client closed`, async () => {
      for (let i = 1; i <= n; i++) {
        // The client reads the response (its length is known) and hangs up itself.
        const { conn } = await getOnce(ctx, `/pid?connection=${i}`);
        conn.close();
      }
      const allowed = 2;
      const waited = await ctx.proc.waitFor((s) => (s.connections.CLOSE_WAIT ?? 0) <= allowed, { timeoutMs: 5000, signal: ctx.signal });
      const count = waited.snapshot.connections.CLOSE_WAIT ?? 0;
      if (waited.ok) return { ok: true, message: `${count} in CLOSE_WAIT after ${n} connections` };
      return {
        ok: false,
        code: 'close-wait-piles-up' as const,
        message: `${count} of the ${n} connections the client closed are still open on the server's side (CLOSE_WAIT) 5 s later: some process keeps its copy of each client socket`,
        tree: treeEvidence(waited.snapshot, `the server after ${n} connections`, (p) => (p.fds?.clients ? [`holds ${plural(p.fds.clients, 'client socket')}`] : [])),
      };
    }, { rule: ctx.rule('no-close-wait') });
    return fromCases([eof, pile]);
  },
});

const childClosesListener = defineCheck({
  id: 'child-closes-listener',
  title: 'A child does not keep the listening socket',
  points: 2,
  platforms: ['linux', 'darwin'],
  timeoutMs: 30_000,
  async run(ctx) {
    const why = ctx.proc.unsupported('fds');
    if (why) return skip(why);
    const up = upstreamOf(ctx);
    up.setPlan({ kind: 'hold' });
    releaseAtEnd(ctx);
    const n = 2;
    const sent = await sendAll(ctx, Array.from({ length: n }, (_, i) => upstreamTarget(`listener-${i + 1}`)));
    // A server that serves one at a time gets only one here; it is judged on what it does run.
    await up.whenArrived(n, { timeoutMs: 6000, signal: ctx.signal });
    const s = await ctx.proc.snapshot();
    const kids = descendants(s);
    const holding = kids.filter((p) => p.fds?.listener);
    const tree = treeEvidence(s, `the server with ${plural(up.record.held, 'request')} held at the upstream`, (p) => (p.pid !== s.rootPid && p.fds?.listener ? ['holds the listening socket'] : []));
    up.setPlan({ kind: 'answer' });
    up.release();
    await answersAll(sent, ctx.ioTimeoutMs);
    const c: Case = holding.length
      ? { name: 'no child holds the listening socket', ok: false, code: 'child-holds-listener', rule: ctx.rule('child-closes-listener'), message: `${holding.length} of the ${kids.length} children hold the listening socket (pid ${pids(holding)}) while requests are held`, tree }
      : { name: 'no child holds the listening socket', ok: true, rule: ctx.rule('child-closes-listener'), message: kids.length ? `none of the ${kids.length} children serving held requests holds it` : 'no child was serving the held requests', tree };
    return fromCases([c]);
  },
});

const runsAtOnce = defineCheck({
  id: 'runs-at-once',
  title: 'Serves requests at the same time',
  points: 2,
  timeoutMs: 40_000,
  async run(ctx) {
    const up = upstreamOf(ctx);
    const n = 5;
    const deadlineMs = 8000;
    // Nothing is answered until all five are at the upstream: a one-at-a-time server gets one there.
    up.setPlan({ kind: 'barrier', count: n, deadlineMs });
    releaseAtEnd(ctx);
    const names = Array.from({ length: n }, (_, i) => `${ctx.rng.word(6)}-${i + 1}`);
    const sent = await sendAll(ctx, names.map(upstreamTarget));
    const gathered = await up.whenArrived(n, { timeoutMs: deadlineMs, signal: ctx.signal });
    const atOnce = up.record.maxInFlight;
    const results = await answersAll(sent, deadlineMs + ctx.ioTimeoutMs);
    const measurements = [{ label: 'requests at the upstream at once', value: atOnce, expected: `${n}` }];
    const cases: Case[] = [
      {
        name: `all ${n} requests reach the upstream together`,
        ok: gathered && atOnce >= n,
        code: 'not-concurrent',
        rule: ctx.rule('at-once'),
        message: gathered ? `${n} were at the upstream at once` : `at most ${atOnce} of the ${n} requests were at the upstream at once in ${deadlineMs / 1000} s: each waited for the one before it`,
      },
    ];
    const wrong = results.filter(({ s, r }) => isProbeError(r) || r.status !== 200 || body(r) !== upstreamBody(`/${s.name.slice('/upstream/'.length)}`));
    cases.push({
      name: `all ${n} answered with the upstream's body`,
      ok: wrong.length === 0,
      code: 'wrong-body',
      rule: ctx.rule('at-once'),
      message: wrong.length ? `${wrong.length} of ${n} answers were wrong or missing` : `all ${n} answered`,
      ...(wrong.length ? { exchange: wrong[0]!.s.conn.transcript({ expected: `200 with body ${JSON.stringify(upstreamBody(`/${wrong[0]!.s.name.slice('/upstream/'.length)}`))}` }) } : {}),
    });
    return fromCasesWith(cases, measurements);
  },
});

const childrenExit = defineCheck({
  id: 'children-exit',
  title: 'Each child exits when its request is done',
  points: 2,
  timeoutMs: 40_000,
  async run(ctx) {
    const up = upstreamOf(ctx);
    up.setPlan({ kind: 'hold' });
    releaseAtEnd(ctx);
    const n = 3;
    const before = (await ctx.proc.processes()).filter((p) => p.state !== 'Z').length;
    const sent = await sendAll(ctx, Array.from({ length: n }, (_, i) => upstreamTarget(`exit-${i + 1}`)));
    await up.whenArrived(n, { timeoutMs: 6000, signal: ctx.signal });
    const during = descendants(await ctx.proc.snapshot()).length;
    up.setPlan({ kind: 'answer' });
    up.release();
    const results = await answersAll(sent, ctx.ioTimeoutMs);
    const answered = results.filter(({ r }) => !isProbeError(r) && r.status === 200).length;
    const waited = await settled(ctx, 5000);
    const left = descendants(waited.snapshot);
    const measurements = [
      { label: 'processes before the requests', value: before },
      { label: 'children while requests were held', value: during },
      { label: 'live children 5 s after the answers', value: left.length, expected: '0' },
    ];
    const c: Case = {
      name: 'no child is left alive once the requests are answered',
      ok: waited.ok,
      code: 'process-tree-grows',
      rule: ctx.rule('child-exits'),
      message: waited.ok
        ? `${answered} of ${n} answered, and no child is left`
        : `${left.length === 1 ? '1 child' : `${left.length} children`} still alive 5 s after the last answer${left.some((p) => p.fds?.listener) ? ', holding the listening socket: a child that goes back to accept() becomes another acceptor, and the tree grows with every request' : ''}`,
      tree: treeEvidence(waited.snapshot, 'the server after the requests were answered', (p) => (p.pid === waited.snapshot.rootPid || p.state === 'Z' ? [] : ['still alive', ...(p.fds?.listener ? ['holds the listening socket'] : [])])),
    };
    return fromCasesWith([c], measurements);
  },
});

const noZombies = defineCheck({
  id: 'no-zombies',
  title: 'No zombies after 40 children exit together',
  points: 3,
  timeoutMs: 60_000,
  async run(ctx) {
    const up = upstreamOf(ctx);
    const n = 40;
    // One abort listener per connection on the check's signal: many, on purpose.
    setMaxListeners(4 * n, ctx.signal);
    up.setPlan({ kind: 'hold' });
    releaseAtEnd(ctx);
    const sent = await sendAll(ctx, Array.from({ length: n }, (_, i) => upstreamTarget(`burst-${i + 1}`)));
    const gathered = await up.whenArrived(n, { timeoutMs: 10_000, signal: ctx.signal });
    const root = ctx.server.pid;
    // Paused while the children exit, the server gets one SIGCHLD for all of them when it resumes:
    // signals that merge by chance in a real burst merge here every time.
    let paused = false;
    if (gathered) {
      await ctx.sendSignal(root, 'SIGSTOP');
      paused = true;
      ctx.defer(() => (paused ? ctx.sendSignal(root, 'SIGCONT').catch(() => undefined) : undefined));
    }
    up.setPlan({ kind: 'answer' });
    up.release();
    const results = await answersAll(sent, ctx.ioTimeoutMs);
    const answered = results.filter(({ r }) => !isProbeError(r) && r.status === 200).length;
    if (paused) {
      await settled(ctx, 10_000);
      await ctx.sendSignal(root, 'SIGCONT');
      paused = false;
    }
    const allowed = 1;
    const waited = await ctx.proc.waitFor((s) => zombies(s).length <= allowed, { timeoutMs: 5000, signal: ctx.signal });
    const z = zombies(waited.snapshot).length;
    const measurements = [
      { label: 'children exiting together', value: gathered ? n : up.record.maxInFlight },
      { label: 'zombies 5 s later', value: z, expected: `at most ${allowed}` },
    ];
    const c: Case = {
      name: `at most ${allowed} zombie after ${n} children exit together`,
      ok: waited.ok,
      code: 'zombies',
      rule: ctx.rule('reap-all'),
      message: waited.ok
        ? `${answered} of ${n} answered; ${plural(z, 'zombie')} left`
        : `${plural(z, 'zombie')} left 5 s after ${n} children exited together (${answered} of ${n} answered): finished children whose exit status nobody collected; one SIGCHLD stood for all ${n}`,
      tree: treeEvidence(waited.snapshot, `the server after the burst of ${n}`),
    };
    return fromCasesWith([c], measurements);
  },
});

const stillAccepting = defineCheck({
  id: 'still-accepting',
  title: 'Still accepts after the burst, and after a SIGCHLD with nothing to collect',
  points: 2,
  timeoutMs: 40_000,
  async run(ctx) {
    const afterBurst = await probeCase('answers after the burst', async () => {
      for (let i = 1; i <= 2; i++) {
        const { res, conn } = await getOnce(ctx, '/pid');
        conn.close();
        if (res.status !== 200) return { ok: false, code: 'wrong-status' as const, message: `GET /pid answered ${res.status}`, exchange: conn.transcript({ expected: '200 with a pid' }) };
      }
      return { ok: true, message: 'two requests after the burst were answered' };
    }, { rule: ctx.rule('survives-sigchld'), expected: 'an answer: the server must go on accepting after its children exit' });
    // A fresh server with no child at all, then a SIGCHLD: what a merged signal whose children an
    // earlier call already collected looks like (`kill -CHLD PID` by hand).
    await ctx.restartServer();
    const root = ctx.server.pid;
    await ctx.sendSignal(root, 'SIGCHLD');
    const spurious = await probeCase('answers after a SIGCHLD with no child to collect', async () => {
      try {
        for (let i = 1; i <= 2; i++) {
          const { res, conn } = await getOnce(ctx, '/pid');
          conn.close();
          if (res.status !== 200) return { ok: false, code: 'wrong-status' as const, message: `GET /pid answered ${res.status}`, exchange: conn.transcript({ expected: '200 with a pid' }) };
          await settled(ctx);
        }
        return { ok: true, message: 'the server went on accepting' };
      } catch (e) {
        if (!isProbeError(e)) throw e;
        const exited = await Promise.race([ctx.server.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 2000))]);
        if (!exited) throw e;
        const out = ctx.server.outputTail().trim().split('\n').slice(-3).join(' | ');
        return {
          ok: false,
          code: 'ended-by-sigchld' as const,
          message: `after one SIGCHLD sent while it had no child, the server stopped answering and exited${out ? ` (its last output: ${out.slice(0, 200)})` : ''}`,
          ...(e.exchange ? { exchange: e.exchange } : {}),
        };
      }
    }, { rule: ctx.rule('survives-sigchld') });
    return fromCases([afterBurst, spurious]);
  },
});

const sigtermNoOrphans = defineCheck({
  id: 'sigterm-no-orphans',
  title: 'On SIGTERM no child outlives the server',
  points: 3,
  platforms: ['linux'],
  timeoutMs: 40_000,
  async run(ctx) {
    // A fresh server: its children now are exactly the three held below.
    await ctx.restartServer();
    const up = upstreamOf(ctx);
    up.setPlan({ kind: 'hold' });
    releaseAtEnd(ctx);
    const n = 3;
    const sent = await sendAll(ctx, Array.from({ length: n }, (_, i) => upstreamTarget(`term-${i + 1}`)));
    await up.whenArrived(n, { timeoutMs: 6000, signal: ctx.signal });
    const server = ctx.server;
    const before = await ctx.proc.snapshot();
    const children = descendants(before).length;
    await ctx.sendSignal('server', 'SIGTERM');
    // Either it exits (having stopped its children), or it waits for them; both are fine.
    const exitedSoon = await Promise.race([server.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 3000))]);
    const measurements = [{ label: 'children held when SIGTERM came', value: children }];
    if (exitedSoon) {
      const after = await ctx.proc.snapshot();
      const orphans = after.processes.filter((p) => p.pid !== before.rootPid && p.state !== 'Z');
      if (orphans.length) {
        const tree = treeEvidence(after, `after the server (pid ${before.rootPid}) exited`, () => ['orphan']);
        return fromCasesWith([{ name: 'no child outlives the server', ok: false, code: 'orphans', rule: ctx.rule('no-orphans'), message: `the server exited on SIGTERM while ${orphans.length === 1 ? '1 child' : `${orphans.length} children`} still ran (pid ${pids(orphans)}, now children of pid ${[...new Set(orphans.map((p) => p.ppid))].join(', ')})`, tree }], measurements);
      }
    }
    up.setPlan({ kind: 'answer' });
    up.release();
    await answersAll(sent, ctx.ioTimeoutMs);
    const gone = await eventually(async () => !server.alive && (await ctx.proc.processes()).every((p) => p.state === 'Z'), { timeoutMs: 5000, signal: ctx.signal });
    if (gone) return fromCasesWith([{ name: 'no child outlives the server', ok: true, rule: ctx.rule('no-orphans'), message: exitedSoon ? 'the server and its children were gone together' : 'the server let its children finish, then exited' }], measurements);
    const s = await ctx.proc.snapshot();
    const rootAlive = server.alive;
    const tree = treeEvidence(s, 'the server 5 s after its held requests were answered', (p) => (p.pid === s.rootPid ? ['did not exit on SIGTERM'] : rootAlive ? ['still alive'] : ['orphan']));
    return fromCasesWith([{ name: 'no child outlives the server', ok: false, code: rootAlive ? 'not-stopped' : 'orphans', rule: ctx.rule('no-orphans'), message: rootAlive ? 'the server was still running 5 s after SIGTERM and after its requests were answered' : 'processes of the server were still running after it exited', tree }], measurements);
  },
});

/** The cases' verdict, with figures the report shows whatever it is. */
function fromCasesWith(cases: Case[], measurements: Measurement[]) {
  const v = fromCases(cases);
  return { ...v, evidence: { ...v.evidence, measurements } };
}

export default defineExercise({
  id: '05-fork',
  rules,
  services: upstreamServices,
  checks: [childPerConnection, parentClosesClient, childClosesListener, runsAtOnce, childrenExit, noZombies, stillAccepting, sigtermNoOrphans],
});
