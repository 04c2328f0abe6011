/**
 * Real TLS on loopback: mutual TLS between a proxy and claimgate on the gRPC and HTTP listeners,
 * the allow-list of client identities, and certificate rotation without a restart.
 */
import { copyFileSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { connect as tlsConnect } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { startClaimgate, type Claimgate } from '../../src/app/claimgate.js';
import { createCheckClient } from '../../src/cli/check-client.js';
import { validateConfig } from '../../src/validation/load.js';
import { compileClientCheck, subjectAltNames } from '../../src/net/tls.js';
import { TestPki, type CertFiles } from '../support/certs.js';
import { FakeClock } from '../keys/fake-clock.js';

const ENVOY_ID = 'spiffe://cluster.local/ns/edge/sa/envoy';

describe('mutual TLS between proxy and claimgate', () => {
  const pki = new TestPki();
  const ca = pki.ca('proxy-ca');
  const otherCa = pki.ca('other-ca');
  const serverV1 = pki.leaf('server-v1', ca, 'claimgate', 'IP:127.0.0.1,DNS:localhost', 'serverAuth');
  const serverV2 = pki.leaf('server-v2', ca, 'claimgate', 'IP:127.0.0.1,DNS:localhost', 'serverAuth');
  const envoy = pki.leaf('envoy', ca, 'envoy', `URI:${ENVOY_ID}`, 'clientAuth');
  const intruder = pki.leaf(
    'intruder',
    ca,
    'intruder',
    'URI:spiffe://cluster.local/ns/default/sa/intruder',
    'clientAuth',
  );
  const foreign = pki.leaf('foreign', otherCa, 'envoy', `URI:${ENVOY_ID}`, 'clientAuth');
  // The files claimgate reads; rotation overwrites them in place.
  const live: CertFiles = { cert: `${pki.dir}/live.crt`, key: `${pki.dir}/live.key` };
  copyFileSync(serverV1.cert, live.cert);
  copyFileSync(serverV1.key, live.key);

  // claimgate's timer: the certificate files are re-read when the test moves it, never by waiting.
  const clock = new FakeClock();
  const RELOAD_INTERVAL_MS = 1000;
  let app: Claimgate;
  beforeAll(async () => {
    app = await startClaimgate(
      validateConfig({
        server: { grpc_address: '127.0.0.1:0', admin_address: '127.0.0.1:0' },
        logging: { level: 'silent' },
        http: { address: '127.0.0.1:0' },
        tls: {
          cert_file: live.cert,
          key_file: live.key,
          client_ca_file: ca.cert,
          allowed_clients: [ENVOY_ID],
          reload_interval_seconds: RELOAD_INTERVAL_MS / 1000,
        },
        unmatched: 'authenticated',
        issuers: [
          {
            name: 'idp',
            issuer: 'https://idp.example.com',
            audiences: ['api'],
            jwks_file: '/nonexistent/claimgate-test/jwks.json',
          },
        ], // no network: a missing local file
      }),
      { setTimer: clock.setTimer },
    );
  });
  afterAll(() => app.close(1000));

  const grpcAs = (client: CertFiles | undefined) =>
    createCheckClient(
      `127.0.0.1:${app.grpcPort}`,
      grpc.credentials.createSsl(
        pki.read(ca.cert),
        client ? pki.read(client.key) : null,
        client ? pki.read(client.cert) : null,
      ),
      // A fresh connection per client, so each test sees its own handshake.
      { 'grpc.use_local_subchannel_pool': 1 },
    );

  async function grpcOutcome(client: CertFiles | undefined): Promise<string> {
    const c = grpcAs(client);
    try {
      const answer = await c.check({ path: '/x' }, 3000);
      return `answered:${answer.reason}`;
    } catch (e) {
      return `refused:${grpc.status[(e as grpc.ServiceError).code]}`;
    } finally {
      c.close();
    }
  }

  it('serves a proxy presenting a certificate of the client CA with an allowed identity', async () => {
    expect(await grpcOutcome(envoy)).toBe('answered:ERR_TOKEN_MISSING');
  });

  it('refuses a client without a certificate', async () => {
    expect(await grpcOutcome(undefined)).toBe('refused:UNAVAILABLE');
  });

  it('refuses a client whose certificate comes from another CA', async () => {
    expect(await grpcOutcome(foreign)).toBe('refused:UNAVAILABLE');
  });

  it('refuses a client of the right CA whose identity is not allowed, in band (never a transport error)', async () => {
    expect(await grpcOutcome(intruder)).toBe('answered:ERR_CLIENT_NOT_ALLOWED');
  });

  function httpsStatus(client: CertFiles | undefined): Promise<string> {
    return new Promise((resolve) => {
      const req = httpsRequest(
        {
          host: '127.0.0.1',
          port: app.httpPort,
          path: '/auth',
          ca: pki.read(ca.cert),
          ...(client ? { cert: pki.read(client.cert), key: pki.read(client.key) } : {}),
          headers: { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/x', 'x-forwarded-host': 'api.example.com' },
          agent: false,
        },
        (res) => {
          res.resume();
          resolve(`${res.statusCode}:${String(res.headers['x-claimgate-reason'])}`);
        },
      );
      req.on('error', (e: NodeJS.ErrnoException) => resolve(`refused:${e.code ?? e.message}`));
      req.end();
    });
  }

  it('applies the same rules on the HTTP front door', async () => {
    expect(await httpsStatus(envoy)).toBe('401:ERR_TOKEN_MISSING');
    expect(await httpsStatus(intruder)).toBe('403:ERR_CLIENT_NOT_ALLOWED');
    expect(await httpsStatus(foreign)).toMatch(/^refused:/);
    expect(await httpsStatus(undefined)).toMatch(/^refused:/);
  });

  function servedSerial(port: number, alpn: string[]): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = tlsConnect(
        {
          host: '127.0.0.1',
          port,
          ca: pki.read(ca.cert),
          cert: pki.read(envoy.cert),
          key: pki.read(envoy.key),
          ALPNProtocols: alpn,
        },
        () => {
          const serial = socket.getPeerCertificate().serialNumber;
          socket.end();
          resolve(serial);
        },
      );
      socket.on('error', reject);
    });
  }

  it('picks up a rotated server certificate on disk without a restart, on both listeners', async () => {
    const before = await servedSerial(app.grpcPort, ['h2']);
    expect(await servedSerial(app.httpPort!, ['http/1.1'])).toBe(before);
    copyFileSync(serverV2.key, live.key);
    copyFileSync(serverV2.cert, live.cert);
    expect(await servedSerial(app.grpcPort, ['h2'])).toBe(before); // read again only on the reload interval
    await clock.advance(RELOAD_INTERVAL_MS);
    const grpcSerial = await servedSerial(app.grpcPort, ['h2']);
    const httpSerial = await servedSerial(app.httpPort!, ['http/1.1']);
    expect(grpcSerial).not.toBe(before);
    expect(httpSerial).toBe(grpcSerial);
    // And the rotated listener still serves Checks to the allowed proxy.
    expect(await grpcOutcome(envoy)).toBe('answered:ERR_TOKEN_MISSING');

    // A half-written rotation (garbage in the certificate file) is skipped: the last good one keeps serving.
    writeFileSync(live.cert, '-----BEGIN CERTIFICATE-----\ntruncated');
    await clock.advance(2 * RELOAD_INTERVAL_MS);
    expect(await servedSerial(app.grpcPort, ['h2'])).toBe(grpcSerial);
    expect(await servedSerial(app.httpPort!, ['http/1.1'])).toBe(grpcSerial);
    expect(await grpcOutcome(envoy)).toBe('answered:ERR_TOKEN_MISSING');
  });
});

describe('client identity allow-list', () => {
  const check = compileClientCheck(['spiffe://td/ns/a/sa/envoy', 'dns:envoy.edge.svc', 'cn:Legacy Proxy'])!;
  const cert = (subjectaltname: string | undefined, CN?: string) => ({ subjectaltname, subject: { CN } }) as never;

  it('matches URI SANs, DNS SANs (case-insensitively) and subject CNs exactly', () => {
    expect(check(cert('URI:spiffe://td/ns/a/sa/envoy'))).toBe(true);
    expect(check(cert('DNS:Envoy.Edge.Svc'))).toBe(true);
    expect(check(cert(undefined, 'Legacy Proxy'))).toBe(true);
  });

  it('rejects prefixes, look-alikes, missing and empty certificates', () => {
    expect(check(cert('URI:spiffe://td/ns/a/sa/envoy-evil'))).toBe(false);
    expect(check(cert('DNS:envoy.edge.svc.evil.com'))).toBe(false);
    expect(check(cert('URI:spiffe://td/ns/a/sa'))).toBe(false);
    expect(check(cert(undefined, 'legacy proxy'))).toBe(false);
    expect(check(undefined)).toBe(false);
    expect(check({} as never)).toBe(false);
  });

  it("parses Node's subjectaltname rendering", () => {
    expect(subjectAltNames('DNS:a.example, URI:spiffe://td/x, IP Address:127.0.0.1')).toEqual([
      { type: 'DNS', value: 'a.example' },
      { type: 'URI', value: 'spiffe://td/x' },
      { type: 'IP Address', value: '127.0.0.1' },
    ]);
  });

  it('reads a quoted SAN value as one value, so it cannot smuggle in an allowed identity', () => {
    // Node quotes a SAN value holding ", " (CVE-2021-44532): the whole quoted text is one URI.
    expect(subjectAltNames('URI:"x, URI:spiffe://td/ns/a/sa/envoy, y", DNS:other')).toEqual([
      { type: 'URI', value: 'x, URI:spiffe://td/ns/a/sa/envoy, y' },
      { type: 'DNS', value: 'other' },
    ]);
    expect(check(cert('URI:"x, URI:spiffe://td/ns/a/sa/envoy, y"'))).toBe(false);
    expect(check(cert('URI:"spiffe://td/ns/a/sa/envoy"'))).toBe(true);
    expect(subjectAltNames('URI:"unterminated')).toEqual([]);
  });

  it('refuses an entry of unknown form at config time', () => {
    expect(() => compileClientCheck(['envoy'])).toThrow(/spiffe:\/\/, uri:, dns: or cn:/);
  });
});
