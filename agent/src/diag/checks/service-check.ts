import { fail, pass, skip, warn, type CheckResult } from '../check-result.js';
import type { DiagContext } from '../diag-context.js';
import type { DaemonStatus } from '../daemon-status.js';
import { firstLine, runSystemCommand } from '../system-command.js';

export const SERVICE_UNIT = 'pleevi-edge';
const STATUS_FIX = `"systemctl status ${SERVICE_UNIT}" and "journalctl -u ${SERVICE_UNIT} -n 100" say why it is not running; "systemctl restart ${SERVICE_UNIT}" starts it`;

/**
 * The service itself: the daemon answers on its admin socket (what `status`
 * asks), its storage is usable, and where systemd runs, the unit is active.
 * `daemon` is read once by the caller (the support bundle keeps the answer).
 */
export async function serviceChecks(context: DiagContext, daemon: DaemonStatus | undefined): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  if (context.loaded === undefined || daemon === undefined) {
    results.push(skip('daemon', 'daemon answers', 'needs a valid configuration (admin.socket)'));
  } else if (daemon.answered) {
    const status = daemon.status;
    const mode = status['mode'] === 'awaiting-claim' ? ', waiting to be claimed' : '';
    results.push(pass('daemon', 'daemon answers', `on ${context.loaded.config.admin.socket}: ${String(status['gatewayId'] ?? '?')}, pleevi-edge ${String(status['version'] ?? '?')}, up ${String(status['uptimeS'] ?? '?')} s${mode}`));
    const storage = status['storage'];
    const state = typeof storage === 'object' && storage !== null ? (storage as Record<string, unknown>)['state'] : undefined;
    if (state === 'unavailable') {
      results.push(fail('daemon-storage', 'daemon storage', 'UNAVAILABLE: session bookkeeping waits in memory (disk full or failing)', 'free space under dataDir ("df -h"); do not restart before "pleevi-edge status" shows storage ok'));
    } else if (state === 'memory') {
      results.push(fail('daemon-storage', 'daemon storage', 'IN MEMORY: the database could not be opened at start; nothing is kept', 'free space under dataDir; the gateway restarts itself on its database once it opens'));
    } else if (state === 'ok') {
      results.push(pass('daemon-storage', 'daemon storage', 'ok'));
    }
  } else {
    results.push(fail('daemon', 'daemon answers', daemon.reason, STATUS_FIX));
  }

  const outcome = await runSystemCommand('systemctl', ['is-active', SERVICE_UNIT], { timeoutMs: context.timeoutMs, env: context.env });
  const title = `systemd unit ${SERVICE_UNIT}`;
  if (outcome.kind === 'missing') {
    results.push(skip('systemd', title, 'systemctl is not installed'));
  } else if (outcome.kind === 'error') {
    results.push(skip('systemd', title, `systemctl did not answer: ${outcome.message}`));
  } else {
    const state = outcome.stdout.trim();
    if (outcome.code === 0 && state === 'active') {
      results.push(pass('systemd', title, 'active'));
    } else if (state === '' || /not been booted with systemd|Failed to connect to bus/i.test(outcome.stderr)) {
      results.push(skip('systemd', title, `systemd is not running here: ${firstLine(outcome.stderr) || `exit ${outcome.code}`}`));
    } else if (daemon?.answered === true) {
      results.push(warn('systemd', title, `${state}, yet a daemon answers on the admin socket: it was started by hand, not by systemd`, `stop the hand-started daemon, then "systemctl enable --now ${SERVICE_UNIT}"`));
    } else {
      results.push(fail('systemd', title, state, STATUS_FIX));
    }
  }
  return results;
}
