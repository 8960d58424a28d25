// Failure codes only 06-prefork's checks report, each with its hint (see ../codes.ts and ../../hints/hints.ts).

const codes = {
  'several-listeners': 'more than one socket listens on the port',
  'worker-lacks-listener': 'a worker does not hold the listening socket',
  'workers-accept': "the workers accept connections themselves, not through the primary's round robin",
  'master-serves': 'the master process served a request itself',
  'same-worker': 'requests held at once were served by fewer workers than there are',
  'not-replaced': 'a worker that died was not replaced',
  'workers-restarted': 'the worker processes changed while they served requests',
} as const satisfies Record<string, string>;

const hints: Record<keyof typeof codes, string | null> = {
  'several-listeners':
    'Each worker made and bound a socket of its own (which only works with SO_REUSEPORT). Bind and listen once, in the master, before the first fork: every child inherits that one socket.',
  'worker-lacks-listener': 'Create the listening socket before you fork, and keep it open in the workers: they accept on it themselves.',
  'workers-accept':
    'Keep the cluster module\'s default scheduling (round robin). With cluster.schedulingPolicy = cluster.SCHED_NONE, or NODE_CLUSTER_SCHED_POLICY=none, one worker that is waiting on I/O can take several connections while the others sit idle.',
  'master-serves': 'The master only starts, watches and stops workers. Only a worker calls accept() and serves a connection.',
  'same-worker': null,
  'not-replaced':
    'When a worker ends, the master learns it from wait() (Python) or the cluster "exit" event (Node), and forks a new one in its place unless it is shutting down.',
  'workers-restarted':
    'A worker should serve connection after connection in a loop. One that exits after a request, or crashes, is replaced, but then the pool is a fork per connection again.',
};

export default { codes, hints };
