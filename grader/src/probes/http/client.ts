import diagnostics from 'node:diagnostics_channel';
import { Client } from 'undici';
import type { Exchange } from '../../report/model.ts';
import { toExchange } from '../raw/transcript.ts';
import { MAX_RECEIVED_BYTES } from '../raw/connection.ts';

// Well-formed traffic from a standard client: undici, the HTTP/1.1 client inside Node's fetch. It
// sends what real clients send (for example lower-case header names) and parses answers with
// llhttp, so a server that only works for hand-made requests is found out.

export interface HttpCall {
  method: string;
  path: string;
  body?: Buffer;
  headers?: Record<string, string>;
}

export interface HttpAnswer {
  call: HttpCall;
  status?: number;
  /** Header fields as received, in order. */
  headers?: Array<[string, string]>;
  body?: Buffer;
  /** undici's code and message when the request failed (UND_ERR_SOCKET, HPE_INVALID_CONSTANT, ...). */
  error?: string;
  errorCode?: string;
  /** The request head undici wrote, and the response as undici read it (head rebuilt from its raw headers). */
  exchange: Exchange;
}

interface Seen {
  sentHead?: string;
  receivedHead?: string;
}

// undici publishes the exact head it writes and the raw headers it reads; calls are matched by
// their request object, so grading several servers at once keeps the transcripts apart.
const seen = new WeakMap<object, Seen>();
let pending: Seen | undefined;
diagnostics.subscribe('undici:request:create', (m) => {
  if (pending) seen.set((m as { request: object }).request, pending);
  pending = undefined;
});
diagnostics.subscribe('undici:client:sendHeaders', (m) => {
  const { request, headers } = m as { request: object; headers: string };
  const s = seen.get(request);
  if (s) s.sentHead = headers;
});
diagnostics.subscribe('undici:request:headers', (m) => {
  const { request, response } = m as { request: object; response: { statusCode: number; statusText: string; headers: Buffer[] } };
  const s = seen.get(request);
  if (!s) return;
  const lines = [];
  for (let i = 0; i + 1 < response.headers.length; i += 2) lines.push(`${response.headers[i]}: ${response.headers[i + 1]}`);
  s.receivedHead = `HTTP/1.1 ${response.statusCode} ${response.statusText}\r\n${lines.map((l) => `${l}\r\n`).join('')}\r\n`;
});

/** One request on its own connection; a failure is an answer with `error`, never a throw. */
export async function httpCall(port: number, call: HttpCall, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<HttpAnswer> {
  const client = new Client(`http://127.0.0.1:${port}`, {
    headersTimeout: opts.timeoutMs,
    bodyTimeout: opts.timeoutMs,
    connectTimeout: opts.timeoutMs,
    maxResponseSize: MAX_RECEIVED_BYTES,
  });
  const s: Seen = {};
  // undici publishes its head before adding the body's length and the blank line; add them as it does.
  const sentHead = () => (s.sentHead === undefined ? '' : `${s.sentHead}${call.body ? `content-length: ${call.body.length}\r\n` : ''}\r\n`);
  const exchange = (body?: Buffer) =>
    toExchange(Buffer.concat([Buffer.from(sentHead(), 'latin1'), call.body ?? Buffer.alloc(0)]), Buffer.concat([Buffer.from(s.receivedHead ?? '', 'latin1'), body ?? Buffer.alloc(0)]), {
      label: `${call.method} ${call.path} from undici (response head as undici parsed it)`,
      port,
    });
  try {
    // The request object is created synchronously inside request(): claim it for this call.
    pending = s;
    const promise = client.request({ ...call, reset: true, signal: opts.signal });
    pending = undefined;
    const res = await promise;
    const body = Buffer.from(await res.body.arrayBuffer());
    const headers = Object.entries(res.headers).flatMap(([n, v]): Array<[string, string]> => (Array.isArray(v) ? v.map((x): [string, string] => [n, x]) : v === undefined ? [] : [[n, v]]));
    return { call, status: res.statusCode, headers, body, exchange: exchange(body) };
  } catch (e) {
    const err = e as Error & { code?: string };
    return { call, error: `${err.code ?? err.name}: ${err.message}`, ...(err.code ? { errorCode: err.code } : {}), exchange: exchange() };
  } finally {
    pending = undefined;
    await client.destroy().catch(() => undefined);
  }
}
