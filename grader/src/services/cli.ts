import { parseArgs } from 'node:util';
import { CACHE_DELAY_MS, SlowCache } from './cache.ts';
import { SlowUpstream, type UpstreamPlan } from './upstream.ts';

// `npm run fixture -- upstream` or `-- cache`: a fixture service started by hand, printing what it
// records as it happens, so a server can be developed against it with curl or nc.

const USAGE = `usage: npm run fixture -- upstream [--port N] [--delay MS] [--barrier N] [--hold]
       npm run fixture -- cache [--port N] [--delay MS] [--set KEY=VALUE ...] [--hold]

  upstream    the slow upstream of 05-09: answers "from upstream: PATH" to every request
  cache       the slow cache of 09: memcached's text protocol (get, set, delete, version, quit)
  --port N    listen on 127.0.0.1:N (default: a free port)
  --delay MS  upstream: answer every request after MS milliseconds (a request can ask with ?delay=MS)
              cache: answer every command after MS milliseconds (default ${CACHE_DELAY_MS})
  --barrier N upstream: hold requests until N have arrived, then let them all go (again and again)
  --set K=V   cache: start with the value V stored under the key K (repeat for more keys)
  --hold      hold every request or command until you press Enter, which lets them all go`;

const UPSTREAM_ONLY = ['barrier'] as const;
const CACHE_ONLY = ['set'] as const;

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      port: { type: 'string' },
      delay: { type: 'string' },
      barrier: { type: 'string' },
      set: { type: 'string', multiple: true },
      hold: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const fixture = positionals[0];
  if ((fixture !== 'upstream' && fixture !== 'cache') || positionals.length > 1) {
    console.error(positionals.length ? `unknown fixture "${positionals.join(' ')}"\n\n${USAGE}` : USAGE);
    return 2;
  }
  const wrong = (fixture === 'upstream' ? CACHE_ONLY : UPSTREAM_ONLY).find((name) => values[name] !== undefined);
  if (wrong) throw new Error(`--${wrong} is not an option of the ${fixture}`);
  const number = (name: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) throw new Error(`--${name} takes a whole number, not "${v}"`);
    return Number(v);
  };
  const port = number('port', values.port);
  const delay = number('delay', values.delay);
  return fixture === 'cache' ? cache(port, delay, values.set ?? [], values.hold === true) : upstream(port, delay, number('barrier', values.barrier), values.hold === true);
}

async function upstream(port: number | undefined, delay: number | undefined, barrier: number | undefined, hold: boolean): Promise<number> {
  const upstream = await SlowUpstream.start({ ...(port !== undefined ? { port } : {}), log: (line) => console.log(line) });
  const plan = (): UpstreamPlan =>
    hold ? { kind: 'hold' } : barrier ? { kind: 'barrier', count: barrier, deadlineMs: 24 * 3600_000 } : { kind: 'answer', ...(delay ? { delayMs: delay } : {}) };
  upstream.setPlan(plan());
  // A barrier lets one group go, then waits for the next.
  if (barrier) setInterval(() => upstream.record.gathered && upstream.setPlan(plan()), 50).unref();
  if (hold) process.stdin.on('data', () => console.log(`let ${upstream.release()} held requests go`));
  console.log(`upstream listening on ${upstream.url}`);
  console.log(`try: UPSTREAM_URL=${upstream.url} and curl -v ${upstream.url}/hello`);
  console.log('Ctrl-C stops it.');
  await new Promise<void>((resolve) => process.once('SIGINT', resolve));
  const r = upstream.record;
  console.log(`\n${r.requests.length} requests, at most ${r.maxInFlight} in flight at once`);
  await upstream.stop();
  return 0;
}

async function cache(port: number | undefined, delay: number | undefined, sets: string[], hold: boolean): Promise<number> {
  const preload = sets.map((s) => {
    const eq = s.indexOf('=');
    const key = eq > 0 ? s.slice(0, eq) : '';
    // A key memcached would take: no spaces or control bytes, at most 250 bytes.
    if (!key || /[\x00-\x20\x7f]/.test(key) || Buffer.byteLength(key) > 250) throw new Error(`--set takes KEY=VALUE with a key of 1 to 250 bytes and no spaces, not "${s}"`);
    return [key, s.slice(eq + 1)] as const;
  });
  const cache = await SlowCache.start({ ...(port !== undefined ? { port } : {}), ...(delay !== undefined ? { delayMs: delay } : {}), log: (line) => console.log(line) });
  for (const [key, value] of preload) cache.preload(key, value);
  if (hold) {
    cache.setPlan({ kind: 'hold' });
    process.stdin.on('data', () => console.log(`let ${cache.release()} held commands go`));
  }
  const key = preload[0]?.[0] ?? 'k';
  console.log(`cache listening on ${cache.addr}, answering each command after ${cache.delayMs} ms${preload.length ? `, with ${preload.map(([k]) => k).join(', ')} stored` : ''}`);
  console.log(`try: CACHE_ADDR=${cache.addr} and printf 'get ${key}\\r\\n' | nc 127.0.0.1 ${cache.port}`);
  console.log(`     printf 'set ${key} 0 0 5\\r\\nhello\\r\\nget ${key}\\r\\nquit\\r\\n' | nc 127.0.0.1 ${cache.port}   (quit: the cache hangs up, so nc exits)`);
  console.log('Ctrl-C stops it.');
  await new Promise<void>((resolve) => process.once('SIGINT', resolve));
  const r = cache.record;
  const counts = [...r.keys.values()];
  const sum = (what: 'hits' | 'misses' | 'sets') => counts.reduce((n, c) => n + c[what], 0);
  const n = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : word.endsWith('s') ? 'es' : 's'}`;
  console.log(`\n${n(r.seen, 'command')} (${n(sum('hits'), 'hit')}, ${n(sum('misses'), 'miss')}, ${n(sum('sets'), 'set')}), at most ${n(r.maxConnections, 'connection')} open and ${n(r.maxInFlight, 'command')} in flight at once`);
  await cache.stop();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: Error) => {
    console.error(`fixture: ${e.message}`);
    process.exit(2);
  },
);
