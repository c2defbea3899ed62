import type { SessionEvent } from '../events/gateway-events.js';

/** One charging session (an OCPP transaction) as stored in the `sessions` table. */
export interface SessionRecord {
  readonly sessionId: number;
  readonly stationId: string;
  readonly ocppVersion: string;
  /** OCPP 2.x EVSE; null for 1.6, and for 2.x until an event names it. */
  readonly evseId: number | null;
  readonly connectorId: number | null;
  readonly transactionId: string;
  /** The badge as the station sent it (not normalized): what the driver app shows. */
  readonly idTag: string | null;
  /** The CPMS's verdict on the badge (1.6 idTagInfo.status, 2.x idTokenInfo.status). */
  readonly idTagStatus: string | null;
  readonly driverEmail: string | null;
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly meterStartWh: number | null;
  readonly meterStartAt: string | null;
  readonly meterStopWh: number | null;
  readonly lastMeterWh: number | null;
  readonly lastMeterAt: string | null;
  readonly energyWh: number | null;
  readonly stopReason: string | null;
  /** 2.x: the highest TransactionEvent seqNo seen. */
  readonly lastSeqNo: number | null;
  /** 2.x: seqNo values skipped between events seen (a station may drop queued Updated events, E11). */
  readonly missedSeqNos: number;
  /** 2.x: events that carried `offline: true`. */
  readonly offlineEvents: number;
  readonly state: 'active' | 'ended';
  readonly createdAt: string;
  readonly updatedAt: string;
}

export type NewSession = Omit<SessionRecord, 'sessionId' | 'createdAt' | 'updatedAt'>;

/** The record as a session event (docs/sessions.md "Events"): 1.6 names the connector, 2.x the EVSE. */
export function toSessionEvent(event: SessionEvent['event'], record: SessionRecord): SessionEvent {
  const place = record.ocppVersion === '1.6' ? { connectorId: record.connectorId ?? 0 } : { evseId: record.evseId };
  return {
    event,
    stationId: record.stationId,
    ocppVersion: record.ocppVersion,
    ...place,
    transactionId: record.transactionId,
    idTag: record.idTag,
    driver: record.driverEmail === null ? null : { email: record.driverEmail },
    startedAt: record.startedAt,
    endedAt: record.endedAt,
    meterStartWh: record.meterStartWh,
    meterStopWh: record.meterStopWh,
    energyWh: record.energyWh,
    stopReason: record.stopReason,
  };
}
