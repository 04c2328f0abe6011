/**
 * The allow CheckResponse written straight to wire bytes. An allow's headers carry per-token values, so it
 * cannot be cached whole like a denial (server.ts); proto-loader would build a protobufjs message from a
 * plain object and then encode it. This writes the same bytes directly: `status {}`, then `ok_response`
 * (headers with OVERWRITE_IF_EXISTS_OR_ADD, then headers_to_remove), then the pre-encoded
 * `dynamic_metadata` field, in field-number order as protobufjs writes them
 * (test/envoy/fast-response.test.ts compares byte for byte with proto-loader's encoding).
 */
import type { AllowDecision } from '../engine/types.js';
import { allowRemovals } from './response.js';

/** `status` (field 1) present and empty: google.rpc.Code OK (0) is not written. */
const STATUS_OK = Buffer.from([0x0a, 0x00]);
const OK_RESPONSE_TAG = 0x1a; // CheckResponse.ok_response = 3, LEN
const OK_HEADERS_TAG = 0x12; // OkHttpResponse.headers = 2, LEN
const OK_REMOVE_TAG = 0x2a; // OkHttpResponse.headers_to_remove = 5, LEN
const OPTION_HEADER_TAG = 0x0a; // HeaderValueOption.header = 1, LEN
const VALUE_KEY_TAG = 0x0a; // HeaderValue.key = 1, LEN
const VALUE_VALUE_TAG = 0x12; // HeaderValue.value = 2, LEN
/** HeaderValueOption.append_action (3, VARINT) = OVERWRITE_IF_EXISTS_OR_ADD (2). */
const OVERWRITE_ACTION = [0x18, 0x02] as const;

const varintSize = (n: number): number => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5);

function writeVarint(buf: Buffer, pos: number, n: number): number {
  while (n >= 0x80) {
    buf[pos++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  buf[pos++] = n;
  return pos;
}

/** Field tag + length + bytes of a string. */
const stringFieldSize = (bytes: number): number => 1 + varintSize(bytes) + bytes;

/** The CheckResponse for an allow, with `metadata` (the encoded `dynamic_metadata` field) appended. */
export function encodeAllowResponse(decision: AllowDecision, metadata: Buffer): Buffer {
  const set = decision.headersToSet;
  const remove = allowRemovals(decision);
  // Sizes first (every nested message is length-prefixed), then one write pass.
  const keyBytes = new Array<number>(set.length);
  const valueBytes = new Array<number>(set.length);
  const valueMessage = new Array<number>(set.length);
  const optionMessage = new Array<number>(set.length);
  let okSize = 0;
  for (let i = 0; i < set.length; i++) {
    const header = set[i]!;
    keyBytes[i] = Buffer.byteLength(header.name);
    valueBytes[i] = Buffer.byteLength(header.value);
    valueMessage[i] = stringFieldSize(keyBytes[i]!) + stringFieldSize(valueBytes[i]!);
    optionMessage[i] = 1 + varintSize(valueMessage[i]!) + valueMessage[i]! + OVERWRITE_ACTION.length;
    okSize += 1 + varintSize(optionMessage[i]!) + optionMessage[i]!;
  }
  const removeBytes = remove.map((name) => Buffer.byteLength(name));
  for (const n of removeBytes) okSize += stringFieldSize(n);

  const total = STATUS_OK.length + 1 + varintSize(okSize) + okSize + metadata.length;
  const buf = Buffer.allocUnsafe(total);
  let pos = STATUS_OK.copy(buf, 0);
  buf[pos++] = OK_RESPONSE_TAG;
  pos = writeVarint(buf, pos, okSize);
  for (let i = 0; i < set.length; i++) {
    const header = set[i]!;
    buf[pos++] = OK_HEADERS_TAG;
    pos = writeVarint(buf, pos, optionMessage[i]!);
    buf[pos++] = OPTION_HEADER_TAG;
    pos = writeVarint(buf, pos, valueMessage[i]!);
    buf[pos++] = VALUE_KEY_TAG;
    pos = writeVarint(buf, pos, keyBytes[i]!);
    pos += buf.write(header.name, pos, 'utf8');
    buf[pos++] = VALUE_VALUE_TAG;
    pos = writeVarint(buf, pos, valueBytes[i]!);
    pos += buf.write(header.value, pos, 'utf8');
    buf[pos++] = OVERWRITE_ACTION[0];
    buf[pos++] = OVERWRITE_ACTION[1];
  }
  for (let i = 0; i < remove.length; i++) {
    buf[pos++] = OK_REMOVE_TAG;
    pos = writeVarint(buf, pos, removeBytes[i]!);
    pos += buf.write(remove[i]!, pos, 'utf8');
  }
  metadata.copy(buf, pos);
  return buf;
}
