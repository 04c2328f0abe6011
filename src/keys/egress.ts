/**
 * Egress policy for key fetching (SECURITY.md P19): where an issuer's *documents* may send claimgate.
 * The discovery URL and a configured `jwks_uri` are the operator's own choice; the `jwks_uri` a
 * discovery document names is the IdP's (or an attacker's, if the document is tampered with), so it is
 * fetched only when it is on the issuer's origin, or its `host[:port]` is listed in the issuer's
 * `jwks_hosts`. A listed host is resolved and every address checked before the fetch: link-local
 * (cloud metadata at 169.254.169.254, fe80::/10), unspecified, multicast and broadcast addresses are
 * always refused; loopback, private (RFC 1918, RFC 6598, fc00::/7) unless `allow_private_jwks_hosts`.
 * Redirects already stay on the origin they start from (fetch.ts). Residual: the address is checked at
 * resolution time, and the fetch resolves again (a DNS answer changing in between is not caught).
 */
import { lookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import type { IssuerConfig } from '../config/schema.js';
import { DiscoveryError } from './discovery.js';

/** Resolves a host name to its addresses (injectable for tests). */
export type ResolveHost = (host: string) => Promise<readonly string[]>;

const defaultResolve: ResolveHost = async (host) =>
  isIP(host) !== 0 ? [host] : (await lookup(host, { all: true, verbatim: true })).map((a) => a.address);

const ALWAYS_REFUSED = new BlockList();
ALWAYS_REFUSED.addSubnet('0.0.0.0', 8, 'ipv4');
ALWAYS_REFUSED.addSubnet('169.254.0.0', 16, 'ipv4');
ALWAYS_REFUSED.addSubnet('224.0.0.0', 3, 'ipv4'); // multicast, reserved, broadcast
ALWAYS_REFUSED.addAddress('::', 'ipv6');
ALWAYS_REFUSED.addSubnet('fe80::', 10, 'ipv6');
ALWAYS_REFUSED.addSubnet('ff00::', 8, 'ipv6');
ALWAYS_REFUSED.addAddress('fd00:ec2::254', 'ipv6'); // AWS instance metadata over IPv6

const PRIVATE = new BlockList();
PRIVATE.addSubnet('127.0.0.0', 8, 'ipv4');
PRIVATE.addSubnet('10.0.0.0', 8, 'ipv4');
PRIVATE.addSubnet('172.16.0.0', 12, 'ipv4');
PRIVATE.addSubnet('192.168.0.0', 16, 'ipv4');
PRIVATE.addSubnet('100.64.0.0', 10, 'ipv4');
PRIVATE.addAddress('::1', 'ipv6');
PRIVATE.addSubnet('fc00::', 7, 'ipv6');

/** Why an address may not be fetched from, or undefined when it may. */
export function refusedAddress(address: string, allowPrivate: boolean): string | undefined {
  const family: 'ipv4' | 'ipv6' = isIP(address) === 6 ? 'ipv6' : 'ipv4';
  // An IPv4-mapped IPv6 address (::ffff:10.0.0.1) is judged as the IPv4 address it carries.
  const mapped = family === 'ipv6' ? /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)?.[1] : undefined;
  const [addr, fam]: [string, 'ipv4' | 'ipv6'] = mapped !== undefined ? [mapped, 'ipv4'] : [address, family];
  if (ALWAYS_REFUSED.check(addr, fam)) return 'link-local, metadata, unspecified or multicast address';
  if (!allowPrivate && PRIVATE.check(addr, fam)) return 'loopback or private address (allow_private_jwks_hosts is off)';
  return undefined;
}

/**
 * Checks a `jwks_uri` taken from a discovery document against the issuer's egress policy.
 * @throws DiscoveryError `jwks_uri_not_allowed`
 */
export async function checkDiscoveredJwksUri(
  jwksUri: string,
  issuer: IssuerConfig,
  resolve: ResolveHost = defaultResolve,
): Promise<void> {
  const url = new URL(jwksUri);
  let issuerOrigin: string | undefined;
  try {
    issuerOrigin = new URL(issuer.issuer).origin;
  } catch {
    issuerOrigin = undefined;
  }
  if (url.origin === issuerOrigin) return;
  const refuse = (why: string) => {
    throw new DiscoveryError('jwks_uri_not_allowed', `discovered jwks_uri on ${url.host} refused: ${why}`);
  };
  if (!issuer.jwks_hosts.includes(url.host.toLowerCase())) refuse('not the issuer origin and not listed in jwks_hosts');
  let addresses: readonly string[];
  try {
    addresses = await resolve(url.hostname.replace(/^\[|\]$/g, ''));
  } catch {
    return refuse('host name does not resolve');
  }
  if (addresses.length === 0) refuse('host name does not resolve');
  for (const address of addresses) {
    const why = refusedAddress(address, issuer.allow_private_jwks_hosts);
    if (why !== undefined) refuse(`${address} is a ${why}`);
  }
}
