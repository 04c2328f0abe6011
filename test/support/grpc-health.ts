/** One `grpc.health.v1.Health/Check` over loopback, as a Kubernetes gRPC probe or Envoy would send it. */
import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';

export function healthStatus(port: number, service = ''): Promise<string> {
  const Client = grpc.makeGenericClientConstructor(healthService, 'Health');
  const client = new Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as grpc.Client & {
    check(
      req: { service: string },
      opts: grpc.CallOptions,
      cb: (err: grpc.ServiceError | null, res?: { status: string }) => void,
    ): void;
  };
  return new Promise((resolve, reject) =>
    client.check({ service }, { deadline: Date.now() + 3000 }, (err, res) => {
      client.close();
      if (err) reject(err);
      else resolve(String(res?.status));
    }),
  );
}
