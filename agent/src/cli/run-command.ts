import type { Server } from 'node:http';
import { parseArgs } from 'node:util';
import { startAdminServer } from '../admin/admin-server.js';
import { configFileExposure } from '../config/config-file-exposure.js';
import type { GatewayConfig } from '../config/gateway-config.js';
import { enrolledFilesIn, loadLayeredConfig, receivedConfigValidator } from '../config/layered-config.js';
import { resolveConfigPath } from '../config/load-config.js';
import { ConfigError, describeError, GatewayError } from '../errors.js';
import { Gateway } from '../gateway.js';
import { AwaitingClaim, consoleDir } from '../provisioning/awaiting-claim.js';
import { writeClaimedIssue } from '../provisioning/console-issue.js';
import { ProvisioningRuntime } from '../provisioning/provisioning-runtime.js';
import { createLogger, type Logger } from '../util/logger.js';
import { ServiceNotifier } from '../util/service-notifier.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_RESTART, EXIT_USAGE, type CliCommand } from './cli-io.js';
import { loadCliLayeredConfig } from './load-cli-config.js';

/**
 * `pleevi-edge run`: the daemon. Stops cleanly on SIGTERM / SIGINT (exit 0).
 * A daemon that had to start on an in-memory copy of its database (disk
 * full) stops with exit 75 once the database opens again, so that systemd
 * starts it afresh on the real one.
 *
 * An unclaimed gateway (docs/provisioning.md) first waits for its claim:
 * the station port answers 503 and shows the LAN page while enrollment
 * polls; once enrolled, the same process starts relaying on the enrolled
 * configuration, without a restart.
 */
export const runCommand: CliCommand = async (args, io) => {
  let flags;
  try {
    flags = parseArgs({ args: [...args], options: { config: { type: 'string' } }, strict: true }).values;
  } catch (error: unknown) {
    io.stderr.write(`pleevi-edge run: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT_USAGE;
  }
  const configPath = resolveConfigPath(flags.config, io.env);
  const loaded = loadCliLayeredConfig(flags.config, io);
  if (!loaded) return EXIT_USAGE;
  const device = loaded.config;

  const logger = createLogger(device.log.level);
  const exposure = configFileExposure(device);
  if (exposure) {
    logger.warn(
      { config: exposure.file, mode: exposure.mode, readableBy: exposure.readableBy, secrets: exposure.secrets, fix: exposure.fix },
      'the config file holds secrets and other users can read it',
    );
  }
  // A gateway that enrolls, or did: its identity, enrollment and renewal.
  const provisioning =
    device.provisioning?.url !== undefined || enrolledFilesIn(device.dataDir).enrolled
      ? new ProvisioningRuntime({ device, logger, validateConfig: receivedConfigValidator(configPath, io.env) })
      : undefined;

  // One status route for the daemon's whole life; what it shows follows the phase.
  let status: () => unknown = () => ({ mode: 'starting' });
  // The update helper says it wrote an outcome (docs/appliance.md "Updates"); read at start too.
  let updateOutcome: () => unknown = () => ({ reported: null });
  let admin: Server;
  try {
    admin = await startAdminServer(
      device.admin.socket,
      new Map([
        ['/v1/status', () => status()],
        ['POST /v1/provision/enroll', () => ({ enrolling: provisioning?.enrollNow() ?? false, provisioning: provisioning?.status() ?? null })],
        ['POST /v1/update/outcome', () => updateOutcome()],
      ]),
      logger,
    );
  } catch (error: unknown) {
    // Without its admin API the daemon would relay on without ever telling
    // systemd it is ready (which then kills it at TimeoutStartSec) and
    // without `status`: stop now, and say why.
    logger.fatal({ err: error, socket: device.admin.socket }, 'the admin API cannot start; stopping');
    logger.flush();
    io.stderr.write(`pleevi-edge run: the admin API cannot start: ${describeError(error)}${error instanceof GatewayError ? ` [${error.code}]` : ''}\n`);
    return EXIT_FAILURE;
  }
  logger.info({ socket: device.admin.socket }, 'admin API listening');
  const notifier = new ServiceNotifier(io.env, logger);
  const stopped = new Promise<'signal'>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      logger.info({ signal }, 'stopping');
      resolve('signal');
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
  const stopWith = async (code: number): Promise<number> => {
    provisioning?.stop();
    await notifier.stopping();
    admin.close();
    logger.flush();
    return code;
  };

  let config: GatewayConfig;
  if (loaded.kind === 'ready') {
    config = loaded.config;
  } else {
    // awaiting-enrollment needs provisioning.url, so the runtime exists.
    if (!provisioning) return stopWith(EXIT_FAILURE);
    const waiting = new AwaitingClaim(device, provisioning, logger);
    try {
      await waiting.start();
    } catch (error: unknown) {
      logger.fatal({ err: error, port: device.listen.port }, 'the station port cannot be opened; stopping');
      io.stderr.write(`pleevi-edge run: the station port cannot be opened: ${describeError(error)}\n`);
      return stopWith(EXIT_FAILURE);
    }
    status = () => waiting.status();
    await notifier.ready(`waiting to be claimed; LAN page on port ${waiting.port}`);
    const outcome = await Promise.race([stopped, provisioning.enroll()]);
    await waiting.close();
    if (outcome === 'signal') return stopWith(EXIT_OK);
    const enrolled = enrolledConfig(configPath, io.env, logger);
    if (!enrolled) return stopWith(EXIT_FAILURE);
    // Port 0 (tests, a demo) picked a port for the claim page: stations were told that one.
    config = enrolled.listen.port === 0 ? { ...enrolled, listen: { ...enrolled.listen, port: waiting.port } } : enrolled;
    logger.info({ gatewayId: config.gatewayId, upstream: config.upstream.url, mqtt: config.mqtt?.url }, 'enrolled: starting to relay on the enrolled configuration');
    await notifier.status('enrolled; starting to relay');
  }

  let gateway: Gateway;
  try {
    gateway = await Gateway.start(config, {
      logger,
      lanPage: { certificateExpires: () => provisioning?.status().certificate?.notAfter },
      ...(provisioning ? { provisioningStatus: () => provisioning.status() } : {}),
    });
  } catch (error: unknown) {
    await stopWith(EXIT_FAILURE);
    throw error;
  }
  status = () => gateway.status();
  updateOutcome = () => ({ reported: gateway.reportUpdateOutcome() ?? null });
  gateway.reportUpdateOutcome();
  if (provisioning) {
    provisioning.publishTo((event) => gateway.reportGatewayEvent(event));
    // Read once: an enrolled gateway (also one that just enrolled) shows its station URL and renews.
    const identity = provisioning.enrolled();
    if (identity) {
      showClaimedOnConsole(device.dataDir, gateway, logger);
      provisioning.startRenewal(identity, (renewed) => {
        const next = enrolledConfig(configPath, io.env, logger);
        if (!next) return;
        gateway.useCertificates(next);
        logger.info({ serialNumber: renewed.serialNumber, notAfter: renewed.notAfter.toISOString() }, 'renewed certificate in use for new connections; connected stations stay');
      });
    }
  }
  await notifier.ready(`relaying on port ${gateway.port}`);

  const why = await Promise.race([
    stopped,
    new Promise<'storage'>((resolve) => {
      gateway.onStorageRecovered(() => {
        logger.warn({ exitCode: EXIT_RESTART }, 'stopping so that the gateway starts again on its database');
        resolve('storage');
      });
    }),
  ]);
  provisioning?.stop();
  await notifier.stopping();
  admin.close();
  await gateway.close();
  logger.flush();
  return why === 'storage' ? EXIT_RESTART : EXIT_OK;
};

/** The console snippet of a claimed gateway: no code, the station URL instead (docs/provisioning.md "The console snippet"). */
function showClaimedOnConsole(dataDir: string, gateway: Gateway, logger: Logger): void {
  try {
    writeClaimedIssue(consoleDir(dataDir), { gatewayId: gateway.config.gatewayId, stationUrls: gateway.stationUrls() });
  } catch (error: unknown) {
    logger.warn({ err: describeError(error) }, 'the console snippet could not be replaced');
  }
}

/** The configuration again, with what enrollment (or a renewal) just stored; undefined (logged) when it fails. */
function enrolledConfig(configPath: string, env: NodeJS.ProcessEnv, logger: Logger): GatewayConfig | undefined {
  try {
    const loaded = loadLayeredConfig(configPath, env);
    if (loaded.kind === 'ready') return loaded.config;
    logger.fatal('the enrolled configuration names no upstream; stopping');
  } catch (error: unknown) {
    const problems = error instanceof ConfigError ? error.problems : undefined;
    logger.fatal({ err: describeError(error), problems }, 'the configuration with the enrolled values is not valid; stopping');
  }
  return undefined;
}
