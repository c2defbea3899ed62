import type { GatewayConfig } from '../config/gateway-config.js';
import { loadConfig, resolveConfigPath } from '../config/load-config.js';
import { ConfigError } from '../errors.js';
import type { CliIo } from './cli-io.js';
import { printConfigProblems } from './print-config-problems.js';

/**
 * The config for a command (`--config`, `$PLEEVI_EDGE_CONFIG`, or the default
 * path). On a bad file every problem is printed and undefined comes back: the
 * command then exits 2.
 */
export function loadCliConfig(flag: string | undefined, io: CliIo): GatewayConfig | undefined {
  const configPath = resolveConfigPath(flag, io.env);
  try {
    return loadConfig(configPath, io.env);
  } catch (error: unknown) {
    if (error instanceof ConfigError) {
      printConfigProblems(io, configPath, error);
      return undefined;
    }
    throw error;
  }
}
