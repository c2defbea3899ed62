import { networkInterfaces } from 'node:os';

/**
 * The gateway's addresses on the site LAN: what it reports at enrollment
 * (the SANs of its LAN server certificate) and what its LAN page tells the
 * installer to enter on each station. Loopback and IPv6 link-local addresses
 * are left out: a station cannot reach the first, and the second needs a
 * zone id no station configuration takes.
 */
export function lanAddresses(interfaces: ReturnType<typeof networkInterfaces> = networkInterfaces()): string[] {
  const found: string[] = [];
  for (const entries of Object.values(interfaces)) {
    for (const entry of entries ?? []) {
      if (entry.internal) continue;
      if (entry.family === 'IPv6' && /^fe[89ab]/i.test(entry.address)) continue;
      found.push(entry.address);
    }
  }
  // IPv4 first: what most station menus take.
  return [...new Set(found)].sort((a, b) => Number(a.includes(':')) - Number(b.includes(':')));
}

/** `host` as it goes into a URL: IPv6 in brackets. */
export function urlHost(address: string): string {
  return address.includes(':') ? `[${address}]` : address;
}
