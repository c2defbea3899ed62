import type { DeviceConfig } from '../config/gateway-config.js';
import { resolveConfigPath } from '../config/load-config.js';
import { loadLayeredConfig, type LoadedConfig } from '../config/layered-config.js';
import { ConfigError } from '../errors.js';
import type { CliIo } from './cli-io.js';
import { printConfigProblems } from './print-config-problems.js';

/**
 * The configuration for a command (`--config`, `$PLEEVI_EDGE_CONFIG`, or the
 * default path), layered over what enrollment brought. On a bad file every
 * problem is printed and undefined comes back: the command then exits 2.
 */
export function loadCliLayeredConfig(flag: string | undefined, io: CliIo): LoadedConfig | undefined {
  const configPath = resolveConfigPath(flag, io.env);
  try {
    return loadLayeredConfig(configPath, io.env);
  } catch (error: unknown) {
    if (error instanceof ConfigError) {
      printConfigProblems(io, configPath, error);
      return undefined;
    }
    throw error;
  }
}

/** What most commands need: where the state and the admin socket are, whether or not the gateway is claimed yet. */
export function loadCliConfig(flag: string | undefined, io: CliIo): DeviceConfig | undefined {
  return loadCliLayeredConfig(flag, io)?.config;
}
