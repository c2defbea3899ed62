/**
 * The gateway's LAN addresses as it reports them in enroll and renew
 * requests (the service puts them into the LAN server certificate): every
 * non-internal IPv4 and IPv6 address, without IPv6 link-local ones (fe80::/10
 * needs a zone and no station dials it by name in a certificate).
 */
import { networkInterfaces } from 'node:os';

export function lanAddresses(interfaces: ReturnType<typeof networkInterfaces> = networkInterfaces()): string[] {
  const found = new Set<string>();
  for (const entries of Object.values(interfaces)) {
    for (const entry of entries ?? []) {
      if (entry.internal) continue;
      if (entry.family === 'IPv6' && /^fe[89ab]/i.test(entry.address)) continue;
      found.add(entry.address);
    }
  }
  return [...found];
}
