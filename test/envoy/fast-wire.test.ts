/**
 * The wire decoder and the allow encoder (src/envoy/fast-request.ts, fast-response.ts) against
 * proto-loader: same views on every golden CheckRequest vector, same bytes for allow responses, and
 * the server answering through them over real gRPC on loopback.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { AllowDecision } from '../../src/engine/types.js';
import { decodeCheckRequest, MALFORMED } from '../../src/envoy/fast-request.js';
import { encodeAllowResponse } from '../../src/envoy/fast-response.js';
import type { CheckRequestMessage } from '../../src/envoy/messages.js';
import { checkMessageTypes, loadAuthorizationService } from '../../src/envoy/proto.js';
import { toRequestView } from '../../src/envoy/request.js';
import { allowResponseWithoutMetadata, decisionMetadata } from '../../src/envoy/response.js';

const FIXTURE_DIR = fileURLToPath(new URL('../fixtures/envoy-wire/', import.meta.url));
const requestVectors = readdirSync(FIXTURE_DIR)
  .filter((f) => f.endsWith('.CheckRequest.bin'))
  .sort();
const check = loadAuthorizationService().Check!;

/** The view the object path makes of proto-loader's decode. */
const objectView = (bytes: Buffer) => toRequestView(check.requestDeserialize(bytes) as CheckRequestMessage);

describe('decodeCheckRequest on the golden CheckRequests', () => {
  it('covers every request vector', () => {
    expect(requestVectors.length).toBeGreaterThanOrEqual(10);
  });

  it.each(requestVectors)('%s: the view proto-loader + toRequestView make, header order included', (file) => {
    const bytes = readFileSync(FIXTURE_DIR + file);
    const fast = decodeCheckRequest(bytes);
    if (fast === MALFORMED) throw new Error(`${file} decoded as malformed`);
    const expected = objectView(bytes);
    expect(fast).toEqual(expected);
    expect([...fast.headers.keys()]).toEqual([...expected.headers.keys()]);
  });

  it('exposes attributes.source.certificate and the scheme (https-mtls-spiffe)', () => {
    const bytes = readFileSync(`${FIXTURE_DIR}https-mtls-spiffe.CheckRequest.bin`);
    const decoded = check.requestDeserialize(bytes) as { attributes: { source?: { certificate?: string } } };
    const fast = decodeCheckRequest(bytes);
    if (fast === MALFORMED) throw new Error('malformed');
    expect(fast.scheme).toBe('https');
    expect(fast.authority).toBe('orders.backend.svc.cluster.local:8443'); // as received, port kept
    expect(fast.envoyPeerCertificate).toBe(decoded.attributes.source?.certificate);
    expect(fast.envoyPeerCertificate).toMatch(/BEGIN%20CERTIFICATE/);
  });

  it('reads raw_value bytes of header_map as UTF-8 with replacement (header-map-raw)', () => {
    const fast = decodeCheckRequest(readFileSync(`${FIXTURE_DIR}header-map-raw.CheckRequest.bin`));
    if (fast === MALFORMED) throw new Error('malformed');
    expect(fast.headers.get('x-client-tag')).toEqual(['blue', 'canary']);
    expect(fast.headers.get('x-legacy-name')).toEqual(['Jos\uFFFD Mu\uFFFDoz']);
  });

  it.each([
    ['a length past the end', Buffer.from([0x0a, 0x05, 0x22, 0x01])],
    ['a truncated varint', Buffer.from([0x0a, 0x80])],
    ['wire type 7', Buffer.from([0x0f])],
    ['an end-group without a start', Buffer.from([0x0c])],
    ['attributes sent as a varint', Buffer.from([0x08, 0x01])],
  ])('%s is MALFORMED, not an exception', (_label, bytes) => {
    expect(decodeCheckRequest(bytes)).toBe(MALFORMED);
  });

  it('an empty message is a request without HTTP attributes (as proto-loader reads it)', () => {
    expect(decodeCheckRequest(Buffer.alloc(0))).toEqual(objectView(Buffer.alloc(0)));
  });
});

describe('encodeAllowResponse', () => {
  const allow = (over: Partial<AllowDecision>): AllowDecision => ({
    outcome: 'allow',
    reason: 'OK_AUTHENTICATED',
    route: 'orders',
    issuer: 'corp',
    headersToSet: [],
    headersToRemove: [],
    ...over,
  });
  const metadata = (d: AllowDecision) => check.responseSerialize({ dynamic_metadata: decisionMetadata(d) }) as Buffer;
  const viaProtoLoader = (d: AllowDecision) =>
    Buffer.concat([check.responseSerialize(allowResponseWithoutMetadata(d)) as Buffer, metadata(d)]);

  it.each<[string, AllowDecision]>([
    ['no headers', allow({})],
    [
      'identity headers, removals, a removal that is also set',
      allow({
        headersToSet: [
          { name: 'x-user-id', value: 'user-1' },
          { name: 'X-Scopes', value: 'a b c' },
          { name: 'x-empty', value: '' },
        ],
        headersToRemove: ['authorization', 'x-user-id', 'X-Other', 'x-other'],
      }),
    ],
    ['non-ASCII and long values', allow({ headersToSet: [{ name: 'x-name', value: 'Zoë 日本 😀'.repeat(2000) }] })],
    ['an anonymous route (no issuer)', allow({ issuer: undefined, reason: 'OK_ANONYMOUS' as AllowDecision['reason'] })],
  ])('%s: the bytes proto-loader writes', (_label, d) => {
    expect(encodeAllowResponse(d, metadata(d)).equals(viaProtoLoader(d))).toBe(true);
  });

  it('decodes with the reflection types to the allow it encodes', () => {
    const d = allow({ headersToSet: [{ name: 'x-user-id', value: 'u' }], headersToRemove: ['authorization'] });
    const reply = checkMessageTypes().CheckResponse.toObject(
      checkMessageTypes().CheckResponse.decode(encodeAllowResponse(d, metadata(d))),
      { enums: String },
    );
    expect(reply.ok_response.headers[0]).toEqual({
      header: { key: 'x-user-id', value: 'u' },
      append_action: 'OVERWRITE_IF_EXISTS_OR_ADD',
    });
    expect(reply.ok_response.headers_to_remove).toEqual(['authorization']);
  });
});
