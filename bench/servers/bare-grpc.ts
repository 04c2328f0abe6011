/**
 * Scenarios A0, A and A2: a bare grpc-js Check server on claimgate's own protos and loader options.
 *   A0 (--raw):     identity (de)serializers: the request stays a Buffer, the answer is a pre-encoded OK —
 *                   grpc-js and HTTP/2 alone, no protobuf work at all.
 *   A  (default):   proto-loader objects in and out, answers every Check with a fixed OK — the transport
 *                   ceiling as a proto-loader server sees it.
 *   A2 (--verify F): also does one node:crypto RS256 verify per Check on a KeyObject imported once
 *                   from F (JSON: { jwk, token }) — the crypto ceiling.
 * Prints `ready <port>` on stdout once listening on 127.0.0.1.
 */
import { createPublicKey, verify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { loadAuthorizationService } from '../../src/envoy/proto.js';
import type { CheckRequestMessage, CheckResponseMessage } from '../../src/envoy/messages.js';

const { values } = parseArgs({
  options: {
    verify: { type: 'string' },
    port: { type: 'string', default: '0' },
    raw: { type: 'boolean', default: false },
  },
});

const OK: CheckResponseMessage = { status: { code: 0 }, ok_response: {} } as CheckResponseMessage;
const DENIED: CheckResponseMessage = { status: { code: 16 } } as CheckResponseMessage;

let perCall: () => boolean = () => true;
if (values.verify !== undefined) {
  const material = JSON.parse(readFileSync(values.verify, 'utf8')) as { jwk: Record<string, unknown>; token: string };
  const key = createPublicKey({ key: material.jwk as import('node:crypto').JsonWebKey, format: 'jwk' });
  const dot = material.token.lastIndexOf('.');
  const signingInput = Buffer.from(material.token.slice(0, dot), 'latin1');
  const signature = Buffer.from(material.token.slice(dot + 1), 'base64url');
  perCall = () => verify('sha256', signingInput, key, signature);
  if (!perCall()) throw new Error('A2: the verify material does not verify');
}

const server = new grpc.Server({
  'grpc.max_receive_message_length': 1024 * 1024,
  'grpc.max_send_message_length': 64 * 1024,
});
const service = loadAuthorizationService();
if (values.raw) {
  const check = service.Check!;
  const okBytes = check.responseSerialize(OK) as Buffer;
  const identity = (b: Buffer) => b;
  server.addService(
    { ...service, Check: { ...check, requestDeserialize: identity, responseSerialize: identity } },
    {
      Check(_call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) {
        callback(null, okBytes);
      },
    },
  );
} else {
  server.addService(service, {
    Check(
      _call: grpc.ServerUnaryCall<CheckRequestMessage, CheckResponseMessage>,
      callback: grpc.sendUnaryData<CheckResponseMessage>,
    ) {
      callback(null, perCall() ? OK : DENIED);
    },
  });
}
server.bindAsync(`127.0.0.1:${values.port}`, grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    process.stderr.write(`bind failed: ${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`ready ${port}\n`);
});
const stop = () => server.tryShutdown(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
