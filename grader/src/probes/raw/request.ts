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

/** A plain GET with the headers every HTTP/1.1 client sends. */
export function get(path: string, port: number, headers: Record<string, string> = {}, method = 'GET'): string {
  const lines = [`${method} ${path} HTTP/1.1`, `Host: 127.0.0.1:${port}`, 'User-Agent: serverlab-grader', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  return `${lines.join('\r\n')}\r\n\r\n`;
}
