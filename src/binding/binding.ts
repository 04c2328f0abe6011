/**
 * The sender-constraint step of a decision (docs/binding.md), run after the token verified and before
 * the route's requirements. It decides, from the token's `cnf` claim, how the request must prove it
 * comes from the token's holder, and whether the route and issuer accept that:
 *
 * - `Authorization: DPoP <token>` → a DPoP proof (RFC 9449) whose key is the token's `cnf.jkt`;
 * - `Authorization: Bearer <token>` with `cnf.x5t#S256` → the client certificate (RFC 8705);
 * - a token with any other `cnf` as a plain bearer token → refused (`ERR_TOKEN_BOUND`), whatever the
 *   binding mode: a bound token was meant to be useless to whoever merely holds it.
 *
 * Modes: `none` (the default) accepts only unbound tokens; `allowed` also accepts bound tokens with
 * their proof; `required` accepts only bound tokens with their proof. The route's mode overrides the
 * issuer's, except that an issuer's `required` is never lowered.
 */
import { readFileSync } from 'node:fs';
import type { BindingMode, BindingSettings, Config } from '../config/schema.js';
import { dpopChallenge } from '../engine/answer.js';
import type { ReasonCode } from '../engine/reasons.js';
import type { BindingKind, HeaderToSet, RequestView } from '../engine/types.js';
import { compileTrust, type PeerTrust } from '../http/trust.js';
import { compileLocation, type CompiledLocation } from '../token/extract.js';
import type { Claims } from '../token/parse.js';
import { derThumbprint, pemThumbprint, xfccThumbprint, type CertificateSource } from './certificate.js';
import { createNonceIssuer, type NonceIssuer } from './dpop-nonce.js';
import { createReplayMemory, type ReplayMemory } from './dpop-replay.js';
import { verifyDpopProof, type DpopPolicy } from './dpop.js';

/** The token location of `Authorization: DPoP <token>` (RFC 9449 §7.1). */
export const DPOP_LOCATION = compileLocation({ header: 'authorization', scheme: 'DPoP' });

export interface BindingInput {
  readonly view: RequestView;
  readonly rawToken: string;
  readonly location: CompiledLocation;
  readonly claims: Claims;
  readonly issuerName: string;
  readonly routeName: string | undefined;
  readonly nowMs: number;
}

export type BindingResult =
  | { readonly ok: true; readonly kind: BindingKind }
  | {
      readonly ok: false;
      readonly reason: ReasonCode;
      readonly kind: BindingKind;
      /** A DPoP challenge to answer with (RFC 9449 §7.1), when the failure is about DPoP. */
      readonly challenge?: string;
      readonly headers?: readonly HeaderToSet[];
    };

export interface CompiledBinding {
  /** Set when some issuer or route accepts bound tokens: `Authorization: DPoP` is then a token location. */
  readonly dpopLocation: CompiledLocation | undefined;
  check(input: BindingInput): BindingResult;
}

/** Whether any issuer or route turns binding on (the DPoP location is compiled only then). */
export function bindingInUse(config: Pick<Config, 'issuers' | 'routes'>): boolean {
  return [...config.issuers, ...config.routes].some((e) => e.binding !== undefined && e.binding !== 'none');
}

export function effectiveMode(issuer: BindingMode | undefined, route: BindingMode | undefined): BindingMode {
  if (issuer === 'required') return 'required';
  return route ?? issuer ?? 'none';
}

/** The process-wide replay memory: created once, kept across reloads (see dpop-replay.ts). */
let processReplayMemory: ReplayMemory | undefined;
export function replayMemoryFor(settings: BindingSettings): ReplayMemory {
  const wanted = settings.dpop.replay_cache_entries;
  if (processReplayMemory === undefined) processReplayMemory = createReplayMemory(wanted);
  else processReplayMemory.setMaxEntries(wanted);
  return processReplayMemory;
}

function readNonceSecret(path: string): Buffer {
  const secret = readFileSync(path);
  if (secret.length < 32) throw new Error(`binding.dpop.nonce.secret_file: ${path} holds fewer than 32 bytes`);
  return secret;
}

export interface BindingDeps {
  readonly replay?: ReplayMemory;
  readonly nonces?: NonceIssuer;
}

export function compileBinding(
  config: Pick<Config, 'issuers' | 'routes' | 'binding' | 'realm'>,
  deps: BindingDeps = {},
): CompiledBinding {
  const settings = config.binding;
  const issuerModes = new Map(config.issuers.map((i) => [i.name, i.binding]));
  const routeModes = new Map(config.routes.map((r) => [r.name, r.binding]));
  const inUse = bindingInUse(config);
  const dpop = settings.dpop;
  const nonces = dpop.nonce.required
    ? (deps.nonces ??
      createNonceIssuer(
        dpop.nonce.lifetime_seconds,
        dpop.nonce.secret_file === undefined ? undefined : readNonceSecret(dpop.nonce.secret_file),
      ))
    : undefined;
  const policy: DpopPolicy = {
    algorithms: new Set(dpop.algorithms),
    maxAgeSeconds: dpop.proof_max_age_seconds,
    clockSkewSeconds: dpop.clock_skew_seconds,
    replay: deps.replay ?? replayMemoryFor(settings),
    // A proof is accepted while iat ≥ now − max age − skew, and iat ≤ arrival + skew.
    replayLifetimeMs: (dpop.proof_max_age_seconds + 2 * dpop.clock_skew_seconds) * 1000,
    ...(nonces === undefined ? {} : { nonces }),
  };
  const algs = dpop.algorithms.join(' ');
  const certificateOf = compileCertificateSources(settings.certificate);

  const dpopFailure = (reason: ReasonCode, nowMs: number): BindingResult => {
    const nonceHeader =
      nonces !== undefined && (reason === 'ERR_DPOP_NONCE_MISSING' || reason === 'ERR_DPOP_NONCE_INVALID')
        ? [{ name: 'dpop-nonce', value: nonces.current(nowMs) }]
        : undefined;
    return {
      ok: false,
      reason,
      kind: 'dpop',
      challenge: dpopChallenge(config.realm, reason, algs),
      ...(nonceHeader === undefined ? {} : { headers: nonceHeader }),
    };
  };

  return {
    dpopLocation: inUse ? DPOP_LOCATION : undefined,
    check(input) {
      const mode = effectiveMode(
        issuerModes.get(input.issuerName),
        input.routeName === undefined ? undefined : routeModes.get(input.routeName),
      );
      const cnf = Object.hasOwn(input.claims, 'cnf') ? input.claims.cnf : undefined;
      const confirmation = isObject(cnf) ? cnf : undefined;

      if (input.location.id === DPOP_LOCATION.id) {
        if (mode === 'none') return { ok: false, reason: 'ERR_TOKEN_LOCATION_NOT_ALLOWED', kind: 'dpop' };
        if (typeof confirmation?.jkt !== 'string') return dpopFailure('ERR_DPOP_TOKEN_NOT_BOUND', input.nowMs);
        const proof = verifyDpopProof(
          {
            proofs: input.view.headers.get('dpop'),
            method: input.view.method,
            htu: requestUri(input.view),
            accessToken: input.rawToken,
            cnf: confirmation,
            nowMs: input.nowMs,
          },
          policy,
        );
        if (!proof.ok) return dpopFailure(proof.reason, input.nowMs);
        // A token bound to both a key and a certificate must satisfy both.
        if (Object.hasOwn(confirmation, 'x5t#S256')) {
          const cert = checkCertificate(confirmation['x5t#S256'], certificateOf(input.view));
          if (cert !== undefined) return { ok: false, reason: cert, kind: 'mtls' };
        }
        return { ok: true, kind: 'dpop' };
      }

      if (cnf === undefined) {
        return mode === 'required'
          ? { ok: false, reason: 'ERR_TOKEN_NOT_BOUND', kind: 'bearer' }
          : { ok: true, kind: 'bearer' };
      }
      // From here the token is bound and arrived without a DPoP proof.
      if (mode === 'none' || confirmation === undefined || Object.hasOwn(confirmation, 'jkt'))
        return { ok: false, reason: 'ERR_TOKEN_BOUND', kind: 'bearer' };
      if (!Object.hasOwn(confirmation, 'x5t#S256')) return { ok: false, reason: 'ERR_TOKEN_BOUND', kind: 'bearer' };
      const cert = checkCertificate(confirmation['x5t#S256'], certificateOf(input.view));
      return cert === undefined ? { ok: true, kind: 'mtls' } : { ok: false, reason: cert, kind: 'mtls' };
    },
  };
}

/** Failure reason for a certificate-bound token, or undefined when the certificate matches. */
function checkCertificate(expected: unknown, presented: string | undefined): ReasonCode | undefined {
  if (typeof expected !== 'string' || presented === undefined) return 'ERR_TOKEN_BOUND';
  return expected === presented ? undefined : 'ERR_CERTIFICATE_MISMATCH';
}

/** The client certificate's thumbprint from the first configured source that has one. */
function compileCertificateSources(
  settings: BindingSettings['certificate'],
): (view: RequestView) => string | undefined {
  const xfccTrust: PeerTrust | undefined =
    settings.xfcc_trusted_proxies === undefined ? undefined : compileTrust(settings.xfcc_trusted_proxies);
  const readers: Record<CertificateSource, (view: RequestView) => string | undefined> = {
    peer_certificate: (view) =>
      view.envoyPeerCertificate === undefined || view.envoyPeerCertificate === ''
        ? undefined
        : pemThumbprint(view.envoyPeerCertificate),
    tls_connection: (view) =>
      view.tlsPeerCertificate === undefined || view.tlsPeerCertificate.length === 0
        ? undefined
        : derThumbprint(view.tlsPeerCertificate),
    xfcc: (view) =>
      xfccTrust?.trusted(view.peerAddress) === true
        ? xfccThumbprint(view.headers.get('x-forwarded-client-cert'))
        : undefined,
  };
  const order = settings.sources.map((s) => readers[s]);
  return (view) => {
    for (const read of order) {
      const thumbprint = read(view);
      if (thumbprint !== undefined) return thumbprint;
    }
    return undefined;
  };
}

/**
 * The URI the client addressed, for `htu`: scheme and authority as the proxy in front of claimgate saw
 * them, and the path without query. Undefined when the adapter did not learn the scheme.
 */
export function requestUri(view: RequestView): string | undefined {
  const scheme = view.scheme?.toLowerCase();
  if (scheme !== 'https' && scheme !== 'http') return undefined;
  const authority = view.authority ?? view.host;
  if (authority === '') return undefined;
  const q = view.path.search(/[?#]/);
  const path = q === -1 ? view.path : view.path.slice(0, q);
  if (!path.startsWith('/')) return undefined;
  return `${scheme}://${authority}${path}`;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
