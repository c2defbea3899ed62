import { checkClock } from '../../provisioning/clock-plausibility.js';
import { fail, pass, skip, warn, type CheckResult } from '../check-result.js';
import type { DiagContext } from '../diag-context.js';
import { firstLine, runSystemCommand } from '../system-command.js';

const NTP_FIX = 'check "timedatectl timesync-status" and that UDP port 123 to the NTP servers is open';

/**
 * The clock: the agent's own plausibility rule (the one enrollment and
 * renewal wait for), then what systemd says about NTP when `timedatectl`
 * is there. No timedatectl, or one that cannot answer (no systemd), is a
 * skip: the plausibility rule alone decides then.
 */
export async function clockChecks(context: DiagContext): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  const now = context.now();
  const verdict = checkClock({ now: () => now });
  if (verdict.plausible) {
    results.push(pass('clock', 'clock plausible', `${now.toISOString()} (${verdict.reason === 'synchronised' ? 'synchronised by systemd-timesyncd' : 'not before this release was built'})`));
  } else if (verdict.reason === 'before-build-time') {
    results.push(fail('clock', 'clock plausible', verdict.message, `set the time (NTP): certificates cannot be judged and nothing is enrolled or renewed until then; ${NTP_FIX}`));
  } else {
    results.push(warn('clock', 'clock plausible', verdict.message, NTP_FIX));
  }

  const outcome = await runSystemCommand('timedatectl', ['show', '-p', 'NTPSynchronized', '--value'], { timeoutMs: context.timeoutMs, env: context.env });
  if (outcome.kind === 'missing') {
    results.push(skip('clock-ntp', 'NTP synchronised', 'timedatectl is not installed'));
  } else if (outcome.kind === 'error') {
    results.push(skip('clock-ntp', 'NTP synchronised', `timedatectl did not answer: ${outcome.message}`));
  } else if (outcome.code !== 0) {
    results.push(skip('clock-ntp', 'NTP synchronised', `timedatectl cannot tell: ${firstLine(outcome.stderr) || `exit ${outcome.code}`}`));
  } else if (outcome.stdout.trim() === 'yes') {
    results.push(pass('clock-ntp', 'NTP synchronised', 'timedatectl: NTPSynchronized=yes'));
  } else {
    results.push(warn('clock-ntp', 'NTP synchronised', `timedatectl: NTPSynchronized=${outcome.stdout.trim() || '?'}`, `enable time sync ("timedatectl set-ntp true") and ${NTP_FIX}`));
  }
  return results;
}
