/**
 * Certificate-bound access tokens (RFC 8705 §3) end to end: real client certificates made with openssl,
 * `cnf.x5t#S256` computed from openssl's own SHA-256 fingerprint (not from our code), and the certificate
 * taken (1) from Envoy's `attributes.source.certificate` over real gRPC, (2) from the TLS connection of
 * a real mutual-TLS request to the HTTP door, (3) from `x-forwarded-client-cert` sent by a trusted proxy
 * only. A certificate that only a client-set header names never counts.
 */
import { execFileSync } from 'node:child_process';
import { request as httpsRequest } from 'node:https';
import { request as httpRequest, type RequestOptions } from 'node:http';
import { startClaimgate, type Claimgate } from '../../src/app/claimgate.js';
import { buildCheckRequest, createCheckClient, type CheckClient } from '../../src/cli/check-client.js';
import { validateConfig } from '../../src/validation/load.js';
import type { CheckRequestMessage } from '../../src/envoy/messages.js';
import { TestPki, type CertFiles } from '../support/certs.js';
import { cleanupTmp, fileIssuer, ISS_A, mint, NOW_MS, rsaKey } from '../security/harness.js';
import { startSettledGate } from '../support/gate.js';

const idpKey = rsaKey('mtls-idp');
const pki = new TestPki();
const ca = pki.ca('client-ca');
const server = pki.leaf('server', ca, 'claimgate', 'IP:127.0.0.1,DNS:localhost', 'serverAuth');
const alice = pki.leaf('alice', ca, 'alice', 'URI:spiffe://example.org/alice', 'clientAuth');
const mallory = pki.leaf('mallory', ca, 'mallory', 'URI:spiffe://example.org/mallory', 'clientAuth');

/** openssl's SHA-256 fingerprint of a certificate, as hex and as the base64url of `x5t#S256`. */
function fingerprint(cert: CertFiles): { hex: string; x5t: string } {
  const out = execFileSync('openssl', ['x509', '-in', cert.cert, '-noout', '-fingerprint', '-sha256']).toString();
  const hex = out.trim().split('=')[1]!.replace(/:/g, '').toLowerCase();
  return { hex, x5t: Buffer.from(hex, 'hex').toString('base64url') };
}

const aliceToken = mint(idpKey, { cnf: { 'x5t#S256': fingerprint(alice).x5t } });
const issuer = () => fileIssuer('a', ISS_A, [idpKey.jwk], { binding: 'allowed' });
const base = { admin_address: '127.0.0.1:0', watch_config: false };

afterAll(() => cleanupTmp());

/** Sends one request and answers `"<status> <x-claimgate-reason>"`. */
function statusAndReason(send: typeof httpRequest | typeof httpsRequest, options: RequestOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = send({ ...options, agent: false }, (res) => {
      res.resume();
      resolve(`${res.statusCode} ${String(res.headers['x-claimgate-reason'])}`);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('certificate-bound tokens from Envoy (attributes.source.certificate) over gRPC', () => {
  let app: Claimgate;
  let client: CheckClient;
  beforeAll(async () => {
    app = await startSettledGate(
      validateConfig({
        server: { ...base, grpc_address: '127.0.0.1:0' },
        issuers: [issuer()],
        unmatched: 'authenticated',
      }),
      { nowMs: () => NOW_MS },
    );
    client = createCheckClient(`127.0.0.1:${app.grpcPort}`);
  });
  afterAll(async () => {
    client?.close();
    await app?.close(100);
  });

  /** A CheckRequest as Envoy sends it with include_peer_certificate: the PEM, URL-encoded. */
  const withPeer = (cert: CertFiles | undefined, headers: Record<string, string> = {}): CheckRequestMessage => {
    const req = buildCheckRequest({ path: '/orders/1', token: aliceToken, headers });
    if (cert === undefined) return req;
    return {
      attributes: { ...req.attributes, source: { certificate: encodeURIComponent(pki.read(cert.cert).toString()) } },
    };
  };
  const outcome = async (req: CheckRequestMessage) => {
    const r = await client.check(req);
    return r.kind === 'allow' ? 'allow' : `${r.httpStatus} ${r.reason}`;
  };

  it('the matching certificate is allowed; another is refused; none is refused', async () => {
    expect(await outcome(withPeer(alice))).toBe('allow');
    expect(await outcome(withPeer(mallory))).toBe('401 ERR_CERTIFICATE_MISMATCH');
    expect(await outcome(withPeer(undefined))).toBe('401 ERR_TOKEN_BOUND');
  });

  it('a certificate named only in client-settable headers never counts', async () => {
    const { hex } = fingerprint(alice);
    const pem = encodeURIComponent(pki.read(alice.cert).toString());
    const spoofed = {
      'x-forwarded-client-cert': `Hash=${hex};Cert="${pem}"`,
      'x-client-cert': pem,
      'ssl-client-cert': pem,
    };
    expect(await outcome(withPeer(undefined, spoofed))).toBe('401 ERR_TOKEN_BOUND');
    expect(await outcome(withPeer(mallory, spoofed))).toBe('401 ERR_CERTIFICATE_MISMATCH');
  });

  it('an unbound token needs no certificate (binding allowed)', async () => {
    expect(await outcome(buildCheckRequest({ path: '/x', token: mint(idpKey) }))).toBe('allow');
  });
});

describe('certificate-bound tokens over real mutual TLS to the HTTP door', () => {
  let app: Claimgate;
  beforeAll(async () => {
    app = await startSettledGate(
      validateConfig({
        server: { ...base, grpc_address: '127.0.0.1:0' },
        http: { address: '127.0.0.1:0' },
        tls: { cert_file: server.cert, key_file: server.key, client_ca_file: ca.cert },
        issuers: [issuer()],
        unmatched: 'authenticated',
        binding: { certificate: { sources: ['tls_connection'] } },
      }),
      { nowMs: () => NOW_MS },
    );
  });
  afterAll(() => app?.close(100));

  const call = (cert: CertFiles, headers: Record<string, string> = {}): Promise<string> =>
    statusAndReason(httpsRequest, {
      host: '127.0.0.1',
      port: app.httpPort,
      path: '/envoy/orders/1',
      servername: 'localhost',
      ca: pki.read(ca.cert),
      cert: pki.read(cert.cert),
      key: pki.read(cert.key),
      headers: { host: 'api.example.com', authorization: `Bearer ${aliceToken}`, ...headers },
    } as RequestOptions);

  it('the certificate of the connection decides: the bound one is allowed, another is refused', async () => {
    expect(await call(alice)).toBe('200 OK_AUTHENTICATED');
    expect(await call(mallory)).toBe('401 ERR_CERTIFICATE_MISMATCH');
  });

  it("a header naming the bound certificate does not override the connection's", async () => {
    expect(await call(mallory, { 'x-forwarded-client-cert': `Hash=${fingerprint(alice).hex}` })).toBe(
      '401 ERR_CERTIFICATE_MISMATCH',
    );
  });
});

describe('certificate-bound tokens from x-forwarded-client-cert of a trusted proxy', () => {
  const start = (trusted: string[]) =>
    startClaimgate(
      validateConfig({
        server: { ...base, grpc_address: '127.0.0.1:0' },
        http: { address: '127.0.0.1:0' },
        issuers: [issuer()],
        unmatched: 'authenticated',
        binding: { certificate: { sources: ['xfcc'], xfcc_trusted_proxies: trusted } },
      }),
      { nowMs: () => NOW_MS },
    );

  const forwardAuth = (port: number, xfcc: string | undefined): Promise<string> =>
    statusAndReason(httpRequest, {
      host: '127.0.0.1',
      port,
      path: '/auth',
      headers: {
        'x-forwarded-method': 'GET',
        'x-forwarded-uri': '/orders/1',
        'x-forwarded-host': 'api.example.com',
        authorization: `Bearer ${aliceToken}`,
        ...(xfcc === undefined ? {} : { 'x-forwarded-client-cert': xfcc }),
      },
    });

  it('is read from a trusted peer (Hash or Cert form), and ignored from any other', async () => {
    const trusted = await start(['127.0.0.1/32']);
    const untrusted = await start(['10.0.0.0/8']);
    try {
      await Promise.all([trusted.whenSettled(), untrusted.whenSettled()]);
      const { hex } = fingerprint(alice);
      const pem = encodeURIComponent(pki.read(alice.cert).toString());
      expect(await forwardAuth(trusted.httpPort!, `By=spiffe://example.org/envoy;Hash=${hex};Subject="CN=alice"`)).toBe(
        '200 OK_AUTHENTICATED',
      );
      expect(await forwardAuth(trusted.httpPort!, `Cert="${pem}"`)).toBe('200 OK_AUTHENTICATED');
      expect(await forwardAuth(trusted.httpPort!, `Hash=${fingerprint(mallory).hex}`)).toBe(
        '401 ERR_CERTIFICATE_MISMATCH',
      );
      // Two elements (a proxy that appended instead of sanitising) are ambiguous: no certificate.
      expect(await forwardAuth(trusted.httpPort!, `Hash=${fingerprint(mallory).hex},Hash=${hex}`)).toBe(
        '401 ERR_TOKEN_BOUND',
      );
      expect(await forwardAuth(untrusted.httpPort!, `Hash=${hex}`)).toBe('401 ERR_TOKEN_BOUND');
    } finally {
      await Promise.all([trusted.close(100), untrusted.close(100)]);
    }
  });
});
