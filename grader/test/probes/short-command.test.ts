import { describe, expect, it } from 'vitest';
import { shortCommand } from '../../src/probes/proc/inspect.ts';

describe('shortCommand, the command a process tree shows', () => {
  it('drops the folders of the interpreter and the server', () => {
    expect(shortCommand('/root/.pyenv/versions/3.11.7/bin/python3 -u /tmp/serverlab-x/05-fork/server.py')).toBe('python3 -u server.py');
  });

  it("shows the grader's two loaders as the one --import tsx a student would type", () => {
    const cmd = '/usr/local/bin/node --import file:///work/node_modules/tsx/dist/loader.mjs --import file:///work/grader/src/server/tsx-workers.mjs /tmp/x/server.ts';
    expect(shortCommand(cmd)).toBe('node --import tsx server.ts');
  });

  it('cuts a long command to 60 characters', () => {
    const short = shortCommand(`python3 server.py ${'x'.repeat(100)}`);
    expect(short).toHaveLength(60);
    expect(short.endsWith('...')).toBe(true);
  });
});
