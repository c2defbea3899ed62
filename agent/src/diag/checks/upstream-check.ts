import { skip, type CheckResult } from '../check-result.js';
import type { DiagContext } from '../diag-context.js';
import { probe } from '../network-probe.js';

/**
 * The CPMS as the gateway dials it: DNS, TCP, and for `wss://` the TLS
 * handshake with `upstream.tls` (CA, and the gateway's client certificate,
 * the enrolled one when the file names none). Stations with a client
 * certificate of their own are not probed one by one.
 */
export async function upstreamChecks(context: DiagContext): Promise<CheckResult[]> {
  const loaded = context.loaded;
  if (loaded === undefined) return [skip('upstream', 'upstream (CPMS)', 'needs a valid configuration')];
  if (loaded.kind !== 'ready') return [skip('upstream', 'upstream (CPMS)', 'no upstream yet: it comes with enrollment')];
  const upstream = loaded.config.upstream;
  const url = new URL(upstream.url);
  const secure = url.protocol === 'wss:';
  return probe(
    {
      id: 'upstream',
      name: 'upstream',
      url,
      defaultPort: secure ? 443 : 80,
      ...(secure ? { tls: upstream.tls } : {}),
      fixUnreachable: `check upstream.url (${url.host}), that the CPMS is up, and that the site's firewall lets this gateway out to it`,
      firstBytes: `HEAD ${url.pathname || '/'} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n\r\n`,
    },
    context.timeoutMs,
  );
}
