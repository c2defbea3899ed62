import { configFileExposure } from '../../config/config-file-exposure.js';
import { fail, pass, warn, type CheckResult } from '../check-result.js';
import type { DiagContext } from '../diag-context.js';

const TITLE = 'configuration';

/**
 * The configuration loads as `run` loads it. An unclaimed gateway (no
 * upstream yet) is a warning: it serves no station until it is claimed. A
 * file holding secrets that other users may read is a warning of its own.
 */
export function configurationChecks(context: DiagContext): CheckResult[] {
  const { loaded, configError, configPath } = context;
  if (loaded === undefined) {
    const problems = configError?.problems ?? [];
    const first = problems[0];
    const more = problems.length > 1 ? ` (and ${problems.length - 1} more)` : '';
    return [fail('config', TITLE, `${configPath}: ${first ? `${first.path}: ${first.message}` : (configError?.message ?? 'invalid')}${more}`, `run "pleevi-edge config check --config ${configPath}" and fix every problem it lists`)];
  }
  const results: CheckResult[] = [];
  if (loaded.kind === 'awaiting-enrollment') {
    results.push(
      warn(
        'config',
        TITLE,
        `${configPath} is valid; the gateway has no upstream yet: it is waiting to be claimed and enrolled (${loaded.config.provisioning?.url ?? 'no provisioning.url'})`,
        'claim the gateway: scan the QR code ("pleevi-edge provision qr", the console or http://<gateway-ip>:<listen.port>/) or type the claim code',
      ),
    );
  } else {
    results.push(pass('config', TITLE, `${configPath} is valid (gateway ${loaded.config.gatewayId}, upstream ${loaded.config.upstream.url})`));
  }
  const exposure = configFileExposure(loaded.config);
  if (exposure !== undefined) {
    results.push(warn('config-permissions', 'configuration file permissions', `${exposure.file} holds secrets (${exposure.secrets.join(', ')}) and is readable by ${exposure.readableBy} (mode ${exposure.mode})`, exposure.fix));
  } else {
    results.push(pass('config-permissions', 'configuration file permissions', 'no secret in the file is readable by other users'));
  }
  return results;
}
