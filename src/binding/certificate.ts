/**
 * Certificate-bound access tokens (RFC 8705 §3): the token's `cnf.x5t#S256` must equal the base64url
 * SHA-256 of the DER client certificate of the TLS connection the request came over. Where the
 * certificate can come from, each only when configured in `binding.certificate.sources`:
 *
 * - `peer_certificate`: Envoy's CheckRequest `attributes.source.certificate` (field 5 of
 *   `AttributeContext.Peer`), the URL-encoded PEM Envoy fills when `include_peer_certificate` is on.
 *   Envoy takes it from the downstream TLS connection; a client cannot set it.
 * - `tls_connection`: the client certificate of the connection to claimgate's own HTTP door, when
 *   claimgate terminates mutual TLS itself (`tls.client_ca_file`).
 * - `xfcc`: the `x-forwarded-client-cert` header (Envoy's format: `Hash=<hex SHA-256 of the DER>` or
 *   `Cert="<URL-encoded PEM>"`), only when the peer that sent the request to claimgate is one of
 *   `binding.certificate.xfcc_trusted_proxies`, and only as a single element: a proxy that sanitises
 *   the header (Envoy `forward_client_cert_details: SANITIZE_SET`) leaves exactly one.
 *
 * Any other header a client may send (`x-client-cert`, `ssl-client-cert`, …) is never read.
 */
import { createHash, X509Certificate } from 'node:crypto';

export type CertificateSource = 'peer_certificate' | 'tls_connection' | 'xfcc';

/** Base64url SHA-256 of a certificate's DER bytes: the form of `cnf.x5t#S256`. */
export function derThumbprint(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('base64url');
}

/** Thumbprint of a PEM certificate (possibly URL-encoded, as Envoy sends it); undefined if unreadable. */
export function pemThumbprint(text: string): string | undefined {
  let pem = text;
  if (!pem.includes('-----BEGIN')) {
    try {
      pem = decodeURIComponent(text);
    } catch {
      return undefined;
    }
  } else if (pem.includes('%')) {
    try {
      pem = decodeURIComponent(text);
    } catch {
      return undefined;
    }
  }
  try {
    return derThumbprint(new X509Certificate(pem).raw);
  } catch {
    return undefined;
  }
}

/**
 * Splits one XFCC element into key/value pairs (`;`-separated, values optionally double-quoted with
 * `\"` escapes). Returns undefined for a value with several elements (an unquoted `,`) or bad syntax.
 */
export function parseXfcc(value: string): Map<string, string> | undefined {
  const pairs = new Map<string, string>();
  let i = 0;
  while (i < value.length) {
    const eq = value.indexOf('=', i);
    if (eq === -1) return undefined;
    const key = value.slice(i, eq).trim().toLowerCase();
    let j = eq + 1;
    let text = '';
    if (value[j] === '"') {
      j++;
      while (j < value.length && value[j] !== '"') {
        if (value[j] === '\\' && j + 1 < value.length) j++;
        text += value[j];
        j++;
      }
      if (value[j] !== '"') return undefined;
      j++;
    } else {
      while (j < value.length && value[j] !== ';' && value[j] !== ',') text += value[j++];
    }
    if (j < value.length && value[j] === ',') return undefined;
    if (j < value.length && value[j] !== ';') return undefined;
    if (key === '' || pairs.has(key)) return undefined;
    pairs.set(key, text);
    i = j + 1;
  }
  return pairs;
}

/** The certificate thumbprint an XFCC header names, from `Hash` (hex SHA-256) or `Cert` (URL-encoded PEM). */
export function xfccThumbprint(values: readonly string[] | undefined): string | undefined {
  if (values === undefined || values.length !== 1) return undefined;
  const pairs = parseXfcc(values[0]!);
  if (pairs === undefined) return undefined;
  const hash = pairs.get('hash');
  if (hash !== undefined) {
    return /^[0-9a-fA-F]{64}$/.test(hash) ? Buffer.from(hash, 'hex').toString('base64url') : undefined;
  }
  const cert = pairs.get('cert');
  return cert === undefined ? undefined : pemThumbprint(cert);
}
