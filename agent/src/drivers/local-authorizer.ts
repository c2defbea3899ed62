import type { StationInfo } from '../ocpp/frame-observer.js';
import type { CallFrame } from '../ocpp/ocpp-frame.js';
import type { LocalAnswerer } from '../ocpp/local-answerer.js';
import type { Logger } from '../util/logger.js';
import type { DriverDirectory, DriverMatch } from './driver-directory.js';

const AUTHORIZE: ReadonlySet<string> = new Set(['Authorize']);

/** At most one line a minute about the same trouble: a line per Authorize would be a disk write per frame on a disk that may be full. */
const TROUBLE_LOG_INTERVAL_MS = 60_000;

export interface LocalAuthorizerOptions {
  /**
   * Why the driver list could not be read when the gateway started (its
   * database could not be opened and the copy of the file could not be read
   * either): every badge then reads Invalid, and each such answer is counted
   * and, at most once a minute, logged.
   */
  readonly driverListUnreadable?: string;
}

/** Status counters of local authorization. */
export interface LocalAuthorizerCounters {
  /** Authorize answered Invalid while the driver list could not be read (see `driverListUnreadable`). */
  authorizeWithoutDriverList: number;
  /** A driver list lookup failed (a read error): the Authorize went to the CPMS instead. */
  driverLookupFailures: number;
}

/**
 * `authorization.mode: "local"`: the gateway answers Authorize itself from the
 * driver list and does not forward it (transactions still go to the CPMS).
 * OCPP 1.6 section 6.2 answers `idTagInfo`, 2.0.1 section C01 `idTokenInfo`;
 * a badge on the list is Accepted, any other Invalid. An Authorize whose
 * payload is not valid is relayed, so the CPMS answers it as usual; so is
 * one whose lookup fails: no answer is better than a wrong one.
 */
export class LocalAuthorizer implements LocalAnswerer {
  readonly name = 'local-authorization';
  readonly actions = AUTHORIZE;
  readonly counters: LocalAuthorizerCounters = { authorizeWithoutDriverList: 0, driverLookupFailures: 0 };
  private lastUnreadableLogAt = Number.NEGATIVE_INFINITY;
  private lastLookupFailureLogAt = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly drivers: DriverDirectory,
    private readonly logger: Logger,
    private readonly options: LocalAuthorizerOptions = {},
  ) {}

  answer(station: StationInfo, call: CallFrame): unknown {
    if (station.protocol === 'ocpp1.6') {
      const idTag = readString(call.payload, 'idTag');
      if (idTag === undefined) return undefined;
      const status = this.decide(station, idTag);
      return status === undefined ? undefined : { idTagInfo: { status } };
    }
    const idToken = readIdToken(call.payload);
    if (idToken === undefined) return undefined;
    const status = this.decide(station, idToken);
    return status === undefined ? undefined : { idTokenInfo: { status } };
  }

  /** Accepted or Invalid; undefined when the list cannot be read now (the call is relayed). */
  private decide(station: StationInfo, badge: string): 'Accepted' | 'Invalid' | undefined {
    let driver: DriverMatch | undefined;
    try {
      driver = this.drivers.lookup(badge);
    } catch (error: unknown) {
      this.lookupFailed(station, error);
      return undefined;
    }
    // The badge is an identifier, not a secret, but the email is personal data: log neither at info.
    this.logger.info({ stationId: station.stationId, known: driver !== undefined }, 'Authorize answered locally');
    if (driver === undefined && this.options.driverListUnreadable !== undefined) this.answeredWithoutList(station);
    return driver ? 'Accepted' : 'Invalid';
  }

  private answeredWithoutList(station: StationInfo): void {
    this.counters.authorizeWithoutDriverList += 1;
    const at = Date.now();
    if (at - this.lastUnreadableLogAt < TROUBLE_LOG_INTERVAL_MS) return;
    this.lastUnreadableLogAt = at;
    this.logger.error(
      { stationId: station.stationId, reason: this.options.driverListUnreadable, answered: this.counters.authorizeWithoutDriverList },
      'Authorize answered Invalid without a driver list: the database copy could not be read at start (logged at most once a minute)',
    );
  }

  private lookupFailed(station: StationInfo, error: unknown): void {
    this.counters.driverLookupFailures += 1;
    const at = Date.now();
    if (at - this.lastLookupFailureLogAt < TROUBLE_LOG_INTERVAL_MS) return;
    this.lastLookupFailureLogAt = at;
    this.logger.error(
      { err: error, stationId: station.stationId, failures: this.counters.driverLookupFailures },
      'the driver list cannot be read; Authorize goes to the CPMS instead (logged at most once a minute)',
    );
  }
}

function readString(payload: unknown, key: string): string | undefined {
  if (typeof payload !== 'object' || payload === null) return undefined;
  const value: unknown = (payload as Record<string, unknown>)[key];
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

function readIdToken(payload: unknown): string | undefined {
  if (typeof payload !== 'object' || payload === null) return undefined;
  return readString((payload as Record<string, unknown>).idToken, 'idToken');
}
