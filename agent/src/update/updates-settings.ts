import { join } from 'node:path';
import { CONFIG_DEFAULTS } from '../config/config-schema.js';
import type { DeviceConfig, UpdatesConfig } from '../config/gateway-config.js';

/** `updates` of a configuration, with the defaults for configs built in code (the loader always fills it in). */
export function updatesSettings(config: DeviceConfig): UpdatesConfig {
  return (
    config.updates ?? {
      dir: join(config.dataDir, 'updates'),
      publicKey: CONFIG_DEFAULTS.updates.publicKey,
      readyTimeoutS: CONFIG_DEFAULTS.updates.readyTimeoutS,
    }
  );
}
