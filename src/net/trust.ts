/**
 * Which TCP peers may describe a request in forwarded headers (`http.trusted_proxies`). Addresses
 * are matched with node's BlockList; an IPv4-mapped IPv6 peer (`::ffff:127.0.0.1`, seen when
 * listening on `::`) is matched as the IPv4 address it is.
 */
import { BlockList, isIP } from 'node:net';

export interface PeerTrust {
  trusted(peer: string | undefined): boolean;
}

/** Parses `a.b.c.d/n`, `v6/n` or a single address; throws with the offending entry. */
export function parseCidr(entry: string): { address: string; prefix: number; family: 'ipv4' | 'ipv6' } {
  const slash = entry.indexOf('/');
  const address = slash === -1 ? entry : entry.slice(0, slash);
  const version = isIP(address);
  if (version === 0) throw new Error(`http.trusted_proxies: ${JSON.stringify(entry)} is not an IP address or CIDR`);
  const max = version === 4 ? 32 : 128;
  const prefixText = slash === -1 ? String(max) : entry.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) {
    throw new Error(`http.trusted_proxies: ${JSON.stringify(entry)} has an invalid prefix length (0-${max})`);
  }
  return { address, prefix: Number(prefixText), family: version === 4 ? 'ipv4' : 'ipv6' };
}

export function compileTrust(entries: readonly string[]): PeerTrust {
  const list = new BlockList();
  for (const entry of entries) {
    const { address, prefix, family } = parseCidr(entry);
    list.addSubnet(address, prefix, family);
  }
  return {
    trusted(peer) {
      if (peer === undefined || peer === '') return false;
      const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(peer);
      const address = mapped ? (mapped[1] as string) : peer;
      const version = isIP(address);
      if (version === 0) return false;
      return list.check(address, version === 4 ? 'ipv4' : 'ipv6');
    },
  };
}
