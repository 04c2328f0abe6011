/** Listen addresses as the config writes them: `host:port` or `[v6]:port`. */
export function parseListenAddress(address: string): { host: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(address);
  if (!m) throw new Error(`listen address must be host:port, got ${JSON.stringify(address)}`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`listen address has an invalid port: ${address}`);
  return { host: (m[1] ?? m[2]) as string, port };
}
