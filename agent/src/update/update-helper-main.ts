#!/usr/bin/env node
/**
 * `pleevi-edge-update`: the privileged update helper's entry point
 * (systemd/pleevi-edge-update.service, run as root; docs/appliance.md
 * "Updates").
 *
 *   node dist/agent/src/update/update-helper-main.js [--config FILE] [--install-dir DIR]
 *        [--stop-command CMD] [--start-command CMD] [--recover [--start]]
 *
 * It reads the LOCAL configuration file only (dataDir, admin.socket,
 * updates.*), never the enrolled layer the agent can write, so the agent
 * cannot choose the key the helper checks signatures against.
 */
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { parseDeviceConfig, readConfigFile, resolveConfigPath } from '../config/load-config.js';
import { ConfigError, describeError } from '../errors.js';
import { createLogger } from '../util/logger.js';
import { DEFAULT_INSTALL_DIR, DEFAULT_START_COMMAND, DEFAULT_STOP_COMMAND } from './helper-defaults.js';
import { recoverInterruptedUpdate, runUpdateHelper, type HelperSettings } from './update-helper.js';


async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  let flags;
  try {
    flags = parseArgs({
      args: [...argv],
      options: {
        config: { type: 'string' },
        'install-dir': { type: 'string' },
        'stop-command': { type: 'string' },
        'start-command': { type: 'string' },
        recover: { type: 'boolean' },
        start: { type: 'boolean' },
      },
      strict: true,
    }).values;
  } catch (error: unknown) {
    process.stderr.write(`pleevi-edge-update: ${describeError(error)}\n`);
    return 2;
  }
  const logger = createLogger('info');
  const configPath = resolveConfigPath(flags.config, env);
  let settings: HelperSettings;
  try {
    const { file, document } = readConfigFile(configPath);
    const device = parseDeviceConfig(document, { baseDir: dirname(file), env, source: file });
    const updates = device.updates;
    if (updates === undefined) throw new Error('internal: the loader gave no updates settings');
    settings = {
      updatesDir: updates.dir,
      publicKey: updates.publicKey,
      readyTimeoutS: updates.readyTimeoutS,
      dataDir: device.dataDir,
      adminSocket: device.admin.socket,
      installDir: flags['install-dir'] ?? DEFAULT_INSTALL_DIR,
      stopCommand: flags['stop-command'] ?? DEFAULT_STOP_COMMAND,
      startCommand: flags['start-command'] ?? DEFAULT_START_COMMAND,
      logger,
    };
  } catch (error: unknown) {
    const problems = error instanceof ConfigError ? error.problems.map((problem) => `${problem.path}: ${problem.message}`) : [];
    logger.fatal({ config: configPath, err: describeError(error), problems }, 'the configuration cannot be read; no update');
    return 1;
  }
  try {
    if (flags.recover === true) {
      const outcome = await recoverInterruptedUpdate(settings, { start: flags.start === true });
      if (outcome === undefined) logger.info('nothing to recover');
      return 0;
    }
    await runUpdateHelper(settings);
    return 0;
  } catch (error: unknown) {
    logger.fatal({ err: error }, 'the update helper failed; the next run (or --recover at boot) makes the tree whole');
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2), process.env);
