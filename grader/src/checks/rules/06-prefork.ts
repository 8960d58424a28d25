import { defineRules } from '../rules.ts';

// exercises/06-prefork/README.md, rule by rule.

export default defineRules([
  {
    id: 'worker-count',
    check: 'workers-running',
    readme: 'Start exactly `WORKERS` worker processes',
    source: { course: true, allows: 'any number of processes', why: 'the size of the pool is the one setting a prefork server has, and the grader reads it from WORKERS' },
  },
  {
    id: 'one-socket',
    check: 'workers-running',
    readme: 'One listening socket, made before the first fork and shared by every worker',
    source: { doc: 'fork(2)', says: "the child inherits copies of the parent's open file descriptors, and each copy refers to the same open socket" },
  },
  {
    id: 'loopback',
    check: 'workers-running',
    readme: 'shared by every worker, on `127.0.0.1:PORT`',
    source: { course: true, allows: 'any address', why: "the course's servers are for this machine only, and a socket on every interface is open to the whole network" },
  },
  {
    id: 'round-robin',
    check: 'served-at-once',
    readme: "Keep the cluster module's default scheduling, round robin",
    source: {
      course: true,
      allows: 'SCHED_NONE, where the workers accept on the shared socket themselves',
      why: 'an event-loop worker waiting on I/O looks free to the kernel, so under SCHED_NONE held requests can bunch on one worker; round robin makes WORKERS held requests go to WORKERS workers every time',
    },
  },
  {
    id: 'at-once',
    check: 'served-at-once',
    readme: '`WORKERS` requests that arrive together are served by `WORKERS` different workers at once',
    source: { course: true, allows: 'any process to serve any request', why: 'a pool of N workers that cannot serve N requests at once is not a pool' },
  },
  {
    id: 'master-does-not-serve',
    check: 'served-at-once',
    readme: 'The master never serves a request itself',
    source: { course: true, allows: 'any process to serve', why: 'a master busy with a client cannot notice a dead worker or a SIGTERM' },
  },
  {
    id: 'replace',
    check: 'worker-replaced',
    readme: 'When a worker dies, for whatever reason, the master starts a new one in its place',
    source: { course: true, allows: 'a pool that shrinks as its workers die', why: 'a crash or an out-of-memory kill takes one worker, and the pool must stay WORKERS strong without anyone restarting the server' },
  },
  {
    id: 'reap',
    check: 'worker-replaced',
    readme: 'reaps the dead one with `wait`',
    source: { doc: 'waitpid(2)', says: 'a child that terminates but has not been waited for becomes a zombie, and stays one until its parent waits for it' },
  },
  {
    id: 'keep-serving',
    check: 'steady-under-load',
    readme: 'A worker serves connection after connection; it does not exit after one',
    source: { course: true, allows: 'any process to end whenever it likes', why: 'a worker that exits after each request makes the pool a fork per connection again' },
  },
  {
    id: 'routes',
    check: 'steady-under-load',
    readme: 'Every answer follows the route contract below',
    source: { course: true, allows: 'any answers', why: 'the routes are the stub\'s given part: they still have to work through your process model' },
  },
  {
    id: 'sigterm',
    check: 'clean-shutdown',
    readme: 'On SIGTERM, the master stops every worker, waits for them, and exits',
    source: { doc: 'signal(7)', says: "SIGTERM's default action ends only the process it is sent to, not its children" },
  },
  {
    id: 'no-orphans',
    check: 'clean-shutdown',
    readme: 'no worker may outlive the master',
    source: { course: true, allows: 'children that outlive their parent (they are adopted)', why: 'a worker left behind keeps serving, holds the port and blocks the next start' },
  },
]);
