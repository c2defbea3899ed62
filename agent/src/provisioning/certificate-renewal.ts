/**
 * Certificate renewal (docs/provisioning.md "Renewal and the clock"): at two
 * thirds of the certificate's lifetime plus up to 5 % of it as jitter, the
 * gateway asks `POST /v1/renew` over mutual TLS with its current certificate
 * for a new one, with a fresh CSR from the same key (the key never changes).
 * Failures back off exponentially; a refusal (403: revoked or unknown) is
 * logged at error and asked again slowly, since an operator may fix it.
 *
 * The current certificate is never discarded: not on a refusal, not when it
 * has expired, not when the clock looks wrong. Nothing is decided (renewal
 * due, expired) while the clock is implausible. Long waits are cut into
 * slices of at most `maxSleepMs`, so a clock that jumps (NTP after a Pi's
 * boot) is noticed and setTimeout's 24.8-day limit is never reached.
 */
import { readFileSync } from 'node:fs';
import { ReconnectBackoff } from '../cloud/reconnect-backoff.js';
import { describeError, EnrollmentError, GatewayError } from '../errors.js';
import type { Logger } from '../util/logger.js';
import { clockCheck, type ClockCheck } from './clock-plausibility.js';
import { verifyRenewalAnswer } from './enrollment-answer.js';
import { postRenew, type RequestOptions } from './enrollment-api.js';
import { storeRenewal, type EnrolledIdentity } from './enrolled-identity.js';
import { buildCsr } from './gateway-csr.js';
import { lanAddresses } from './lan-addresses.js';
import type { ProvisioningEvent, ProvisioningEventSink } from './provisioning-event.js';
import { DEFAULT_RETRY_AFTER_BOUNDS, jittered, MAX_TIMER_MS, retryAfterDelayMs, type RetryAfterBounds } from './retry-timing.js';

export type RenewalState = 'scheduled' | 'renewing' | 'retrying' | 'refused' | 'waiting-for-clock';
type FailureReason = Extract<ProvisioningEvent, { type: 'certificate-renewal-failed' }>['reason'];

export interface RenewalTiming extends RetryAfterBounds {
  readonly clockRecheckMs: number;
  /** The longest single wait before the schedule is looked at again. */
  readonly maxSleepMs: number;
  /** Of the lifetime, added at random to the two-thirds point. */
  readonly jitterFraction: number;
  readonly initialBackoffMs: number;
  readonly maxBackoffMs: number;
  /** After a 403, plus up to 20 % jitter. */
  readonly refusedRetryMs: number;
}

export const DEFAULT_RENEWAL_TIMING: RenewalTiming = {
  ...DEFAULT_RETRY_AFTER_BOUNDS,
  clockRecheckMs: 5_000,
  maxSleepMs: 60 * 60_000,
  jitterFraction: 0.05,
  initialBackoffMs: 5_000,
  maxBackoffMs: 5 * 60_000,
  refusedRetryMs: 30 * 60_000,
};

export interface RenewalOptions {
  readonly dataDir: string;
  /** The current enrolled identity (loadEnrolledIdentity, or onEnrolled's). */
  readonly identity: EnrolledIdentity;
  /** Defaults to the service the gateway enrolled with. */
  readonly serviceUrl?: string;
  /** provisioning.ca (PEM); the system roots when absent. */
  readonly ca?: string;
  /** With the stored new identity: the daemon reloads its MQTT client certificate and wss:// listener. */
  readonly onRenewed: (identity: EnrolledIdentity) => void;
  readonly onEvent?: ProvisioningEventSink;
  readonly logger: Logger;
  readonly lanAddresses?: () => readonly string[];
  readonly clock?: ClockCheck;
  readonly now?: () => Date;
  readonly random?: () => number;
  readonly timing?: Partial<RenewalTiming>;
  readonly request?: Pick<RequestOptions, 'timeoutMs' | 'maxAnswerBytes'>;
}

export interface RenewalStatus {
  readonly state: RenewalState;
  readonly serialNumber: string;
  readonly notBefore: string;
  readonly notAfter: string;
  readonly renewAt: string;
  /** Undefined while the clock is implausible: no expiry decision then. */
  readonly expired: boolean | undefined;
  readonly attempts: number;
  readonly lastAttemptAt: string | undefined;
  readonly nextAttemptAt: string | undefined;
  readonly lastError: { readonly code: string; readonly message: string } | undefined;
  readonly renewedAt: string | undefined;
}

export class CertificateRenewal {
  private readonly options: RenewalOptions;
  private readonly timing: RenewalTiming;
  private readonly logger: Logger;
  private readonly now: () => Date;
  private readonly random: () => number;
  private readonly clock: ClockCheck;
  private readonly backoff: ReconnectBackoff;
  private identity: EnrolledIdentity;
  private renewAt: Date;
  private state: RenewalState = 'scheduled';
  private attempts = 0;
  private lastAttemptAt: Date | undefined;
  private nextAttemptAt: Date | undefined;
  private lastError: { code: string; message: string } | undefined;
  /** The failure last reported as an event in the current run of failures; one event per kind, not per retry. */
  private reportedFailure: FailureReason | undefined;
  private timer: NodeJS.Timeout | undefined;
  private abort = new AbortController();
  private running = false;
  private busy = false;

  constructor(options: RenewalOptions) {
    this.options = options;
    this.timing = { ...DEFAULT_RENEWAL_TIMING, ...options.timing };
    this.logger = options.logger.child({ component: 'certificate-renewal', gatewayId: options.identity.commonName });
    this.now = options.now ?? (() => new Date());
    this.random = options.random ?? Math.random;
    this.clock = options.clock ?? clockCheck({ now: this.now });
    this.backoff = new ReconnectBackoff({ initialDelayMs: this.timing.initialBackoffMs, maxDelayMs: this.timing.maxBackoffMs, random: this.random });
    this.identity = options.identity;
    this.renewAt = this.pickRenewAt(options.identity);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.abort = new AbortController();
    this.schedule(0);
  }

  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.nextAttemptAt = undefined;
    this.abort.abort();
  }

  status(): RenewalStatus {
    const clock = this.clock();
    return {
      state: this.state,
      serialNumber: this.identity.serialNumber,
      notBefore: this.identity.notBefore.toISOString(),
      notAfter: this.identity.notAfter.toISOString(),
      renewAt: this.renewAt.toISOString(),
      expired: clock.plausible ? this.now().getTime() >= this.identity.notAfter.getTime() : undefined,
      attempts: this.attempts,
      lastAttemptAt: this.lastAttemptAt?.toISOString(),
      nextAttemptAt: this.nextAttemptAt?.toISOString(),
      lastError: this.lastError,
      renewedAt: this.identity.renewedAt,
    };
  }

  /** notBefore + 2/3 of the lifetime + up to jitterFraction of it. */
  private pickRenewAt(identity: EnrolledIdentity): Date {
    const start = identity.notBefore.getTime();
    const lifetime = Math.max(0, identity.notAfter.getTime() - start);
    return new Date(start + lifetime * (2 / 3) + lifetime * this.timing.jitterFraction * this.random());
  }

  private schedule(delayMs: number): void {
    clearTimeout(this.timer);
    if (!this.running) return;
    const delay = Math.min(Math.max(0, delayMs), MAX_TIMER_MS);
    this.nextAttemptAt = new Date(this.now().getTime() + delay);
    this.timer = setTimeout(() => void this.tick(), delay);
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    this.nextAttemptAt = undefined;
    if (!this.running || this.busy) return;
    this.busy = true;
    try {
      this.schedule(await this.step());
    } catch (error: unknown) {
      // renew() handles its own failures; this is a bug or a broken clock check, and the loop must go on.
      this.logger.error({ err: error }, 'renewal check failed');
      this.schedule(this.backoff.next());
    } finally {
      this.busy = false;
    }
  }

  private async step(): Promise<number> {
    const clock = this.clock();
    if (!clock.plausible) {
      if (this.state !== 'waiting-for-clock') this.logger.warn({ reason: clock.reason }, `renewal waits for a plausible clock: ${clock.message}`);
      this.state = 'waiting-for-clock';
      return this.timing.clockRecheckMs;
    }
    const untilDue = this.renewAt.getTime() - this.now().getTime();
    if (untilDue > 0) {
      // A failure streak keeps its state (retrying/refused) until the next attempt; a fresh schedule is 'scheduled'.
      if (this.state === 'waiting-for-clock' || this.state === 'renewing') this.state = this.lastError === undefined ? 'scheduled' : 'retrying';
      return Math.min(untilDue, this.timing.maxSleepMs);
    }
    return this.renew();
  }

  private async renew(): Promise<number> {
    const current = this.identity;
    this.state = 'renewing';
    this.attempts++;
    this.lastAttemptAt = this.now();
    let keyPem: string;
    try {
      keyPem = readFileSync(current.keyPath, 'utf8');
      const csr = buildCsr(keyPem, current.commonName);
      const lan = (this.options.lanAddresses ?? lanAddresses)();
      const result = await postRenew(
        this.options.serviceUrl ?? current.serviceUrl,
        { csr, lanAddresses: lan },
        { ...this.options.request, cert: current.certificatePem, key: keyPem, signal: this.abort.signal, ...(this.options.ca === undefined ? {} : { ca: this.options.ca }) },
      );
      if (!this.running) return 0;
      if (result.kind === 'refused') {
        this.fail('refused', 'refused', result.code, `the enrollment service refused the renewal (HTTP ${result.status}): ${result.message}`);
        return jittered(this.timing.refusedRetryMs, this.random);
      }
      if (result.kind === 'retry') {
        this.fail('retrying', 'unreachable', 'PE_ERR_ENROLLMENT', `renewal attempt failed: ${result.reason}`);
        return result.retryAfterS === undefined ? this.backoff.next() : retryAfterDelayMs(result.retryAfterS, this.random, this.timing);
      }
      verifyRenewalAnswer(result.answer, current.caBundlePem, keyPem, current.commonName);
      const renewed = storeRenewal(this.options.dataDir, result.answer, this.now);
      this.identity = renewed;
      this.renewAt = this.pickRenewAt(renewed);
      this.state = 'scheduled';
      this.lastError = undefined;
      this.reportedFailure = undefined;
      this.backoff.reset();
      this.logger.info({ serialNumber: renewed.serialNumber, previousSerialNumber: current.serialNumber, notAfter: renewed.notAfter.toISOString(), renewAt: this.renewAt.toISOString() }, 'certificate renewed');
      this.options.onEvent?.({ type: 'certificate-renewed', gatewayId: current.commonName, serialNumber: renewed.serialNumber, notAfter: renewed.notAfter.toISOString(), previousSerialNumber: current.serialNumber });
      this.notify(() => this.options.onRenewed(renewed));
      return 0;
    } catch (error: unknown) {
      if (!this.running) return 0;
      const reason: FailureReason = error instanceof EnrollmentError ? 'invalid-answer' : 'error';
      const code = error instanceof GatewayError ? error.code : 'PE_ERR_ENROLLMENT';
      this.fail('retrying', reason, code, `renewal failed: ${describeError(error)}`);
      return this.backoff.next();
    }
  }

  /** The new certificate is stored whatever the callback does; its failure is the daemon's to fix, not a failed renewal. */
  private notify(callback: () => void): void {
    try {
      callback();
    } catch (error: unknown) {
      this.logger.error({ err: error }, 'onRenewed failed; the renewed certificate is stored');
    }
  }

  private fail(state: 'retrying' | 'refused', reason: FailureReason, code: string, message: string): void {
    const expired = this.now().getTime() >= this.identity.notAfter.getTime();
    const said = expired ? `${message}; the certificate expired at ${this.identity.notAfter.toISOString()} and is kept while renewal is retried` : message;
    this.state = state;
    this.lastError = { code, message: said };
    this.logger[state === 'refused' || expired ? 'error' : 'warn']({ code, notAfter: this.identity.notAfter.toISOString() }, said);
    if (this.reportedFailure !== reason) {
      this.reportedFailure = reason;
      this.options.onEvent?.({ type: 'certificate-renewal-failed', gatewayId: this.identity.commonName, reason, code, message: said, notAfter: this.identity.notAfter.toISOString() });
    }
  }
}
