/**
 * Enrollment and renewal as the daemon runs them (docs/provisioning.md):
 * the identity made on the first start, the enrollment loop while the
 * gateway is unclaimed, the renewal loop once it is enrolled, and what
 * `status`, the LAN page and `P/events/gateway` show of them.
 */
import type { GatewayLifecycleEvent } from '../events/gateway-events.js';
import type { DeviceConfig } from '../config/gateway-config.js';
import type { Logger } from '../util/logger.js';
import { GATEWAY_VERSION } from '../version.js';
import { CertificateRenewal, type RenewalStatus } from './certificate-renewal.js';
import { checkClock } from './clock-plausibility.js';
import { loadOrCreateIdentity, type DeviceIdentity } from './device-identity.js';
import { loadEnrolledIdentity, type EnrolledIdentity } from './enrolled-identity.js';
import { Enrollment, type EnrollmentStatus, type ReceivedCertificates } from './enrollment-loop.js';
import { readHardwareSerial } from './hardware-serial.js';
import { lanAddresses } from './lan-addresses.js';
import type { ProvisioningEvent } from './provisioning-event.js';

/** Less than this left on the certificate while renewal fails: `certificate-expiring`. */
const EXPIRING_WITHIN_MS = 7 * 86_400_000;

/** The provisioning part of `status` (and `provision status` from a running daemon). */
export interface ProvisioningStatus {
  readonly claim: 'unclaimed' | 'claimed';
  readonly serviceUrl: string | null;
  readonly clock: { readonly plausible: boolean; readonly reason: string };
  readonly enrollment?: EnrollmentStatus;
  readonly certificate?: RenewalStatus;
}

export interface ProvisioningRuntimeOptions {
  readonly device: DeviceConfig;
  readonly logger: Logger;
  /** Problems of a received configuration together with the local file; empty when it is good. */
  readonly validateConfig: (config: Readonly<Record<string, unknown>>, certificates: ReceivedCertificates) => readonly string[];
}

export class ProvisioningRuntime {
  readonly identity: DeviceIdentity;
  private enrollment: Enrollment | undefined;
  private renewal: CertificateRenewal | undefined;
  private eventSink: ((event: GatewayLifecycleEvent) => void) | undefined;
  /** Events from before the gateway (and its outbox) existed: handed over once it does. */
  private readonly early: GatewayLifecycleEvent[] = [];

  constructor(private readonly options: ProvisioningRuntimeOptions) {
    const { device } = options;
    this.identity = loadOrCreateIdentity(device.dataDir, { gatewayId: device.gatewayId, source: device.gatewayIdSource ?? 'config' });
  }

  /** The enrolled identity on disk, if the gateway is enrolled. */
  enrolled(): EnrolledIdentity | undefined {
    return loadEnrolledIdentity(this.options.device.dataDir);
  }

  /**
   * Poll the enrollment service until the gateway is claimed and enrolled;
   * resolves with the stored identity. `stop()` ends the wait unresolved.
   */
  enroll(): Promise<EnrolledIdentity> {
    const { device, logger } = this.options;
    const serviceUrl = device.provisioning?.url;
    if (serviceUrl === undefined) return Promise.reject(new Error('provisioning.url is not set'));
    return new Promise((resolve) => {
      this.enrollment = new Enrollment({
        dataDir: device.dataDir,
        gateway: { gatewayId: this.identity.gatewayId, source: this.identity.gatewayIdSource },
        // Preauthorization matches the hardware serial; without one the id stands in.
        serial: readHardwareSerial()?.serial ?? this.identity.gatewayId,
        serviceUrl,
        ...(device.provisioning?.ca !== undefined ? { ca: device.provisioning.ca } : {}),
        agentVersion: GATEWAY_VERSION,
        validateConfig: this.options.validateConfig,
        onEnrolled: resolve,
        onEvent: (event) => this.report(event),
        logger,
        lanAddresses,
      });
      this.enrollment.start();
    });
  }

  /** Ask the enrollment loop to try now (`pleevi-edge provision enroll`). */
  enrollNow(): boolean {
    if (!this.enrollment) return false;
    this.enrollment.enrollNow();
    return true;
  }

  /** Renew the certificate at two thirds of its lifetime, for as long as the daemon runs. */
  startRenewal(identity: EnrolledIdentity, onRenewed: (identity: EnrolledIdentity) => void): void {
    const { device, logger } = this.options;
    this.renewal?.stop();
    this.renewal = new CertificateRenewal({
      dataDir: device.dataDir,
      identity,
      ...(device.provisioning?.url !== undefined ? { serviceUrl: device.provisioning.url } : {}),
      ...(device.provisioning?.ca !== undefined ? { ca: device.provisioning.ca } : {}),
      onRenewed,
      onEvent: (event) => this.report(event),
      logger,
      lanAddresses,
    });
    this.renewal.start();
  }

  /** Where `P/events/gateway` events go from now on; the ones from before are handed over first. */
  publishTo(sink: (event: GatewayLifecycleEvent) => void): void {
    this.eventSink = sink;
    for (const event of this.early.splice(0)) sink(event);
  }

  /** One sentence for the LAN page and `status`: where enrollment stands. */
  enrollmentSentence(): string {
    const status = this.enrollment?.status();
    if (!status) return 'not started';
    const error = status.lastError ? ` (last error: ${status.lastError.message})` : '';
    const next = status.nextAttemptAt ? `; next attempt ${status.nextAttemptAt}` : '';
    switch (status.state) {
      case 'waiting-for-clock':
        return `waiting for the clock to be set (time sync) before enrolling${error}`;
      case 'waiting-for-claim':
        return `waiting for the claim: scan the QR code or type the claim code in the installer app${next}`;
      case 'enrolling':
        return 'enrolling now';
      case 'enrolled':
        return 'enrolled';
      case 'refused':
        return `refused by the enrollment service${error}${next}`;
      case 'error':
        return `cannot reach the enrollment service${error}${next}`;
    }
  }

  status(): ProvisioningStatus {
    const clock = checkClock();
    const certificate = this.renewal?.status();
    return {
      claim: certificate !== undefined || this.identity.claimCode === undefined ? 'claimed' : 'unclaimed',
      serviceUrl: this.options.device.provisioning?.url ?? null,
      clock: { plausible: clock.plausible, reason: clock.reason },
      ...(this.enrollment ? { enrollment: this.enrollment.status() } : {}),
      ...(certificate ? { certificate } : {}),
    };
  }

  stop(): void {
    this.enrollment?.stop();
    this.renewal?.stop();
  }

  private report(event: ProvisioningEvent): void {
    const lifecycle = lifecycleEvent(event);
    const events = [lifecycle];
    if (event.type === 'certificate-renewal-failed' && Date.parse(event.notAfter) - Date.now() < EXPIRING_WITHIN_MS && checkClock().plausible) {
      events.push({ event: 'certificate-expiring', gatewayId: event.gatewayId, notAfter: event.notAfter });
    }
    for (const each of events) {
      if (this.eventSink) this.eventSink(each);
      else this.early.push(each);
    }
  }
}

/** The loops' events as published: `event` names the kind like every other event payload. */
function lifecycleEvent(event: ProvisioningEvent): GatewayLifecycleEvent {
  const { type, ...rest } = event;
  return { event: type, ...rest };
}
