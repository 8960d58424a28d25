import path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from './config-error.ts';
import { REPO_ROOT } from './course/course.ts';
import { grade } from './pipeline.ts';
import { REPORTERS } from './report/reporters.ts';
import { SEED } from './rng.ts';
import { wantsColor } from './report/color.ts';
import { defaultTrack, parseTrack } from './target/target.ts';

const USAGE = `usage: npm run grade -- [EXERCISE...] [options]

  EXERCISE            01, 01-sockets or sockets; several allowed (default: all)
  --solutions         grade the reference solutions (same as --target solutions)
  --target DIR        grade any folder laid out like exercises/ (DIR/02-http/server.py, ...)
  --track ts|py|all   language track (default: "serverlab.track" in package.json, else ts)
  --json              print only the result as JSON on stdout
  --seed SEED         repeat the probes of an earlier run
  --jobs N            servers graded at once (default: up to 4, one per core)
  --pass-mark PCT     percentage of the points needed to pass (default 100)
  --verbose           show evidence for passing checks too
  --bail              stop at the first check that does not pass (exit 1)
  -h, --help          this text

exit status: 0 passed, 1 below the pass mark, 2 usage or configuration error`;

const OPTIONS = {
  solutions: { type: 'boolean' },
  target: { type: 'string' },
  track: { type: 'string' },
  json: { type: 'boolean' },
  seed: { type: 'string' },
  jobs: { type: 'string' },
  'pass-mark': { type: 'string' },
  verbose: { type: 'boolean' },
  bail: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

function positiveNumber(flag: string, value: string | undefined, max: number): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > max) throw new ConfigError(`--${flag} must be a number from 1 to ${max}, not "${value}"`);
  return n;
}

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    throw new ConfigError(`${(e as Error).message.split('\n')[0]} (see --help)`);
  }
  const { values: v, positionals } = parsed;
  if (v.help) {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (v.solutions && v.target) throw new ConfigError('--solutions and --target cannot be used together');
  if (v.seed !== undefined && !SEED.test(v.seed)) throw new ConfigError(`--seed must be letters and digits, not "${v.seed}"`);
  const target = v.solutions ? path.join(REPO_ROOT, 'solutions') : v.target;
  const color = !v.json && wantsColor(process.env, process.stdout.isTTY === true);
  const progress = (line: string) => process.stderr.write(`${line}\n`);

  const result = await grade({
    exercises: positionals,
    target,
    track: v.track ? parseTrack(v.track) : await defaultTrack(),
    seed: v.seed,
    jobs: positiveNumber('jobs', v.jobs, 64),
    passPercent: positiveNumber('pass-mark', v['pass-mark'], 100),
    bail: v.bail ?? false,
    onExercise: (r) => progress(`graded ${r.id} [${r.track}]: ${r.score}/${r.maxScore} in ${(r.durationMs / 1000).toFixed(1)} s`),
  });
  const reporter = v.json ? REPORTERS.json : REPORTERS.terminal;
  process.stdout.write(reporter(result, { color, verbose: v.verbose ?? false }));
  // `npm run` (unless silent) writes its "> serverlab@... grade" banner to stdout, ahead of the JSON.
  if (v.json && process.env.npm_lifecycle_event !== undefined && process.env.npm_config_loglevel !== 'silent') {
    progress('serverlab: npm printed its banner on stdout before the JSON; `npm run -s grade -- --json` gives clean output');
  }
  return result.passed ? 0 : 1;
}

// Exit explicitly once stdout is flushed: nothing a server left open may keep the grader running.
const exit = (code: number) => process.stdout.write('', () => process.exit(code));

main(process.argv.slice(2)).then(exit, (e) => {
  if (e instanceof ConfigError) {
    process.stderr.write(`serverlab: ${e.message}\n`);
    exit(2);
  } else {
    process.stderr.write(`serverlab: internal error: ${(e as Error).stack ?? e}\n`);
    exit(3);
  }
});
