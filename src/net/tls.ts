/**
 * TLS and mutual TLS for the listeners proxies call (gRPC and the HTTP front door). Certificates are
 * read from files and re-read periodically, so a rotated certificate takes effect without a restart.
 * With a client CA, callers must present a certificate it signed; with `allowed_clients`, the
 * certificate must also name an allowed identity, so only the proxies can ask for decisions.
 */
import { readFileSync } from 'node:fs';
import type { PeerCertificate, SecureContextOptions } from 'node:tls';
import * as grpc from '@grpc/grpc-js';

export interface TlsConfig {
  readonly cert_file: string;
  readonly key_file: string;
  readonly client_ca_file?: string;
  readonly allowed_clients?: readonly string[];
  readonly reload_interval_seconds: number;
}

/** Decides whether a verified client certificate names an allowed identity. */
export type ClientCheck = (cert: PeerCertificate | undefined) => boolean;

/**
 * Allowed identities: `spiffe://…` or `uri:…` (a URI SAN), `dns:…` (a DNS SAN), `cn:…` (the subject
 * common name). Compared exactly; no wildcards, so an identity cannot be matched by accident.
 */
export function compileClientCheck(allowed: readonly string[] | undefined): ClientCheck | undefined {
  if (allowed === undefined) return undefined;
  const uris = new Set<string>();
  const dns = new Set<string>();
  const cns = new Set<string>();
  for (const entry of allowed) {
    if (entry.startsWith('spiffe://')) uris.add(entry);
    else if (entry.startsWith('uri:')) uris.add(entry.slice(4));
    else if (entry.startsWith('dns:')) dns.add(entry.slice(4).toLowerCase());
    else if (entry.startsWith('cn:')) cns.add(entry.slice(3));
    else throw new TypeError(`allowed client "${entry}" must start with spiffe://, uri:, dns: or cn:`);
  }
  return (cert) => {
    if (cert === undefined || Object.keys(cert).length === 0) return false;
    for (const san of subjectAltNames(cert.subjectaltname)) {
      if (san.type === 'URI' && uris.has(san.value)) return true;
      if (san.type === 'DNS' && dns.has(san.value.toLowerCase())) return true;
    }
    const cn = cert.subject?.CN;
    return typeof cn === 'string' && cns.has(cn);
  };
}

/**
 * Node renders SANs as `DNS:a, URI:spiffe://b, IP Address:1.2.3.4`, and quotes a value that holds a
 * comma, quote or backslash as a JSON string (`URI:"x, URI:spiffe://b"`). Splitting on ", " alone would
 * let such a value smuggle in a second entry, so quoted values are read as one JSON string.
 */
export function subjectAltNames(text: string | undefined): { type: string; value: string }[] {
  if (!text) return [];
  const names: { type: string; value: string }[] = [];
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(':', i);
    if (colon <= i) return [];
    const type = text.slice(i, colon);
    let value: string;
    let end: number;
    if (text[colon + 1] === '"') {
      // Find the closing quote that is not escaped, then let JSON decode the escapes.
      end = colon + 2;
      while (end < text.length && text[end] !== '"') end += text[end] === '\\' ? 2 : 1;
      if (end >= text.length) return [];
      try {
        value = JSON.parse(text.slice(colon + 1, end + 1)) as string;
      } catch {
        return [];
      }
      end += 1;
    } else {
      end = text.indexOf(', ', colon);
      if (end === -1) end = text.length;
      value = text.slice(colon + 1, end);
    }
    names.push({ type, value });
    if (end < text.length && text.slice(end, end + 2) !== ', ') return [];
    i = end + 2;
  }
  return names;
}

/** Reads the files now: the secure-context options for node:https / node:tls. */
export function readSecureContextOptions(tls: TlsConfig): SecureContextOptions & { requestCert: boolean; rejectUnauthorized: boolean } {
  const mutual = tls.client_ca_file !== undefined;
  return {
    cert: readFileSync(tls.cert_file),
    key: readFileSync(tls.key_file),
    ...(mutual ? { ca: readFileSync(tls.client_ca_file!) } : {}),
    requestCert: mutual,
    rejectUnauthorized: mutual,
    minVersion: 'TLSv1.2',
  };
}

/**
 * gRPC server credentials that re-read the files every reload interval (grpc-js applies changes to
 * new connections). Resolves once the files have been read, so the first handshake has a certificate.
 */
export async function grpcServerCredentials(tls: TlsConfig): Promise<{ credentials: grpc.ServerCredentials; stop: () => void }> {
  // Fail at start-up with a clear message rather than serving with no certificate.
  readSecureContextOptions(tls);
  const refreshIntervalMs = tls.reload_interval_seconds * 1000;
  const identity = new grpc.experimental.FileWatcherCertificateProvider({ certificateFile: tls.cert_file, privateKeyFile: tls.key_file, refreshIntervalMs });
  const ca = tls.client_ca_file === undefined ? null : new grpc.experimental.FileWatcherCertificateProvider({ caCertificateFile: tls.client_ca_file, refreshIntervalMs });
  // Listeners that stay attached (until stop) keep the providers' latest files cached for the server's own.
  let identityLoaded!: () => void;
  let caLoaded!: () => void;
  const onIdentity = () => identityLoaded();
  const onCa = () => caLoaded();
  await Promise.all([
    new Promise<void>((resolve) => {
      identityLoaded = resolve;
      identity.addIdentityCertificateListener(onIdentity);
    }),
    ca === null
      ? undefined
      : new Promise<void>((resolve) => {
          caLoaded = resolve;
          ca.addCaCertificateListener(onCa);
        }),
  ]);
  return {
    // grpc-js names its parameters (ca, identity) but passes them on as (identity, ca): identity goes first.
    credentials: grpc.experimental.createCertificateProviderServerCredentials(identity, ca, ca !== null),
    // The providers' refresh timers run while any listener is attached; the server removes its own on shutdown.
    stop: () => {
      identity.removeIdentityCertificateListener(onIdentity);
      ca?.removeCaCertificateListener(onCa);
    },
  };
}

/** Re-reads the files every interval and hands changed options to `apply` (e.g. server.setSecureContext). */
export function watchSecureContext(tls: TlsConfig, apply: (options: SecureContextOptions) => void, onError: (e: Error) => void): () => void {
  let last = JSON.stringify(readSecureContextOptions(tls));
  const timer = setInterval(() => {
    try {
      const next = readSecureContextOptions(tls);
      const text = JSON.stringify(next);
      if (text === last) return;
      apply(next);
      last = text;
    } catch (e) {
      // A half-written rotation is retried next interval; the previous context keeps serving.
      onError(e as Error);
    }
  }, tls.reload_interval_seconds * 1000);
  timer.unref();
  return () => clearInterval(timer);
}
