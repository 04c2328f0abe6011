/**
 * Compiles a validated config into the structures the request path walks: issuers by exact `iss`,
 * token locations, the route matcher with compiled requirements, and the identity header builder.
 * Runs once per load; the result is frozen and never changes while requests use it.
 */
import { compileBinding, type BindingDeps, type CompiledBinding } from '../binding/binding.js';
import type { KeySource } from '../keys/key-source.js';
import { compileIdentityHeaders, type CompiledIdentity } from './identity.js';
import { compileHeaderReadings, type HeaderReadings } from './upstream-reading.js';
import { compileRoutes, type RouteMatch } from './routes.js';
import type { RequestView } from '../core/types.js';
import { compileLocation, locationId, type CompiledLocation } from '../token/extract.js';
import { compileIssuer, type CompiledIssuer } from '../token/verify.js';
import { createIdentitySigner, type IdentitySigner } from '../upstream-identity/signer.js';
import { expandIssValues } from '../config/issuer-values.js';
import type { Config, IssuerConfig } from '../config/schema.js';
import { buildResourceMetadata, type ResourceMetadata } from './resource-metadata.js';

export interface CompiledConfig {
  readonly source: Config;
  readonly realm: string;
  /** Issuers by exact `iss` value. */
  readonly issuers: ReadonlyMap<string, CompiledIssuer>;
  /** Every token location any issuer accepts, deduplicated. */
  readonly locations: readonly CompiledLocation[];
  readonly matchRoute: (view: RequestView) => RouteMatch;
  readonly identity: CompiledIdentity;
  /**
   * Upstream readings of every header claimgate owns or reads as a credential (identity headers,
   * `payload_header`, token carriers, `authorization`): another spelling of one is refused (P16).
   */
  readonly headerReadings: HeaderReadings;
  /** What a public route strips: every owned header, and with strip_token every token-carrying header. */
  readonly publicRouteRemovals: readonly string[];
  readonly unmatched: Config['unmatched'];
  readonly maxTokenBytes: number;
  readonly keyDeadlineMs: number;
  readonly tokenCache: Config['token_cache'];
  /** Whole-config shadow mode (engine/shadow.ts). */
  readonly shadowMode: boolean;
  /** Signs the upstream identity JWT, when `upstream.identity_jwt` is set (keys read at compile time). */
  readonly upstreamIdentity?: IdentitySigner;
  /** Sender-constrained tokens: DPoP proofs and client certificates (docs/binding.md). */
  readonly binding: CompiledBinding;
  /** RFC 9728 document, when `resource_metadata` is configured. */
  readonly resourceMetadata: ResourceMetadata | undefined;
}

/** Supplies the key source of an issuer; lets a reload keep the caches of unchanged issuers. */
export type KeySourceFactory = (issuer: IssuerConfig) => KeySource;

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Issuers compiled (with their key sources) between two points where a stepped compile may pause. */
const ISSUERS_PER_STEP = 25;

/** Compiles `config` in one go (start-up, `reload()`, tools). */
export function compileConfig(
  config: Config,
  keySourceFor: KeySourceFactory,
  bindingDeps: BindingDeps = {},
): CompiledConfig {
  const steps = compileSteps(config, keySourceFor, bindingDeps);
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
  }
}

/**
 * Compiles `config` in steps of a few milliseconds each, awaiting `betweenSteps` after each, so a file
 * reload lets the event loop answer Checks while a large config compiles (docs/benchmarks.md). Nothing
 * is published before the end: the result is the same frozen object `compileConfig` returns.
 */
export async function compileConfigInSteps(
  config: Config,
  keySourceFor: KeySourceFactory,
  betweenSteps: () => Promise<void>,
  bindingDeps: BindingDeps = {},
): Promise<CompiledConfig> {
  const steps = compileSteps(config, keySourceFor, bindingDeps);
  for (;;) {
    const step = steps.next();
    if (step.done === true) return step.value;
    await betweenSteps();
  }
}

/** The compile, yielding where a stepped compile may pause: after the freeze, every few issuers, around the routes. */
function* compileSteps(
  config: Config,
  keySourceFor: KeySourceFactory,
  bindingDeps: BindingDeps,
): Generator<void, CompiledConfig, void> {
  deepFreeze(config);
  yield;
  const binding = compileBinding(config, bindingDeps);
  yield;
  const locationsById = new Map<string, CompiledLocation>();
  const issuers = new Map<string, CompiledIssuer>();
  let compiledIssuers = 0;
  for (const issuerConfig of config.issuers) {
    if (++compiledIssuers % ISSUERS_PER_STEP === 0) yield;
    const ids = new Set<string>();
    for (const loc of issuerConfig.token_locations) {
      const id = locationId(loc);
      ids.add(id);
      if (!locationsById.has(id)) locationsById.set(id, compileLocation(loc));
    }
    // `Authorization: DPoP` is a location of every issuer once binding is on; the binding step then
    // refuses it where the effective mode is `none`.
    const dpop = binding.dpopLocation;
    if (dpop !== undefined) {
      ids.add(dpop.id);
      if (!locationsById.has(dpop.id)) locationsById.set(dpop.id, dpop);
    }
    // One key source per entry, shared by every exact `iss` value it accepts (aliases, template tenants).
    const keys = keySourceFor(issuerConfig);
    for (const { iss, tenant } of expandIssValues(issuerConfig))
      issuers.set(iss, compileIssuer(issuerConfig, keys, ids, tenant, config.upstream.array_separator));
  }
  const identity = compileIdentityHeaders(config.upstream);
  // A cookie header carries other cookies too, so it is never stripped (documented).
  const carriers = config.upstream.strip_token
    ? [...locationsById.values()].map((l) => l.header).filter((h) => h !== 'cookie')
    : [];
  const upstreamIdentity =
    config.upstream.identity_jwt === undefined ? undefined : createIdentitySigner(config.upstream.identity_jwt);
  const signed = upstreamIdentity === undefined ? [] : [upstreamIdentity.header];
  const publicRouteRemovals = Object.freeze([...new Set([...identity.removeAll, ...signed, ...carriers])]);
  const credentialCarriers = [...locationsById.values()].map((l) => l.header);
  const headerReadings = compileHeaderReadings([...identity.owned, ...signed, ...credentialCarriers, 'authorization']);
  yield;
  const matchRoute = compileRoutes(config.routes, { separator: config.upstream.array_separator });
  yield;
  return Object.freeze({
    source: config,
    realm: config.realm,
    issuers,
    locations: Object.freeze([...locationsById.values()]),
    matchRoute,
    identity,
    headerReadings,
    publicRouteRemovals,
    unmatched: config.unmatched,
    maxTokenBytes: Math.max(...config.issuers.map((i) => i.max_token_bytes)),
    keyDeadlineMs: config.server.check_deadline_ms,
    tokenCache: config.token_cache,
    shadowMode: config.shadow_mode,
    ...(upstreamIdentity === undefined ? {} : { upstreamIdentity }),
    binding,
    resourceMetadata: buildResourceMetadata(config),
  });
}
