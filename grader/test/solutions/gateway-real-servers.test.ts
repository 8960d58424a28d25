import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { grade } from '../../src/pipeline.ts';
import type { ExerciseResult } from '../../src/report/model.ts';
import { unlessRequired } from '../support/peers.ts';
import { tempDirs } from '../support/temp.ts';

// The py checks of 04-gateway graded against real WSGI servers, each wrapped in a server.py that
// execs it (or, for wsgiref, runs it) with the grader's APP and APP_DIR: what the course asks of a
// student's gateway, gunicorn and waitress do too. Where PEP 3333 says SHOULD, the checks accept what
// gunicorn and waitress do. Where a server departs from a MUST, or from a SHOULD the course makes a
// rule of its own (said so in the rule table and the README), the case that catches it is named below.

const tempDir = tempDirs();

const hasWaitress = existsSync('/usr/bin/python3') && spawnSync('/usr/bin/python3', ['-c', 'import waitress'], { stdio: 'ignore' }).status === 0;

interface RealServer {
  name: string;
  missing?: string;
  launcher: string;
  /** Cases each server fails, by check, with the PEP's words for why the course keeps the rule. */
  departs: Record<string, string[]>;
}

const SERVERS: RealServer[] = [
  {
    name: 'gunicorn (gthread)',
    ...(existsSync('/usr/bin/gunicorn') ? {} : { missing: unlessRequired('no /usr/bin/gunicorn (Debian package python3-gunicorn)') }),
    launcher: `import os
os.execv('/usr/bin/gunicorn', ['gunicorn', '--bind', '127.0.0.1:' + os.environ['PORT'], '--workers', '1', '--worker-class', 'gthread',
          '--threads', '4', '--graceful-timeout', '1', '--chdir', os.environ['APP_DIR'], os.environ['APP']])
`,
    departs: {
      // The headers "must" be stored "to transmit only after the first iteration of the application
      // return value that yields a non-empty bytestring". gunicorn sends them for an empty one, so
      // the app's later start_response with exc_info cannot turn the 200 into a 500.
      'deferred-headers': ['the same after an empty first chunk'],
    },
  },
  {
    name: 'wsgiref.simple_server',
    launcher: `import importlib, os, sys
from wsgiref.simple_server import make_server
sys.path.insert(0, os.environ['APP_DIR'])
module, _, name = os.environ['APP'].partition(':')
make_server('127.0.0.1', int(os.environ['PORT']), getattr(importlib.import_module(module), name)).serve_forever()
`,
    departs: {
      // CONTENT_TYPE is "the contents of any Content-Type fields in the HTTP request. May be empty or
      // absent." With none in the request, wsgiref puts its email parser's default there, "text/plain".
      'environ-keys': ['GET: the CGI keys, the wsgi.* keys, their types'],
      // PEP 3333 only says a server "should simulate an end-of-file condition" past CONTENT_LENGTH;
      // the course asks for it (a course rule): wsgiref hands the app the socket's own file, and a
      // read past the body waits for bytes the kept-alive client never sends.
      'request-body': ['readlines', 'iter', 'all', 'past-end'].map((m) => `read with ${m}, past the end, on a kept-alive connection`),
      // The MUST of deferred headers, as gunicorn: wsgiref sends them for an empty first chunk.
      'deferred-headers': ['the same after an empty first chunk'],
      // PEP 3333: the server "should not transmit more bytes to the client than the header allows";
      // a course rule, since on a kept-alive connection the extra bytes start the next response.
      'content-length-cut': ['the app yields more than its Content-Length'],
    },
  },
  {
    name: 'waitress',
    ...(hasWaitress ? {} : { missing: unlessRequired('no waitress for /usr/bin/python3 (Debian package python3-waitress)') }),
    launcher: `import os
os.environ['PYTHONPATH'] = os.environ['APP_DIR']
os.execv('/usr/bin/python3', ['python3', '-m', 'waitress', '--listen=127.0.0.1:' + os.environ['PORT'], '--threads=4', os.environ['APP']])
`,
    departs: {},
  },
];

/** By check, the names of the cases that did not pass; a check with none failed is left out. */
function failedCases(ex: ExerciseResult): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const c of ex.checks) {
    if (c.status === 'pass' || c.status === 'skipped') continue;
    out[c.id] = (c.cases ?? []).filter((k) => k.status !== 'pass').map((k) => k.name);
    if (!out[c.id]!.length) out[c.id] = [`${c.status}: ${c.evidence.message}`];
  }
  return out;
}

describe('real WSGI servers under the 04-gateway py checks', () => {
  for (const server of SERVERS) {
    it.skipIf(server.missing !== undefined)(`${server.name}${server.missing ? ` (skipped: ${server.missing})` : ''} scores full marks but in the cases named for it`, async () => {
      const target = tempDir('gateway-real');
      mkdirSync(path.join(target, '04-gateway'));
      writeFileSync(path.join(target, '04-gateway', 'server.py'), server.launcher);
      const result = await grade({ target, exercises: ['04-gateway'], track: 'py', seed: 'real-servers', jobs: 1 });
      const ex = result.exercises[0]!;
      expect(failedCases(ex)).toEqual(server.departs);
      expect(result.graderErrors).toBe(0);
      expect(ex.server?.leftBehind).toEqual([]);
    }, 180_000);
  }
});
