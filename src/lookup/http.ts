/**
 * One bounded HTTP exchange with an IdP or lookup service (introspection, token endpoint, enrichment):
 * a deadline, a body-size cap enforced while streaming, no redirects (a POST carrying credentials is
 * never replayed elsewhere), HTTPS unless the config allows plain HTTP for loopback tests. Failures are
 * LookupErrors with a stable short code; messages never contain tokens or secrets.
 */
import { unrefTimer, type SetTimer } from '../keys/timers.js';

export type LookupErrorCode =
  'timeout' | 'too_large' | 'http_status' | 'bad_body' | 'insecure_url' | 'network' | 'client_rejected';

export class LookupError extends Error {
  constructor(
    readonly code: LookupErrorCode,
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'LookupError';
  }
}

export interface HttpLimits {
  readonly timeoutMs: number;
  readonly maxBytes: number;
  readonly allowInsecureHttp: boolean;
}

export interface HttpDeps {
  readonly fetch?: typeof fetch;
  readonly setTimer?: SetTimer;
}

export interface HttpRequest {
  readonly url: string;
  readonly method: 'GET' | 'POST';
  readonly headers: Record<string, string>;
  readonly body?: string;
}

export interface HttpAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly text: string;
}

export function checkUrl(url: string, allowInsecureHttp: boolean): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new LookupError('insecure_url', 'not an absolute URL');
  }
  if (parsed.protocol === 'https:' || (parsed.protocol === 'http:' && allowInsecureHttp)) return parsed;
  throw new LookupError('insecure_url', `${parsed.protocol} URLs are not allowed`);
}

/** Sends the request; any status is returned (the caller decides), transport problems throw. */
export async function exchange(request: HttpRequest, limits: HttpLimits, deps: HttpDeps = {}): Promise<HttpAnswer> {
  const url = checkUrl(request.url, limits.allowInsecureHttp);
  const controller = new AbortController();
  let timedOut = false;
  const cancel = (deps.setTimer ?? unrefTimer)(() => {
    timedOut = true;
    controller.abort();
  }, limits.timeoutMs);
  try {
    const response = await (deps.fetch ?? globalThis.fetch)(url.href, {
      method: request.method,
      headers: request.headers,
      body: request.body,
      redirect: 'manual',
      signal: controller.signal,
    });
    const declared = Number(response.headers.get('content-length') ?? '0');
    if (declared > limits.maxBytes) {
      controller.abort();
      throw new LookupError('too_large', `body larger than ${limits.maxBytes} bytes`);
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    if (response.body !== null) {
      for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
        size += chunk.byteLength;
        if (size > limits.maxBytes) {
          controller.abort();
          throw new LookupError('too_large', `body larger than ${limits.maxBytes} bytes`);
        }
        chunks.push(chunk);
      }
    }
    return {
      status: response.status,
      contentType: (response.headers.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase(),
      text: Buffer.concat(chunks).toString('utf8'),
    };
  } catch (e) {
    if (e instanceof LookupError) throw e;
    if (timedOut) throw new LookupError('timeout', `no answer within ${limits.timeoutMs} ms`);
    throw new LookupError('network', `request failed (${(e as Error).name})`);
  } finally {
    cancel();
  }
}

/** Parses a JSON body that must be an object (or, with `array`, may be an array). */
export function jsonBody(answer: HttpAnswer, array = false): unknown {
  let value: unknown;
  try {
    value = JSON.parse(answer.text);
  } catch {
    throw new LookupError('bad_body', 'body is not JSON');
  }
  const ok = typeof value === 'object' && value !== null && (array || !Array.isArray(value));
  if (!ok)
    throw new LookupError('bad_body', array ? 'body is not a JSON object or array' : 'body is not a JSON object');
  return value;
}

/** Runs one remote call and reports its result (`ok` or the LookupError code) and duration. */
export async function reported<T>(
  report: ((result: string, seconds: number) => void) | undefined,
  run: () => Promise<T>,
): Promise<T> {
  const started = process.hrtime.bigint();
  let result = 'ok';
  try {
    return await run();
  } catch (e) {
    result = e instanceof LookupError ? e.code : 'error';
    throw e;
  } finally {
    report?.(result, Number(process.hrtime.bigint() - started) / 1e9);
  }
}
