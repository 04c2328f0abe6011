/** `claimgate demo token`: ask the running demo IdP (`POST /token`) for a token with chosen claims. */
import { DEMO_IDP_DEFAULTS } from './idp-main.js';

export interface DemoTokenRequest {
  /** The demo IdP's base URL. */
  readonly idp?: string;
  readonly scopes?: readonly string[];
  readonly roles?: readonly string[];
  readonly sub?: string;
  readonly expiresInSeconds?: number;
}

export const DEFAULT_DEMO_IDP = `http://${DEMO_IDP_DEFAULTS.host}:${DEMO_IDP_DEFAULTS.port}`;

/** The IdP's whole answer (`access_token`, `token_type`, `expires_in`). @throws Error with a hint */
export async function requestDemoToken(request: DemoTokenRequest): Promise<Record<string, unknown>> {
  const base = (request.idp ?? DEFAULT_DEMO_IDP).replace(/\/+$/, '');
  const form = new URLSearchParams();
  if (request.scopes?.length) form.set('scope', request.scopes.join(' '));
  if (request.roles?.length) form.set('roles', request.roles.join(','));
  if (request.sub !== undefined) form.set('sub', request.sub);
  if (request.expiresInSeconds !== undefined) form.set('expires_in', String(request.expiresInSeconds));
  let response: Response;
  try {
    response = await fetch(`${base}/token`, { method: 'POST', body: form, signal: AbortSignal.timeout(5000) });
  } catch (e) {
    const cause = (e as Error).cause instanceof Error ? `: ${((e as Error).cause as Error).message}` : '';
    throw new Error(`cannot reach the demo IdP at ${base}${cause} (is \`claimgate demo\` running? pass --idp URL)`);
  }
  const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (!response.ok || typeof body.access_token !== 'string')
    throw new Error(`demo IdP answered ${response.status}: ${String(body.error_description ?? body.error ?? '')}`);
  return body;
}
