import type { DeviceConfig } from '../config/gateway-config.js';
import type { Logger } from '../util/logger.js';
import { GATEWAY_VERSION } from '../version.js';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describeError } from '../errors.js';
import { claimQrAsSvg, claimQrForConsole } from './claim-qr.js';
import { writeClaimIssue } from './console-issue.js';
import { claimUrl } from './claim-url.js';
import type { DeviceIdentity } from './device-identity.js';
import type { ProvisioningRuntime, ProvisioningStatus } from './provisioning-runtime.js';
import { UnclaimedListener } from './unclaimed-listener.js';

/** Where the daemon keeps the console snippet (the appliance links it from /etc/issue.d/). */
export function consoleDir(dataDir: string): string {
  return join(dataDir, 'console');
}

/** `GET /v1/status` of an unclaimed gateway (`pleevi-edge status`). */
export interface AwaitingClaimStatus {
  readonly mode: 'awaiting-claim';
  readonly gatewayId: string;
  readonly version: string;
  readonly startedAt: string;
  readonly uptimeS: number;
  readonly listen: { readonly port: number; readonly path: string };
  /** Where enrollment stands, in one sentence and in detail; never the claim code. */
  readonly summary: string;
  readonly provisioning: ProvisioningStatus;
}

/**
 * An unclaimed gateway: its station port answers stations with 503 and
 * Retry-After and serves the LAN page with the claim QR code, until
 * enrollment brings the configuration to relay with (docs/provisioning.md
 * "Before the claim").
 */
export class AwaitingClaim {
  readonly startedAt = new Date();
  private listener: UnclaimedListener | undefined;
  private boundPort = 0;
  private qrSvg: string | undefined;

  private readonly identity: DeviceIdentity;

  constructor(
    private readonly config: DeviceConfig,
    private readonly provisioning: ProvisioningRuntime,
    private readonly logger: Logger,
  ) {
    this.identity = provisioning.identity;
  }

  async start(): Promise<void> {
    const link = this.claimLink();
    if (link !== undefined) this.qrSvg = await claimQrAsSvg(link);
    this.listener = new UnclaimedListener(
      this.config,
      () => ({
        kind: 'unclaimed',
        gatewayId: this.identity.gatewayId,
        version: GATEWAY_VERSION,
        // Shown on the LAN page by design: the installer on site types it (docs/provisioning.md "The LAN page").
        claimCode: this.identity.claimCode ?? '',
        ...(link !== undefined && this.qrSvg !== undefined ? { claimUrl: link, qrSvg: this.qrSvg } : {}),
        enrollment: this.provisioning.enrollmentSentence(),
      }),
      this.logger,
    );
    this.boundPort = await this.listener.listen();
    if (link !== undefined) await this.showOnConsole(link);
    // Never the code: the log leaves the device in diagnostic bundles.
    this.logger.info({ gatewayId: this.identity.gatewayId, port: this.boundPort, claimPage: `http://<gateway-ip>:${this.boundPort}/` }, 'waiting to be claimed: stations get 503 until enrollment; the claim QR code is on the LAN page and in "pleevi-edge provision qr"');
  }

  get port(): number {
    return this.boundPort;
  }

  status(): AwaitingClaimStatus {
    return {
      mode: 'awaiting-claim',
      gatewayId: this.identity.gatewayId,
      version: GATEWAY_VERSION,
      startedAt: this.startedAt.toISOString(),
      uptimeS: Math.round((Date.now() - this.startedAt.getTime()) / 1000),
      listen: { port: this.boundPort, path: this.config.listen.path },
      summary: this.provisioning.enrollmentSentence(),
      provisioning: this.provisioning.status(),
    };
  }

  /** Give the station port back for the relay. */
  async close(): Promise<void> {
    await this.listener?.close();
    this.listener = undefined;
  }

  /**
   * The claim snippet for the console login screen, in
   * `<dataDir>/console/pleevi-edge.issue`; the appliance links it from
   * `/etc/issue.d/` (docs/provisioning.md "The console snippet"). A failure
   * costs the console its QR code, nothing else.
   */
  private async showOnConsole(link: string): Promise<void> {
    const claimCode = this.identity.claimCode;
    if (claimCode === undefined) return;
    const dir = consoleDir(this.config.dataDir);
    try {
      mkdirSync(dir, { recursive: true, mode: 0o755 });
      writeClaimIssue(dir, { gatewayId: this.identity.gatewayId, claimCode, claimUrl: link, qrText: await claimQrForConsole(link) });
    } catch (error: unknown) {
      this.logger.warn({ err: describeError(error), dir }, 'the claim QR code could not be written for the console');
    }
  }

  private claimLink(): string | undefined {
    const code = this.identity.claimCode;
    return code === undefined ? undefined : claimUrl(this.config.provisioning?.claimBaseUrl, this.identity.gatewayId, code);
  }
}
