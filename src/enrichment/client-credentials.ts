/**
 * claimgate's own machine-to-machine access token (OAuth client credentials, RFC 6749 §4.4), for
 * lookups such as Auth0's Management API. Fetched on first use, shared by every Check (single-flight),
 * and renewed before it expires: at the later of half its lifetime and `renew_before_seconds` before
 * `expires_in`. While a renewal fails, the held token is used until it actually expires.
 */
import { compileClientAuth, type ClientAuthConfig } from '../lookup/client-auth.js';
import { exchange, jsonBody, LookupError, reported, type HttpDeps } from '../lookup/http.js';

export interface ClientCredentialsConfig extends ClientAuthConfig {
  readonly token_url: string;
  /** Auth0 wants the API identifier as `audience` (e.g. https://TENANT.auth0.com/api/v2/). */
  readonly audience?: string;
  readonly scope?: string;
  readonly renew_before_seconds: number;
}

export interface M2mTokenDeps extends HttpDeps {
  readonly nowMs: () => number;
  readonly onCall?: (result: string, seconds: number) => void;
}

export interface M2mToken {
  /** A usable access token (cached, renewed as needed). */
  get(): Promise<string>;
  /** The API rejected the held token: fetch a new one next time. */
  invalidate(token: string): void;
}

interface Held {
  readonly token: string;
  readonly renewAtMs: number;
  readonly expiresAtMs: number;
}

export function createM2mToken(
  config: ClientCredentialsConfig,
  limits: { timeoutMs: number; maxBytes: number; allowInsecureHttp: boolean },
  what: string,
  deps: M2mTokenDeps,
): M2mToken {
  const auth = compileClientAuth(config, what);
  let held: Held | undefined;
  let pending: Promise<Held> | undefined;

  const fetchToken = (): Promise<Held> =>
    reported(deps.onCall, async () => {
      const form = new URLSearchParams({ grant_type: 'client_credentials' });
      if (config.audience !== undefined) form.set('audience', config.audience);
      if (config.scope !== undefined) form.set('scope', config.scope);
      const headers = {
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
        ...auth(form, config.token_url, deps.nowMs()),
      };
      const answer = await exchange(
        { url: config.token_url, method: 'POST', headers, body: form.toString() },
        limits,
        deps,
      );
      if (answer.status === 401 || answer.status === 403)
        throw new LookupError('client_rejected', `token endpoint answered ${answer.status}`, answer.status);
      if (answer.status !== 200)
        throw new LookupError('http_status', `token endpoint answered ${answer.status}`, answer.status);
      const body = jsonBody(answer) as Record<string, unknown>;
      const token = body.access_token;
      const expiresIn = body.expires_in;
      if (typeof token !== 'string' || token === '') throw new LookupError('bad_body', 'no access_token in the answer');
      // RFC 6749 §5.1 makes expires_in optional; without it, renew every minute.
      const lifetimeMs = (typeof expiresIn === 'number' && expiresIn > 0 ? expiresIn : 60) * 1000;
      const now = deps.nowMs();
      const renewAfterMs = Math.max(lifetimeMs / 2, lifetimeMs - config.renew_before_seconds * 1000);
      return { token, renewAtMs: now + renewAfterMs, expiresAtMs: now + lifetimeMs };
    });

  const renew = (): Promise<Held> => {
    pending ??= fetchToken()
      .then((h) => (held = h))
      .finally(() => (pending = undefined));
    return pending;
  };

  return {
    async get() {
      const now = deps.nowMs();
      if (held !== undefined && now < held.renewAtMs) return held.token;
      if (held !== undefined && now < held.expiresAtMs) {
        const current = held.token;
        return renew().then(
          (h) => h.token,
          () => current,
        );
      }
      return (await renew()).token;
    },
    invalidate(token) {
      if (held?.token === token) held = undefined;
    },
  };
}
