/**
 * RFC 9728 OAuth 2.0 Protected Resource Metadata: the machine-readable answer to "what does a client
 * need to call this API" (resource identifier, trusted authorization servers, scopes, bearer methods),
 * built once per config from what the config already says.
 */
import type { Config, Requirement } from '../config/schema.js';

/** RFC 9728 §3: the well-known suffix inserted between the host and the resource identifier's path. */
export const WELL_KNOWN_SUFFIX = '/.well-known/oauth-protected-resource';

export interface ResourceMetadata {
  /** The path the document is served at, on the API's own origin. */
  readonly path: string;
  /** The absolute metadata URL, for `WWW-Authenticate: Bearer resource_metadata="..."` (RFC 9728 §5.1). */
  readonly url: string;
  /** The JSON document. */
  readonly body: string;
}

/** RFC 9728 §3.1: `https://api.example.com/v1` → `https://api.example.com/.well-known/oauth-protected-resource/v1`. */
export function metadataLocation(resource: string): { path: string; url: string } {
  const u = new URL(resource);
  const tail = u.pathname === '/' ? '' : u.pathname.replace(/\/+$/, '');
  const path = `${WELL_KNOWN_SUFFIX}${tail}`;
  return { path, url: `${u.origin}${path}` };
}

/** Scope names a route can require: every `scope` leaf outside a `not` (a negated scope is not "supported"). */
function collectScopes(req: Requirement, into: Set<string>): void {
  if ('all' in req) req.all.forEach((r) => collectScopes(r, into));
  else if ('any' in req) req.any.forEach((r) => collectScopes(r, into));
  else if ('scope' in req) for (const s of Array.isArray(req.scope) ? req.scope : [req.scope]) into.add(s);
}

/** The document for a config, or undefined when `resource_metadata` is not configured. */
export function buildResourceMetadata(config: Config): ResourceMetadata | undefined {
  const settings = config.resource_metadata;
  if (settings === undefined) return undefined;
  const scopes = new Set<string>();
  for (const route of config.routes) if (route.require) collectScopes(route.require, scopes);
  // RFC 6750 §2.1 is the only method of the three (header, body, query) claimgate reads.
  const headerBearer = config.issuers.some((i) =>
    i.token_locations.some(
      (l) => 'header' in l && l.header === 'authorization' && l.scheme?.toLowerCase() === 'bearer',
    ),
  );
  const document = {
    resource: settings.resource,
    authorization_servers: [...new Set(config.issuers.map((i) => i.issuer))],
    scopes_supported: [...scopes].sort(),
    bearer_methods_supported: headerBearer ? ['header'] : [],
    ...(settings.resource_name !== undefined ? { resource_name: settings.resource_name } : {}),
    ...(settings.resource_documentation !== undefined
      ? { resource_documentation: settings.resource_documentation }
      : {}),
  };
  return { ...metadataLocation(settings.resource), body: JSON.stringify(document) };
}
