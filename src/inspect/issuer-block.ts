/** The issuer entry `issuer inspect` proposes for the config, from what the IdP and the sample token say. */
import type { Algorithm } from '../config/schema.js';
import type { SampleTokenReport } from './sample-token.js';
import { AT_JWT } from './token-shape.js';

/** The token's `alg` when a published key can verify it; else what the keys can do, narrowed to the advertised list. */
export function chooseAlgorithms(
  tokenAlg: string | undefined,
  keyAlgs: ReadonlySet<Algorithm>,
  advertised: readonly string[] | undefined,
): Algorithm[] {
  if (tokenAlg !== undefined && keyAlgs.has(tokenAlg as Algorithm)) return [tokenAlg as Algorithm];
  const fromKeys = [...keyAlgs];
  const narrowed = advertised ? fromKeys.filter((a) => advertised.includes(a)) : fromKeys;
  return narrowed.length > 0 ? narrowed : fromKeys.length > 0 ? fromKeys : ['RS256'];
}

function shortName(url: URL): string {
  if (/^[\d.]+$|:/.test(url.hostname)) return 'partner';
  const name =
    url.hostname
      .split('.')[0]
      ?.toLowerCase()
      .replace(/[^a-z0-9_.-]/g, '-') ?? 'partner';
  return /^[a-z0-9]/.test(name) ? name.slice(0, 63) : 'partner';
}

/** The `issuers[]` entry: the discovery's exact issuer, the audience, and only the switches the evidence calls for. */
export function issuerBlock(
  issuer: string,
  url: URL,
  loopback: boolean,
  audience: string | undefined,
  algorithms: Algorithm[],
  token: SampleTokenReport | undefined,
): Record<string, unknown> {
  const legacy = token !== undefined && !(token.typ !== undefined && AT_JWT.test(token.typ));
  const roles = token?.shape?.roles?.claim;
  return {
    name: shortName(url),
    issuer,
    audiences: [audience ?? 'REPLACE-WITH-AUDIENCE'],
    algorithms,
    ...(legacy ? { token_type: 'legacy' } : {}),
    ...(roles !== undefined && roles !== 'roles' ? { roles_claim: roles } : {}),
    ...(url.protocol === 'http:' && loopback ? { allow_insecure_http: true } : {}),
  };
}
