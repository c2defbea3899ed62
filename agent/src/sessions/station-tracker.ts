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
}

/** Station events (`P/events/station`, docs/sessions.md "Events") and the station details behind them. */
export class StationTracker {
  constructor(private readonly deps: StationTrackerDeps) {}

  connected(station: StationInfo): void {
    this.deps.emit({
      topic: 'station',
      payload: { event: 'connected', stationId: station.stationId, ocppVersion: ocppVersionOf(station.protocol), remoteAddress: station.remoteAddress },
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

  status(station: StationInfo, status: ConnectorStatus): void {
    this.deps.details.recordStatus(station.stationId, status, this.deps.now());
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
