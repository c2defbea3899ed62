import { parseArgs } from 'node:util';
import { loadLayeredConfig } from '../config/layered-config.js';
import { resolveConfigPath } from '../config/load-config.js';
import type { WireguardConfig } from '../config/gateway-config.js';
import { createLogger } from '../util/logger.js';
import { describeTunnel, tunnelState } from '../vpn/tunnel-status.js';
import { WireguardSupervisor } from '../vpn/wireguard-supervisor.js';
import { publicKeyOfFile } from '../vpn/wireguard-key.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliCommand, type CliIo } from './cli-io.js';
import { loadCliLayeredConfig } from './load-cli-config.js';
import { terminalSafe, terminalSafeJson } from './terminal-safe.js';

function flagsOf(name: string, args: readonly string[], io: CliIo, json: boolean): { config?: string; json?: boolean } | undefined {
  try {
    return parseArgs({ args: [...args], options: { config: { type: 'string' }, ...(json ? { json: { type: 'boolean' as const } } : {}) }, strict: true }).values as { config?: string; json?: boolean };
  } catch (error: unknown) {
    io.stderr.write(`pleevi-edge ${name}: ${error instanceof Error ? error.message : String(error)}\n`);
    return undefined;
  }
}

/**
 * `pleevi-edge vpn run`: the WireGuard supervisor (root; systemd/pleevi-edge-vpn.service).
 * It reads the same configuration as the daemon, every check interval again.
 */
export const vpnRunCommand: CliCommand = async (args, io) => {
  const flags = flagsOf('vpn run', args, io, false);
  if (!flags) return EXIT_USAGE;
  const first = loadCliLayeredConfig(flags.config, io);
  if (!first) return EXIT_USAGE;
  const configPath = resolveConfigPath(flags.config, io.env);
  const logger = createLogger(first.config.log.level).child({ component: 'vpn' });
  const load = (): WireguardConfig | undefined => {
    const loaded = loadLayeredConfig(configPath, io.env);
    return loaded.kind === 'ready' ? loaded.config.vpn?.wireguard : undefined;
  };
  const supervisor = new WireguardSupervisor(load, logger);
  const onSignal = (signal: NodeJS.Signals): void => {
    logger.info({ signal }, 'stopping: removing the tunnel');
    supervisor.stop();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    await supervisor.run();
  } catch (error: unknown) {
    logger.fatal({ err: error }, 'the VPN supervisor failed');
    await supervisor.teardown().catch(() => undefined);
    return EXIT_FAILURE;
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    logger.flush();
  }
  return EXIT_OK;
};

/** The public key from the key file, when it exists and this user may read it. */
function ownPublicKey(wireguard: WireguardConfig): string | undefined {
  try {
    return publicKeyOfFile(wireguard.privateKeyFile);
  } catch {
    return undefined;
  }
}

/** `pleevi-edge vpn status [--json]`: the tunnel from the supervisor's status file; exit 1 when it is down. */
export const vpnStatusCommand: CliCommand = async (args, io) => {
  const flags = flagsOf('vpn status', args, io, true);
  if (!flags) return EXIT_USAGE;
  const loaded = loadCliLayeredConfig(flags.config, io);
  if (!loaded) return EXIT_USAGE;
  const wireguard = loaded.kind === 'ready' ? loaded.config.vpn?.wireguard : undefined;
  if (!wireguard) {
    if (flags.json) io.stdout.write(`${JSON.stringify({ configured: false })}\n`);
    else io.stdout.write('no vpn.wireguard configured\n');
    return EXIT_OK;
  }
  const tunnel = tunnelState(wireguard);
  if (flags.json) {
    io.stdout.write(`${terminalSafeJson({ configured: true, ...tunnel })}\n`);
  } else {
    io.stdout.write(
      [
        `vpn        ${describeTunnel(tunnel)}`,
        `public key ${tunnel.publicKey ?? ownPublicKey(wireguard) ?? '(not known yet: the supervisor has not run)'}`,
        ...(tunnel.lastError ? [`last error ${tunnel.lastError.message} (${tunnel.lastError.at})`] : []),
        '',
      ]
        .map(terminalSafe)
        .join('\n'),
    );
  }
  return tunnel.state === 'up' ? EXIT_OK : EXIT_FAILURE;
};

