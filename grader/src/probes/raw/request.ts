import type { RawConnection, ReadOptions, SendOptions } from './connection.ts';
import type { ParsedResponse } from './parse-response.ts';

/** One request on a fresh connection: send the bytes, read one strictly parsed response. */
export async function request(
  connect: () => Promise<RawConnection>,
  bytes: string | Buffer,
  opts: ReadOptions & SendOptions = {},
): Promise<{ res: ParsedResponse; conn: RawConnection }> {
  const conn = await connect();
  await conn.send(bytes, opts);
  const res = await conn.readResponse(opts);
  return { res, conn };
}

export interface RequestSpec {
  method?: string;
  target?: string;
  /** `HTTP/1.1` unless given. */
  version?: string;
  /** The Host header's value; `null` leaves the header out. Defaults to the server's address. */
  host?: string | null;
  /** In order; repeated names allowed. */
  headers?: Array<[string, string]> | Record<string, string>;
  /** Sent after the head, with a Content-Length unless `headers` gives one. */
  body?: Buffer | string;
}

/** The bytes of a well-formed request (or a deliberately odd one, through `version` and `headers`). */
export function buildRequest(port: number, spec: RequestSpec): Buffer {
  const method = spec.method ?? 'GET';
  const headers: Array<[string, string]> = [];
  const host = spec.host === undefined ? `127.0.0.1:${port}` : spec.host;
  if (host !== null) headers.push(['Host', host]);
  headers.push(['User-Agent', 'serverlab-grader']);
  const given = Array.isArray(spec.headers) ? spec.headers : Object.entries(spec.headers ?? {});
  headers.push(...given);
  const body = spec.body === undefined ? undefined : typeof spec.body === 'string' ? Buffer.from(spec.body, 'utf8') : spec.body;
  if (body && !headers.some(([n]) => n.toLowerCase() === 'content-length')) headers.push(['Content-Length', String(body.length)]);
  const head = `${method} ${spec.target ?? '/'} ${spec.version ?? 'HTTP/1.1'}\r\n${headers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`;
  return Buffer.concat([Buffer.from(head, 'utf8'), body ?? Buffer.alloc(0)]);
}

/** A plain GET with the headers every HTTP/1.1 client sends. */
export function get(path: string, port: number, headers: Record<string, string> = {}, method = 'GET'): string {
  return buildRequest(port, { method, target: path, headers }).toString('latin1');
}
