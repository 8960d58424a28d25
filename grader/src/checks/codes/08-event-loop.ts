// Failure codes only 08-event-loop's checks report, each with its hint (see ../codes.ts and ../../hints/hints.ts).

const codes = {
  'left-in-accept-queue': "connections stayed in the kernel's accept queue while the server was busy with another client",
  'buffers-whole-response': 'the server held a large response in memory while the client read none of it',
} as const satisfies Record<string, string>;

const hints: Record<keyof typeof codes, string | null> = {
  'left-in-accept-queue':
    'The listening socket was readable, but the loop did not come back to it: it was waiting on one client (a blocking recv until the request is whole). Read only what a readable socket has, keep it in that connection\'s state, and go back to the selector.',
  'buffers-whole-response':
    'The whole body was made (or queued) at once, so a client that reads slowly makes the server hold all of it. Make the next piece only when the socket has taken the last one: in Node, when write() returns false, wait for \'drain\'.',
};

export default { codes, hints };
