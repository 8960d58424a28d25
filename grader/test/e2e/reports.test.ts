import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { grade } from '../../src/pipeline.ts';
import { renderTerminal } from '../../src/report/terminal.ts';
import { REPO_ROOT } from '../../src/course/course.ts';
import { withFault } from '../support/broken.ts';
import { repoPath } from '../support/grade.ts';

// The terminal report of a few sample servers per exercise (the untouched stub, one typical
// mistake, the reference solution), compared with a recording in the repository, so a change in
// what students read is seen in review. `SERVERLAB_RECORD=1 npx vitest run grader/test/e2e` writes
// the recordings anew.

const RECORDINGS = path.join(import.meta.dirname, 'recordings');
const RECORD = process.env.SERVERLAB_RECORD === '1';

/** Ports, times, dates and temporary paths differ from run to run; nothing else may. */
export function normalise(text: string): string {
  // The server's port shows in Host headers, in messages and in the JSON some servers echo.
  const ports = new Set([...text.matchAll(/(?:127\.0\.0\.1:|\bport |PORT=)(\d{2,5})\b/g)].map((m) => m[1]!).filter((p) => p !== '8080'));
  let out = text;
  for (const port of ports) out = out.replace(new RegExp(`\\b${port}\\b`, 'g'), '<port>');
  return out
    .replace(/^(serverlab \S+ {2}target )\S+/m, '$1<target>')
    .split(REPO_ROOT).join('<repo>')
    .replace(/\/tmp\/serverlab-[\w-]+/g, '<tmp>')
    .replace(/(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT/g, '<date>')
    .replace(/\b\d+(\.\d+)? s\b/g, '<n> s')
    .replace(/\b\d+ ms\b/g, '<n> ms')
    .replace(/\bpid \d+/g, 'pid <pid>');
}

interface Sample {
  exercise: string;
  name: string;
  target: (run: (dir: string) => Promise<string>) => Promise<string>;
}

const samples: Sample[] = [
  ['01-sockets', 'sockets-single-recv'],
  ['02-http', 'http-head-sends-body'],
  ['03-urls', 'urls-plus-in-path'],
  ['04-gateway', 'gateway-no-close'],
].flatMap(([exercise, mistake]): Sample[] => [
  { exercise: exercise!, name: 'stub', target: (run) => run(repoPath('exercises')) },
  { exercise: exercise!, name: mistake!, target: (run) => withFault(mistake!, ({ dir }) => run(dir)) },
  { exercise: exercise!, name: 'solution', target: (run) => run(repoPath('solutions')) },
]);

describe('terminal reports of sample servers match their recordings', () => {
  it.concurrent.each(samples.map((s) => [`${s.exercise} ${s.name}`, s] as const))('%s', async (_, s) => {
    const text = await s.target(async (dir) => {
      const result = await grade({ target: dir, exercises: [s.exercise], track: 'py', seed: 'recorded', jobs: 1 });
      return normalise(renderTerminal(result, { color: false }));
    });
    const file = path.join(RECORDINGS, `${s.exercise}--${s.name}.txt`);
    if (RECORD) writeFileSync(file, text);
    expect(existsSync(file), `no recording ${path.relative(REPO_ROOT, file)}: make it with SERVERLAB_RECORD=1`).toBe(true);
    expect(text).toBe(readFileSync(file, 'utf8'));
  });
});
