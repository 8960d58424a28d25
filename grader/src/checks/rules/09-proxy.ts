import { defineRules } from '../rules.ts';

// exercises/09-proxy/README.md, rule by rule.

export default defineRules([
  { id: 'hash', check: 'answers-routes', readme: '`GET /hash?rounds=N&seed=S` answers `200` with the hex digits of h_N and a newline', source: { course: true, allows: 'any body', why: 'a CPU-bound request whose answer the grader can check, to set beside the waiting ones' } },
  { id: 'numbers', check: 'answers-routes', readme: '`rounds` must be a whole number from 1 to 10000000, or the answer is `400`', source: { spec: 'RFC 9110', section: '15.5.1', level: 'SHOULD' } },
  { id: 'not-found', check: 'answers-routes', readme: 'Any other path is answered `404`', source: { spec: 'RFC 9110', section: '15.5.5', level: 'SHOULD' } },
  { id: 'forward-path', check: 'answers-routes', readme: 'is forwarded to `UPSTREAM_URL/<rest>`, with the query string as it came', source: { course: true, allows: 'any mapping of paths to the upstream', why: 'a fixed mapping is what lets the grader see at the upstream what your server sent' } },
  { id: 'at-once', check: 'proxy-concurrent', readme: 'a request never waits for another request\'s upstream call', source: { course: true, allows: 'a proxy that forwards one request at a time', why: 'a proxy spends its time waiting on the network, and serving while it waits is the lesson of the concurrency lecture' } },
  { id: 'right-client', check: 'proxy-concurrent', readme: 'each answer goes back to the client whose request it is', source: { spec: 'RFC 9112', section: '9.3', level: 'MUST' } },
  { id: 'gateway-timeout', check: 'upstream-timeout', readme: 'answer `504 Gateway Timeout` and hang up on the upstream', source: { spec: 'RFC 9110', section: '15.6.5', level: 'SHOULD' } },
  { id: 'no-stall', check: 'upstream-timeout', readme: 'An upstream that never answers holds up only the request that waits for it.', source: { course: true, allows: 'anything while an upstream is silent', why: 'a silent upstream is the usual failure, and it must not take the whole server down with it' } },
  { id: 'bad-gateway', check: 'upstream-fails', readme: 'answer `502 Bad Gateway`', source: { spec: 'RFC 9110', section: '15.6.3', level: 'SHOULD' } },
  { id: 'lives-on', check: 'upstream-fails', readme: 'the server goes on serving', source: { course: true, allows: 'anything after an error', why: 'an upstream that fails is something a proxy meets every day' } },
  { id: 'method-body', check: 'request-headers', readme: 'with the same method and the same body, byte for byte', source: { spec: 'RFC 9110', section: '7.6', level: 'MUST' } },
  { id: 'host', check: 'request-headers', readme: 'Set `Host` to the upstream\'s `host:port`', source: { spec: 'RFC 9110', section: '7.2', level: 'MUST' } },
  { id: 'via', check: 'request-headers', readme: 'Add `Via: 1.1 <name>`', source: { spec: 'RFC 9110', section: '7.6.3', level: 'MUST' } },
  { id: 'hop-by-hop', check: 'request-headers', readme: 'Drop the hop-by-hop headers', source: { spec: 'RFC 9110', section: '7.6.1', level: 'MUST' } },
  { id: 'end-to-end', check: 'request-headers', readme: 'Every other header goes on as it came, repeated ones too', source: { course: true, allows: 'a proxy that adds or changes end-to-end headers', why: 'the upstream must see what the client meant, and the grader can only tell that from an exact copy' } },
  { id: 'response-passed', check: 'response-headers', readme: "The upstream's status, its headers (but the hop-by-hop ones) and its body go back to the client", source: { spec: 'RFC 9110', section: '7.6', level: 'MUST' } },
  { id: 'cache-hit', check: 'cache-hit', readme: 'A hit answers `200` with the stored value, and the upstream is not asked', source: { course: true, allows: 'any use of a cache', why: 'a cache that still calls the upstream saves nothing' } },
  { id: 'whole-reply', check: 'cache-hit', readme: 'Read each reply until it is whole', source: { doc: 'memcached protocol.txt', says: 'the data block of VALUE is followed by \\r\\n, and the reply to get ends with END\\r\\n; TCP delivers it in pieces of any size' } },
  { id: 'x-cache', check: 'cache-hit', readme: '`X-Cache: HIT` or `X-Cache: MISS`', source: { course: true, allows: 'no such header', why: 'it shows you, and the grader, where an answer came from' } },
  { id: 'cache-fill', check: 'cache-miss', readme: 'A miss asks the upstream for `/<key>`, and stores its answer in the cache with `set` when it is a `200`', source: { course: true, allows: 'any use of a cache', why: 'the next request for the key is then a hit' } },
  { id: 'cache-key', check: 'cache-miss', readme: 'The key is everything after `/cache/`, the query string included', source: { course: true, allows: 'any key', why: 'the upstream may answer differently for another query, so the query is part of what is cached' } },
  { id: 'no-errors-cached', check: 'cache-errors', readme: 'Any other status goes to the client as it came, and is not stored', source: { course: true, allows: 'caching some error answers (RFC 9111 §3)', why: 'an error is often gone by the next request, and a cached one would be served long after' } },
  { id: 'cache-optional', check: 'cache-down', readme: 'A cache that hangs up or has not answered within `CACHE_TIMEOUT_MS` counts as a miss', source: { course: true, allows: 'anything when the cache fails', why: 'a cache is an optimisation: when it fails, the request should only be slower' } },
  { id: 'own-replies', check: 'cache-concurrent', readme: 'each reply from the cache goes to the request that sent its command', source: { doc: 'memcached protocol.txt', says: 'the server answers the commands of one connection in the order they came' } },
  { id: 'throughput', check: 'under-load', readme: 'with an upstream that takes d seconds, c clients get about c / d answers per second', source: { course: true, allows: 'any speed', why: 'a proxy mostly waits, and a model that overlaps the waits serves c clients as fast as the upstream lets it' } },
]);
