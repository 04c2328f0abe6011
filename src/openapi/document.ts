/**
 * Reads the parts of an OpenAPI 3.0 / 3.1 document that decide access: servers, paths, operations and
 * their `security`, and `components.securitySchemes`. Everything else (schemas, responses, examples)
 * is ignored, so plain YAML parsing plus a strict check of these parts is enough; no `$ref` is needed
 * among them except for a path item or a security scheme, which is refused with a clear message
 * (bundle such a document first, e.g. `redocly bundle`).
 */
import { parse as parseYaml } from 'yaml';

export const HTTP_OPERATIONS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
export type OperationMethod = (typeof HTTP_OPERATIONS)[number];

/** OpenAPI Security Requirement Object: scheme name → scopes (OAuth2/OIDC) or role names (3.1, others). */
export type SecurityRequirement = Readonly<Record<string, readonly string[]>>;

export interface SecurityScheme {
  readonly type: 'oauth2' | 'openIdConnect' | 'http' | 'apiKey' | 'mutualTLS';
  /** `http` schemes: `bearer`, `basic`, … (case-insensitive in the spec; lower-cased here). */
  readonly scheme?: string;
}

export interface Operation {
  readonly method: OperationMethod;
  /** The document's path key, e.g. `/orders/{orderId}`. */
  readonly path: string;
  readonly operationId?: string;
  /** The effective security: the operation's, else the document's; undefined = none declared. */
  readonly security: readonly SecurityRequirement[] | undefined;
}

export interface OpenApiDocument {
  readonly version: '3.0' | '3.1';
  readonly title: string;
  /** Path prefixes of the servers (`/v1`), `/` when there are none. */
  readonly basePaths: readonly string[];
  readonly schemes: ReadonlyMap<string, SecurityScheme>;
  readonly operations: readonly Operation[];
}

export class OpenApiError extends Error {}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export function readOpenApi(text: string, source = 'document'): OpenApiDocument {
  let raw: unknown;
  try {
    raw = parseYaml(text, { uniqueKeys: true, maxAliasCount: 100 });
  } catch (e) {
    throw new OpenApiError(`${source}: not YAML or JSON (${(e as Error).message.split('\n')[0]})`);
  }
  if (!isObject(raw)) throw new OpenApiError(`${source}: not an OpenAPI document (expected a mapping)`);
  const fail = (where: string, message: string): never => {
    throw new OpenApiError(`${source}: ${where}: ${message}`);
  };
  const declared = raw.openapi;
  if (typeof declared !== 'string' || !/^3\.[01]\.\d+/.test(declared))
    fail('openapi', `must be 3.0.x or 3.1.x${raw.swagger !== undefined ? ' (Swagger 2.0: convert it first)' : ''}`);
  const version = (declared as string).startsWith('3.1') ? '3.1' : '3.0';
  const info = isObject(raw.info) ? raw.info : {};
  const title = `${String(info.title ?? 'untitled')} ${String(info.version ?? '')}`.trim();

  const schemes = new Map<string, SecurityScheme>();
  const components = isObject(raw.components) ? raw.components : {};
  const rawSchemes = components.securitySchemes ?? {};
  if (!isObject(rawSchemes)) fail('components.securitySchemes', 'must be a mapping');
  for (const [name, scheme] of Object.entries(rawSchemes as Json)) {
    const where = `components.securitySchemes.${name}`;
    if (!isObject(scheme)) fail(where, 'must be a mapping');
    const s = scheme as Json;
    if (s.$ref !== undefined) fail(where, '$ref is not supported here; bundle the document first');
    if (!['oauth2', 'openIdConnect', 'http', 'apiKey', 'mutualTLS'].includes(String(s.type)))
      fail(`${where}.type`, 'must be oauth2, openIdConnect, http, apiKey or mutualTLS');
    schemes.set(name, {
      type: s.type as SecurityScheme['type'],
      scheme: typeof s.scheme === 'string' ? s.scheme.toLowerCase() : undefined,
    });
  }

  const readSecurity = (value: unknown, where: string): SecurityRequirement[] | undefined => {
    if (value === undefined) return undefined;
    if (!Array.isArray(value)) return fail(where, 'must be a list of security requirements');
    return value.map((req, i) => {
      if (!isObject(req)) return fail(`${where}[${i}]`, 'must be a mapping of scheme name to scopes');
      const out: Record<string, string[]> = {};
      for (const [name, scopes] of Object.entries(req)) {
        if (!schemes.has(name)) fail(`${where}[${i}].${name}`, 'names no scheme in components.securitySchemes');
        if (!Array.isArray(scopes) || !scopes.every((s) => typeof s === 'string'))
          fail(`${where}[${i}].${name}`, 'must be a list of scope names');
        out[name] = scopes as string[];
      }
      return out;
    });
  };
  const globalSecurity = readSecurity(raw.security, 'security');

  const basePaths = [
    ...new Set((Array.isArray(raw.servers) ? raw.servers : []).map((s, i) => basePathOf(s, `servers[${i}]`, fail))),
  ];

  const operations: Operation[] = [];
  const paths = raw.paths ?? {};
  if (!isObject(paths)) fail('paths', 'must be a mapping');
  for (const [path, item] of Object.entries(paths as Json)) {
    if (!path.startsWith('/')) fail(`paths.${path}`, 'must start with /');
    if (!isObject(item)) fail(`paths.${path}`, 'must be a mapping');
    const pathItem = item as Json;
    if (pathItem.$ref !== undefined) fail(`paths.${path}`, '$ref is not supported here; bundle the document first');
    for (const method of HTTP_OPERATIONS) {
      const op = pathItem[method];
      if (op === undefined) continue;
      if (!isObject(op)) fail(`paths.${path}.${method}`, 'must be a mapping');
      const operation = op as Json;
      operations.push({
        method,
        path,
        operationId: typeof operation.operationId === 'string' ? operation.operationId : undefined,
        security: readSecurity(operation.security, `paths.${path}.${method}.security`) ?? globalSecurity,
      });
    }
  }
  return { version, title, basePaths: basePaths.length > 0 ? basePaths : ['/'], schemes, operations };
}

/** The path part of a server URL (absolute or relative), with `{variables}` set to their defaults. */
function basePathOf(server: unknown, where: string, fail: (where: string, message: string) => never): string {
  if (!isObject(server) || typeof server.url !== 'string') return fail(where, 'must have a url');
  const variables = isObject(server.variables) ? server.variables : {};
  const url = server.url.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const variable = variables[name];
    if (!isObject(variable) || typeof variable.default !== 'string')
      return fail(`${where}.variables.${name}`, 'needs a default');
    return variable.default;
  });
  const path = /^[a-z][a-z0-9+.-]*:\/\//i.test(url) ? new URL(url).pathname : url.split(/[?#]/)[0] || '/';
  const absolute = path.startsWith('/') ? path : `/${path}`;
  return absolute.length > 1 ? absolute.replace(/\/+$/, '') : '/';
}
