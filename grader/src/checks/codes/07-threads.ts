// Failure codes only 07-threads's checks report, each with its hint (see ../codes.ts and ../../hints/hints.ts).

const codes = {
  'queued-in-process': 'connections were accepted before a thread was free to serve them, and waited inside the server',
  'pool-shrinks': 'after requests that failed, the pool had fewer threads than THREADS',
  'threads-linger': 'threads started for requests were still there after the requests were done',
} as const satisfies Record<string, string>;

const hints: Record<keyof typeof codes, string | null> = {
  'queued-in-process':
    'Usually one thread accepts every connection and puts it in a queue.Queue for the pool: let each pool thread call accept() itself when it is free, so the waiting connections stay in the kernel\'s accept queue.',
  'pool-shrinks':
    'Usually an exception (a client that went away, an upstream that failed) escapes the loop of a pool thread and ends it: catch errors around each request, answer 502 where you can, and go back to accept.',
  'threads-linger': 'Usually the thread started for a request waits for more work, or a Worker is never terminated, after its request is answered.',
};

export default { codes, hints };
