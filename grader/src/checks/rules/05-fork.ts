import { defineRules } from '../rules.ts';

// exercises/05-fork/README.md, rule by rule.

export default defineRules([
  { id: 'child-serves', check: 'child-per-connection', readme: 'Serve every connection in a child process of its own, made with `os.fork()`.', source: { doc: 'fork(2)', says: 'fork() creates a new process by duplicating the calling process; it returns 0 in the child and the child\'s pid in the parent' } },
  { id: 'parent-closes', check: 'parent-closes-client', readme: 'The parent closes its copy of the client socket at once', source: { doc: 'close(2)', says: 'the resources of an open file description (here, the connection) are freed only when its last file descriptor is closed' } },
  { id: 'no-close-wait', check: 'parent-closes-client', readme: 'no connection the client has closed may stay open on the server side', source: { doc: 'close(2)', says: 'a socket is closed only when the last file descriptor referring to it is closed' } },
  { id: 'child-closes-listener', check: 'child-closes-listener', readme: 'The child closes its copy of the listening socket before it serves', source: { doc: 'fork(2)', says: "the child inherits copies of the parent's set of open file descriptors" } },
  { id: 'at-once', check: 'runs-at-once', readme: 'Requests run at the same time: one slow request must not hold up the next.', source: { course: true, allows: 'a server that answers one connection after another', why: 'a process per connection exists to serve many clients at once' } },
  { id: 'child-exits', check: 'children-exit', readme: 'When it has served its client, the child ends with `os._exit(0)`', source: { doc: 'Python os._exit', says: 'exit the process without calling cleanup handlers, flushing stdio buffers, etc.; normally used in the child after fork()' } },
  { id: 'reap-all', check: 'no-zombies', readme: 'call `os.waitpid(-1, os.WNOHANG)` in a loop until nothing is left to collect', source: { doc: 'signal(7)', says: 'standard signals do not queue: several instances generated while one is pending are delivered as one' } },
  { id: 'survives-sigchld', check: 'still-accepting', readme: 'The handler returns normally, also when there is nothing to collect', source: { doc: 'PEP 475', says: 'a system call interrupted by a signal is retried, unless the signal handler raises an exception' } },
  { id: 'no-orphans', check: 'sigterm-no-orphans', readme: 'On SIGTERM, stop accepting and let no child outlive the server', source: { doc: '_exit(2)', says: 'the children of a process that exits are inherited by init (PID 1) or the nearest subreaper' } },
]);
