/**
 * One bounded HTTP GET of a JSON document (discovery or JWKS): a deadline, a body-size cap that is
 * enforced while streaming, same-origin redirects only, HTTPS unless explicitly allowed
 * (SECURITY.md principle 11). Every failure is a FetchError with a stable short code.
 */
import { unrefTimer, type SetTimer } from './timers.js';

/** Stable failure codes, fit for logs, metric labels and `KeySourceState.lastError`. */
export type FetchErrorCode =
  | 'timeout'
  | 'too_large'
  | 'http_status'
  | 'bad_json'
  | 'redirect_cross_origin'
  | 'too_many_redirects'
  | 'insecure_url'
  | 'network'
  | 'aborted';

export class FetchError extends Error {
  constructor(
    readonly code: FetchErrorCode,
    message: string,
    /** HTTP status, for `http_status`. */
    readonly status?: number,
  ) {
    super(message);
    this.name = 'FetchError';
  }
}

export interface FetchLimits {
  /** Deadline for the whole exchange, redirects and body included. */
  readonly timeoutMs: number;
  /** Largest accepted body, in bytes. */
  readonly maxBytes: number;
  /** Permit `http:` URLs (loopback tests and demos only). */
  readonly allowInsecureHttp: boolean;
}

export interface FetchJsonDeps {
  readonly fetch?: typeof fetch;
  readonly setTimer?: SetTimer;
  /** Aborts the fetch from outside (the key source closing). */
  readonly signal?: AbortSignal;
}

export interface FetchedJson {
  readonly body: Record<string, unknown>;
  /** The response's `Cache-Control` header, for the refresh TTL. */
  readonly cacheControl: string | null;
  /** The URL that finally answered (after same-origin redirects). */
  readonly url: string;
}

/** Redirect hops followed before giving up. */
export const MAX_REDIRECTS = 3;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/**
 * GET `url` and parse its body as a JSON object.
 * @throws FetchError
 */
export async function fetchJson(url: string, limits: FetchLimits, deps: FetchJsonDeps = {}): Promise<FetchedJson> {
  const doFetch = deps.fetch ?? globalThis.fetch;
  const controller = new AbortController();
  let timedOut = false;
  const cancelTimer = (deps.setTimer ?? unrefTimer)(() => {
    timedOut = true;
    controller.abort();
  }, limits.timeoutMs);
  const abortFromOutside = () => controller.abort();
  deps.signal?.addEventListener('abort', abortFromOutside, { once: true });
  if (deps.signal?.aborted) controller.abort();
  try {
    let current = checkedUrl(url, limits.allowInsecureHttp);
    for (let hop = 0; ; hop++) {
      const response = await doFetch(current.href, {
        redirect: 'manual',
        signal: controller.signal,
        headers: { accept: 'application/json, application/jwk-set+json' },
      });
      if (REDIRECT_STATUSES.has(response.status)) {
        await discardBody(response);
        current = nextHop(current, response.headers.get('location'), hop);
        continue;
      }
      if (!response.ok) {
        await discardBody(response);
        throw new FetchError('http_status', `HTTP ${response.status} from ${current.href}`, response.status);
      }
      const bytes = await readCapped(response, limits.maxBytes, controller);
      return { body: parseJsonObject(bytes), cacheControl: response.headers.get('cache-control'), url: current.href };
    }
  } catch (error) {
    if (error instanceof FetchError) throw error;
    if (timedOut) throw new FetchError('timeout', `no complete answer within ${limits.timeoutMs} ms`);
    if (deps.signal?.aborted) throw new FetchError('aborted', 'fetch cancelled');
    throw new FetchError('network', `request failed: ${describe(error)}`);
  } finally {
    cancelTimer();
    deps.signal?.removeEventListener('abort', abortFromOutside);
  }
}

function checkedUrl(raw: string, allowInsecureHttp: boolean): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new FetchError('insecure_url', 'not an absolute URL');
  }
  if (url.protocol === 'https:' || (url.protocol === 'http:' && allowInsecureHttp)) return url;
  throw new FetchError('insecure_url', `${url.protocol} URL refused (HTTPS required unless allow_insecure_http)`);
}

/** Follow a redirect only within the same origin: another host could serve keys we never configured. */
function nextHop(current: URL, location: string | null, hop: number): URL {
  if (hop >= MAX_REDIRECTS) throw new FetchError('too_many_redirects', `more than ${MAX_REDIRECTS} redirects`);
  if (location === null) throw new FetchError('http_status', 'redirect without Location');
  let next: URL;
  try {
    next = new URL(location, current);
  } catch {
    throw new FetchError('http_status', 'redirect to an invalid Location');
  }
  if (next.origin !== current.origin)
    throw new FetchError('redirect_cross_origin', `redirect to another origin (${next.origin}) refused`);
  return next;
}

/** Stream the body, aborting as soon as it exceeds the cap (a Content-Length may be absent or lie). */
async function readCapped(response: Response, maxBytes: number, controller: AbortController): Promise<Uint8Array> {
  const declared = Number(response.headers.get('content-length'));
  if (Number.isFinite(declared) && declared > maxBytes) {
    controller.abort();
    throw new FetchError('too_large', `body of ${declared} bytes exceeds ${maxBytes}`);
  }
  if (response.body === null) return new Uint8Array(0);
  const reader: ReadableStreamDefaultReader<Uint8Array> = response.body.getReader();
  // Cancel the read ourselves on abort: the deadline must hold even if a fetch implementation ignores the signal mid-body.
  const cancelRead = () => void reader.cancel().catch(() => {});
  controller.signal.addEventListener('abort', cancelRead, { once: true });
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (controller.signal.aborted) throw new Error('body read aborted');
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      controller.abort();
      throw new FetchError('too_large', `body exceeds ${maxBytes} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, total);
}

/** Parse bytes as a UTF-8 JSON object (arrays and scalars are refused). @throws FetchError `bad_json` */
export function parseJsonObject(bytes: Uint8Array): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw new FetchError('bad_json', 'body is not valid UTF-8 JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new FetchError('bad_json', 'body is not a JSON object');
  return value as Record<string, unknown>;
}

async function discardBody(response: Response): Promise<void> {
  try {
    await response.body?.cancel();
  } catch {
    // Nothing to recover: the answer is already decided.
  }
}

function describe(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
  return error instanceof Error ? `${error.message}${cause}` : String(error);
}
