import { parseArgs } from 'node:util';
import { buildRequest } from '../raw/request.ts';
import { runLoad } from './run-load.ts';

// The load probe as a command, so it can run in a process of its own beside other load tools
// (grader/bench/load.ts): prints the LoadResult as one line of JSON.
//
//   node --import tsx grader/src/probes/load/cli.ts --port 8080 [--connections 50] [--duration-ms 5000]
//        [--warmup-ms 0] [--path /]

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    connections: { type: 'string', default: '50' },
    'duration-ms': { type: 'string', default: '5000' },
    'warmup-ms': { type: 'string', default: '0' },
    path: { type: 'string', default: '/' },
  },
});

const port = Number(values.port);
if (!Number.isInteger(port) || port < 1) {
  console.error('load: --port PORT is required');
  process.exit(2);
}
const warmupMs = Number(values['warmup-ms']);
const result = await runLoad({
  port,
  request: buildRequest(port, { target: values.path }),
  connections: Number(values.connections),
  durationMs: Number(values['duration-ms']),
  ...(warmupMs > 0 ? { warmup: { ms: warmupMs } } : {}),
});
console.log(JSON.stringify(result));
