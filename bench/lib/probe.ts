/**
 * One real request per scenario before and a counter scrape after each load run: a benchmark that
 * measured denials (an expired token, a wrong route) instead of the intended path would be worthless.
 */
import { connect, type IncomingHttpHeaders } from 'node:http2';
import { checkMessageTypes } from '../../src/envoy/proto.js';

export const CHECK_PATH = '/envoy.service.auth.v3.Authorization/Check';

export interface GrpcProbe {
  readonly grpcStatus: string | undefined;
  /** CheckResponse.status.code (0 allow, 16 unauthenticated, 7 permission denied). */
  readonly code: number;
  /** Header names the answer sets upstream (allow). */
  readonly headersSet: string[];
}

export async function probeGrpc(port: number, frame: Buffer): Promise<GrpcProbe> {
  const session = connect(`http://127.0.0.1:${port}`);
  try {
    return await new Promise<GrpcProbe>((resolve, reject) => {
      session.once('error', reject);
      const req = session.request({
        ':method': 'POST',
        ':path': CHECK_PATH,
        'content-type': 'application/grpc',
        te: 'trailers',
      });
      const chunks: Buffer[] = [];
      let grpcStatus: string | undefined;
      const timer = setTimeout(() => reject(new Error('probe timed out')), 5000);
      req.on('response', (headers) => {
        const s = headers['grpc-status'];
        if (typeof s === 'string') grpcStatus = s;
      });
      req.on('trailers', (trailers: IncomingHttpHeaders) => {
        const s = trailers['grpc-status'];
        if (typeof s === 'string') grpcStatus = s;
      });
      req.on('data', (c: Buffer) => chunks.push(c));
      req.once('error', (e: Error) => (clearTimeout(timer), reject(e)));
      req.once('end', () => {
        clearTimeout(timer);
        const data = Buffer.concat(chunks);
        if (data.length < 5) return resolve({ grpcStatus, code: -1, headersSet: [] });
        const { CheckResponse } = checkMessageTypes();
        const msg = CheckResponse.toObject(CheckResponse.decode(data.subarray(5, 5 + data.readUInt32BE(1))), {
          defaults: true,
        }) as {
          status?: { code?: number };
          ok_response?: { headers?: { header?: { key?: string } }[] };
        };
        resolve({
          grpcStatus,
          code: msg.status?.code ?? 0,
          headersSet: (msg.ok_response?.headers ?? []).map((h) => h.header?.key ?? ''),
        });
      });
      req.end(frame);
    });
  } finally {
    session.close();
  }
}

export async function probeHttp(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, string> }> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(5000) });
  await res.arrayBuffer();
  return { status: res.status, headers: Object.fromEntries(res.headers.entries()) };
}

export interface ServerCounters {
  /** decision/reason → Checks answered. */
  readonly decisions: Record<string, number>;
  /** hit / miss / negative_hit → lookups. */
  readonly tokenCache: Record<string, number>;
}

const labelOf = (labels: string, name: string) => new RegExp(`${name}="([^"]*)"`).exec(labels)?.[1] ?? '';

/** claimgate's own counters from its Prometheus endpoint. */
export async function scrapeCounters(adminPort: number): Promise<ServerCounters> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/metrics`, { signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  const decisions: Record<string, number> = {};
  const tokenCache: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const m = /^(claimgate_checks_total|claimgate_token_cache_requests_total)\{([^}]*)\} (\S+)$/.exec(line);
    if (!m || m[2] === undefined) continue;
    const value = Number(m[3]);
    if (m[1] === 'claimgate_checks_total') {
      const key = `${labelOf(m[2], 'decision')}/${labelOf(m[2], 'reason')}`;
      decisions[key] = (decisions[key] ?? 0) + value;
    } else {
      const key = labelOf(m[2], 'result');
      tokenCache[key] = (tokenCache[key] ?? 0) + value;
    }
  }
  return { decisions, tokenCache };
}
