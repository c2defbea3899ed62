import type { CheckResult } from './check-result.js';
import { certificateChecks } from './checks/certificate-check.js';
import { clockChecks } from './checks/clock-check.js';
import { configurationChecks } from './checks/configuration-check.js';
import { databaseCheck } from './checks/database-check.js';
import { diskSpaceCheck } from './checks/disk-space-check.js';
import { mqttChecks } from './checks/mqtt-check.js';
import { serviceChecks } from './checks/service-check.js';
import { upstreamChecks } from './checks/upstream-check.js';
import { vpnChecks } from './checks/vpn-check.js';
import type { DaemonStatus } from './daemon-status.js';
import { readDaemonStatus } from './daemon-status.js';
import type { DiagContext } from './diag-context.js';

/**
 * Every check of `pleevi-edge diag check`, in the order a technician reads
 * them: the configuration, the clock (certificates are judged by it), the
 * certificates, the peers, the storage, the service. The network probes run
 * at the same time (each bounded), the rest one after the other.
 */
export async function runChecks(context: DiagContext, daemon?: DaemonStatus): Promise<CheckResult[]> {
  const status = daemon ?? (context.loaded ? await readDaemonStatus(context.loaded.config.admin.socket, context.timeoutMs) : undefined);
  const [clock, upstream, mqtt, service] = await Promise.all([clockChecks(context), upstreamChecks(context), mqttChecks(context), serviceChecks(context, status)]);
  return [...configurationChecks(context), ...clock, ...certificateChecks(context), ...vpnChecks(context), ...upstream, ...mqtt, diskSpaceCheck(context), databaseCheck(context), ...service];
}
