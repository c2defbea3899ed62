import { describeTunnel, tunnelState } from '../../vpn/tunnel-status.js';
import { fail, pass, type CheckResult } from '../check-result.js';
import type { DiagContext } from '../diag-context.js';

const TITLE = 'VPN tunnel to the CPMS';

/**
 * `vpn.wireguard` (docs/configuration.md): the tunnel as the supervisor last
 * reported it, judged like `status` does (vpn/tunnel-status.ts). No line
 * without a tunnel configured: most sites reach their CPMS directly.
 */
export function vpnChecks(context: DiagContext): CheckResult[] {
  const loaded = context.loaded;
  if (loaded === undefined || loaded.kind !== 'ready' || loaded.config.vpn === undefined) return [];
  const tunnel = tunnelState(loaded.config.vpn.wireguard);
  if (tunnel.state === 'up') return [pass('vpn', TITLE, describeTunnel(tunnel))];
  return [
    fail(
      'vpn',
      TITLE,
      describeTunnel(tunnel),
      'check "systemctl status pleevi-edge-vpn" and "pleevi-edge vpn status": the peer endpoint reachable (UDP), the peer knows this gateway\'s public key, the clock is right',
    ),
  ];
}
