import { readFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { gradeDir } from '../support/broken.ts';
import { evidenceText, failedIds, repoPath } from '../support/grade.ts';
import { tempDirs } from '../support/temp.ts';

// 09's checks send a /proxy/ request again when its 504 came only after most of
// UPSTREAM_TIMEOUT_MS: on a busy machine the grader's own upstream can be that late. Proven both
// ways on the reference solution with its first /proxy/ request answered 504: late, it is forgiven
// (and the evidence says the request went twice); at once, it is the server's fault.

const tempDir = tempDirs();

const START = 'async function proxy(req: http.IncomingMessage, path: string): Promise<Answer> {\n';

function solutionWithFirst504(delayMs: number): string {
  const source = readFileSync(repoPath('solutions/09-proxy/server.ts'), 'utf8');
  expect(source).toContain(START);
  const first = `let first504 = true;\n${START}  if (first504) {\n    first504 = false;\n    await new Promise((r) => setTimeout(r, ${delayMs}));\n    return text(504, 'gateway timeout\\n');\n  }\n`;
  const dir = tempDir('late-504');
  mkdirSync(path.join(dir, '09-proxy'));
  writeFileSync(path.join(dir, '09-proxy', 'server.ts'), source.replace(START, first));
  return dir;
}

describe('09-proxy: a 504 to a /proxy/ request', () => {
  it.concurrent('that comes after most of UPSTREAM_TIMEOUT_MS is sent again, and the evidence says so', async () => {
    const ex = await gradeDir(solutionWithFirst504(1800), '09-proxy', 'ts');
    expect(failedIds(ex)).toEqual([]);
    const routes = ex.checks.find((c) => c.id === 'answers-routes')!;
    expect(JSON.stringify(routes.cases)).toContain('sent 2 times');
  });

  it.concurrent('that comes at once is the server\'s answer', async () => {
    const ex = await gradeDir(solutionWithFirst504(0), '09-proxy', 'ts');
    expect(failedIds(ex)).toEqual(['answers-routes']);
    expect(evidenceText(ex.checks.find((c) => c.id === 'answers-routes')!)).toContain('answered 504');
  });
});
