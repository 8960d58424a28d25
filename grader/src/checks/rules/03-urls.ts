import { defineRules } from '../rules.ts';

// exercises/03-urls/README.md, rule by rule; each check's cases cite the rule named after it.

export default defineRules([
  { id: 'inspect-path', check: 'inspect-path', readme: '`path`: the part before the `?`', source: { spec: 'RFC 3986', section: '3.3', level: 'MUST' } },
  { id: 'percent-decoding', check: 'percent-decoding', readme: 'percent-decoded as UTF-8', source: { spec: 'RFC 3986', section: '2.1', level: 'MUST' } },
  { id: 'plus-in-path', check: 'plus-in-path', readme: '`+` stays `+`', source: { spec: 'RFC 3986', section: '2.2', level: 'MUST' } },
  { id: 'query-string', check: 'query-string', readme: '`query`: the list of `[name, value]` pairs from section 4.', source: { spec: 'WHATWG URL', section: '5.1', level: 'MUST' } },
  { id: 'empty-query', check: 'empty-query', readme: 'both must report\n  the path without the `?` and an empty `query` list', source: { spec: 'WHATWG URL', section: '5.1', level: 'MUST' } },
  { id: 'host-and-port', check: 'host-and-port', readme: 'lower case; no port', source: { spec: 'RFC 3986', section: '3.2.2', level: 'MUST' } },
  { id: 'empty-port', check: 'host-and-port', readme: 'and also when the colon has nothing after it (`host:`)', source: { spec: 'RFC 3986', section: '3.2.3', level: 'SHOULD' } },
  { id: 'ipv6-host', check: 'host-and-port', readme: 'An IPv6 address keeps its brackets', source: { spec: 'RFC 3986', section: '3.2.2', level: 'MUST' } },
  { id: 'absolute-form', check: 'absolute-form', readme: 'from the target in absolute-form, otherwise from the Host header', source: { spec: 'RFC 9112', section: '3.2.2', level: 'MUST' } },
  { id: 'routing', check: 'routing', readme: 'answers `200`, `text/plain; charset=utf-8`, with the body `Hello, <name>!`', source: { course: true, allows: 'any routes', why: 'the routes are specified so the grader can call them' } },
  { id: 'not-found', check: 'not-found', readme: 'Every other path answers `404`', source: { spec: 'RFC 9110', section: '15.5.5', level: 'SHOULD' } },
  { id: 'bad-target', check: 'bad-target', readme: 'A request-target or `Host` that cannot be parsed answers `400`', source: { spec: 'RFC 9112', section: '3.2', level: 'MUST' } },
]);
