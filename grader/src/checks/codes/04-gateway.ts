// Failure codes only 04-gateway's checks report, each with its hint (see ../codes.ts and ../../hints/hints.ts).

const codes = {
  'probe-violation': 'the probe app found something wrong in what the server gave it (the key is named)',
  'not-probe-answer': "the answer is not the probe app's JSON: the server changed or lost the app's body",
  'headers-sent-early': 'the app replaced its status before any body, but the first status had already gone out',
  'exc-info-not-raised': 'start_response with exc_info returned after the headers were out, instead of raising',
  'close-not-called': "the app's iterable was never closed, or its body stream never cancelled",
  'not-streamed': 'the body reached the client all at once, not chunk by chunk as the app made it',
  'no-500': 'an app that failed before its answer began did not get a 500',
  'cut-not-closed': 'an app that failed mid-body left the connection open, so the short body looks whole',
  'multithread-wrong': 'wsgi.multithread says something other than what the server does',
  'app-reloaded': 'the app was imported again: each request met a fresh copy of the module',
} as const satisfies Record<string, string>;

const hints: Record<keyof typeof codes, string | null> = {
  'probe-violation': null,
  'not-probe-answer':
    'Usually the body is written from something other than the chunks the app returned (a str() of the list, the first chunk only), or an empty chunk is taken for the end of the body.',
  'headers-sent-early':
    'Usually start_response writes the status line itself: keep the status and headers in a variable and send them with the first non-empty chunk, so a later start_response(..., exc_info) can still replace them.',
  'exc-info-not-raised':
    'Once the headers are on the wire, start_response(status, headers, exc_info) must raise: re-raise exc_info[1] with its traceback, so the app stops and your server closes the connection.',
  'close-not-called':
    'Call close() on what the app returned in a finally: after the last chunk, when the app raises mid-iteration, and when sending fails because the client left. On ts, cancel the reader of the body stream when the socket closes.',
  'not-streamed':
    'Usually the body is collected (b"".join(result), await response.text()) before it is sent: write each chunk as soon as the app yields it, and turn off Nagle (TCP_NODELAY) so small chunks are not held back.',
  'no-500':
    'Wrap the call of the app and the iteration of its answer in try/except; if nothing has been sent yet, answer 500 Internal Server Error, and keep the server running.',
  'cut-not-closed':
    'When the app fails after the headers went out there is no way to tell the client but closing: close the connection instead of waiting for the next request.',
  'multithread-wrong': 'Set wsgi.multithread to True when requests run in threads of one process at the same time, and to False when they run one after another.',
  'app-reloaded': 'Import the app once, when the server starts, not inside the function that handles a request.',
};

export default { codes, hints };
