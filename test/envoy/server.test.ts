import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { createCheckClient, summarise } from '../../src/cli/check-client.js';
import type { CheckResponseMessage } from '../../src/envoy/messages.js';
import type { Decide } from '../../src/engine/decide.js';
import type { Decision, RequestView } from '../../src/engine/types.js';
import { answerCheck, startGrpcServer, type GrpcServer } from '../../src/envoy/server.js';
import { toCheckResponse } from '../../src/envoy/response.js';

const allowDecision: Decision = {
  outcome: 'allow',
  reason: 'OK_AUTHENTICATED',
  route: 'r',
  issuer: 'i',
  subject: 's',
  headersToSet: [{ name: 'x-user-id', value: 's' }],
  headersToRemove: ['x-user-email'],
};

function healthStatus(port: number, serviceName: string): Promise<string> {
  const Client = grpc.makeGenericClientConstructor(healthService, 'Health');
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    check(req: { service: string }, cb: (err: grpc.ServiceError | null, res?: { status: string }) => void): void;
  };
  return new Promise((resolve, reject) =>
    client.check({ service: serviceName }, (err, res) => {
      client.close();
      if (err) reject(err);
      else resolve(String(res?.status));
    }),
  );
}

describe('gRPC Check server', () => {
  let server: GrpcServer;
  let decide: Decide = async () => allowDecision;

  beforeAll(async () => {
    server = await startGrpcServer({ address: '127.0.0.1:0', decider: () => decide });
  });
  afterAll(() => server.shutdown(1000));

  it('answers Check over real gRPC with the decision as a CheckResponse', async () => {
    decide = async () => allowDecision;
    const client = createCheckClient(`127.0.0.1:${server.port}`);
    const answer = await client.check({ path: '/x' });
    client.close();
    expect(answer.kind).toBe('allow');
    expect(answer.headers).toEqual({ 'x-user-id': 's' });
    expect(answer.headersToRemove).toEqual(['x-user-email']);
    // The metadata travels as pre-encoded bytes appended to the message; the client decodes it as usual.
    expect(answer.raw.dynamic_metadata).toEqual(toCheckResponse(allowDecision).dynamic_metadata);
  });

  it('turns an exception in the engine into an error answer, never a transport error or an allow', async () => {
    decide = async () => {
      throw new TypeError('boom');
    };
    const client = createCheckClient(`127.0.0.1:${server.port}`);
    const answer = await client.check({ path: '/x' });
    client.close();
    expect(answer.kind).toBe('error');
    expect(answer.grpcCode).toBe(13);
    expect(answer.httpStatus).toBe(500);
    expect(answer.reason).toBe('ERR_INTERNAL');
    expect(answer.body).not.toContain('boom');
  });

  it('hands an empty or hostile CheckRequest to the engine as a plain view instead of failing the call', async () => {
    const seen: RequestView[] = [];
    decide = async (view) => {
      seen.push(view);
      return allowDecision;
    };
    const client = createCheckClient(`127.0.0.1:${server.port}`);
    const answers = await Promise.all([
      client.check({ attributes: {} }),
      client.check({ attributes: { request: { http: { headers: { authorization: 'Bearer \u0000\r\n' } } } } }),
    ]);
    client.close();
    expect(answers.map((a) => a.grpcCode)).toEqual([0, 0]);
    expect(seen).toHaveLength(2);
    const hostile = seen.find((v) => v.headers.has('authorization'));
    expect(hostile?.headers.get('authorization')).toEqual(['Bearer \u0000\r\n']);
  });

  it('answers bytes that are not a CheckRequest with an in-band 400 denial, never a transport error', async () => {
    let consulted = 0;
    decide = async () => {
      consulted++;
      return allowDecision;
    };
    // A client whose serializer passes raw bytes through: truncated varints, a wrong wire type, a length
    // running past the end. Each is invalid protobuf for CheckRequest.
    const passThrough = {
      Check: {
        path: '/envoy.service.auth.v3.Authorization/Check',
        requestStream: false,
        responseStream: false,
        requestSerialize: (b: Buffer) => b,
        requestDeserialize: (b: Buffer) => b,
        responseSerialize: (b: Buffer) => b,
        responseDeserialize: (b: Buffer) => b,
      },
    };
    const Raw = grpc.makeGenericClientConstructor(passThrough, 'RawAuthorization');
    const raw = new Raw(`127.0.0.1:${server.port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
      Check(req: Buffer, cb: (err: grpc.ServiceError | null, res?: Buffer) => void): void;
    };
    const garbage = [Buffer.from([0x0a, 0xff, 0xff, 0xff]), Buffer.from([0x0f]), Buffer.from([0x0a, 0x40, 0x01])];
    const { checkMessageTypes } = await import('../../src/envoy/proto.js');
    const { CheckResponse } = checkMessageTypes();
    for (const bytes of garbage) {
      const answer = await new Promise<Buffer>((resolve, reject) =>
        raw.Check(bytes, (err, res) => (err ? reject(err) : resolve(res!))),
      );
      const summary = summarise(
        CheckResponse.toObject(CheckResponse.decode(answer), { enums: String }) as CheckResponseMessage,
      );
      expect(summary).toMatchObject({ kind: 'deny', grpcCode: 3, httpStatus: 400, reason: 'ERR_REQUEST_MALFORMED' });
      expect(summary.headers['www-authenticate']).toMatch(/^Bearer realm="claimgate", error="invalid_request"/);
    }
    raw.close();
    expect(consulted).toBe(0);
  });

  it('reports health NOT_SERVING until told, then SERVING, for the overall and the Authorization service', async () => {
    expect(await healthStatus(server.port, '')).toBe('NOT_SERVING');
    server.setServing('SERVING');
    expect(await healthStatus(server.port, '')).toBe('SERVING');
    expect(await healthStatus(server.port, 'envoy.service.auth.v3.Authorization')).toBe('SERVING');
  });
});

describe('answerCheck', () => {
  it('still answers when the observer throws', async () => {
    const response = await answerCheck(
      {},
      async () => allowDecision,
      () => {
        throw new Error('metrics broke');
      },
    );
    expect(response.status?.code ?? 0).toBe(0);
    expect(response.ok_response?.headers?.[0]?.header.key).toBe('x-user-id');
  });

  it('answers a synchronous throw inside the decider as ERR_INTERNAL', async () => {
    const response = await answerCheck({}, (() => {
      throw new Error('sync');
    }) as unknown as Decide);
    expect(response.status?.code).toBe(13);
    expect(response.error_response).toBeDefined();
  });
});

describe('reused denial responses', () => {
  it('encode to exactly the bytes a fresh encoding of the same decision gives', async () => {
    const { loadAuthorizationService } = await import('../../src/envoy/proto.js');
    const { toCheckResponse } = await import('../../src/envoy/response.js');
    const serialize = loadAuthorizationService().Check!.responseSerialize;
    const denial: Decision = {
      outcome: 'deny',
      reason: 'ERR_SIGNATURE_INVALID',
      status: 401,
      route: 'r',
      issuer: 'i',
      challenge: 'Bearer realm="x", error="invalid_token"',
    };
    const first = await answerCheck({}, async () => denial);
    const second = await answerCheck({}, async () => denial);
    expect(second).toBe(first);
    const [symbol] = Object.getOwnPropertySymbols(first);
    const attached = (first as unknown as Record<symbol, Buffer>)[symbol!];
    expect(Buffer.compare(attached!, serialize(toCheckResponse(denial)) as Buffer)).toBe(0);
  });
});
