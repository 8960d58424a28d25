// Failure codes only 09-proxy's checks report, each with its hint (see ../codes.ts and ../../hints/hints.ts).

const codes = {
  'answers-mixed-up': 'a client got the answer meant for another request',
  'no-gateway-timeout': 'a request whose upstream never answered got no 504 in time',
  'stalled-by-upstream': 'an upstream that did not answer kept other requests waiting',
  'wrong-forward': 'the upstream was not asked for the method and path the client sent',
  'body-not-forwarded': 'the request body did not reach the upstream as it was sent',
  'wrong-host': 'the upstream got a Host header other than its own host:port',
  'no-via': 'no Via header names the proxy',
  'hop-by-hop-forwarded': 'a hop-by-hop header was passed on',
  'header-dropped': 'an end-to-end header was lost or changed on the way',
  'hit-reached-upstream': 'a request the cache could answer was sent to the upstream',
  'not-stored': 'an answer of the upstream was not stored in the cache',
  'key-ignores-query': 'two keys that differ in the query string got the same cached answer',
  'error-cached': 'an error answer of the upstream was stored in the cache',
  'cache-failure-fails-request': 'a cache that failed or hung made the request fail',
} as const satisfies Record<string, string>;

const hints: Record<keyof typeof codes, string | null> = {
  'answers-mixed-up':
    'Two requests shared something that should be theirs alone: one connection to the upstream or the cache whose replies go to whoever reads first, or a variable shared by every request. Give each request its own connection, or match every reply to the command that asked for it, in order.',
  'no-gateway-timeout':
    'The call to the upstream has no time limit, so it waits for ever. Give it one of UPSTREAM_TIMEOUT_MS (a socket timeout in Python, a timer that destroys the request in Node) and answer 504 when it runs out.',
  'stalled-by-upstream':
    'The server waited on the upstream for one request before it would take the next. Each request needs its own thread, process, or callback on the event loop, so that one slow upstream call holds up only its own request.',
  'wrong-forward': 'Forward the method as it came, and the path after /proxy with its query string, byte for byte: no decoding, no re-encoding.',
  'body-not-forwarded': 'Read the whole body (Content-Length bytes, over as many reads as it takes) and send all of it to the upstream, with a Content-Length of the same number.',
  'wrong-host': "The client's Host names your server. The upstream must get its own address instead: the host:port of UPSTREAM_URL.",
  'no-via': 'A proxy adds a Via header to what it forwards, both ways: Via: 1.1 followed by a name for itself (RFC 9110 §7.6.3).',
  'hop-by-hop-forwarded':
    'Connection, Keep-Alive, Proxy-Authenticate, Proxy-Authorization, TE, Trailer, Transfer-Encoding and Upgrade belong to one connection, and so do the headers that Connection names: drop them all before you forward, in both directions.',
  'header-dropped': 'Pass on every header that is not hop-by-hop, as it came, repeated ones too (each line, in order).',
  'hit-reached-upstream': 'Ask the cache first, and read its whole reply: VALUE, the data, then END. Only END alone (a miss) sends the request on to the upstream.',
  'not-stored': 'After a miss, store the upstream\'s 200 answer with set KEY 0 0 LENGTH, the data, \\r\\n, and wait for STORED.',
  'key-ignores-query': 'The cache key is everything after /cache/, the query string included: /cache/a?x=1 and /cache/a?x=2 are two keys.',
  'error-cached': 'Store only a 200 answer. An error may be gone by the next request, and a cached one would be served long after.',
  'cache-failure-fails-request':
    'The cache is an optimisation: when it refuses, hangs up or is slow, count it as a miss and ask the upstream. Give the cache calls a time limit (CACHE_TIMEOUT_MS).',
};

export default { codes, hints };
