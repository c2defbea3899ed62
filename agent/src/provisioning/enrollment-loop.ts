/**
 * Enrollment (docs/provisioning.md "Enrollment"): polls `POST /v1/enroll`
 * until the service answers with a certificate, then verifies, stores and
 * reports it. While the clock is implausible nothing is sent (the clock is
 * checked again every few seconds); `202` waits as long as the service asks
 * (bounded, jittered); errors back off exponentially; a refusal by the
 * service, or an answer the gateway refuses (a certificate it cannot use, a
 * configuration that does not validate), is reported and polled again
 * slowly, never stored.
 *
 * Safe to stop and start again at any moment: the key, the claim code and
 * the CSR are on disk (device-identity.ts) and an answer is stored
 * atomically with gateway.crt as its commit point (enrolled-identity.ts).
 */
import { readFileSync } from 'node:fs';
import { ReconnectBackoff } from '../cloud/reconnect-backoff.js';
import { describeError, EnrollmentError, GatewayError, IdentityError } from '../errors.js';
import type { Logger } from '../util/logger.js';
import { clockCheck, type ClockCheck } from './clock-plausibility.js';
import { loadOrCreateIdentity } from './device-identity.js';
import { verifyEnrollmentAnswer, type EnrollmentAnswer } from './enrollment-answer.js';
import { postEnroll, type RequestOptions } from './enrollment-api.js';
import { loadEnrolledIdentity, storeEnrollment, type EnrolledIdentity } from './enrolled-identity.js';
import type { ResolvedGatewayId } from './gateway-id.js';
import { lanAddresses } from './lan-addresses.js';
import type { ProvisioningEventSink } from './provisioning-event.js';
import { DEFAULT_RETRY_AFTER_BOUNDS, jittered, retryAfterDelayMs, type RetryAfterBounds } from './retry-timing.js';

export type EnrollmentState = 'waiting-for-clock' | 'waiting-for-claim' | 'enrolling' | 'enrolled' | 'refused' | 'error';

export interface EnrollmentTiming extends RetryAfterBounds {
  /** How often an implausible clock is looked at again. */
  readonly clockRecheckMs: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  /** After the service refused (403, 404): the next try, plus up to 20 % jitter. */
  readonly refusedRetryMs: number;
  /** A 202 without retryAfterS. */
  readonly defaultWaitS: number;
}

export const DEFAULT_ENROLLMENT_TIMING: EnrollmentTiming = {
  ...DEFAULT_RETRY_AFTER_BOUNDS,
  clockRecheckMs: 5_000,
  initialBackoffMs: 2_000,
  maxBackoffMs: 5 * 60_000,
  refusedRetryMs: 10 * 60_000,
  defaultWaitS: 30,
};

export interface EnrollmentOptions {
  readonly dataDir: string;
  readonly gateway: ResolvedGatewayId;
  /** The hardware serial (readHardwareSerial), for preauthorized gateways; '' when there is none. */
  readonly serial: string;
  /** provisioning.url */
  readonly serviceUrl: string;
  /** provisioning.ca (PEM); the system roots when absent. */
  readonly ca?: string;
  readonly agentVersion: string;
  /** The problems of the received configuration, [] when it is valid (the daemon's config rules). */
  /**
   * Problems of the received configuration, checked with the certificates
   * it comes with (they fill in where nothing names one); empty when good.
   */
  readonly validateConfig: (config: Readonly<Record<string, unknown>>, certificates: ReceivedCertificates) => readonly string[];
  /** Called once: with the stored identity, or at start() with the one already there. */
  readonly onEnrolled: (identity: EnrolledIdentity) => void;
  readonly onEvent?: ProvisioningEventSink;
  readonly logger: Logger;
  readonly lanAddresses?: () => readonly string[];
  readonly clock?: ClockCheck;
  readonly now?: () => Date;
  readonly random?: () => number;
  readonly timing?: Partial<EnrollmentTiming>;
  readonly request?: Pick<RequestOptions, 'timeoutMs' | 'maxAnswerBytes'>;
}

/** The certificates of an enrollment answer, before they are stored, and the key they go with. */
export interface ReceivedCertificates {
  readonly certificatePem: string;
  readonly serverCertificatePem?: string;
  readonly keyPath: string;
}

export interface EnrollmentStatus {
  readonly state: EnrollmentState;
  readonly gatewayId: string;
  /** Requests sent since start(). */
  readonly attempts: number;
  readonly lastAttemptAt: string | undefined;
  readonly nextAttemptAt: string | undefined;
  /**
   * `code`: a PE_ERR_ code, the service's own error code (a refusal), or
   * `clock-implausible`. Never holds the claim code or key material.
   */
  readonly lastError: { readonly code: string; readonly message: string } | undefined;
  readonly enrolledAt: string | undefined;
}

export class Enrollment {
  private readonly options: EnrollmentOptions;
  private readonly timing: EnrollmentTiming;
  private readonly logger: Logger;
  private readonly now: () => Date;
  private readonly random: () => number;
  private readonly clock: ClockCheck;
  private readonly backoff: ReconnectBackoff;
  private state: EnrollmentState = 'waiting-for-clock';
  private attempts = 0;
  private lastAttemptAt: Date | undefined;
  private nextAttemptAt: Date | undefined;
  private lastError: { code: string; message: string } | undefined;
  private enrolledAt: string | undefined;
  private timer: NodeJS.Timeout | undefined;
  private abort = new AbortController();
  private running = false;
  private busy = false;
  private clockAnnounced = false;

  constructor(options: EnrollmentOptions) {
    this.options = options;
    this.timing = { ...DEFAULT_ENROLLMENT_TIMING, ...options.timing };
    this.logger = options.logger.child({ component: 'enrollment', gatewayId: options.gateway.gatewayId });
    this.now = options.now ?? (() => new Date());
    this.random = options.random ?? Math.random;
    this.clock = options.clock ?? clockCheck({ now: this.now });
    this.backoff = new ReconnectBackoff({ initialDelayMs: this.timing.initialBackoffMs, maxDelayMs: this.timing.maxBackoffMs, random: this.random });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    this.schedule(0);
  }

  /** Cancels the timer and an answer in flight; start() again resumes from the files. */
  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.nextAttemptAt = undefined;
    this.abort.abort();
  }

  /** Try now instead of at the next attempt (`provision enroll`); the clock rule still holds. */
  enrollNow(): void {
    if (!this.running || this.busy || this.state === 'enrolled') return;
    this.backoff.reset();
    this.schedule(0);
  }

  status(): EnrollmentStatus {
    return {
      state: this.state,
      gatewayId: this.options.gateway.gatewayId,
      attempts: this.attempts,
      lastAttemptAt: this.lastAttemptAt?.toISOString(),
      nextAttemptAt: this.nextAttemptAt?.toISOString(),
      lastError: this.lastError,
      enrolledAt: this.enrolledAt,
    };
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    if (!this.running) return;
    this.nextAttemptAt = new Date(this.now().getTime() + delayMs);
    this.timer = setTimeout(() => void this.attempt(), delayMs);
  }

  private async attempt(): Promise<void> {
    this.timer = undefined;
    this.nextAttemptAt = undefined;
    if (!this.running || this.busy) return;
    this.busy = true;
    try {
      this.schedule(await this.step());
    } catch (error: unknown) {
      this.fail('error', error instanceof GatewayError ? error.code : 'PE_ERR_ENROLLMENT', describeError(error), 'error');
      this.schedule(this.backoff.next());
    } finally {
      this.busy = false;
    }
  }

  /** One round; the delay until the next, or Infinity once enrolled (never scheduled). */
  private async step(): Promise<number> {
    const { dataDir, gateway } = this.options;
    const existing = loadEnrolledIdentity(dataDir);
    if (existing !== undefined) return this.enrolled(existing, false);

    const clock = this.clock();
    if (!clock.plausible) {
      if (!this.clockAnnounced) this.logger.warn({ reason: clock.reason }, `enrollment waits for a plausible clock: ${clock.message}`);
      this.clockAnnounced = true;
      this.state = 'waiting-for-clock';
      this.lastError = { code: 'clock-implausible', message: clock.message };
      return this.timing.clockRecheckMs;
    }
    this.clockAnnounced = false;

    const identity = loadOrCreateIdentity(dataDir, gateway, this.now);
    if (identity.claimCode === undefined) {
      throw new IdentityError(
        `${identity.claimPath} says the gateway was claimed (${identity.claimedAt ?? '?'}) but there is no certificate; restore the identity folder from a backup, or reset provisioning`,
      );
    }
    const previous = this.state;
    this.state = 'enrolling';
    this.attempts++;
    this.lastAttemptAt = this.now();
    const lan = (this.options.lanAddresses ?? lanAddresses)();
    const result = await postEnroll(
      this.options.serviceUrl,
      { gatewayId: identity.gatewayId, serial: this.options.serial, claimCode: identity.claimCode, csr: identity.csrPem, lanAddresses: lan, agentVersion: this.options.agentVersion },
      { ...this.options.request, signal: this.abort.signal, ...(this.options.ca === undefined ? {} : { ca: this.options.ca }) },
    );
    if (!this.running) return 0;

    switch (result.kind) {
      case 'waiting': {
        if (previous !== 'waiting-for-claim') this.logger.info('waiting for the gateway to be claimed');
        this.state = 'waiting-for-claim';
        this.lastError = undefined;
        this.backoff.reset();
        return retryAfterDelayMs(result.retryAfterS ?? this.timing.defaultWaitS, this.random, this.timing);
      }
      case 'refused': {
        this.fail('refused', result.code, `the enrollment service refused (HTTP ${result.status}): ${result.message}`, 'error');
        this.options.onEvent?.({ type: 'enrollment-refused', gatewayId: identity.gatewayId, status: result.status, code: result.code, message: result.message });
        return jittered(this.timing.refusedRetryMs, this.random);
      }
      case 'retry': {
        this.fail('error', 'PE_ERR_ENROLLMENT', `enrollment attempt failed: ${result.reason}`, 'warn');
        return result.retryAfterS === undefined ? this.backoff.next() : retryAfterDelayMs(result.retryAfterS, this.random, this.timing);
      }
      case 'enrolled': {
        const refusal = this.check(result.answer, identity.keyPath, identity.gatewayId);
        if (refusal !== undefined) {
          this.fail('refused', refusal.code, refusal.message, 'error');
          this.options.onEvent?.({ type: 'enrollment-refused', gatewayId: identity.gatewayId, status: null, code: refusal.reason, message: refusal.message });
          return this.backoff.next();
        }
        const stored = storeEnrollment(dataDir, result.answer, { serviceUrl: this.options.serviceUrl, now: this.now });
        this.logger.info({ serialNumber: stored.serialNumber, notAfter: stored.notAfter.toISOString() }, 'enrolled: certificate and configuration stored');
        this.options.onEvent?.({ type: 'enrolled', gatewayId: identity.gatewayId, serialNumber: stored.serialNumber, notAfter: stored.notAfter.toISOString() });
        return this.enrolled(stored, true);
      }
    }
  }

  /** Why the answer cannot be used, or undefined when it can. */
  private check(answer: EnrollmentAnswer, keyPath: string, gatewayId: string): EnrollmentError | undefined {
    try {
      verifyEnrollmentAnswer(answer, readFileSync(keyPath, 'utf8'), gatewayId);
      const problems = this.options.validateConfig(answer.config, { certificatePem: answer.certificate, ...(answer.serverCertificate !== undefined ? { serverCertificatePem: answer.serverCertificate } : {}), keyPath });
      if (problems.length > 0) {
        const shown = problems.slice(0, 5).join('; ');
        return new EnrollmentError('invalid-config', `the enrolled configuration is refused (${problems.length} problem${problems.length === 1 ? '' : 's'}): ${shown}`);
      }
      return undefined;
    } catch (error: unknown) {
      if (error instanceof EnrollmentError) return error;
      throw error;
    }
  }

  private enrolled(identity: EnrolledIdentity, fresh: boolean): number {
    this.state = 'enrolled';
    this.lastError = undefined;
    this.enrolledAt = identity.enrolledAt;
    this.running = false;
    if (!fresh) this.logger.debug('already enrolled');
    try {
      this.options.onEnrolled(identity);
    } catch (error: unknown) {
      // Stored and enrolled whatever the callback does: a second enrollment would not help it.
      this.logger.error({ err: error }, 'onEnrolled failed; the enrollment is stored');
    }
    return 0;
  }

  private fail(state: 'refused' | 'error', code: string, message: string, level: 'warn' | 'error'): void {
    this.state = state;
    this.lastError = { code, message };
    this.logger[level]({ code }, message);
  }
}
