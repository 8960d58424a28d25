// Failure codes only 05-fork's checks report, each with its hint (see ../codes.ts and ../../hints/hints.ts).

const codes = {
  'served-by-parent': "the server's own process answered, not a child made for the connection",
  'same-process-twice': 'two connections were answered by the same process',
  'ended-by-sigchld': 'a SIGCHLD with no child to collect ended the server',
} as const satisfies Record<string, string>;

const hints: Record<keyof typeof codes, string | null> = {
  'served-by-parent': 'The pid in the answer is the server\'s own: the connection was served without a fork. Fork after accept, and serve the client in the branch where os.fork() returned 0.',
  'same-process-twice': 'A child should serve one connection and end. A child that goes back to accept serves more connections, and the parent no longer knows about them.',
  'ended-by-sigchld': 'A SIGCHLD can come when no child is left to collect. os.wait() and os.waitpid() then raise ChildProcessError, and raised from the handler it ends accept() and the server: catch it in the handler.',
};

export default { codes, hints };
