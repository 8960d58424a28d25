import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError } from '../config-error.ts';
import { loadCourse, REPO_ROOT, type Exercise } from '../course/course.ts';
import type { Track } from '../report/model.ts';
import { killLiveGroupsOnExit } from '../server/live-groups.ts';
import { defaultTrack, parseTrack, selectExercises } from '../target/target.ts';
import { compareServers, DEFAULT_SETTINGS, type CompareSettings, type CompareTarget } from './compare.ts';
import { formatComparison } from './report.ts';

const USAGE = `usage: npm run compare -- [SERVER...] [options]

  SERVER              an exercise (06, 06-prefork or prefork: that folder of the target), or any
                      folder with a server.py or server.ts (its exercise is the NN its name starts
                      with, or --as); default: every one of 05 to 09 the target has in the track
  --as EXERCISE       the exercise whose routes and fixtures the folders named by path have
  --solutions         compare the reference solutions (same as --target solutions)
  --target DIR        where exercises are looked up (default: exercises/)
  --track ts|py       language track (default: "serverlab.track" in package.json, else ts)
  --clients N         clients on the route that waits on the upstream (default ${DEFAULT_SETTINGS.clients})
  --delay-ms MS       how long the upstream takes to answer (default ${DEFAULT_SETTINGS.upstreamDelayMs})
  --cpu-clients N     clients asking for /hash at once (default ${DEFAULT_SETTINGS.cpuClients})
  --rounds N          SHA-256 rounds per /hash (default ${DEFAULT_SETTINGS.hashRounds})
  --seconds S         how long each workload is measured (default ${DEFAULT_SETTINGS.seconds})
  --charts            draw each server's latency chart below the tables
  --json              print the comparison as JSON
  -h, --help          this text

Every server gets the same two workloads, one server at a time: clients on its route that waits on
the slow upstream (/upstream/... in 05-07, /proxy/... in 09; 08 has none), then clients asking for
CPU work (/hash). Nothing is graded.`;

const OPTIONS = {
  as: { type: 'string' },
  solutions: { type: 'boolean' },
  target: { type: 'string' },
  track: { type: 'string' },
  clients: { type: 'string' },
  'delay-ms': { type: 'string' },
  'cpu-clients': { type: 'string' },
  rounds: { type: 'string' },
  seconds: { type: 'string' },
  charts: { type: 'boolean' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const COMPARED = ['05', '06', '07', '08', '09'];

function whole(flag: string, value: string | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(`--${flag} must be a whole number from ${min} to ${max}, not "${value}"`);
  return n;
}

const hasServer = (dir: string) => existsSync(path.join(dir, 'server.py')) || existsSync(path.join(dir, 'server.ts'));

/** A positional that is a folder with a server in it, rather than an exercise's name. */
const isServerFolder = (arg: string) => (arg.includes('/') || arg.startsWith('.')) && existsSync(arg) && statSync(arg).isDirectory();

function resolveTargets(course: Exercise[], positionals: string[], opts: { targetDir: string; track: Track; as?: string }): CompareTarget[] {
  const as = opts.as !== undefined ? selectExercises(course, [opts.as])[0] : undefined;
  const named = positionals.length > 0;
  const args = named ? positionals : COMPARED.filter((nn) => existsSync(path.join(opts.targetDir, course.find((e) => e.id.startsWith(nn))?.id ?? nn)));
  const targets: CompareTarget[] = [];
  for (const arg of args) {
    let exercise: Exercise;
    let dir: string;
    if (isServerFolder(arg)) {
      dir = path.resolve(arg);
      const nn = /^(\d\d)/.exec(path.basename(dir))?.[1];
      const found = as ?? (nn ? course.find((e) => e.id.startsWith(nn)) : undefined);
      if (!found) throw new ConfigError(`${arg}: which exercise is this server? Name the folder after one (09-threads/) or say --as 09`);
      exercise = found;
    } else {
      exercise = selectExercises(course, [arg])[0]!;
      dir = path.join(opts.targetDir, exercise.id);
    }
    if (!exercise.tracks.includes(opts.track)) {
      if (named) throw new ConfigError(`${arg}: ${exercise.id} has no ${opts.track} track (it has ${exercise.tracks.join(', ')}); choose one with --track`);
      continue;
    }
    if (!existsSync(dir) || !hasServer(dir)) throw new ConfigError(`${path.relative(process.cwd(), dir) || dir}: no server.py or server.ts there`);
    targets.push({ label: named ? arg : exercise.id, exercise, dir, track: opts.track });
  }
  if (!targets.length) throw new ConfigError(`nothing to compare: ${opts.targetDir} has none of 05 to 09 in the ${opts.track} track`);
  return targets;
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
  const track = v.track ? parseTrack(v.track) : await defaultTrack();
  if (track === 'all') throw new ConfigError('--track all: compare one track at a time (ts or py)');
  const settings: CompareSettings = {
    clients: whole('clients', v.clients, DEFAULT_SETTINGS.clients, 1, 1000),
    upstreamDelayMs: whole('delay-ms', v['delay-ms'], DEFAULT_SETTINGS.upstreamDelayMs, 1, 1500),
    cpuClients: whole('cpu-clients', v['cpu-clients'], DEFAULT_SETTINGS.cpuClients, 1, 64),
    hashRounds: whole('rounds', v.rounds, DEFAULT_SETTINGS.hashRounds, 1, 10_000_000),
    seconds: whole('seconds', v.seconds, DEFAULT_SETTINGS.seconds, 1, 60),
  };
  const targetDir = path.resolve(v.solutions ? path.join(REPO_ROOT, 'solutions') : (v.target ?? path.join(REPO_ROOT, 'exercises')));
  if (!existsSync(targetDir)) throw new ConfigError(`target folder ${targetDir} does not exist`);
  const targets = resolveTargets(await loadCourse(), positionals, { targetDir, track, as: v.as });
  killLiveGroupsOnExit();
  const comparison = await compareServers(targets, settings, (s) => process.stderr.write(`measured ${s.label} [${s.track}]${s.error ? `: ${s.error}` : ''}\n`));
  process.stdout.write(v.json ? `${JSON.stringify(comparison, null, 2)}\n` : formatComparison(comparison, { charts: v.charts ?? false }));
  return 0;
}

// Exit explicitly once stdout is flushed: nothing a server left open may keep this running.
const exit = (code: number) => process.stdout.write('', () => process.exit(code));

main(process.argv.slice(2)).then(exit, (e) => {
  if (e instanceof ConfigError) {
    process.stderr.write(`serverlab compare: ${e.message}\n`);
    exit(2);
  } else {
    process.stderr.write(`serverlab compare: internal error: ${(e as Error).stack ?? e}\n`);
    exit(3);
  }
});
