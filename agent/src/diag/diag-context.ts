import { loadLayeredConfig, type LoadedConfig } from '../config/layered-config.js';
import { ConfigError } from '../errors.js';

/**
 * What every check works from: the configuration as `run` would load it (the
 * local file layered over what enrollment brought), or why it cannot be
 * loaded. Checks that need a value of it skip when there is none.
 */
export interface DiagContext {
  readonly configPath: string;
  readonly env: NodeJS.ProcessEnv;
  readonly loaded: LoadedConfig | undefined;
  /** Why the configuration did not load (`loaded` is then undefined). */
  readonly configError: ConfigError | undefined;
  /** Bound of each network step and of each system tool. */
  readonly timeoutMs: number;
  readonly now: () => Date;
}

export const DEFAULT_STEP_TIMEOUT_MS = 5000;

export function diagContext(configPath: string, env: NodeJS.ProcessEnv, timeoutMs = DEFAULT_STEP_TIMEOUT_MS): DiagContext {
  const base = { configPath, env, timeoutMs, now: () => new Date() };
  try {
    return { ...base, loaded: loadLayeredConfig(configPath, env), configError: undefined };
  } catch (error: unknown) {
    if (error instanceof ConfigError) return { ...base, loaded: undefined, configError: error };
    throw error;
  }
}
