/**
 * Checks that span several parts of a config (unique names, issuer references from routes, opaque_tokens
 * and enrichment, header clashes, CEL conditions reading owned headers). They
 * run on whatever parts validated, even when others did not, so a user sees every problem at once
 * instead of meeting these only after fixing the schema errors.
 */
import type { z } from 'zod';
import { issValuesOf } from './issuer-values.js';
import {
  enrichmentSchema,
  headerName,
  identityHeader,
  identityJwtSchema,
  issuerSchema,
  opaqueTokenRule,
  routeSchema,
  type Config,
  type Requirement,
} from './schema.js';

export interface PathProblem {
  readonly path: readonly (string | number)[];
  readonly message: string;
}

/** Headers a proxy or HTTP itself owns: claimgate never sets them. */
const RESERVED_HEADERS = new Set([
  'host',
  'authorization',
  'cookie',
  'content-length',
  'transfer-encoding',
  'connection',
  'te',
  'upgrade',
]);
const isProtocolHeader = (name: string) => RESERVED_HEADERS.has(name) || name.startsWith(':');

type Indexed<T> = readonly (readonly [index: number, value: T])[];

/** The entries of `raw` (when it is a list) that `schema` accepts, with their index. */
function validEntries<T>(raw: unknown, schema: z.ZodType<T>): Indexed<T> {
  if (!Array.isArray(raw)) return [];
  const out: [number, T][] = [];
  raw.forEach((entry, i) => {
    const parsed = schema.safeParse(entry);
    if (parsed.success) out.push([i, parsed.data]);
  });
  return out;
}

const field = (value: unknown, key: string): unknown =>
  value !== null && typeof value === 'object' && !Array.isArray(value)
    ? (value as Record<string, unknown>)[key]
    : undefined;

const indexed = <T>(list: readonly T[]): Indexed<T> => list.map((v, i) => [i, v] as const);

/**
 * Runs every cross-part check on the raw (parsed) config. With `validated` (the whole config passed
 * the schema) its parts are used as they are; otherwise each part is validated on its own first.
 */
export function crossCheck(raw: unknown, validated?: Config): PathProblem[] {
  const problems: PathProblem[] = [];
  const rawIssuers = field(raw, 'issuers');
  // Names count even on an issuer with other mistakes, so a reference to it is not reported as well.
  const issuerNames = uniqueNames(rawIssuers, 'issuers', problems);
  const byIss = new Map<string, number>();
  const issuers = validated ? indexed(validated.issuers) : validEntries(rawIssuers, issuerSchema);
  for (const [i, issuer] of issuers) {
    for (const value of issValuesOf(issuer)) {
      const previous = byIss.get(value);
      if (previous !== undefined)
        problems.push({
          path: ['issuers', i, 'issuer'],
          message: `duplicates the issuer of issuers[${previous}]${value === issuer.issuer ? '' : ` (${value})`}`,
        });
      byIss.set(value, i);
    }
  }

  const rawRoutes = field(raw, 'routes');
  uniqueNames(rawRoutes, 'routes', problems);
  const routes = validated ? indexed(validated.routes) : validEntries(rawRoutes, routeSchema);
  for (const [i, route] of routes) {
    if (route.require) issuerRefs(route.require, ['routes', i, 'require'], issuerNames, problems);
    if (route.shadow) issuerRefs(route.shadow.require, ['routes', i, 'shadow', 'require'], issuerNames, problems);
  }

  const upstream = field(raw, 'upstream');
  const headerNames = new Set<string>();
  const headers = validated
    ? indexed(validated.upstream.headers)
    : validEntries(field(upstream, 'headers'), identityHeader);
  for (const [i, header] of headers) {
    const path = ['upstream', 'headers', i, 'name'];
    if (headerNames.has(header.name)) problems.push({ path, message: 'duplicates another identity header' });
    headerNames.add(header.name);
    if (isProtocolHeader(header.name))
      problems.push({ path, message: `is a protocol header claimgate must not set (found "${header.name}")` });
  }
  const payload = headerName.safeParse(field(upstream, 'payload_header'));
  if (payload.success) {
    const path = ['upstream', 'payload_header'];
    if (isProtocolHeader(payload.data))
      problems.push({ path, message: `is a protocol header claimgate must not set (found "${payload.data}")` });
    if (headerNames.has(payload.data)) problems.push({ path, message: 'is already used by upstream.headers' });
  }
  // A condition reading a header claimgate owns would read the client's (spoofable) copy of it.
  const owned = new Set([...headerNames, ...(payload.success && payload.data !== undefined ? [payload.data] : [])]);
  for (const [i, route] of routes) {
    if (route.require) celHeaders(route.require, ['routes', i, 'require'], owned, problems);
    if (route.shadow) celHeaders(route.shadow.require, ['routes', i, 'shadow', 'require'], owned, problems);
  }
  const identityJwt = validated
    ? validated.upstream.identity_jwt
    : identityJwtSchema.optional().safeParse(field(upstream, 'identity_jwt')).data;
  if (identityJwt !== undefined) {
    const h = identityJwt.header;
    if (isProtocolHeader(h) || headerNames.has(h) || (payload.success && payload.data === h))
      problems.push({
        path: ['upstream', 'identity_jwt', 'header'],
        message: 'is a protocol header or already used by upstream.headers',
      });
    const kids = identityJwt.keys.map((k) => k.kid);
    if (new Set(kids).size !== kids.length)
      problems.push({ path: ['upstream', 'identity_jwt', 'keys'], message: 'key ids must differ' });
    const names = identityJwt.claims.map((c) => c.name);
    if (new Set(names).size !== names.length)
      problems.push({ path: ['upstream', 'identity_jwt', 'claims'], message: 'claim names must differ' });
  }

  lookupChecks(raw, validated, rawIssuers, issuerNames, problems);
  return problems;
}

/** opaque_tokens and enrichment: the issuers they name exist (with introspection settings for opaque tokens). */
function lookupChecks(
  raw: unknown,
  validated: Config | undefined,
  rawIssuers: unknown,
  issuerNames: ReadonlyMap<string, number>,
  problems: PathProblem[],
): void {
  const rawRules = field(raw, 'opaque_tokens');
  const rules = validated ? indexed(validated.opaque_tokens) : validEntries(rawRules, opaqueTokenRule);
  const ruleCount = Array.isArray(rawRules) ? rawRules.length : 0;
  for (const [i, rule] of rules) {
    const path = ['opaque_tokens', i, 'issuer'];
    const index = issuerNames.get(rule.issuer);
    if (index === undefined) problems.push({ path, message: unknownIssuer(rule.issuer, issuerNames) });
    // Read from the raw entry, so an issuer with another mistake is not also said to lack introspection.
    else if (field((rawIssuers as unknown[])[index], 'introspection') === undefined)
      problems.push({ path, message: `issuer "${rule.issuer}" has no introspection settings` });
    if (rule.prefix === undefined && i < ruleCount - 1)
      problems.push({
        path: ['opaque_tokens', i],
        message: 'a rule without prefix takes every token: it must come last',
      });
  }

  const rawEnrichment = field(raw, 'enrichment');
  uniqueNames(rawEnrichment, 'enrichment', problems);
  const lookups = validated ? indexed(validated.enrichment) : validEntries(rawEnrichment, enrichmentSchema);
  for (const [i, lookup] of lookups)
    lookup.issuers?.forEach((name, j) => {
      if (!issuerNames.has(name))
        problems.push({ path: ['enrichment', i, 'issuers', j], message: unknownIssuer(name, issuerNames) });
    });
}

function unknownIssuer(name: string, issuers: ReadonlyMap<string, number>): string {
  const known = [...issuers.keys()].join(', ');
  return `names unknown issuer "${name}" (configured: ${known === '' ? 'none' : known})`;
}

/** Name → index of its first entry, reporting every later entry that repeats a name. */
function uniqueNames(raw: unknown, list: string, problems: PathProblem[]): Map<string, number> {
  const names = new Map<string, number>();
  if (!Array.isArray(raw)) return names;
  raw.forEach((entry, i) => {
    const name = field(entry, 'name');
    if (typeof name !== 'string') return;
    const previous = names.get(name);
    if (previous !== undefined)
      problems.push({ path: [list, i, 'name'], message: `duplicates the name of ${list}[${previous}]` });
    else names.set(name, i);
  });
  return names;
}

function issuerRefs(
  req: Requirement,
  path: (string | number)[],
  issuers: ReadonlyMap<string, number>,
  problems: PathProblem[],
): void {
  if ('all' in req) req.all.forEach((r, i) => issuerRefs(r, [...path, 'all', i], issuers, problems));
  else if ('any' in req) req.any.forEach((r, i) => issuerRefs(r, [...path, 'any', i], issuers, problems));
  else if ('not' in req) issuerRefs(req.not, [...path, 'not'], issuers, problems);
  else if ('issuer' in req) {
    for (const name of Array.isArray(req.issuer) ? req.issuer : [req.issuer]) {
      if (!issuers.has(name)) problems.push({ path: [...path, 'issuer'], message: unknownIssuer(name, issuers) });
    }
  }
}

function celHeaders(
  req: Requirement,
  path: (string | number)[],
  owned: ReadonlySet<string>,
  problems: PathProblem[],
): void {
  if ('all' in req) req.all.forEach((r, i) => celHeaders(r, [...path, 'all', i], owned, problems));
  else if ('any' in req) req.any.forEach((r, i) => celHeaders(r, [...path, 'any', i], owned, problems));
  else if ('not' in req) celHeaders(req.not, [...path, 'not'], owned, problems);
  else if ('cel' in req && typeof req.cel !== 'string')
    (req.cel.headers ?? []).forEach((h, i) => {
      if (owned.has(h))
        problems.push({
          path: [...path, 'cel', 'headers', i],
          message: 'is an identity header claimgate owns; a condition would read the client-sent copy',
        });
    });
}
