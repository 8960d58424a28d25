import { defineRules } from '../rules.ts';

// exercises/07-threads/README.md, rule by rule.

export default defineRules([
  {
    id: 'routes',
    check: 'answers-routes',
    readme: 'every request is answered by the given `route`, through your threads',
    source: { course: true, allows: 'any routes', why: 'the process model is what is graded, so every track answers the same given routes' },
  },
  {
    id: 'answered',
    check: 'pool-limit',
    readme: 'Every request is answered in the end: one that finds every thread busy waits for a free one, it is not refused or dropped.',
    source: { course: true, allows: 'refusing a request with 503 when the server is busy', why: 'this exercise is about waiting for a free thread, and what that wait costs' },
  },
  {
    id: 'pool-size',
    check: 'pool-limit',
    readme: 'With `THREADS=k` (k ≥ 1), exactly k requests are served at once, never more',
    source: { course: true, allows: 'any concurrency', why: 'a fixed number of threads is what makes the server\'s load, and its greatest throughput, something you can predict' },
  },
  {
    id: 'one-process',
    check: 'pool-limit',
    readme: 'With `PROCESSES=1` (the default) everything runs in one process.',
    source: { course: true, allows: 'any number of processes', why: 'threads share one process\'s memory, and one process is where they are counted' },
  },
  {
    id: 'accept-when-free',
    check: 'pool-limit',
    readme: 'take a connection only when a thread is free to serve it',
    source: {
      course: true,
      allows: 'accepting connections before they can be served',
      why: 'then the requests that wait stay in the kernel\'s accept queue, bounded by the backlog and visible to `ss`, and n processes of k threads take exactly n·k between them',
    },
  },
  {
    id: 'fixed-threads',
    check: 'thread-count-steady',
    readme: 'A pool starts its threads once, and then keeps the same number of threads whatever the load.',
    source: { course: true, allows: 'any number of threads', why: 'a pool that grows with the load is a thread per request again, with none of the limit' },
  },
  {
    id: 'thread-per-request',
    check: 'thread-per-request',
    readme: 'With `THREADS=0`, start a new thread for each request, and let it end when its request is done.',
    source: { course: true, allows: 'any threading', why: 'it is the simplest threaded server, and its cost (a thread for every client at once) is what a pool limits' },
  },
  {
    id: 'processes',
    check: 'processes-times-threads',
    readme: 'With `PROCESSES=n`, run n processes, each with its own k threads, all serving the one listening port',
    source: { doc: 'Apache mod_wsgi docs (daemon mode)', says: 'a daemon process group runs processes=N processes, each with threads=M threads to handle requests' },
  },
  {
    id: 'bad-gateway',
    check: 'pool-survives-errors',
    readme: 'If the call to the upstream fails, answer `502 Bad Gateway`',
    source: { spec: 'RFC 9110', section: '15.6.3', level: 'SHOULD' },
  },
  {
    id: 'errors-end-requests',
    check: 'pool-survives-errors',
    readme: 'An error ends the request it happened in, never the thread',
    source: { course: true, allows: 'anything after an error', why: 'a pool thread that dies is one thread fewer for good, and after enough errors the server serves nobody' },
  },
  {
    id: 'predict',
    check: 'throughput',
    readme: 'k threads, each busy d seconds per request, serve at most k / d requests per second',
    source: { course: true, allows: 'any speed', why: 'a fixed pool is what lets you predict the greatest load a server can carry, before you measure it' },
  },
]);
