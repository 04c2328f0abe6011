/**
 * TLS and mutual TLS for the listeners proxies call (gRPC and the HTTP front door). Certificates are
 * read from files and re-read periodically, so a rotated certificate takes effect without a restart.
 * With a client CA, callers must present a certificate it signed; with `allowed_clients`, the
 * certificate must also name an allowed identity, so only the proxies can ask for decisions.
 */
import { readFileSync } from 'node:fs';
import { createSecureContext, type PeerCertificate, type SecureContextOptions } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { repeatEvery, unrefTimer, type CancelTimer, type SetTimer } from '../core/timers.js';

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
export function readSecureContextOptions(
  tls: TlsConfig,
): SecureContextOptions & { requestCert: boolean; rejectUnauthorized: boolean } {
  const mutual = tls.client_ca_file !== undefined;
  return {
    cert: readFileSync(tls.cert_file),
    key: readFileSync(tls.key_file),
    ...(mutual ? { ca: readFileSync(tls.client_ca_file) } : {}),
    requestCert: mutual,
    rejectUnauthorized: mutual,
    minVersion: 'TLSv1.2',
  };
}

/**
 * A grpc-js certificate provider that re-reads the files every interval and publishes a new identity
 * (and CA) only when the files changed and form a valid secure context together. A missing or
 * half-written file during a rotation is skipped, so the previous certificate keeps serving (grpc-js's
 * own file watcher would publish "no certificate" and fail every handshake until the next read).
 */
class ValidatedFileProvider implements grpc.experimental.CertificateProvider {
  private readonly identityListeners = new Set<grpc.experimental.IdentityCertificateUpdateListener>();
  private readonly caListeners = new Set<grpc.experimental.CaCertificateUpdateListener>();
  private current: { cert: Buffer; key: Buffer; ca?: Buffer };
  private stopTimer: CancelTimer | undefined;

  constructor(
    private readonly tls: TlsConfig,
    private readonly onError: (e: Error) => void,
    private readonly setTimer: SetTimer,
  ) {
    this.current = this.read();
  }

  private read(): { cert: Buffer; key: Buffer; ca?: Buffer } {
    const { cert, key, ca } = readSecureContextOptions(this.tls);
    // Throws on a key that does not match its certificate, or unparsable PEM.
    createSecureContext({ cert, key, ...(ca === undefined ? {} : { ca }) });
    return { cert: cert as Buffer, key: key as Buffer, ...(ca === undefined ? {} : { ca: ca as Buffer }) };
  }

  private reload(): void {
    let next: { cert: Buffer; key: Buffer; ca?: Buffer };
    try {
      next = this.read();
    } catch (e) {
      this.onError(e as Error);
      return;
    }
    const identityChanged = !next.cert.equals(this.current.cert) || !next.key.equals(this.current.key);
    const caChanged =
      (next.ca === undefined) !== (this.current.ca === undefined) ||
      (next.ca !== undefined && !next.ca.equals(this.current.ca!));
    this.current = next;
    if (identityChanged) for (const l of this.identityListeners) l({ certificate: next.cert, privateKey: next.key });
    if (caChanged && next.ca !== undefined) for (const l of this.caListeners) l({ caCertificate: next.ca });
  }

  private watch(): void {
    const listening = this.identityListeners.size + this.caListeners.size > 0;
    if (this.stopTimer === undefined && listening) {
      this.stopTimer = repeatEvery(this.setTimer, this.tls.reload_interval_seconds * 1000, () => this.reload());
    } else if (this.stopTimer !== undefined && !listening) {
      this.stopTimer();
      this.stopTimer = undefined;
    }
  }

  addIdentityCertificateListener(listener: grpc.experimental.IdentityCertificateUpdateListener): void {
    this.identityListeners.add(listener);
    this.watch();
    process.nextTick(listener, { certificate: this.current.cert, privateKey: this.current.key });
  }

  removeIdentityCertificateListener(listener: grpc.experimental.IdentityCertificateUpdateListener): void {
    this.identityListeners.delete(listener);
    this.watch();
  }

  addCaCertificateListener(listener: grpc.experimental.CaCertificateUpdateListener): void {
    this.caListeners.add(listener);
    this.watch();
    if (this.current.ca !== undefined) process.nextTick(listener, { caCertificate: this.current.ca });
  }

  removeCaCertificateListener(listener: grpc.experimental.CaCertificateUpdateListener): void {
    this.caListeners.delete(listener);
    this.watch();
  }

  /** Stops the timer even if grpc-js still holds listeners (server shut down). */
  stop(): void {
    this.identityListeners.clear();
    this.caListeners.clear();
    this.watch();
  }
}

/**
 * gRPC server credentials whose certificates are re-read every reload interval on `setTimer` (grpc-js
 * applies a new identity to new connections). Throws at start-up when the files are missing or do not match.
 */
export function grpcServerCredentials(
  tls: TlsConfig,
  onError: (e: Error) => void = () => undefined,
  setTimer: SetTimer = unrefTimer,
): { credentials: grpc.ServerCredentials; stop: () => void } {
  const provider = new ValidatedFileProvider(tls, onError, setTimer);
  const mutual = tls.client_ca_file !== undefined;
  return {
    // grpc-js names its parameters (ca, identity) but passes them on as (identity, ca): identity goes first.
    credentials: grpc.experimental.createCertificateProviderServerCredentials(
      provider,
      mutual ? provider : null,
      mutual,
    ),
    stop: () => provider.stop(),
  };
}

/**
 * Re-reads the files every interval on `setTimer` and hands changed options to `apply` (e.g.
 * server.setSecureContext). Returns the function that stops it.
 */
export function watchSecureContext(
  tls: TlsConfig,
  apply: (options: SecureContextOptions) => void,
  onError: (e: Error) => void,
  setTimer: SetTimer = unrefTimer,
): CancelTimer {
  let last = JSON.stringify(readSecureContextOptions(tls));
  return repeatEvery(setTimer, tls.reload_interval_seconds * 1000, () => {
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
  });
}
