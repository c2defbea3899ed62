import type { Server } from 'node:http';
import { parseArgs } from 'node:util';
import { startAdminServer } from '../admin/admin-server.js';
import { configFileExposure } from '../config/config-file-exposure.js';
import { describeError, GatewayError } from '../errors.js';
import { Gateway } from '../gateway.js';
import { createLogger } from '../util/logger.js';
import { ServiceNotifier } from '../util/service-notifier.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_RESTART, EXIT_USAGE, type CliCommand } from './cli-io.js';
import { loadCliConfig } from './load-cli-config.js';

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
  const config = loadCliConfig(flags.config, io);
  if (!config) return EXIT_USAGE;

  const logger = createLogger(config.log.level);
  const exposure = configFileExposure(config);
  if (exposure) {
    logger.warn(
      { config: exposure.file, mode: exposure.mode, readableBy: exposure.readableBy, secrets: exposure.secrets, fix: exposure.fix },
      'the config file holds secrets and other users can read it',
    );
  }
  const gateway = await Gateway.start(config, { logger });
  let admin: Server;
  try {
    admin = await startAdminServer(config.admin.socket, new Map([['/v1/status', () => gateway.status()]]), logger);
  } catch (error: unknown) {
    // Without its admin API the daemon would relay on without ever telling
    // systemd it is ready (which then kills it at TimeoutStartSec) and
    // without `status`: stop now, and say why.
    logger.fatal({ err: error, socket: config.admin.socket }, 'the admin API cannot start; stopping');
    await gateway.close();
    logger.flush();
    io.stderr.write(`pleevi-edge run: the admin API cannot start: ${describeError(error)}${error instanceof GatewayError ? ` [${error.code}]` : ''}\n`);
    return EXIT_FAILURE;
  }
  logger.info({ socket: config.admin.socket }, 'admin API listening');
  const notifier = new ServiceNotifier(io.env, logger);
  await notifier.ready(`relaying on port ${gateway.port}`);

  const why = await new Promise<'signal' | 'storage'>((resolve) => {
    const stop = (signal: NodeJS.Signals): void => {
      logger.info({ signal }, 'stopping');
      resolve('signal');
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    gateway.onStorageRecovered(() => {
      logger.warn({ exitCode: EXIT_RESTART }, 'stopping so that the gateway starts again on its database');
      resolve('storage');
    });
  });
  await notifier.stopping();
  admin.close();
  await gateway.close();
  logger.flush();
  return why === 'storage' ? EXIT_RESTART : EXIT_OK;
};
