/**
 * A strict, offline check of an Envoy v3 bootstrap YAML against Envoy's OFFICIAL protos (there is
 * no Envoy binary to run `--mode validate` with). protobufjs' `fromObject` silently drops unknown
 * keys, so this walks the message types itself, the way Envoy's proto-JSON parser does:
 *  - every key must be a field (proto name or lowerCamelCase JSON name) of its message;
 *  - scalars, enums (by name), Durations ("0.25s"), wrappers (plain scalars) must have the right type;
 *  - `google.protobuf.Any` (`typed_config`, ...) is resolved by its `@type` and checked recursively;
 *  - two members of one oneof are a conflict;
 *  - the protoc-gen-validate rules Envoy enforces most often are applied: required messages,
 *    required oneofs, string `min_len`, repeated `min_items`;
 *  - deprecated fields are reported (the API copy here is older than current Envoy, and a field
 *    deprecated in it may be gone from Envoy today);
 *  - clusters referenced by routes and `envoy_grpc` must be defined when there is no CDS.
 * Reusable for every Envoy config the project ships (see {@link checkEnvoyConfig}).
 */
import protobuf from 'protobufjs';
import { parseDocument } from 'yaml';
import { loadOfficialProtos } from './official-envoy-protos.js';

/** Official .proto files loaded for the check: every `@type` used in our configs must be defined by one. */
export const BOOTSTRAP_PROTO_FILES: readonly string[] = [
  'envoy/config/bootstrap/v3/bootstrap.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/http/ext_authz/v3/ext_authz.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/filters/http/health_check/v3/health_check.proto',
  'envoy/extensions/filters/http/jwt_authn/v3/config.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/access_loggers/stream/v3/stream.proto',
  'envoy/extensions/access_loggers/file/v3/file.proto',
];

const BOOTSTRAP_TYPE = 'envoy.config.bootstrap.v3.Bootstrap';

/** Options for {@link checkEnvoyConfig}. */
export interface EnvoyConfigCheckOptions {
  /** Accept fields marked `deprecated` in the official protos (default: report them). */
  readonly allowDeprecated?: boolean;
}

/**
 * Checks an Envoy v3 bootstrap given as YAML text. Returns one message per problem, each starting
 * with the path of the offending value (e.g. `static_resources.clusters[0].connect_timeout: ...`);
 * an empty list means the config is well-formed as far as the protos can tell.
 */
export function checkEnvoyConfig(yamlText: string, options: EnvoyConfigCheckOptions = {}): string[] {
  const document = parseDocument(yamlText, { merge: true, uniqueKeys: true, prettyErrors: false });
  if (document.errors.length > 0) return document.errors.map((e) => `(yaml): ${e.message}`);
  const config: unknown = document.toJS();
  const root = loadOfficialProtos(BOOTSTRAP_PROTO_FILES);
  const walker = new ConfigWalker(root, options.allowDeprecated ?? false);
  walker.message(root.lookupType(BOOTSTRAP_TYPE), config, '');
  walker.checkClusterReferences(staticClusterNames(config));
  return walker.errors;
}

/** Parses a proto-JSON Duration string ("0.25s", "5s", "1.000000001s") into seconds; undefined if malformed. */
export function durationSeconds(text: unknown): number | undefined {
  if (typeof text !== 'string' || !DURATION.test(text)) return undefined;
  return Number(text.slice(0, -1));
}

const DURATION = /^-?\d{1,12}(\.\d{1,9})?s$/;
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$/;
const BASE64 = /^[A-Za-z0-9+/_-]*={0,2}$/;
const INTEGER = /^-?\d+$/;

/** Inclusive ranges of the integer scalar types. */
const INTEGER_RANGES: Record<string, [bigint, bigint]> = {
  int32: [-(2n ** 31n), 2n ** 31n - 1n],
  sint32: [-(2n ** 31n), 2n ** 31n - 1n],
  sfixed32: [-(2n ** 31n), 2n ** 31n - 1n],
  uint32: [0n, 2n ** 32n - 1n],
  fixed32: [0n, 2n ** 32n - 1n],
  int64: [-(2n ** 63n), 2n ** 63n - 1n],
  sint64: [-(2n ** 63n), 2n ** 63n - 1n],
  sfixed64: [-(2n ** 63n), 2n ** 63n - 1n],
  uint64: [0n, 2n ** 64n - 1n],
  fixed64: [0n, 2n ** 64n - 1n],
};

/** Message types whose proto-JSON form is not an object of their fields. */
const WRAPPERS = new Set(
  ['Double', 'Float', 'Int64', 'UInt64', 'Int32', 'UInt32', 'Bool', 'String', 'Bytes'].map(
    (t) => `.google.protobuf.${t}Value`,
  ),
);
const SPECIAL_JSON_TYPES = new Set([
  ...WRAPPERS,
  '.google.protobuf.Duration',
  '.google.protobuf.Timestamp',
  '.google.protobuf.FieldMask',
  '.google.protobuf.Struct',
  '.google.protobuf.Value',
  '.google.protobuf.ListValue',
  '.google.protobuf.Any',
]);

/** Fields whose string value names a cluster: (message full name, field name). */
const CLUSTER_REFERENCES: ReadonlyArray<[string, string]> = [
  ['.envoy.config.route.v3.RouteAction', 'cluster'],
  ['.envoy.config.core.v3.GrpcService.EnvoyGrpc', 'cluster_name'],
  ['.envoy.config.core.v3.HttpUri', 'cluster'],
];

class ConfigWalker {
  readonly errors: string[] = [];
  private readonly fieldIndex = new Map<protobuf.Type, Map<string, protobuf.Field>>();
  private readonly clusterRefs: { name: string; path: string }[] = [];

  constructor(
    private readonly root: protobuf.Root,
    private readonly allowDeprecated: boolean,
  ) {}

  message(type: protobuf.Type, value: unknown, path: string): void {
    if (SPECIAL_JSON_TYPES.has(type.fullName)) {
      this.specialJson(type, value, path);
      return;
    }
    if (!isPlainObject(value)) {
      this.report(path, `expected an object (${typeName(type)}), got ${describe(value)}`);
      return;
    }
    this.fields(type, value, path);
  }

  private fields(
    type: protobuf.Type,
    value: Record<string, unknown>,
    path: string,
    skipKeys: readonly string[] = [],
  ): void {
    const setOneofs = new Map<string, string>();
    const present = new Set<protobuf.Field>();
    for (const [key, fieldValue] of Object.entries(value)) {
      if (skipKeys.includes(key)) continue;
      const fieldPath = join(path, key);
      const field = this.field(type, key);
      if (field === undefined) {
        this.report(fieldPath, `unknown field "${key}" in ${typeName(type)}${suggestion(key, type)}`);
        continue;
      }
      if (field.options?.deprecated === true && !this.allowDeprecated) {
        this.report(fieldPath, `field "${field.name}" of ${typeName(type)} is deprecated`);
      }
      if (fieldValue === null) continue; // proto-JSON null means "the default"
      present.add(field);
      const oneof = field.partOf;
      if (oneof) {
        const other = setOneofs.get(oneof.name);
        if (other !== undefined)
          this.report(fieldPath, `oneof "${oneof.name}" of ${typeName(type)} already set by "${other}"`);
        else setOneofs.set(oneof.name, key);
      }
      this.fieldValue(type, field, fieldValue, fieldPath);
    }
    this.requiredRules(type, present, setOneofs, path);
  }

  private requiredRules(
    type: protobuf.Type,
    present: Set<protobuf.Field>,
    setOneofs: Map<string, string>,
    path: string,
  ): void {
    for (const field of type.fieldsArray) {
      // A rule on a oneof member applies only when that member is the one chosen.
      if (
        field.partOf === null &&
        field.options?.['(validate.rules).message.required'] === true &&
        !present.has(field)
      ) {
        this.report(join(path, field.name), `required field "${field.name}" of ${typeName(type)} is missing`);
      }
    }
    for (const oneof of type.oneofsArray) {
      if (oneof.options?.['(validate.required)'] === true && !setOneofs.has(oneof.name)) {
        this.report(
          path || '(root)',
          `one of ${oneof.oneof.map((f) => `"${f}"`).join(', ')} is required in ${typeName(type)}`,
        );
      }
    }
  }

  private fieldValue(owner: protobuf.Type, field: protobuf.Field, value: unknown, path: string): void {
    if (field instanceof protobuf.MapField) {
      if (!isPlainObject(value)) return this.report(path, `expected a map (object), got ${describe(value)}`);
      for (const [key, entry] of Object.entries(value)) {
        const entryPath = `${path}[${JSON.stringify(key)}]`;
        if (field.keyType !== 'string' && field.keyType !== 'bool' && !INTEGER.test(key)) {
          this.report(entryPath, `map key must be a ${field.keyType}`);
        }
        this.single(field, entry, entryPath);
      }
      return;
    }
    if (field.repeated) {
      if (!Array.isArray(value))
        return this.report(path, `expected a list for repeated field "${field.name}", got ${describe(value)}`);
      const minItems = field.options?.['(validate.rules).repeated.min_items'];
      if (typeof minItems === 'number' && value.length < minItems)
        this.report(path, `needs at least ${minItems} item(s)`);
      value.forEach((item, i) => this.single(field, item, `${path}[${i}]`));
      return;
    }
    this.single(field, value, path);
    const ref = CLUSTER_REFERENCES.find(([t, f]) => t === owner.fullName && f === field.name);
    if (ref && typeof value === 'string') this.clusterRefs.push({ name: value, path });
  }

  private single(field: protobuf.Field, value: unknown, path: string): void {
    const resolved = field.resolve().resolvedType;
    if (resolved instanceof protobuf.Enum) return this.enumValue(resolved, value, path);
    if (resolved instanceof protobuf.Type) return this.message(resolved, value, path);
    this.scalar(field.type, value, path);
    const minLen = field.options?.['(validate.rules).string.min_len'];
    if (typeof minLen === 'number' && typeof value === 'string' && value.length < minLen) {
      this.report(path, `must be at least ${minLen} character(s)`);
    }
  }

  private enumValue(e: protobuf.Enum, value: unknown, path: string): void {
    if (typeof value === 'string') {
      if (!Object.hasOwn(e.values, value)) {
        this.report(
          path,
          `unknown ${typeName(e)} value "${value}" (expected one of ${Object.keys(e.values).join(', ')})`,
        );
      }
    } else if (typeof value === 'number') {
      if (e.valuesById[value] === undefined) this.report(path, `${value} is not a defined ${typeName(e)} number`);
    } else {
      this.report(path, `expected a ${typeName(e)} name, got ${describe(value)}`);
    }
  }

  private scalar(scalarType: string, value: unknown, path: string): void {
    const range = INTEGER_RANGES[scalarType];
    if (range !== undefined) {
      const integer =
        typeof value === 'number' && Number.isInteger(value)
          ? BigInt(value)
          : typeof value === 'string' && INTEGER.test(value)
            ? BigInt(value)
            : undefined;
      if (integer === undefined) this.report(path, `expected an integer (${scalarType}), got ${describe(value)}`);
      else if (integer < range[0] || integer > range[1])
        this.report(path, `${String(value)} is out of range for ${scalarType}`);
      return;
    }
    switch (scalarType) {
      case 'string':
        if (typeof value !== 'string') this.report(path, `expected a string, got ${describe(value)}`);
        return;
      case 'bool':
        if (typeof value !== 'boolean') this.report(path, `expected a boolean, got ${describe(value)}`);
        return;
      case 'double':
      case 'float':
        if (typeof value !== 'number' && !isNumericString(value))
          this.report(path, `expected a number (${scalarType}), got ${describe(value)}`);
        return;
      case 'bytes':
        if (typeof value !== 'string' || !BASE64.test(value))
          this.report(path, `expected base64 bytes, got ${describe(value)}`);
        return;
      default:
        this.report(path, `unsupported scalar type ${scalarType}`);
    }
  }

  /** Well-known types with their own proto-JSON form. */
  private specialJson(type: protobuf.Type, value: unknown, path: string): void {
    const name = type.fullName;
    if (WRAPPERS.has(name)) return this.scalar(type.fields.value!.type, value, path);
    switch (name) {
      case '.google.protobuf.Duration':
        if (durationSeconds(value) === undefined)
          this.report(path, `expected a Duration string like "0.25s", got ${describe(value)}`);
        return;
      case '.google.protobuf.Timestamp':
        if (typeof value !== 'string' || !TIMESTAMP.test(value))
          this.report(path, `expected an RFC 3339 timestamp, got ${describe(value)}`);
        return;
      case '.google.protobuf.FieldMask':
        if (typeof value !== 'string') this.report(path, `expected a FieldMask string, got ${describe(value)}`);
        return;
      case '.google.protobuf.Struct':
        if (!isPlainObject(value)) this.report(path, `expected an object (Struct), got ${describe(value)}`);
        return;
      case '.google.protobuf.ListValue':
        if (!Array.isArray(value)) this.report(path, `expected a list (ListValue), got ${describe(value)}`);
        return;
      case '.google.protobuf.Value':
        return; // any JSON value
      case '.google.protobuf.Any':
        return this.any(value, path);
    }
  }

  /** `{"@type": "type.googleapis.com/<message>", ...fields}`, or `{"@type", value}` for special WKTs. */
  private any(value: unknown, path: string): void {
    if (!isPlainObject(value))
      return this.report(path, `expected an object with "@type" (Any), got ${describe(value)}`);
    const typeUrl = value['@type'];
    if (typeof typeUrl !== 'string') return this.report(join(path, '@type'), 'missing "@type" in Any');
    const typeNameInUrl = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
    let resolved: protobuf.ReflectionObject | null = null;
    try {
      resolved = typeNameInUrl === '' ? null : this.root.lookup(`.${typeNameInUrl}`);
    } catch {
      resolved = null;
    }
    if (!(resolved instanceof protobuf.Type) || !typeUrl.startsWith('type.googleapis.com/')) {
      return this.report(
        join(path, '@type'),
        `unknown @type "${typeUrl}" (no such message in the loaded Envoy protos)`,
      );
    }
    if (SPECIAL_JSON_TYPES.has(resolved.fullName)) {
      for (const key of Object.keys(value)) {
        if (key !== '@type' && key !== 'value')
          this.report(join(path, key), `unknown field "${key}" in Any of ${typeName(resolved)}`);
      }
      this.message(resolved, value.value, join(path, 'value'));
      return;
    }
    this.fields(resolved, value, path, ['@type']);
  }

  /** Routes and gRPC services must name a defined cluster (skipped when `defined` is undefined: CDS). */
  checkClusterReferences(defined: ReadonlySet<string> | undefined): void {
    if (defined === undefined) return;
    for (const ref of this.clusterRefs) {
      if (!defined.has(ref.name))
        this.report(ref.path, `cluster "${ref.name}" is not defined in static_resources.clusters`);
    }
  }

  private field(type: protobuf.Type, key: string): protobuf.Field | undefined {
    let index = this.fieldIndex.get(type);
    if (index === undefined) {
      index = new Map();
      for (const field of type.fieldsArray) {
        index.set(field.name, field);
        index.set(jsonName(field.name), field);
      }
      this.fieldIndex.set(type, index);
    }
    return index.get(key);
  }

  private report(path: string, problem: string): void {
    this.errors.push(`${path || '(root)'}: ${problem}`);
  }
}

/** Names of `static_resources.clusters`, or undefined when clusters may also come from CDS. */
function staticClusterNames(config: unknown): Set<string> | undefined {
  if (!isPlainObject(config)) return undefined;
  const dynamic = config.dynamic_resources;
  if (isPlainObject(dynamic) && (dynamic.cds_config != null || dynamic.cdsConfig != null)) return undefined;
  const resources = isPlainObject(config.static_resources) ? config.static_resources : {};
  const clusters = Array.isArray(resources.clusters) ? resources.clusters : [];
  return new Set(clusters.flatMap((c: unknown) => (isPlainObject(c) && typeof c.name === 'string' ? [c.name] : [])));
}

/** protoc's JSON name: lowerCamelCase of the proto field name. */
function jsonName(protoName: string): string {
  return protoName.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** proto-JSON also accepts floating-point numbers as strings, including "NaN" and "±Infinity". */
function isNumericString(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  return /^(NaN|-?Infinity)$/.test(value) || (value.trim() !== '' && Number.isFinite(Number(value)));
}

function join(path: string, key: string): string {
  return path === '' ? key : `${path}.${key}`;
}

function typeName(object: protobuf.ReflectionObject): string {
  return object.fullName.slice(1);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${JSON.stringify(value)}`;
}

/** ` (did you mean "x"?)` for a near miss (edit distance ≤ 2), else ''. */
function suggestion(key: string, type: protobuf.Type): string {
  let best: string | undefined;
  let bestDistance = 3;
  for (const field of type.fieldsArray) {
    const distance = editDistance(key, field.name);
    if (distance < bestDistance) [best, bestDistance] = [field.name, distance];
  }
  return best === undefined ? '' : ` (did you mean "${best}"?)`;
}

function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
