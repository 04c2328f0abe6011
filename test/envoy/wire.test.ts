/**
 * Wire compatibility of claimgate's own ext_authz protos with Envoy:
 *  (a) the golden vectors decode to their JSON and re-encode to the same bytes with OUR protos;
 *  (b) every message/enum in our protos matches Envoy's OFFICIAL protos field by field
 *      (FIELDS.md, from a newer API, vouches for fields the official copy here predates);
 *  (c) what toCheckResponse produces is read by the OFFICIAL protos as the intended reply;
 *  (d) toRequestView reads every golden CheckRequest as the server decodes it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import fc from 'fast-check';
import protobuf from 'protobufjs';
import { bearerChallenge, problemBody, REASON_HEADER } from '../../src/engine/answer.js';
import type { AllowDecision, DenyDecision } from '../../src/engine/types.js';
import type { CheckRequestMessage } from '../../src/envoy/messages.js';
import {
  AUTHORIZATION_SERVICE,
  EXTERNAL_AUTH_PROTO,
  PROTO_DIR,
  checkMessageTypes,
  loadAuthorizationService,
  loadProtoRoot,
} from '../../src/envoy/proto.js';
import { MAX_HEADER_ENTRIES, MAX_HEADER_VALUE_BYTES, hostWithoutPort, toRequestView } from '../../src/envoy/request.js';
import { HTTP_STATUS_NAMES, METADATA_NAMESPACE, toCheckResponse } from '../../src/envoy/response.js';
import { loadOfficialProtos } from '../support/official-envoy-protos.js';

const FIXTURE_DIR = fileURLToPath(new URL('../fixtures/envoy-wire/', import.meta.url));
const fixtureNames = readdirSync(FIXTURE_DIR);
const requestVectors = vectorNames('CheckRequest');
const responseVectors = vectorNames('CheckResponse');
const testMaterial = JSON.parse(readFileSync(FIXTURE_DIR + 'test-material.json', 'utf8')) as { jwt: string };

function vectorNames(kind: 'CheckRequest' | 'CheckResponse'): string[] {
  const suffix = `.${kind}.bin`;
  return fixtureNames
    .filter((f) => f.endsWith(suffix))
    .map((f) => f.slice(0, -suffix.length))
    .sort();
}
function fixtureBytes(name: string): Buffer {
  return readFileSync(FIXTURE_DIR + name + '.bin');
}
function fixtureJson(name: string): Record<string, unknown> {
  return JSON.parse(readFileSync(FIXTURE_DIR + name + '.json', 'utf8')) as Record<string, unknown>;
}

/** The README's decode options (bytes as base64 strings), through proto-loader and OUR protos. */
const FIXTURE_LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  bytes: String,
  defaults: false,
  oneofs: false,
  includeDirs: [PROTO_DIR],
};
const fixtureOptionsCheck = (
  protoLoader.loadSync(EXTERNAL_AUTH_PROTO, FIXTURE_LOADER_OPTIONS)[
    AUTHORIZATION_SERVICE
  ] as protoLoader.ServiceDefinition
).Check as protoLoader.MethodDefinition<object, object>;
const TO_OBJECT = { longs: String, enums: String, bytes: String } as const;

/** Buffers (the server keeps bytes as Buffers) → base64, to compare with the fixture JSON. */
function bytesToBase64(value: unknown): unknown {
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (Array.isArray(value)) return value.map(bytesToBase64);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, bytesToBase64(v)]));
  }
  return value;
}

describe('(a) golden vectors round-trip through our protos', () => {
  const { CheckRequest, CheckResponse } = checkMessageTypes();

  it('has the vectors the fixture README lists', () => {
    expect(requestVectors).toHaveLength(13);
    expect(responseVectors).toHaveLength(13);
  });

  describe.each([
    ['CheckRequest', requestVectors, CheckRequest],
    ['CheckResponse', responseVectors, CheckResponse],
  ] as const)('%s', (kind, names, type) => {
    it.each(names)('%s: protobufjs decodes to the JSON and encodes back to the same bytes', (name) => {
      const bin = fixtureBytes(`${name}.${kind}`);
      const json = fixtureJson(`${name}.${kind}`);
      expect(type.toObject(type.decode(bin), TO_OBJECT)).toEqual(json);
      expect(Buffer.from(type.encode(type.fromObject(json)).finish())).toEqual(bin);
    });

    it.each(names)('%s: proto-loader (README options) deserializes to the JSON and serializes back', (name) => {
      const bin = fixtureBytes(`${name}.${kind}`);
      const json = fixtureJson(`${name}.${kind}`);
      const [deserialize, serialize] =
        kind === 'CheckRequest'
          ? [fixtureOptionsCheck.requestDeserialize, fixtureOptionsCheck.requestSerialize]
          : [fixtureOptionsCheck.responseDeserialize, fixtureOptionsCheck.responseSerialize];
      expect(deserialize(bin)).toEqual(json);
      expect(serialize(json)).toEqual(bin);
    });
  });

  describe('the server-side service definition (loadAuthorizationService)', () => {
    const check = loadAuthorizationService().Check as grpc.MethodDefinition<object, object>;

    it('is the unary /envoy.service.auth.v3.Authorization/Check method', () => {
      expect(check.path).toBe('/envoy.service.auth.v3.Authorization/Check');
      expect(check.requestStream).toBe(false);
      expect(check.responseStream).toBe(false);
      expect(loadAuthorizationService()).toBe(loadAuthorizationService());
    });

    it.each(requestVectors)(
      '%s: requestDeserialize gives the JSON (bytes as Buffers), requestSerialize the bytes',
      (name) => {
        const bin = fixtureBytes(`${name}.CheckRequest`);
        const json = fixtureJson(`${name}.CheckRequest`);
        const decoded = check.requestDeserialize(bin);
        expect(bytesToBase64(decoded)).toEqual(json);
        expect(check.requestSerialize(decoded)).toEqual(bin);
      },
    );

    it.each(responseVectors)('%s: responseSerialize gives the bytes, responseDeserialize the JSON', (name) => {
      const bin = fixtureBytes(`${name}.CheckResponse`);
      const json = fixtureJson(`${name}.CheckResponse`);
      expect(check.responseSerialize(json)).toEqual(bin);
      expect(check.responseDeserialize(bin)).toEqual(json);
    });

    it('keeps raw header bytes as Buffers (no base64 round trip)', () => {
      const decoded = check.requestDeserialize(fixtureBytes('header-map-raw.CheckRequest')) as CheckRequestMessage;
      const first = decoded.attributes?.request?.http?.header_map?.headers?.[0];
      expect(Buffer.isBuffer(first?.raw_value)).toBe(true);
    });
  });
});

// ---------------------------------------------------------------------------------------------
// (b) structural cross-check against the official protos and FIELDS.md

/** How one field sits on the wire, in terms both protobufjs and FIELDS.md can express. */
interface FieldShape {
  id: number;
  type: string;
  label: 'singular' | 'repeated' | 'map';
  keyType?: string;
  oneof?: string;
  deprecated: boolean;
}

function shapeOf(field: protobuf.Field): FieldShape {
  const f = field.resolve();
  const shape: FieldShape = {
    id: f.id,
    type: f.resolvedType ? f.resolvedType.fullName.slice(1) : f.type,
    label: f instanceof protobuf.MapField ? 'map' : f.repeated ? 'repeated' : 'singular',
    deprecated: f.options?.deprecated === true,
  };
  if (f instanceof protobuf.MapField) shape.keyType = f.keyType;
  // proto3 `optional` makes a synthetic oneof; none of ours does, so partOf is a real oneof.
  if (f.partOf) shape.oneof = f.partOf.name;
  return shape;
}

interface FieldsDoc {
  messages: Map<string, Map<string, FieldShape>>;
  enums: Map<string, Map<string, number>>;
}

/** Parses FIELDS.md: `### <message>` tables of fields and `#### enum <enum>` tables of values. */
function parseFieldsDoc(markdown: string): FieldsDoc {
  const doc: FieldsDoc = { messages: new Map(), enums: new Map() };
  let fields: Map<string, FieldShape> | undefined;
  let values: Map<string, number> | undefined;
  for (const line of markdown.split('\n')) {
    const heading = /^(#{2,4}) (enum )?([\w.]+)/.exec(line);
    if (heading) {
      fields = values = undefined;
      if (heading[2] !== undefined) doc.enums.set(heading[3]!, (values = new Map()));
      else if (heading[1] === '###') doc.messages.set(heading[3]!, (fields = new Map()));
      continue;
    }
    if (values) {
      for (const m of line.matchAll(/`(\w+)` = (\d+)/g)) values.set(m[1]!, Number(m[2]));
      const row = /^\| `(\w+)` \| (\d+) \|$/.exec(line);
      if (row) values.set(row[1]!, Number(row[2]));
    } else if (fields && line.startsWith('| `')) {
      const cells = line.split('|').map((c) => c.trim());
      const name = /`(\w+)`/.exec(cells[1]!)![1]!;
      const typeText = cells[3]!.replaceAll('`', '');
      const map = /^map<(\w+), ([\w.]+)>$/.exec(typeText);
      const shape: FieldShape = {
        id: Number(cells[2]),
        type: map ? map[2]! : typeText,
        label: map ? 'map' : (cells[4] as 'singular' | 'repeated'),
        deprecated: cells[7]!.includes('yes'),
      };
      if (map) shape.keyType = map[1]!;
      if (cells[5] !== '') shape.oneof = cells[5]!;
      fields.set(name, shape);
    }
  }
  return doc;
}

/** Every message and enum defined in our own .proto files (protobufjs' bundled WKTs excluded). */
function ownDefinitions(root: protobuf.Root): { types: protobuf.Type[]; enums: protobuf.Enum[] } {
  const types: protobuf.Type[] = [];
  const enums: protobuf.Enum[] = [];
  const visit = (ns: protobuf.NamespaceBase): void => {
    for (const child of ns.nestedArray) {
      if (child.fullName.startsWith('.google.protobuf')) continue;
      if (child instanceof protobuf.Type) types.push(child);
      else if (child instanceof protobuf.Enum) enums.push(child);
      if (child instanceof protobuf.Namespace || child instanceof protobuf.Type) visit(child);
    }
  };
  visit(root);
  return { types, enums };
}

describe('(b) our protos match the official Envoy protos', () => {
  const ours = loadProtoRoot();
  const official = loadOfficialProtos([EXTERNAL_AUTH_PROTO]);
  const fieldsDoc = parseFieldsDoc(readFileSync(FIXTURE_DIR + 'FIELDS.md', 'utf8'));
  const { types, enums } = ownDefinitions(ours);

  it('defines the expected messages and enums', () => {
    expect(types.map((t) => t.fullName.slice(1)).sort()).toEqual([
      'envoy.config.core.v3.Address',
      'envoy.config.core.v3.EnvoyInternalAddress',
      'envoy.config.core.v3.HeaderMap',
      'envoy.config.core.v3.HeaderValue',
      'envoy.config.core.v3.HeaderValueOption',
      'envoy.config.core.v3.Metadata',
      'envoy.config.core.v3.Pipe',
      'envoy.config.core.v3.QueryParameter',
      'envoy.config.core.v3.SocketAddress',
      'envoy.service.auth.v3.AttributeContext',
      'envoy.service.auth.v3.AttributeContext.HttpRequest',
      'envoy.service.auth.v3.AttributeContext.Peer',
      'envoy.service.auth.v3.AttributeContext.Request',
      'envoy.service.auth.v3.AttributeContext.TLSSession',
      'envoy.service.auth.v3.CheckRequest',
      'envoy.service.auth.v3.CheckResponse',
      'envoy.service.auth.v3.DeniedHttpResponse',
      'envoy.service.auth.v3.OkHttpResponse',
      'envoy.type.v3.HttpStatus',
      'google.rpc.Status',
    ]);
    expect(enums.map((e) => e.fullName.slice(1)).sort()).toEqual([
      'envoy.config.core.v3.HeaderValueOption.HeaderAppendAction',
      'envoy.config.core.v3.SocketAddress.Protocol',
      'envoy.type.v3.StatusCode',
    ]);
  });

  it('puts every field at the official number, type, label, oneof and deprecation', () => {
    const newerThanOfficialCopy: string[] = [];
    for (const type of types) {
      const name = type.fullName.slice(1);
      const officialType = official.lookupType(name);
      for (const field of type.fieldsArray) {
        const where = `${name}.${field.name}`;
        const reference = officialType.fields[field.name];
        if (reference !== undefined) {
          expect({ where, ...shapeOf(field) }).toEqual({ where, ...shapeOf(reference) });
        } else {
          // Not in the grpc-js-xds copy: FIELDS.md (read from a newer API) must vouch for it.
          newerThanOfficialCopy.push(where);
          expect({ where, ...shapeOf(field) }).toEqual({ where, ...fieldsDoc.messages.get(name)?.get(field.name) });
        }
      }
    }
    expect(newerThanOfficialCopy.sort()).toEqual([
      'envoy.config.core.v3.SocketAddress.network_namespace_filepath',
      'envoy.service.auth.v3.CheckResponse.error_response',
    ]);
  });

  it('has every field FIELDS.md lists for the messages it defines (nothing dropped)', () => {
    let compared = 0;
    for (const [name, docFields] of fieldsDoc.messages) {
      if (name.startsWith('google.protobuf.')) continue; // protobufjs' bundled copies, not ours
      const type = ours.lookupType(name);
      for (const [fieldName, docShape] of docFields) {
        const field = type.fields[fieldName];
        expect({ where: `${name}.${fieldName}`, ...(field && shapeOf(field)) }).toEqual({
          where: `${name}.${fieldName}`,
          ...docShape,
        });
        compared++;
      }
    }
    expect(fieldsDoc.messages.size).toBeGreaterThanOrEqual(20);
    expect(compared).toBeGreaterThanOrEqual(70);
  });

  it('gives every enum value the official number', () => {
    for (const e of enums) {
      const name = e.fullName.slice(1);
      expect({ name, values: e.values }).toEqual({ name, values: official.lookupEnum(name).values });
      expect({ name, values: e.values }).toEqual({ name, values: Object.fromEntries(fieldsDoc.enums.get(name) ?? []) });
    }
    expect(Object.keys(ours.lookupEnum('envoy.type.v3.StatusCode').values)).toHaveLength(57);
  });

  it("response.ts' HTTP status table is the StatusCode enum without Empty", () => {
    const values = ours.lookupEnum('envoy.type.v3.StatusCode').values;
    const expected = Object.entries(values)
      .filter(([, n]) => n !== 0)
      .map(([name, n]) => [n, name]);
    expect([...HTTP_STATUS_NAMES]).toEqual(expected);
  });
});

// ---------------------------------------------------------------------------------------------
// (c) our replies, read by the official protos

const officialRoot = loadOfficialProtos([EXTERNAL_AUTH_PROTO]);
const OfficialCheckResponse = officialRoot.lookupType('envoy.service.auth.v3.CheckResponse');
const OfficialDeniedHttpResponse = officialRoot.lookupType('envoy.service.auth.v3.DeniedHttpResponse');
const OVERWRITE_IF_EXISTS_OR_ADD = officialRoot.lookupEnum('envoy.config.core.v3.HeaderValueOption.HeaderAppendAction')
  .values.OVERWRITE_IF_EXISTS_OR_ADD;
const serverCheck = loadAuthorizationService().Check as grpc.MethodDefinition<object, object>;

interface OfficialHeaderOption {
  header?: { key?: string; value?: string; raw_value?: Uint8Array };
  append?: unknown;
  append_action?: number;
}
interface OfficialDenied {
  status?: { code?: number };
  headers?: OfficialHeaderOption[];
  body?: string;
}
interface OfficialReply {
  status?: { code?: number; message?: string };
  denied_response?: OfficialDenied;
  ok_response?: { headers?: OfficialHeaderOption[]; headers_to_remove?: string[] };
  dynamic_metadata?: {
    fields?: Record<string, { structValue?: { fields?: Record<string, { stringValue?: string }> } }>;
  };
}

/** Serialized the way the server does (its service definition), decoded by the OFFICIAL protos. */
function officialView(bytes: Buffer): OfficialReply {
  return OfficialCheckResponse.toObject(OfficialCheckResponse.decode(bytes), { longs: String }) as OfficialReply;
}

/** Top-level length-delimited fields of a message, by number (what any parser sees first). */
function topLevelFields(bytes: Uint8Array): Map<number, Uint8Array[]> {
  const reader = protobuf.Reader.create(bytes);
  const fields = new Map<number, Uint8Array[]>();
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if ((tag & 7) !== 2) {
      reader.skipType(tag & 7);
      continue;
    }
    const list = fields.get(tag >>> 3) ?? [];
    list.push(reader.bytes());
    fields.set(tag >>> 3, list);
  }
  return fields;
}

function expectOverwriteHeaders(options: OfficialHeaderOption[] | undefined, expected: [string, string][]): void {
  expect((options ?? []).map((o) => [o.header?.key, o.header?.value])).toEqual(expected);
  for (const option of options ?? []) {
    expect(option.append_action).toBe(OVERWRITE_IF_EXISTS_OR_ADD);
    expect(option.append).toBeUndefined();
    expect(option.header?.raw_value).toBeUndefined();
  }
}

const REALM = 'api.example.com';
function deny(reason: DenyDecision['reason'], status: number, scopes: string[] = []): DenyDecision {
  const challenge = bearerChallenge(REALM, reason, scopes);
  return { outcome: 'deny', reason, status, route: 'orders', ...(challenge === undefined ? {} : { challenge }) };
}

describe('(c) toCheckResponse, as the official protos read it', () => {
  it('the expected enum number for OVERWRITE_IF_EXISTS_OR_ADD is 2', () => {
    expect(OVERWRITE_IF_EXISTS_OR_ADD).toBe(2);
  });

  it('allow: status OK, headers set with OVERWRITE_IF_EXISTS_OR_ADD, removals never undo a set, metadata without token data', () => {
    const decision: AllowDecision = {
      outcome: 'allow',
      reason: 'OK_AUTHENTICATED',
      route: 'orders-read',
      issuer: 'corp-idp',
      subject: 'user-8c2f1d',
      headersToSet: [
        { name: 'x-user-id', value: 'user-8c2f1d' },
        { name: 'x-user-scopes', value: 'orders:read orders:write' },
      ],
      headersToRemove: ['authorization', 'X-User-Id', 'x-user-email', 'x-user-email'],
    };
    const bytes = serverCheck.responseSerialize(toCheckResponse(decision));
    const reply = officialView(bytes);
    expect(reply.status).toEqual({}); // present, code 0 (OK) not written
    expect(bytes.subarray(0, 2)).toEqual(Buffer.from([0x0a, 0x00]));
    expect(reply.denied_response).toBeUndefined();
    expectOverwriteHeaders(reply.ok_response?.headers, [
      ['x-user-id', 'user-8c2f1d'],
      ['x-user-scopes', 'orders:read orders:write'],
    ]);
    expect(reply.ok_response?.headers_to_remove).toEqual(['authorization', 'x-user-email']);
    const setNames = new Set(reply.ok_response?.headers?.map((h) => h.header?.key));
    expect(reply.ok_response?.headers_to_remove?.filter((name) => setNames.has(name))).toEqual([]);
    expect(reply.dynamic_metadata?.fields?.[METADATA_NAMESPACE]?.structValue?.fields).toEqual({
      reason: { stringValue: 'OK_AUTHENTICATED' },
      route: { stringValue: 'orders-read' },
      issuer: { stringValue: 'corp-idp' },
    });
    expect(JSON.stringify(reply.dynamic_metadata)).not.toContain('user-8c2f1d'); // no subject or other token data
  });

  it.each([
    ['401 missing token', deny('ERR_TOKEN_MISSING', 401), 16, `Bearer realm="${REALM}"`],
    [
      '401 invalid_token',
      deny('ERR_TOKEN_EXPIRED', 401),
      16,
      `Bearer realm="${REALM}", error="invalid_token", error_description="token has expired"`,
    ],
    [
      '400 invalid_request',
      deny('ERR_MULTIPLE_TOKENS', 400),
      3,
      `Bearer realm="${REALM}", error="invalid_request", error_description="more than one credential (access token or other) in the request"`,
    ],
    [
      '403 insufficient_scope',
      deny('ERR_INSUFFICIENT_SCOPE', 403, ['orders:write']),
      7,
      `Bearer realm="${REALM}", error="insufficient_scope", error_description="token lacks what the route requires", scope="orders:write"`,
    ],
    ['403 no route', deny('ERR_ROUTE_NOT_FOUND', 403), 7, undefined],
  ] as const)('deny %s: gRPC code, HTTP status, challenge, problem body', (_label, decision, rpcCode, challenge) => {
    const reply = officialView(serverCheck.responseSerialize(toCheckResponse(decision)));
    expect(reply.status).toEqual({ code: rpcCode, message: decision.reason });
    expect(reply.ok_response).toBeUndefined();
    const denied = reply.denied_response!;
    expect(denied.status).toEqual({ code: decision.status });
    expectOverwriteHeaders(denied.headers, [
      ...(challenge === undefined ? [] : ([['www-authenticate', challenge]] as [string, string][])),
      ['content-type', 'application/problem+json'],
      ['cache-control', 'no-store'],
      [REASON_HEADER, decision.reason],
    ]);
    expect(denied.body).toBe(problemBody(decision));
    expect(JSON.parse(denied.body!)).toMatchObject({ status: decision.status, code: decision.reason });
    expect(reply.dynamic_metadata?.fields?.[METADATA_NAMESPACE]?.structValue?.fields).toEqual({
      reason: { stringValue: decision.reason },
      route: { stringValue: 'orders' },
    });
  });

  it.each([
    ['503', { outcome: 'error', reason: 'ERR_JWKS_UNAVAILABLE', status: 503, route: 'orders', issuer: 'corp-idp' }, 14],
    ['500', { outcome: 'error', reason: 'ERR_INTERNAL', status: 500 }, 13],
  ] as [string, DenyDecision, number][])(
    'error %s: status code, and error_response (field 5) is a DeniedHttpResponse the official protos read',
    (_label, decision, rpcCode) => {
      const bytes = serverCheck.responseSerialize(toCheckResponse(decision));
      // An Envoy build that predates field 5 (like the official copy) sees only a non-OK status.
      const reply = officialView(bytes);
      expect(reply.status).toEqual({ code: rpcCode, message: decision.reason });
      expect(reply.denied_response).toBeUndefined();
      expect(reply.ok_response).toBeUndefined();

      const fields = topLevelFields(bytes);
      expect(fields.has(2)).toBe(false);
      expect(fields.get(5)).toHaveLength(1);
      const raw = fields.get(5)![0]!;
      const errorResponse = OfficialDeniedHttpResponse.toObject(
        OfficialDeniedHttpResponse.decode(raw),
      ) as OfficialDenied;
      expect(errorResponse.status).toEqual({ code: decision.status });
      expectOverwriteHeaders(errorResponse.headers, [
        ['content-type', 'application/problem+json'],
        ['cache-control', 'no-store'],
        [REASON_HEADER, decision.reason],
      ]);
      expect(errorResponse.body).toBe(problemBody(decision));
      // Byte-identical to the official encoding of the same content.
      expect(
        Buffer.from(OfficialDeniedHttpResponse.encode(OfficialDeniedHttpResponse.fromObject(errorResponse)).finish()),
      ).toEqual(Buffer.from(raw));
    },
  );

  it('an HTTP status the StatusCode enum lacks falls back to one Envoy accepts', () => {
    const denied = toCheckResponse({ outcome: 'deny', reason: 'ERR_ROUTE_NOT_FOUND', status: 499 });
    expect(denied.denied_response?.status.code).toBe('Forbidden');
    const failed = toCheckResponse({ outcome: 'error', reason: 'ERR_INTERNAL', status: 599 });
    expect(failed.error_response?.status.code).toBe('InternalServerError');
  });
});

// ---------------------------------------------------------------------------------------------
// (d) toRequestView on what the server decodes

interface ExpectedView {
  method: string;
  host: string;
  path: string;
  authorization: string[] | undefined;
  requestId?: string;
}
const BEARER = [`Bearer ${testMaterial.jwt}`];
const EXPECTED_VIEWS: Record<string, ExpectedView> = {
  'context-extensions-metadata': {
    method: 'DELETE',
    host: 'api.example.com',
    path: '/v1/orders/ord_8f3a2',
    authorization: BEARER,
    requestId: '5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d',
  },
  'grpc-binary-body': {
    method: 'POST',
    host: 'orders.backend.svc.cluster.local',
    path: '/acme.orders.v1.OrderService/GetOrder',
    authorization: BEARER,
    requestId: '8a9b0c1d-2e3f-4a5b-9c6d-7e8f9a0b1c2d',
  },
  'header-map-raw': {
    method: 'GET',
    host: 'api.example.com',
    path: '/v1/profile',
    authorization: BEARER,
    requestId: '9b2c4d6e-8f0a-4b1c-9d3e-5f7a9b1c3d5e',
  },
  'http11-get-bearer': {
    method: 'GET',
    host: 'api.example.com',
    path: '/v1/orders?status=open&limit=25&cursor=eyJpZCI6MTIzNH0',
    authorization: BEARER,
    requestId: '3f0b9c1e-7a5d-4c8e-9a61-2f4d8b7e1c03',
  },
  'http11-post-body-partial': {
    method: 'POST',
    host: 'reports.internal.example.com',
    path: '/v1/reports/upload?format=csv',
    authorization: ['Basic c3ZjLXJlcG9ydGluZzpzM2NyM3QtdDBrZW4='],
    requestId: '0d4c2b1a-9e8f-4a7b-8c6d-5e4f3a2b1c0d',
  },
  'http2-post-raw-body': {
    method: 'POST',
    host: 'api.example.com',
    path: '/v1/orders',
    authorization: BEARER,
    requestId: 'b6f2a7d4-1c3e-4f8a-9b0d-5e6f7a8b9c0d',
  },
  'http3-tls-sni': {
    method: 'GET',
    host: 'api.example.com',
    path: '/v2/catalog/items/SKU-1042',
    authorization: undefined,
    requestId: 'e1f2a3b4-c5d6-4e7f-8091-a2b3c4d5e6f7',
  },
  'https-mtls-spiffe': {
    method: 'GET',
    host: 'orders.backend.svc.cluster.local',
    path: '/v1/orders/ord_8f3a2?expand=items',
    authorization: BEARER,
    requestId: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
  },
  'large-header': {
    method: 'GET',
    host: 'app.example.com',
    path: '/v1/dashboard',
    authorization: BEARER,
    requestId: '4d5e6f70-8192-4a3b-8c4d-5e6f708192a3',
  },
  'multi-valued-headers': {
    method: 'GET',
    host: 'api.example.com',
    path: '/v1/cart',
    authorization: BEARER,
    requestId: '2c4e6a8b-0d1f-4e3a-8b5c-7d9e1f3a5b7c',
  },
  'network-filter-tcp': { method: '', host: '', path: '', authorization: undefined },
  'no-authorization': {
    method: 'GET',
    host: 'www.example.com',
    path: '/search?q=caf%C3%A9%20cr%C3%A8me&lang=fr',
    authorization: undefined,
    requestId: '1e2d3c4b-5a69-4788-9a0b-1c2d3e4f5a6b',
  },
  'unicode-path': {
    method: 'GET',
    host: 'docs.example.com',
    path: '/wiki/Zoë/日本語/😀.md?q=café&tag=δοκιμή',
    authorization: BEARER,
    requestId: '6f7a8b9c-0d1e-4f2a-8b3c-4d5e6f7a8b9c',
  },
};

function serverDecoded(name: string): CheckRequestMessage {
  return serverCheck.requestDeserialize(fixtureBytes(`${name}.CheckRequest`)) as CheckRequestMessage;
}

describe('(d) toRequestView on the golden CheckRequests', () => {
  it('has an expectation for every request vector', () => {
    expect(Object.keys(EXPECTED_VIEWS).sort()).toEqual(requestVectors);
  });

  it.each(requestVectors)('%s', (name) => {
    const view = toRequestView(serverDecoded(name));
    const expected = EXPECTED_VIEWS[name]!;
    expect({
      method: view.method,
      host: view.host,
      path: view.path,
      authorization: view.headers.get('authorization'),
      requestId: view.requestId,
    }).toEqual({ ...expected, requestId: expected.requestId });
  });

  it('header-map-raw: duplicates stay separate values, raw bytes decoded as UTF-8 with replacement', () => {
    const view = toRequestView(serverDecoded('header-map-raw'));
    expect(view.headers.get('x-client-tag')).toEqual(['blue', 'canary']);
    // "José Muñoz" sent as Latin-1: the two non-ASCII bytes are not UTF-8, so they become U+FFFD.
    expect(view.headers.get('x-legacy-name')).toEqual(['Jos\uFFFD Mu\uFFFDoz']);
    expect(view.headers.get(':method')).toEqual(['GET']);
  });

  it('multi-valued-headers: a value Envoy joined with "," stays one value', () => {
    const view = toRequestView(serverDecoded('multi-valued-headers'));
    expect(view.headers.get('x-client-tag')).toEqual(['blue,canary']);
  });

  it('large-header: a 20 KiB cookie is under the cap and kept whole', () => {
    const view = toRequestView(serverDecoded('large-header'));
    expect(view.headers.get('cookie')?.[0]?.length).toBeGreaterThanOrEqual(20_480);
  });

  it('network-filter-tcp: no HTTP request gives an empty view, without throwing', () => {
    const view = toRequestView(serverDecoded('network-filter-tcp'));
    expect(view.headers.size).toBe(0);
    expect(view.requestId).toBeUndefined();
  });
});

describe('toRequestView on hostile or unusual input', () => {
  const withHttp = (http: unknown): CheckRequestMessage =>
    ({ attributes: { request: { http } } }) as CheckRequestMessage;

  it('never throws, whatever the decoded object holds', () => {
    fc.assert(
      fc.property(fc.anything(), fc.anything(), (http, headerEntries) => {
        toRequestView(withHttp(http));
        toRequestView(withHttp({ header_map: { headers: headerEntries } }));
        toRequestView(withHttp({ headers: http }));
        toRequestView({ attributes: http } as CheckRequestMessage);
      }),
      { numRuns: 500 },
    );
    expect(toRequestView(undefined).method).toBe('');
    expect(toRequestView(null).path).toBe('');
    expect(toRequestView({}).headers.size).toBe(0);
  });

  it(`reads at most ${MAX_HEADER_ENTRIES} header entries`, () => {
    const entries = Array.from({ length: MAX_HEADER_ENTRIES + 50 }, (_, i) => ({ key: `x-h${i}`, value: 'v' }));
    const fromList = toRequestView(withHttp({ header_map: { headers: entries } }));
    expect(fromList.headers.size).toBe(MAX_HEADER_ENTRIES);
    const fromMap = toRequestView(withHttp({ headers: Object.fromEntries(entries.map((e) => [e.key, e.value])) }));
    expect(fromMap.headers.size).toBe(MAX_HEADER_ENTRIES);
  });

  it(`drops values over ${MAX_HEADER_VALUE_BYTES} bytes, counted in UTF-8`, () => {
    const atCap = 'a'.repeat(MAX_HEADER_VALUE_BYTES);
    const overCapInUtf8 = 'é'.repeat(MAX_HEADER_VALUE_BYTES / 2 + 1); // 2 bytes each
    const view = toRequestView(
      withHttp({
        header_map: {
          headers: [
            { key: 'x-at-cap', raw_value: Buffer.from(atCap) },
            { key: 'x-over-raw', raw_value: Buffer.alloc(MAX_HEADER_VALUE_BYTES + 1, 0x61) },
            { key: 'x-over-utf8', value: overCapInUtf8 },
          ],
        },
      }),
    );
    expect(view.headers.get('x-at-cap')).toEqual([atCap]);
    expect(view.headers.has('x-over-raw')).toBe(false);
    expect(view.headers.has('x-over-utf8')).toBe(false);
  });

  it('prefers raw_value, falls back to value, reads an empty header as ""; lower-cases names', () => {
    const view = toRequestView(
      withHttp({
        header_map: {
          headers: [
            { key: 'X-Both', value: 'from-value', raw_value: Buffer.from('from-raw') },
            { key: 'x-value-only', value: 'v' },
            { key: 'x-empty' },
            { value: 'no key' },
          ],
        },
      }),
    );
    expect([...view.headers]).toEqual([
      ['x-both', ['from-raw']],
      ['x-value-only', ['v']],
      ['x-empty', ['']],
    ]);
  });

  it('falls back to pseudo-headers and strips ports from the host', () => {
    const view = toRequestView(
      withHttp({ headers: { ':method': 'patch', ':authority': 'API.Example.com:8443', ':path': '/a?b=c' } }),
    );
    expect([view.method, view.host, view.path]).toEqual(['PATCH', 'api.example.com', '/a?b=c']);
  });

  it.each([
    ['api.example.com', 'api.example.com'],
    ['API.example.COM:443', 'api.example.com'],
    ['[::1]:8080', '[::1]'],
    ['[2001:DB8::1]', '[2001:db8::1]'],
    ['[::1', '[::1'],
    ['::1', '::1'],
    ['', ''],
  ])('hostWithoutPort(%j) = %j', (authority, host) => {
    expect(hostWithoutPort(authority)).toBe(host);
  });
});
