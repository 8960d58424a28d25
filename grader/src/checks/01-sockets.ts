import { execa } from 'execa';
import { readFile } from 'node:fs/promises';
import { defineCheck, defineExercise, fail, fromCases, pass, probeCase, skip, type CheckContext } from './define.ts';
import { header } from '../probes/raw/parse-response.ts';
import RULES from './rules/01-sockets.ts';
import { whenAccepted } from '../probes/proc/listen-table.ts';
import { isProbeError, ProbeError } from '../probes/errors.ts';
import { get, request } from '../probes/raw/request.ts';
import type { SendOptions } from '../probes/raw/connection.ts';

// 01-sockets: the server answers each request with a 200 whose body is the request line it read,
// then closes. Echoing the request line proves the server really read the request.

async function echoRequest(ctx: CheckContext, path: string, send?: SendOptions, label?: string) {
  const line = `GET ${path} HTTP/1.1`;
  const { conn, res } = await request(() => ctx.connect(label ? { label: `request sent ${label}` } : {}), get(path, ctx.port), send);
  const body = res.body.toString('latin1').replace(/\s+$/, '');
  return { conn, res, line, body, ok: res.status === 200 && body === line };
}

const answers = defineCheck({
  id: 'answers-request',
  title: 'Answers a request with 200 and the request line as the body',
  points: 3,
  async run(ctx) {
    // Mixed case and repeated characters: a server that lower-cases, or strips only the first of them, shows it.
    const path = `/${ctx.rng.mixedWord()}//${ctx.rng.word(3)}%2F%2f.~-_`;
    const { conn, res, line, body } = await echoRequest(ctx, path);
    conn.close();
    const type = header(res, 'content-type');
    return fromCases([
      { name: 'status 200', ok: res.status === 200, code: 'wrong-status', rule: ctx.rule('status'), message: `status was ${res.status}`, exchange: conn.transcript({ expected: 'HTTP/1.1 200 OK' }) },
      {
        name: 'body is the request line',
        ok: body === line,
        weight: 2,
        code: 'wrong-body',
        rule: ctx.rule('echo-line'),
        message: `body was ${JSON.stringify(body.slice(0, 80))}`,
        exchange: conn.transcript({ expected: `a body of ${JSON.stringify(line)}` }),
      },
      { name: 'a Content-Type header', ok: !!type, code: 'missing-header', rule: ctx.rule('content-type'), message: 'no Content-Type header', exchange: conn.transcript({ expected: 'Content-Type: text/plain' }) },
    ]);
  },
});

const closes = defineCheck({
  id: 'closes-connection',
  title: 'Closes the connection after the response',
  points: 2,
  async run(ctx) {
    const { conn } = await echoRequest(ctx, `/${ctx.rng.word()}`);
    if (await conn.waitForEof()) {
      // A Content-Length that counts fewer bytes than were sent leaves stray bytes after the response.
      const stray = conn.unconsumed.length;
      if (stray) return fail(`${stray} bytes came after the response's Content-Length, before the close`, { code: 'wrong-content-length', exchanges: [conn.transcript({ expected: 'nothing after the body that Content-Length announces' })] });
      return pass('the server closed the connection after its response');
    }
    return fail(`the connection was still open ${ctx.ioTimeoutMs} ms after the response`, {
      code: 'not-closed',
      exchanges: [conn.transcript({ expected: 'the server closes the socket (EOF) after writing the response' })],
    });
  },
});

const manyInARow = defineCheck({
  id: 'many-in-a-row',
  title: 'Serves 25 connections one after another, and survives a client that resets',
  points: 2,
  async run(ctx) {
    const n = 25;
    const resetAfter = 5;
    for (let i = 1; i <= n; i++) {
      const r = await probeCase(`connection ${i}`, async () => {
        const e = await echoRequest(ctx, `/${i}/${ctx.rng.word(6)}`);
        e.conn.close();
        return { ok: e.ok, code: 'wrong-body' as const, message: 'a wrong answer', exchange: e.conn.transcript({ label: `connection ${i}`, expected: `200 with body ${JSON.stringify(e.line)}` }) };
      });
      if (!r.ok) {
        const after = i > resetAfter ? ` (after a client reset its connection in the middle of a request, before connection ${resetAfter + 1})` : '';
        return fail(`connection ${i} of ${n}: ${r.message}${after}`, { ...(r.code ? { code: r.code } : {}), ...(r.exchange ? { exchanges: [r.exchange] } : {}) });
      }
      if (i === resetAfter) {
        // A client that vanishes mid-request with a TCP reset, as a crashing client does.
        const rude = await ctx.connect({ label: 'a client that resets mid-request' });
        await rude.send(`GET /${ctx.rng.word()} HTTP/1.1\r\nHost: ${ctx.host}\r\n`);
        // Reset only once the server holds the connection: a reset while it waits in the accept
        // queue is dropped by the kernel, and the server would never see it.
        await whenAccepted(ctx.port, ctx.ioTimeoutMs);
        rude.reset();
      }
    }
    return pass(`all ${n} connections answered correctly, before and after a client that reset`, { values: { connections: n } });
  },
});

const wholeRequest = defineCheck({
  id: 'reads-whole-request',
  title: 'Reads a request that arrives in small pieces',
  points: 2,
  async run(ctx) {
    const rule = ctx.rule('whole-head');
    const path = `/${ctx.rng.word(12)}/${ctx.rng.word(12)}`;
    const headLength = Buffer.byteLength(get(path, ctx.port));
    const ways: Array<[string, SendOptions]> = [
      ['5 bytes at a time', { chunkSize: 5, pauseMs: 3, afterFirstPieceMs: 500, holdBackOnAnswer: true }],
      // Cut inside the blank line: a search for \r\n\r\n in each read alone never finds it.
      [`cut after byte ${headLength - 2}, inside the closing \r\n\r\n`, { sizes: [headLength - 2], afterFirstPieceMs: 300, holdBackOnAnswer: true }],
      [`cut after byte ${headLength - 1}, before the last \n`, { sizes: [headLength - 1], afterFirstPieceMs: 300, holdBackOnAnswer: true }],
    ];
    const cases = [];
    for (const [label, send] of ways) {
      const expected = `200 with body ${JSON.stringify(`GET ${path} HTTP/1.1`)}`;
      cases.push(await probeCase(`request sent ${label}`, async () => {
        const r = await echoRequest(ctx, path, send, label);
        r.conn.close();
        return {
          ok: r.ok,
          code: 'partial-read' as const,
          message: `answered ${r.res.status} with ${JSON.stringify(r.body.slice(0, 60))}, as if the first piece were the whole request`,
          exchange: r.conn.transcript({ split: label, expected }),
        };
      }, { rule, expected }));
    }
    return fromCases(cases);
  },
});

const silentClient = defineCheck({
  id: 'silent-client',
  title: 'A client that sends nothing does not stop the next one, and is dropped',
  points: 2,
  timeoutMs: 40_000,
  async run(ctx) {
    const silent = await ctx.connect({ label: 'silent client' });
    const opened = Date.now();
    const waitMs = Math.max(ctx.ioTimeoutMs, 12_000);
    const path = `/${ctx.rng.word()}`;
    const next = await probeCase('the next client is answered', async () => {
      const conn = await ctx.connect({ label: 'next client', idleTimeoutMs: waitMs });
      await conn.send(get(path, ctx.port));
      try {
        const res = await conn.readResponse();
        const body = res.body.toString('latin1').trim();
        const ok = res.status === 200 && body === `GET ${path} HTTP/1.1`;
        return { ok, code: 'wrong-body' as const, message: 'the next client got a wrong answer', exchange: conn.transcript({ expected: `200 with body "GET ${path} HTTP/1.1"` }) };
      } catch (e) {
        if (!isProbeError(e) || e.code !== 'no-response') throw e;
        return {
          ok: false,
          code: 'blocked-by-silent-client' as const,
          message: `while a client stayed connected without sending anything, the next client waited ${waitMs / 1000} s with no answer`,
          exchange: conn.transcript({ expected: 'an answer: give up on a silent client after a short timeout' }),
        };
      } finally {
        conn.close();
      }
    }, { rule: ctx.rule('read-timeout') });
    // About 1 to 2 seconds is asked for; ten are allowed, counted from when it connected.
    const dropMs = 10_000;
    const closed = await silent.waitForEof(Math.max(0, dropMs - (Date.now() - opened)));
    const dropped = {
      name: 'the silent client is dropped',
      ok: closed,
      code: 'not-closed' as const,
      rule: ctx.rule('read-timeout'),
      message: closed ? `closed ${((Date.now() - opened) / 1000).toFixed(1)} s after it connected` : `the silent connection was still open ${dropMs / 1000} s after it connected: put a timeout on reads and close the connection when it fires`,
      exchange: silent.transcript({ expected: 'the server closes the connection after about 1 to 2 seconds of silence' }),
    };
    return fromCases([next, dropped]);
  },
});

const backlog = defineCheck({
  id: 'listen-backlog',
  title: 'Listens with the backlog given in BACKLOG',
  points: 1,
  platforms: ['linux'],
  async run(ctx) {
    const asked = Number(ctx.env.BACKLOG);
    const somaxconn = Number((await readFile('/proc/sys/net/core/somaxconn', 'utf8')).trim());
    const expected = Math.min(asked, somaxconn);
    const ss = await execa('ss', ['-ltnH', `sport = :${ctx.port}`], { reject: false });
    if (ss.failed && /ENOENT/.test(String(ss.code))) return skip('the ss command (iproute2) is not installed');
    // Columns: State Recv-Q Send-Q Local Peer; for a listener Send-Q is the backlog.
    const row = ss.stdout.split('\n').map((l) => l.trim().split(/\s+/)).find((f) => f[0] === 'LISTEN');
    if (!row) return fail(`nothing listens on port ${ctx.port} any more (the server stopped listening)`, { code: 'not-listening', values: { BACKLOG: asked } });
    const shown = Number(row[2]);
    const values = { BACKLOG: asked, kernelBacklog: shown, somaxconn };
    if (shown === expected) return pass(`the kernel shows a backlog of ${shown}, as asked`, { values });
    return fail(`the kernel shows a listen backlog of ${shown}, but BACKLOG was ${asked}`, { code: 'wrong-backlog', values });
  },
});

const reuseAddress = defineCheck({
  id: 'reuse-address',
  title: 'Restarts on the same port right after serving (SO_REUSEADDR)',
  points: 1,
  timeoutMs: 30_000,
  async run(ctx) {
    // The server closes first, so its side of the connection waits in TIME_WAIT.
    const first = await echoRequest(ctx, `/${ctx.rng.word()}`);
    await first.conn.waitForEof();
    first.conn.close();
    try {
      await ctx.restartServer();
    } catch (e) {
      if (!isProbeError(e)) throw e;
      const inUse = /in use|EADDRINUSE/i.test(`${e.message}\n${e.output ?? ''}`);
      throw new ProbeError(inUse ? 'address-in-use' : e.code, `restarted on port ${ctx.port} right after serving a client: ${e.message}`, undefined, e.output);
    }
    const again = await echoRequest(ctx, `/${ctx.rng.word()}`);
    if (again.ok) return pass('the restarted server bound the same port and answered');
    return fail('the restarted server answered wrongly', { exchanges: [again.conn.transcript()] });
  },
});

export default defineExercise({
  id: '01-sockets',
  // None of the usual hard-coded values (5, 10, 16, 50, 128, 511, ...): a server that ignores
  // BACKLOG fails whatever the draw.
  env: (rng) => ({ BACKLOG: String(rng.pick([3, 7, 9, 12, 17, 23, 31, 42, 60])) }),
  rules: RULES,
  checks: [answers, closes, manyInARow, wholeRequest, silentClient, backlog, reuseAddress],
});
