import { fail, pass, skip, warn, type CheckResult } from '../check-result.js';
import { certificateFacts, certificatesIn, configuredCertificates } from '../configured-certificates.js';
import type { DiagContext } from '../diag-context.js';

const DAY_MS = 24 * 60 * 60 * 1000;
/** A certificate closer than this to its end is a warning. */
export const EXPIRY_WARNING_DAYS = 14;

/**
 * One line per certificate the gateway presents (its enrolled client and
 * server certificates, configured listener and client certificates): expired
 * or not yet valid is a failure, less than 14 days left a warning.
 */
export function certificateChecks(context: DiagContext): CheckResult[] {
  if (context.loaded === undefined) return [skip('certificates', 'certificates', 'needs a valid configuration')];
  const leaves = configuredCertificates(context).filter((entry) => entry.role === 'leaf');
  if (leaves.length === 0) return [skip('certificates', 'certificates', 'the gateway presents no certificate of its own (no enrollment, no TLS listener, no client certificate)')];
  const now = context.now().getTime();
  return leaves.map((entry, index) => {
    const id = `certificate-${index + 1}`;
    const title = `certificate ${entry.sources[0] ?? ''}`;
    const where = entry.sources.length > 1 ? ` (also ${entry.sources.slice(1).join(', ')})` : '';
    const parsed = certificatesIn(entry.pem);
    const first = parsed[0];
    if (first === undefined || 'error' in first) {
      return fail(id, title, `cannot be read as an X.509 certificate${first && 'error' in first ? `: ${first.error}` : ''}${where}`, 'replace the file with the PEM certificate');
    }
    // A chain file: the first certificate is the gateway's; the earliest end of the chain decides.
    const facts = parsed.flatMap((item) => ('certificate' in item ? [certificateFacts(item.certificate)] : []));
    const own = certificateFacts(first.certificate);
    const earliestEnd = Math.min(...facts.map((item) => Date.parse(item.notAfter)));
    const latestStart = Math.max(...facts.map((item) => Date.parse(item.notBefore)));
    const describe = `${own.subject}, serial ${own.serialNumber}, valid ${own.notBefore} to ${new Date(earliestEnd).toISOString()}${where}`;
    const renew = entry.sources[0]?.startsWith('identity/') ? 'the gateway renews it at two thirds of its lifetime: check "pleevi-edge status" (renewal state, clock) and that the enrollment service is reachable' : 'install a renewed certificate and restart the service ("systemctl restart pleevi-edge")';
    if (earliestEnd <= now) return fail(id, title, `EXPIRED: ${describe}`, renew);
    if (latestStart > now) return fail(id, title, `NOT YET VALID: ${describe}`, 'check the clock (it may be behind) or the certificate\'s dates');
    const daysLeft = Math.floor((earliestEnd - now) / DAY_MS);
    if (daysLeft < EXPIRY_WARNING_DAYS) return warn(id, title, `expires in ${daysLeft} days: ${describe}`, renew);
    return pass(id, title, `${daysLeft} days left: ${describe}`);
  });
}
