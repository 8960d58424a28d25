import { parseArgs } from 'node:util';
import { SlowUpstream, type UpstreamPlan } from './upstream.ts';

// `npm run fixture -- upstream`: a fixture service started by hand, printing what it records as
// requests arrive, so a server can be developed against it with curl.

const USAGE = `usage: npm run fixture -- upstream [--port N] [--delay MS] [--barrier N] [--hold]

  upstream    the slow upstream of 05-08: answers "from upstream: PATH" to every request
  --port N    listen on 127.0.0.1:N (default: a free port)
  --delay MS  answer every request after MS milliseconds (a request can ask with ?delay=MS)
  --barrier N hold requests until N have arrived, then let them all go (again and again)
  --hold      hold every request until you press Enter, which lets them all go`;

async function main(): Promise<number> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { port: { type: 'string' }, delay: { type: 'string' }, barrier: { type: 'string' }, hold: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (positionals[0] !== 'upstream' || positionals.length > 1) {
    console.error(positionals.length ? `unknown fixture "${positionals.join(' ')}"\n\n${USAGE}` : USAGE);
    return 2;
  }
  const number = (name: string, v: string | undefined) => {
    if (v === undefined) return undefined;
    if (!/^\d+$/.test(v)) throw new Error(`--${name} takes a whole number, not "${v}"`);
    return Number(v);
  };
  const port = number('port', values.port);
  const delay = number('delay', values.delay);
  const barrier = number('barrier', values.barrier);
  const upstream = await SlowUpstream.start({ ...(port !== undefined ? { port } : {}), log: (line) => console.log(line) });
  const plan = (): UpstreamPlan =>
    values.hold ? { kind: 'hold' } : barrier ? { kind: 'barrier', count: barrier, deadlineMs: 24 * 3600_000 } : { kind: 'answer', ...(delay ? { delayMs: delay } : {}) };
  upstream.setPlan(plan());
  // A barrier lets one group go, then waits for the next.
  if (barrier) setInterval(() => upstream.record.gathered && upstream.setPlan(plan()), 50).unref();
  if (values.hold) process.stdin.on('data', () => console.log(`let ${upstream.release()} held requests go`));
  console.log(`upstream listening on ${upstream.url}`);
  console.log(`try: UPSTREAM_URL=${upstream.url} and curl -v ${upstream.url}/hello`);
  console.log('Ctrl-C stops it.');
  await new Promise<void>((resolve) => process.once('SIGINT', resolve));
  const r = upstream.record;
  console.log(`\n${r.requests.length} requests, at most ${r.maxInFlight} in flight at once`);
  await upstream.stop();
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: Error) => {
    console.error(`fixture: ${e.message}`);
    process.exit(2);
  },
);
