import type { StationInfo } from '../ocpp/frame-observer.js';
import type { GatewayEvent } from '../events/gateway-events.js';
import { ocppVersionOf } from '../ocpp/ocpp-version.js';
import type { SessionCounters } from './session-counters.js';
import type { BootDetails, ConnectorStatus, StationDetails } from './station-details.js';

export interface StationTrackerDeps {
  readonly details: StationDetails;
  /** Already guarded: never throws. */
  readonly emit: (event: GatewayEvent) => void;
  readonly counters: SessionCounters;
  readonly now: () => Date;
  /** Run `apply` once the transaction under way commits (at once when none is). */
  readonly afterCommit: (apply: () => void) => void;
  /** Statuses wait in memory for `flush`; false: written at once. */
  readonly lazy: boolean;
}

interface WaitingStatus {
  readonly station: StationInfo;
  readonly status: ConnectorStatus;
  readonly at: Date;
}

/** Station events (`P/events/station`, docs/sessions.md "Events") and the station details behind them. */
export class StationTracker {
  /** StatusNotifications not written yet, in order (docs/sessions.md "What is written when"). */
  private readonly waiting: WaitingStatus[] = [];

  constructor(private readonly deps: StationTrackerDeps) {}

  get waitingStatuses(): number {
    return this.waiting.length;
  }

  connected(station: StationInfo): void {
    this.deps.emit({
      topic: 'station',
      payload: {
        event: 'connected',
        stationId: station.stationId,
        ocppVersion: ocppVersionOf(station.protocol),
        remoteAddress: station.remoteAddress,
        ...(station.security ? { security: station.security } : {}),
      },
    });
  }

  disconnected(station: StationInfo, code: number, reason: string): void {
    this.deps.emit({
      topic: 'station',
      payload: { event: 'disconnected', stationId: station.stationId, ocppVersion: ocppVersionOf(station.protocol), code, reason },
    });
  }

  /** Recorded from the station's CALL: the station booted whatever the CPMS answers. */
  boot(station: StationInfo, boot: BootDetails): void {
    this.deps.details.recordBoot(station.stationId, station.protocol, boot, this.deps.now());
    this.deps.counters.stationBoots += 1;
    this.deps.emit({ topic: 'station', payload: { event: 'boot', stationId: station.stationId, ocppVersion: ocppVersionOf(station.protocol), ...boot } });
  }

  /** Kept in memory until `flush`: a connector's status is written with the next write, or the next flush. */
  status(station: StationInfo, status: ConnectorStatus): void {
    if (!this.deps.lazy) return this.write(station, status, this.deps.now());
    const waiting = { station, status, at: this.deps.now() };
    this.deps.afterCommit(() => this.waiting.push(waiting));
  }

  /** Write the waiting statuses and emit their events, in order, inside the caller's transaction. */
  flush(): void {
    const count = this.waiting.length;
    if (count === 0) return;
    for (const { station, status, at } of this.waiting) this.write(station, status, at);
    this.deps.afterCommit(() => this.waiting.splice(0, count));
  }

  private write(station: StationInfo, status: ConnectorStatus, at: Date): void {
    this.deps.details.recordStatus(station.stationId, status, at);
    this.deps.counters.statusNotifications += 1;
    this.deps.emit({
      topic: 'station',
      payload: {
        event: 'status',
        stationId: station.stationId,
        ocppVersion: ocppVersionOf(station.protocol),
        ...(status.evseId === null ? {} : { evseId: status.evseId }),
        connectorId: status.connectorId,
        status: status.status,
        errorCode: status.errorCode,
        statusAt: status.statusAt,
      },
    });
  }
}
