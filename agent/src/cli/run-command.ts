import type { Server } from 'node:http';
import { parseArgs } from 'node:util';
import { startAdminServer } from '../admin/admin-server.js';
import { configFileExposure } from '../config/config-file-exposure.js';
import { describeError, GatewayError } from '../errors.js';
import { Gateway } from '../gateway.js';
import { createLogger } from '../util/logger.js';
import { ServiceNotifier } from '../util/service-notifier.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_RESTART, EXIT_USAGE, type CliCommand } from './cli-io.js';
import { loadCliLayeredConfig } from './load-cli-config.js';
import type { GatewayConfig } from '../config/gateway-config.js';
import { AwaitingClaim } from '../provisioning/awaiting-claim.js';
import { loadOrCreateIdentity } from '../provisioning/device-identity.js';

/**
 * `pleevi-edge run`: the daemon. Stops cleanly on SIGTERM / SIGINT (exit 0).
 * A daemon that had to start on an in-memory copy of its database (disk
 * full) stops with exit 75 once the database opens again, so that systemd
 * starts it afresh on the real one.
 */
export const runCommand: CliCommand = async (args, io) => {
  let flags;
  try {
    flags = parseArgs({ args: [...args], options: { config: { type: 'string' } }, strict: true }).values;
  } catch (error: unknown) {
    io.stderr.write(`pleevi-edge run: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT_USAGE;
  }
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
  // One status route for the daemon's whole life; what it shows follows the phase.
  let status: () => unknown = () => ({ mode: 'starting' });
  let admin: Server;
  try {
    admin = await startAdminServer(device.admin.socket, new Map([['/v1/status', () => status()]]), logger);
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
  let stopRequested = false;
  const stopped = new Promise<'signal'>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      logger.info({ signal }, 'stopping');
      stopRequested = true;
      resolve('signal');
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });

  let config: GatewayConfig;
  if (loaded.kind === 'awaiting-enrollment') {
    const identity = loadOrCreateIdentity(device.dataDir, { gatewayId: device.gatewayId, source: device.gatewayIdSource ?? 'config' });
    const waiting = new AwaitingClaim(device, identity, () => 'waiting for the claim (enrollment is not implemented in this version)', logger);
    try {
      await waiting.start();
    } catch (error: unknown) {
      logger.fatal({ err: error, port: device.listen.port }, 'the station port cannot be opened; stopping');
      admin.close();
      logger.flush();
      io.stderr.write(`pleevi-edge run: the station port cannot be opened: ${describeError(error)}\n`);
      return EXIT_FAILURE;
    }
    status = () => waiting.status();
    await notifier.ready(`waiting to be claimed; LAN page on port ${waiting.port}`);
    await stopped;
    await notifier.stopping();
    admin.close();
    await waiting.close();
    logger.flush();
    return EXIT_OK;
  } else {
    config = loaded.config;
  }
  if (stopRequested) {
    admin.close();
    return EXIT_OK;
  }
  let gateway: Gateway;
  try {
    gateway = await Gateway.start(config, { logger, lanPage: {} });
  } catch (error: unknown) {
    admin.close();
    throw error;
  }
  status = () => gateway.status();
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
  await notifier.stopping();
  admin.close();
  await gateway.close();
  logger.flush();
  return why === 'storage' ? EXIT_RESTART : EXIT_OK;
};
