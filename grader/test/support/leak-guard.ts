import { readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { allProcesses, processesTagged } from '../../src/probes/proc/processes.ts';
import { SERVER_TAG } from '../../src/server/server.ts';

/**
 * Vitest global setup (vitest.config.ts): a test run must leave nothing behind. Teardown fails the
 * run (exit status 1, and a list on stderr of what is left) when
 *
 * - os.tmpdir() holds entries starting with "serverlab" that were not there before the run. Temp
 *   folders created by tests must be named `serverlab-...` (grader/test/support/temp.ts makes
 *   them and removes them), so that this check sees them;
 * - a process that carries the grader's tag in its environment (SERVERLAB_SERVER, set on every
 *   server the grader starts: grader/src/server/server.ts) and was not running before the run is
 *   still alive (Linux, where /proc shows other processes' environments).
 *
 * Teardown sets the exit status instead of throwing: a throw there makes vitest exit at once,
 * skipping its own cleanup (its transform cache in os.tmpdir() would stay behind).
 *
 * Leftovers are reported, not removed, so they can be looked at. Another test run or grader on
 * the same machine is not blamed on this one: what was there before the run is not counted, a
 * temp entry counts only if it is still there LINGER_MS after teardown began (another run's
 * folders come and go within one grading), and a server process counts only if it descends from
 * this run or was orphaned (its nearest untagged ancestor is one of this run's own ancestors, such
 * as init), not if it belongs to a grader that is still running elsewhere.
 */

/**
 * Every temporary folder a test creates lives in os.tmpdir() and has a name starting with this
 * prefix, so that this guard sees one a run left behind. (This file must not import vitest: global
 * setup runs outside the test workers.)
 */
export const TEMP_PREFIX = 'serverlab-';

const WATCHED_PREFIX = TEMP_PREFIX.replace(/-$/, '');
/** How long a server process left at teardown gets to go away (a stop in progress). */
const SETTLE_MS = 3000;
/** How long a temp entry found at teardown must stay to count as left behind. */
const LINGER_MS = 30_000;
const POLL_MS = 250;

function tempEntries(): Set<string> {
  return new Set(readdirSync(os.tmpdir()).filter((name) => name.startsWith(WATCHED_PREFIX)));
}

interface Proc {
  ppid: number;
  /** pid and start time: a reused pid is a different process. */
  key: string;
  tagged: boolean;
  command: string;
}

/** Every live process (Linux), with its parent and whether it carries the grader's tag. */
async function processTable(): Promise<Map<number, Proc>> {
  const [all, tagged] = await Promise.all([allProcesses(), processesTagged(SERVER_TAG)]);
  const tags = new Set(tagged.map((p) => p.pid));
  // A zombie has exited and waits for its parent to reap it: nothing left to stop.
  return new Map(all.filter((p) => p.state !== 'Z').map((p) => [p.pid, { ppid: p.ppid, key: `${p.pid}@${p.startTime}`, tagged: tags.has(p.pid), command: p.command }]));
}

function ancestors(table: Map<number, Proc>, pid: number): number[] {
  const chain: number[] = [];
  for (let p = table.get(pid)?.ppid; p !== undefined && p > 0 && chain.length < 256 && !chain.includes(p); p = table.get(p)?.ppid) chain.push(p);
  return chain;
}

/** Tagged processes that belong to this run or to no running grader, as key → "pid command". */
async function strayServers(): Promise<Map<string, string>> {
  const table = await processTable();
  const own = new Set([process.pid, ...ancestors(table, process.pid)]);
  const found = new Map<string, string>();
  for (const [pid, p] of table) {
    if (!p.tagged) continue;
    const chain = ancestors(table, pid);
    const untagged = chain.find((a) => table.get(a)?.tagged === false);
    if (chain.includes(process.pid) || untagged === undefined || own.has(untagged)) found.set(p.key, `${pid} ${p.command}`);
  }
  return found;
}

export default async function setup(): Promise<() => Promise<void>> {
  const tempBefore = tempEntries();
  const serversBefore = await strayServers();
  const newTemp = () => [...tempEntries()].filter((name) => !tempBefore.has(name));
  const newServers = async () => [...(await strayServers())].filter(([key]) => !serversBefore.has(key)).map(([, description]) => description);

  return async function teardown(): Promise<void> {
    const start = Date.now();
    let servers = await newServers();
    while (servers.length && Date.now() - start < SETTLE_MS) {
      await sleep(POLL_MS);
      servers = await newServers();
    }
    const found = newTemp();
    let folders = found;
    while (folders.length && Date.now() - start < LINGER_MS) {
      await sleep(POLL_MS);
      const now = new Set(newTemp());
      folders = found.filter((name) => now.has(name));
    }
    if (!folders.length && !servers.length) return;
    const lines = [
      ...folders.map((name) => `  temporary folder ${path.join(os.tmpdir(), name)}`),
      ...servers.map((description) => `  server process ${description}`),
    ];
    process.stderr.write(
      `\nFAIL the test run left behind:\n${lines.join('\n')}\n` +
        `(temp folders made by tests must be named ${TEMP_PREFIX}... and removed: grader/test/support/temp.ts; ` +
        `every server the grader starts must be stopped)\n\n`,
    );
    process.exitCode = 1;
  };
}
