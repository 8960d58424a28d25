import getPort from 'get-port';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunningServer } from '../../src/server/server.ts';

// The environment a server starts with: the small inherited set, the exercise's own variables,
// and Stryker's active-mutant variable, without which every mutant of a reference solution would
// run as the original code (npm run mutate).

const ECHO_ENV_SERVER = `import net from 'node:net';
net.createServer((socket) => socket.end(JSON.stringify(process.env))).listen(Number(process.env.PORT), '127.0.0.1');
`;

function readAll(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(port, '127.0.0.1');
    socket.setTimeout(5000, () => socket.destroy(new Error('no answer within 5 s')));
    socket.on('data', (d) => chunks.push(d));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
  });
}

describe("the server's environment", () => {
  let dir: string;
  const saved = { mutant: process.env.__STRYKER_ACTIVE_MUTANT__, secret: process.env.SERVERLAB_TEST_SECRET };

  beforeAll(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'serverlab-env-'));
    writeFileSync(path.join(dir, 'server.ts'), ECHO_ENV_SERVER);
    process.env.__STRYKER_ACTIVE_MUTANT__ = '17';
    process.env.SERVERLAB_TEST_SECRET = 'must-not-leak';
  });

  afterAll(() => {
    for (const [name, value] of [['__STRYKER_ACTIVE_MUTANT__', saved.mutant], ['SERVERLAB_TEST_SECRET', saved.secret]] as const) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it("passes Stryker's active mutant through, with PORT and the exercise's variables, and nothing else of the grader's", async () => {
    const port = await getPort({ host: '127.0.0.1' });
    const server = await RunningServer.start({ dir, track: 'ts', port, env: { BACKLOG: '7' }, readyTimeoutMs: 15_000 });
    let env: Record<string, string>;
    try {
      env = JSON.parse(await readAll(port));
    } finally {
      await server.stop();
    }
    expect(env.__STRYKER_ACTIVE_MUTANT__).toBe('17');
    expect(env.PORT).toBe(String(port));
    expect(env.BACKLOG).toBe('7');
    expect(env.PATH).toBe(process.env.PATH);
    expect(env).not.toHaveProperty('SERVERLAB_TEST_SECRET');
  });
});
