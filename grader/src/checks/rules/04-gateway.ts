import { defineRules } from '../rules.ts';

// exercises/04-gateway/README.md, rule by rule. PEP 3333 is the py track's specification; the
// Fetch standard's Request and Response are the ts track's, and the rules say the same of both.

const PEP = 'PEP 3333';
/** Rules that hold on both tracks: PEP 3333's words, which the fetch-handler convention shares. */
const BOTH = 'PEP 3333 (on ts the same for Request and Response)';

export default defineRules([
  { id: 'environ-keys', check: 'environ-keys', readme: 'every key PEP 3333 requires, each of its type', source: { doc: BOTH, says: 'the server must provide the CGI variables (REQUEST_METHOD, SERVER_NAME, SERVER_PORT, SERVER_PROTOCOL, ...) as native strings, and the wsgi.* keys' } },
  { id: 'content-keys', check: 'environ-keys', readme: 'go in `CONTENT_TYPE` and `CONTENT_LENGTH`, never also in `HTTP_CONTENT_TYPE`', source: { doc: BOTH, says: 'HTTP_ variables correspond to the client-supplied headers other than Content-Type and Content-Length, which have CGI variables of their own' } },
  { id: 'path-and-query', check: 'path-and-query', readme: 'each byte as the character of the same number (latin-1)', source: { doc: BOTH, says: 'native strings hold bytes as code points U+0000 to U+00FF; PATH_INFO is decoded, QUERY_STRING is as sent (CGI, RFC 3875 4.1.5 and 4.1.7)' } },
  { id: 'repeated-headers', check: 'repeated-headers', readme: 'joined with commas, in the order they came', source: { spec: 'RFC 9110', section: '5.3', level: 'MAY' } },
  { id: 'request-body', check: 'request-body', readme: 'The app gets exactly the body', source: { doc: BOTH, says: 'wsgi.input is the stream of the request body; the app reads CONTENT_LENGTH bytes from it' } },
  { id: 'input-eof', check: 'request-body', readme: 'every read gives end-of-file: `b\'\'`, at once', source: { course: true, allows: 'reads past CONTENT_LENGTH to wait on the socket (PEP 3333 only says a server should simulate end-of-file there)', why: 'on a kept-alive connection such a read waits for bytes that belong to the next request, or never come, and the app hangs' } },
  { id: 'deferred-headers', check: 'deferred-headers', readme: 'until the app yields its first non-empty chunk', source: { doc: PEP, says: 'start_response must not transmit the headers: it must store them to transmit only after the first iteration that yields a non-empty bytestring, or the first call of write()' } },
  { id: 'exc-info-replaces', check: 'deferred-headers', readme: 'the new status replaces the stored one', source: { doc: PEP, says: 'if exc_info is supplied and no headers have been output yet, start_response should replace the stored status and headers' } },
  { id: 'exc-info-raises', check: 'deferred-headers', readme: 'it must raise: re-raise `exc_info[1]`', source: { doc: PEP, says: 'if the headers have already been sent, start_response must raise an error, and should re-raise using the exc_info tuple' } },
  { id: 'start-twice', check: 'start-response', readme: 'A second call without `exc_info` is an error', source: { doc: PEP, says: 'it is a fatal error to call start_response without exc_info if start_response has already been called within the current invocation' } },
  { id: 'lazy-start', check: 'start-response', readme: 'may call `start_response` only on its first iteration', source: { doc: PEP, says: 'servers must not assume start_response has been called before they begin iterating over the iterable' } },
  { id: 'write-callable', check: 'start-response', readme: 'returns the `write` callable', source: { doc: PEP, says: 'start_response must return a write(body_data) callable; what it writes goes out before anything the iterable yields' } },
  { id: 'close-called', check: 'close-called', readme: 'call its `close()` however the response ends', source: { doc: BOTH, says: 'if the iterable has a close() method, the server must call it upon completion of the current request, whether normally or early due to an application error or an early disconnect of the browser' } },
  { id: 'streaming', check: 'streaming', readme: 'Send each chunk as soon as the app yields it', source: { doc: BOTH, says: 'the server must not delay the transmission of any block; it must either fully transmit the block or guarantee that it will continue transmission while the app produces the next' } },
  { id: 'app-errors', check: 'app-errors', readme: 'answers `500 Internal Server Error`, and serves the next request', source: { course: true, allows: 'a server to answer an app failure however it likes, dropping the connection included', why: 'a server that goes down with one broken page takes every other page with it' } },
  { id: 'error-mid-body', check: 'app-errors', readme: 'close the connection', source: { spec: 'RFC 9112', section: '6.3', level: 'MUST' } },
  { id: 'content-length-cut', check: 'content-length-cut', readme: 'never send more body bytes than the app\'s own `Content-Length`', source: { course: true, allows: 'a server to send what the app yields past its Content-Length (PEP 3333 only says it should not)', why: 'on a kept-alive connection the extra bytes are read as the start of the next response' } },
  { id: 'multithread', check: 'multithread', readme: '`wsgi.multithread` must be `True` exactly when', source: { doc: BOTH, says: 'wsgi.multithread should evaluate true if the application object may be simultaneously invoked by another thread in the same process' } },
  { id: 'loaded-once', check: 'loaded-once', readme: 'Import the app once, when the server starts', source: { course: true, allows: 'a server to import its app whenever it likes', why: 'an app keeps state (connections, caches) in its module, and importing it again per request loses it and costs every request an import' } },
  { id: 'response-headers', check: 'response-headers', readme: 'each `Set-Cookie` on a line of its own', source: { spec: 'RFC 9110', section: '5.3', level: 'MUST' } },
]);
