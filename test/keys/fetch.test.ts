import { fetchJson, FetchError, MAX_REDIRECTS, type FetchErrorCode, type FetchLimits } from '../../src/keys/fetch.js';
import { FakeIdp } from '../support/fake-idp.js';
import { FakeClock, flushMicrotasks } from './fake-clock.js';

const limits: FetchLimits = { timeoutMs: 2000, maxBytes: 4096, allowInsecureHttp: true };

async function failure(promise: Promise<unknown>): Promise<FetchError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(FetchError);
    return error as FetchError;
  }
  throw new Error('expected the fetch to fail');
}
async function code(promise: Promise<unknown>): Promise<FetchErrorCode> {
  return (await failure(promise)).code;
}

describe('fetchJson', () => {
  let idp: FakeIdp;
  let other: FakeIdp;
  beforeAll(async () => {
    idp = await FakeIdp.start({ keys: [] });
    other = await FakeIdp.start({ keys: [] });
  });
  afterEach(() => {
    idp.heal();
    other.heal();
  });
  afterAll(async () => {
    await idp.close();
    await other.close();
  });

  it('returns the JSON object and the Cache-Control header', async () => {
    idp.cacheControl = 'public, max-age=120';
    const result = await fetchJson(idp.jwksUri, limits);
    idp.cacheControl = undefined;
    expect(result.body).toEqual({ keys: [] });
    expect(result.cacheControl).toBe('public, max-age=120');
    expect(result.url).toBe(idp.jwksUri);
  });

  it('refuses plain http unless allowed, and non-http schemes always', async () => {
    const before = idp.count('/jwks');
    expect(await code(fetchJson(idp.jwksUri, { ...limits, allowInsecureHttp: false }))).toBe('insecure_url');
    expect(await code(fetchJson('file:///etc/passwd', limits))).toBe('insecure_url');
    expect(await code(fetchJson('not a url', limits))).toBe('insecure_url');
    expect(idp.count('/jwks')).toBe(before);
  });

  it('reports a non-2xx answer as http_status with the status', async () => {
    idp.misbehave('/jwks', { kind: 'status', status: 500 });
    const error = await failure(fetchJson(idp.jwksUri, limits));
    expect([error.code, error.status]).toEqual(['http_status', 500]);
  });

  it('reports non-JSON and non-object JSON as bad_json', async () => {
    idp.misbehave('/jwks', { kind: 'garbage' });
    expect(await code(fetchJson(idp.jwksUri, limits))).toBe('bad_json');
    idp.misbehave('/jwks', { kind: 'json', body: [1, 2] });
    expect(await code(fetchJson(idp.jwksUri, limits))).toBe('bad_json');
    idp.misbehave('/jwks', { kind: 'json', body: 'keys' });
    expect(await code(fetchJson(idp.jwksUri, limits))).toBe('bad_json');
  });

  it.each([true, false])(
    'refuses a body over the cap (Content-Length sent: %s) without reading it all',
    async (declareLength) => {
      idp.misbehave('/jwks', { kind: 'huge', bytes: 50 * 1024 * 1024, declareLength });
      const error = await failure(fetchJson(idp.jwksUri, limits));
      expect(error.code).toBe('too_large');
    },
  );

  it('accepts a body of exactly the cap', async () => {
    idp.misbehave('/jwks', { kind: 'huge', bytes: limits.maxBytes, declareLength: false });
    await expect(fetchJson(idp.jwksUri, limits)).resolves.toMatchObject({ body: { keys: [] } });
  });

  it('follows a same-origin redirect', async () => {
    idp.misbehave('/old-jwks', { kind: 'redirect', location: '/jwks', status: 301 });
    const result = await fetchJson(`${idp.origin}/old-jwks`, limits);
    expect(result.url).toBe(idp.jwksUri);
  });

  it('refuses a redirect to another origin without contacting it', async () => {
    idp.misbehave('/jwks', { kind: 'redirect', location: other.jwksUri });
    expect(await code(fetchJson(idp.jwksUri, limits))).toBe('redirect_cross_origin');
    expect(other.count('/jwks')).toBe(0);
  });

  it(`gives up after ${MAX_REDIRECTS} redirects`, async () => {
    idp.misbehave('/loop', { kind: 'redirect', location: '/loop', status: 307 });
    const before = idp.count('/loop');
    expect(await code(fetchJson(`${idp.origin}/loop`, limits))).toBe('too_many_redirects');
    expect(idp.count('/loop') - before).toBe(MAX_REDIRECTS + 1);
  });

  it('reports a refused connection as network', async () => {
    const down = await FakeIdp.start();
    const url = down.jwksUri;
    await down.close();
    expect(await code(fetchJson(url, limits))).toBe('network');
  });

  it('times out a hanging IdP when the (injected) clock passes the timeout', async () => {
    const clock = new FakeClock();
    idp.misbehave('/jwks', { kind: 'hang' });
    let settled = false;
    const outcome = code(fetchJson(idp.jwksUri, limits, { setTimer: clock.setTimer })).finally(() => (settled = true));
    await clock.advance(limits.timeoutMs - 1);
    await flushMicrotasks();
    expect(settled).toBe(false);
    await clock.advance(1);
    expect(await outcome).toBe('timeout');
  });

  it('times out a body that stops half way', async () => {
    const clock = new FakeClock();
    const stalling: typeof fetch = async () =>
      new Response(new ReadableStream({ start: (c) => c.enqueue(new TextEncoder().encode('{"keys":')) }), {
        status: 200,
      });
    const outcome = code(fetchJson('https://idp.invalid/jwks', limits, { setTimer: clock.setTimer, fetch: stalling }));
    await flushMicrotasks();
    await clock.advance(limits.timeoutMs);
    expect(await outcome).toBe('timeout');
  });

  it('is aborted by an outside signal', async () => {
    idp.misbehave('/jwks', { kind: 'hang' });
    const controller = new AbortController();
    const pending = fetchJson(idp.jwksUri, limits, { signal: controller.signal });
    controller.abort();
    expect(await code(pending)).toBe('aborted');
  });
});
