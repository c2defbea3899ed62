/**
 * `pleevi-edge vpn run`: the privileged half of the VPN (systemd/pleevi-edge-vpn.service,
 * root). The daemon runs without capabilities and cannot make interfaces, so
 * this process builds the WireGuard tunnel of `vpn.wireguard`, keeps it, and
 * writes its state to `<dataDir>/vpn-status.json` for the daemon to read:
 *
 * - the interface: the kernel's (`ip link add <if> type wireguard`) where the
 *   system has the module, else a `wireguard-go <if>` child process;
 * - `wg set`: private key (by file), peer, endpoint, allowed IPs, keepalive;
 * - `ip address add`, `ip link set up`, a route per allowed IP;
 * - every `checkIntervalS`: the configuration read again (enrollment may have
 *   brought or changed the tunnel: it is rebuilt), the interface checked
 *   (rebuilt when it is gone), `wg show <if> dump` read, the status written;
 * - on SIGTERM: the interface removed, the status marked stopped.
 *
 * No key material is logged or written: `wg` gets key files by path, and of
 * the dump only public keys, endpoint, handshake time and byte counts are kept.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { keyFileProblem } from '../config/config-wireguard.js';
import type { WireguardConfig } from '../config/gateway-config.js';
import { writeFileAtomic } from '../provisioning/atomic-write.js';
import type { Logger } from '../util/logger.js';
import type { TunnelStatusFile } from './tunnel-status.js';
import { ensureWireguardKey } from './wireguard-key.js';

export interface SupervisorCommands {
  readonly ip: string;
  readonly wg: string;
  readonly wireguardGo: string;
}

const DEFAULT_COMMANDS: SupervisorCommands = { ip: 'ip', wg: 'wg', wireguardGo: 'wireguard-go' };
/** How often to look at the configuration while it has no tunnel. */
const IDLE_CHECK_MS = 5_000;

interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

function runCommand(file: string, args: readonly string[]): Promise<CommandResult> {
  return new Promise((resolve) => {
    execFile(file, [...args], { timeout: 10_000, env: { ...process.env, WG_HIDE_WARNING: '1' } }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
      const spawnError = error !== null && typeof error.code === 'string' ? `${file}: ${error.code}` : '';
      resolve({ code, stdout: String(stdout), stderr: String(stderr) || spawnError });
    });
  });
}

/** The first line of a tool's complaint, for messages. `ip` and `wg` never print keys there. */
function firstLine(text: string): string {
  return text.trim().split('\n')[0] ?? '';
}

interface Tunnel {
  readonly config: WireguardConfig;
  /** The configuration it was built from, to notice a change. */
  readonly fingerprint: string;
  readonly implementation: 'kernel' | 'wireguard-go';
  readonly child: ChildProcess | undefined;
  readonly publicKey: string;
}

export class WireguardSupervisor {
  private tunnel: Tunnel | undefined;
  private lastError: { message: string; at: string } | null = null;
  private stopping = false;
  /** Received bytes at the last look, and when they last grew: the peer was heard from. */
  private received: { rxBytes: number; at: string | null } = { rxBytes: 0, at: null };
  private wake: (() => void) | undefined;
  private readonly commands: SupervisorCommands;

  /** `load` reads the configuration again: the tunnel wanted now, undefined for none; it throws on a bad configuration. */
  constructor(
    private readonly load: () => WireguardConfig | undefined,
    private readonly logger: Logger,
    commands: Partial<SupervisorCommands> = {},
  ) {
    this.commands = { ...DEFAULT_COMMANDS, ...commands };
  }

  /** Keep the tunnel until `stop()`. */
  async run(): Promise<void> {
    let announcedIdle = false;
    while (!this.stopping) {
      const wanted = await this.step();
      if (wanted === undefined && !announcedIdle) this.logger.info('no vpn.wireguard in the configuration: no tunnel; the configuration is read again every 5 s');
      announcedIdle = wanted === undefined;
      await this.sleep(wanted ? wanted.checkIntervalS * 1000 : IDLE_CHECK_MS);
    }
    await this.teardown();
  }

  stop(): void {
    this.stopping = true;
    this.wake?.();
  }

  /** One round: configuration, interface, status. Returns the tunnel wanted. */
  async step(): Promise<WireguardConfig | undefined> {
    let wanted: WireguardConfig | undefined;
    try {
      wanted = this.load();
    } catch (error: unknown) {
      // A configuration being edited: keep what runs and say why nothing changes.
      this.recordError(`the configuration cannot be used, the tunnel is left as it is: ${error instanceof Error ? error.message : String(error)}`);
      wanted = this.tunnel?.config;
    }
    const fingerprint = wanted ? JSON.stringify(wanted) : undefined;
    if (this.tunnel && (this.tunnel.fingerprint !== fingerprint || !(await this.interfaceAlive(this.tunnel)))) {
      if (this.tunnel.fingerprint !== fingerprint) this.logger.info({ interface: this.tunnel.config.interface }, 'vpn.wireguard changed: rebuilding the tunnel');
      else this.recordError(`the interface ${this.tunnel.config.interface} is gone (wireguard-go stopped?): rebuilding it`);
      await this.teardown();
    }
    if (wanted && !this.tunnel && !this.stopping) {
      try {
        this.tunnel = await this.setUp(wanted, fingerprint ?? '');
        this.lastError = null;
        this.logger.info(
          { interface: wanted.interface, implementation: this.tunnel.implementation, address: wanted.address, endpoint: wanted.peer.endpoint, allowedIps: wanted.peer.allowedIps, publicKey: this.tunnel.publicKey },
          'WireGuard tunnel configured',
        );
      } catch (error: unknown) {
        this.recordError(`the tunnel cannot be set up: ${error instanceof Error ? error.message : String(error)}`);
        await this.removeInterface(wanted.interface, undefined);
      }
    }
    if (wanted) await this.writeStatus(wanted);
    return wanted;
  }

  /** Kept for the status file; logged when it is new, not again every check while it lasts. */
  private recordError(message: string): void {
    if (this.lastError?.message !== message) this.logger.error(message);
    this.lastError = { message, at: new Date().toISOString() };
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  private async setUp(config: WireguardConfig, fingerprint: string): Promise<Tunnel> {
    const publicKey = this.privateKeyReady(config);
    const name = config.interface;
    // A tunnel left by a supervisor that was killed: start clean.
    if ((await runCommand(this.commands.ip, ['link', 'show', 'dev', name])).code === 0) await this.removeInterface(name, undefined);

    let implementation: Tunnel['implementation'] = 'kernel';
    let child: ChildProcess | undefined;
    const kernel = await runCommand(this.commands.ip, ['link', 'add', 'dev', name, 'type', 'wireguard']);
    if (kernel.code !== 0) {
      implementation = 'wireguard-go';
      this.logger.info({ interface: name, reason: firstLine(kernel.stderr) }, 'no WireGuard in this kernel: starting wireguard-go');
      child = await this.startWireguardGo(name);
    }
    try {
      await this.configure(config);
    } catch (error: unknown) {
      await this.removeInterface(name, child);
      throw error;
    }
    return { config, fingerprint, implementation, child, publicKey };
  }

  /** The private key's public key; the gateway's own key is made at first use. Throws when the key cannot be used. */
  private privateKeyReady(config: WireguardConfig): string {
    if (config.generatedKey) {
      const identityDir = dirname(config.privateKeyFile);
      const owner = ownerOf(dirname(identityDir));
      if (!existsSync(identityDir)) {
        mkdirSync(identityDir, { recursive: true, mode: 0o700 });
        // The identity folder belongs to the daemon's user (the dataDir's owner), not to root.
        if (owner) chownSync(identityDir, owner.uid, owner.gid);
      }
      const { publicKey, created } = ensureWireguardKey(config.privateKeyFile);
      if (created) {
        if (owner) chownSync(config.privateKeyFile, owner.uid, owner.gid);
        this.logger.info({ file: config.privateKeyFile, publicKey }, 'made the gateway\'s WireGuard key: register this public key at the VPN server');
      }
    }
    for (const file of [config.privateKeyFile, config.peer.presharedKeyFile]) {
      if (file === undefined) continue;
      const problem = keyFileProblem(file);
      if (problem !== undefined) throw new Error(problem);
    }
    return ensureWireguardKey(config.privateKeyFile).publicKey;
  }

  private async startWireguardGo(name: string): Promise<ChildProcess> {
    // -f: in the foreground, a child of this process, gone with it.
    const child = spawn(this.commands.wireguardGo, ['-f', name], { env: { ...process.env, WG_HIDE_WARNING: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    const output: string[] = [];
    const keep = (chunk: Buffer): void => {
      output.push(chunk.toString());
      if (output.length > 20) output.shift();
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    child.on('error', (error) => output.push(error.message));
    child.on('exit', (code, signal) => {
      if (!this.stopping) this.logger.warn({ interface: name, code, signal, output: firstLine(output.join('').split('\n').slice(-3).join('\n')) }, 'wireguard-go stopped');
    });
    const socket = `/var/run/wireguard/${name}.sock`;
    const deadline = Date.now() + 5_000;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) break;
      if (existsSync(socket) && (await runCommand(this.commands.ip, ['link', 'show', 'dev', name])).code === 0) return child;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    child.kill('SIGKILL');
    throw new Error(`wireguard-go did not make ${name}: ${firstLine(output.join('')) || 'no output (is /dev/net/tun there?)'}`);
  }

  private async configure(config: WireguardConfig): Promise<void> {
    const name = config.interface;
    const peer = config.peer;
    const wgArgs = ['set', name, 'private-key', config.privateKeyFile, 'peer', peer.publicKey, 'endpoint', peer.endpoint, 'persistent-keepalive', String(peer.persistentKeepaliveS), 'allowed-ips', peer.allowedIps.join(',')];
    if (peer.presharedKeyFile !== undefined) wgArgs.push('preshared-key', peer.presharedKeyFile);
    const steps: Array<[string, string[], string]> = [
      [this.commands.wg, wgArgs, 'wg set'],
      [this.commands.ip, ['address', 'add', config.address, 'dev', name], 'ip address add'],
      [this.commands.ip, ['link', 'set', 'dev', name, 'up'], 'ip link set up'],
      ...peer.allowedIps.map((cidr): [string, string[], string] => [this.commands.ip, ['route', 'replace', cidr, 'dev', name], `ip route replace ${cidr}`]),
    ];
    for (const [file, args, what] of steps) {
      const result = await runCommand(file, args);
      if (result.code !== 0) throw new Error(`${what} failed: ${firstLine(result.stderr) || `exit ${result.code}`}`);
    }
  }

  private async interfaceAlive(tunnel: Tunnel): Promise<boolean> {
    if (tunnel.child && (tunnel.child.exitCode !== null || tunnel.child.signalCode !== null)) return false;
    return (await runCommand(this.commands.ip, ['link', 'show', 'dev', tunnel.config.interface])).code === 0;
  }

  async teardown(): Promise<void> {
    const tunnel = this.tunnel;
    this.tunnel = undefined;
    if (!tunnel) return;
    await this.removeInterface(tunnel.config.interface, tunnel.child);
    this.logger.info({ interface: tunnel.config.interface }, 'WireGuard tunnel removed');
    if (this.stopping) await this.writeStatus(tunnel.config, tunnel);
  }

  private async removeInterface(name: string, child: ChildProcess | undefined): Promise<void> {
    // Routes go with the interface; wireguard-go exits when its interface is deleted.
    await runCommand(this.commands.ip, ['link', 'del', 'dev', name]);
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
      await exited;
      clearTimeout(timer);
    }
  }

  /** Read the tunnel and write the status file (mode 0644: the daemon's user reads it). */
  private async writeStatus(config: WireguardConfig, stoppedTunnel?: Tunnel): Promise<void> {
    const tunnel = stoppedTunnel ?? this.tunnel;
    const seen = tunnel && !stoppedTunnel ? await this.readDump(config) : undefined;
    const status: TunnelStatusFile = {
      version: 1,
      interface: config.interface,
      implementation: tunnel?.implementation ?? null,
      interfaceUp: seen !== undefined,
      publicKey: seen?.publicKey ?? tunnel?.publicKey ?? null,
      address: config.address,
      peer: {
        publicKey: config.peer.publicKey,
        endpoint: config.peer.endpoint,
        currentEndpoint: seen?.endpoint ?? null,
        allowedIps: config.peer.allowedIps,
        latestHandshakeAt: seen?.latestHandshakeAt ?? null,
        lastReceivedAt: this.noteReceived(seen?.rxBytes),
        rxBytes: seen?.rxBytes ?? 0,
        txBytes: seen?.txBytes ?? 0,
      },
      updatedAt: new Date().toISOString(),
      checkIntervalS: config.checkIntervalS,
      pid: process.pid,
      supervisor: this.stopping ? 'stopped' : 'running',
      lastError: this.lastError,
    };
    try {
      writeFileAtomic(config.statusFile, `${JSON.stringify(status, null, 2)}\n`, 0o644);
    } catch (error: unknown) {
      this.logger.error({ err: error, file: config.statusFile }, 'the VPN status file cannot be written');
    }
  }

  /** When the received bytes last grew (as seen every checkIntervalS); a new interface starts again at 0. */
  private noteReceived(rxBytes: number | undefined): string | null {
    if (rxBytes === undefined) return this.received.at;
    if (rxBytes > this.received.rxBytes) this.received = { rxBytes, at: new Date().toISOString() };
    else if (rxBytes < this.received.rxBytes) this.received = { rxBytes, at: this.received.at };
    return this.received.at;
  }

  /**
   * `wg show <if> dump`: the interface line (private key, public key, port,
   * fwmark), then a line per peer (public key, preshared key, endpoint,
   * allowed IPs, latest handshake, rx, tx, keepalive). Only the public parts
   * are kept; the output is never logged.
   */
  private async readDump(config: WireguardConfig): Promise<
    { publicKey: string | null; endpoint: string | null; latestHandshakeAt: string | null; rxBytes: number; txBytes: number } | undefined
  > {
    const result = await runCommand(this.commands.wg, ['show', config.interface, 'dump']);
    if (result.code !== 0) {
      this.recordError(`wg show ${config.interface} failed: ${firstLine(result.stderr) || `exit ${result.code}`}`);
      return undefined;
    }
    const lines = result.stdout.trim().split('\n').map((line) => line.split('\t'));
    const own = lines[0];
    const peer = lines.slice(1).find((fields) => fields[0] === config.peer.publicKey);
    const handshake = Number(peer?.[4] ?? 0);
    return {
      publicKey: own?.[1] ?? null,
      endpoint: peer?.[2] && peer[2] !== '(none)' ? peer[2] : null,
      latestHandshakeAt: handshake > 0 ? new Date(handshake * 1000).toISOString() : null,
      rxBytes: Number(peer?.[5] ?? 0) || 0,
      txBytes: Number(peer?.[6] ?? 0) || 0,
    };
  }
}

function ownerOf(path: string): { uid: number; gid: number } | undefined {
  try {
    const stats = statSync(path);
    return { uid: stats.uid, gid: stats.gid };
  } catch {
    return undefined;
  }
}
