import type { StationInfo } from '../ocpp/frame-observer.js';
import type { CallFrame } from '../ocpp/ocpp-frame.js';
import type { LocalAnswerer } from '../ocpp/local-answerer.js';
import type { Logger } from '../util/logger.js';
import type { DriverDirectory } from './driver-directory.js';

const AUTHORIZE: ReadonlySet<string> = new Set(['Authorize']);

/**
 * `authorization.mode: "local"`: the gateway answers Authorize itself from the
 * driver list and does not forward it (transactions still go to the CPMS).
 * OCPP 1.6 section 6.2 answers `idTagInfo`, 2.0.1 section C01 `idTokenInfo`;
 * a badge on the list is Accepted, any other Invalid. An Authorize whose
 * payload is not valid is relayed, so the CPMS answers it as usual.
 */
export class LocalAuthorizer implements LocalAnswerer {
  readonly name = 'local-authorization';
  readonly actions = AUTHORIZE;

  constructor(
    private readonly drivers: DriverDirectory,
    private readonly logger: Logger,
  ) {}

  answer(station: StationInfo, call: CallFrame): unknown {
    if (station.protocol === 'ocpp1.6') {
      const idTag = readString(call.payload, 'idTag');
      if (idTag === undefined) return undefined;
      const status = this.decide(station, idTag);
      return { idTagInfo: { status } };
    }
    const idToken = readIdToken(call.payload);
    if (idToken === undefined) return undefined;
    const status = this.decide(station, idToken);
    return { idTokenInfo: { status } };
  }

  private decide(station: StationInfo, badge: string): 'Accepted' | 'Invalid' {
    const driver = this.drivers.lookup(badge);
    // The badge is an identifier, not a secret, but the email is personal data: log neither at info.
    this.logger.info({ stationId: station.stationId, known: driver !== undefined }, 'Authorize answered locally');
    return driver ? 'Accepted' : 'Invalid';
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
