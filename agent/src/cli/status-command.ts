import { parseArgs } from 'node:util';
import { adminGet } from '../admin/admin-client.js';
import type { GatewayStatus } from '../gateway.js';
import type { AwaitingClaimStatus } from '../provisioning/awaiting-claim.js';
import type { ProvisioningStatus } from '../provisioning/provisioning-runtime.js';
import { EXIT_OK, EXIT_USAGE, type CliCommand } from './cli-io.js';
import { loadCliConfig } from './load-cli-config.js';
import { formatTable } from './format-table.js';
import { describeHop } from '../proxy/hop-security.js';
import { describeTunnel } from '../vpn/tunnel-status.js';
import { terminalSafe, terminalSafeJson } from './terminal-safe.js';

/** `pleevi-edge status`: the live picture, from the running daemon over the admin socket. */
export const statusCommand: CliCommand = async (args, io) => {
  let flags;
  try {
    flags = parseArgs({ args: [...args], options: { config: { type: 'string' }, json: { type: 'boolean' } }, strict: true }).values;
  } catch (error: unknown) {
    io.stderr.write(`pleevi-edge status: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT_USAGE;
  }
  const config = loadCliConfig(flags.config, io);
  if (!config) return EXIT_USAGE;
  const answer = (await adminGet(config.admin.socket, '/v1/status')) as GatewayStatus | AwaitingClaimStatus;
  if (flags.json) {
    io.stdout.write(`${terminalSafeJson(answer)}\n`);
    return EXIT_OK;
  }
  if ('mode' in answer && answer.mode === 'awaiting-claim') {
    io.stdout.write(
      [
        `gateway    ${answer.gatewayId}  (pleevi-edge ${answer.version})`,
        `uptime     ${answer.uptimeS} s since ${answer.startedAt}`,
        `state      WAITING TO BE CLAIMED: stations get 503 until the gateway is enrolled`,
        `enrollment ${answer.summary}`,
        `clock      ${answer.provisioning.clock.plausible ? 'plausible' : `NOT PLAUSIBLE (${answer.provisioning.clock.reason}): nothing is enrolled until the time is set`}`,
        `service    ${answer.provisioning.serviceUrl ?? '-'}`,
        `claim page http://<gateway-ip>:${answer.listen.port}/  (or "pleevi-edge provision qr")`,
        '',
      ]
        .map(terminalSafe)
        .join('\n'),
    );
    return EXIT_OK;
  }
  const status = answer as GatewayStatus;
  const listen = `port ${status.listen.port}${status.listen.tlsPort ? `, TLS ${status.listen.tlsPort}` : ''}, path ${status.listen.path}`;
  io.stdout.write(
    [
      `gateway    ${status.gatewayId}  (pleevi-edge ${status.version})`,
      `uptime     ${status.uptimeS} s since ${status.startedAt}`,
      `listening  ${listen}`,
      `upstream   ${status.upstream.url}`,
      ...(status.vpn ? [`vpn        ${describeTunnel(status.vpn)}`, `vpn key    ${status.vpn.publicKey ?? 'not known yet (see "pleevi-edge provision status")'}`] : []),
      `cloud link ${describeCloudLink(status.cloudLink)}`,
      `storage    ${describeStorage(status.storage)}`,
      ...(status.provisioning ? [`identity   ${describeProvisioning(status.provisioning)}`] : []),
      `counters   ${Object.entries(status.counters).map(([name, value]) => `${name}=${value}`).join(' ')}`,
      '',
      `stations connected: ${status.stations.length}`,
      '',
    ]
      // Each line whole: the cloud link's last error and the ids in it may carry a peer's text.
      .map(terminalSafe)
      .join('\n'),
  );
  if (status.stations.length > 0) {
    io.stdout.write(
      formatTable(
        ['STATION', 'PROTOCOL', 'STATE', 'REMOTE', 'CONNECTED SINCE', 'LAN SECURITY', 'UPSTREAM SECURITY'],
        status.stations.map((station) => [
          station.stationId,
          station.protocol || '-',
          station.state,
          station.remoteAddress,
          station.connectedAt,
          station.security ? describeHop(station.security.station) : '-',
          station.security ? describeHop(station.security.upstream) : '-',
        ]),
      ),
    );
  }
  if (status.recentEvents.length > 0) {
    io.stdout.write('\nrecent events (newest last):\n');
    for (const { topic, payload } of status.recentEvents.slice(-10)) {
      const detail =
        topic === 'session'
          ? `tx ${payload.transactionId} badge ${payload.idTag ?? '-'} driver ${payload.driver?.email ?? 'unknown'}`
          : '';
      // Station id, transaction id and badge are the station's text: shown with its control characters escaped.
      const subject = 'stationId' in payload ? payload.stationId : payload.gatewayId;
      io.stdout.write(`${terminalSafe(`  ${topic.padEnd(8)} ${payload.event.padEnd(12)} ${subject}  ${detail}`.trimEnd())}\n`);
    }
  }
  return EXIT_OK;
};

function describeProvisioning(provisioning: ProvisioningStatus): string {
  const certificate = provisioning.certificate;
  if (!certificate) return `${provisioning.claim}, no certificate in use`;
  const error = certificate.lastError ? ` (last error: ${certificate.lastError.message})` : '';
  const clock = provisioning.clock.plausible ? '' : `; clock NOT PLAUSIBLE (${provisioning.clock.reason}): no renewal until it is`;
  const expired = certificate.expired === true ? 'EXPIRED ' : '';
  return `enrolled; certificate ${certificate.serialNumber} ${expired}expires ${certificate.notAfter}, renews at ${certificate.renewAt}, renewal ${certificate.state}${error}${clock}`;
}

function describeStorage(storage: GatewayStatus['storage']): string {
  if (storage.state === 'ok') return 'ok';
  if (storage.state === 'memory') {
    return 'IN MEMORY: the database could not be opened (disk full?); stations are relayed, the cloud link is off, nothing is kept; the gateway restarts itself once it opens';
  }
  return `UNAVAILABLE (disk full, I/O errors or locked): the session bookkeeping of ${storage.waitingFrames} frames waits in memory and is retried; see the log`;
}

function describeCloudLink(link: GatewayStatus['cloudLink']): string {
  if (typeof link === 'string') return link;
  const error = link.lastError ? `, last error: ${link.lastError}` : '';
  return `${link.state} ${link.url} (client ${link.clientId}), outbox ${link.outboxDepth} waiting, ${link.outboxDropped} dropped, last seq ${link.lastSeq}${error}`;
}
