import type { StationInfo } from '../ocpp/frame-observer.js';
import type { CallFrame } from '../ocpp/ocpp-frame.js';
import { foldReadings } from './meter-readings.js';
import {
  parseAuthorize201,
  parseBootNotification201,
  parseStatusNotification201,
  parseTransactionEvent201,
  parseTransactionEventResult201,
  type TransactionEvent201,
} from './ocpp201-payloads.js';
import { ocppVersionOf } from '../ocpp/ocpp-version.js';
import { idTokenMaxOf } from './bounded-text.js';
import type { SessionRecord } from './session-record.js';
import type { RulesDeps, VersionRules } from './version-rules.js';

/**
 * OCPP 2.0.1 sessions (Part 2 functional block E; 2.0 and 2.1 alike). The
 * station chooses the transaction id and every TransactionEvent is complete
 * in itself, so the session is written from the station's CALL. Events are
 * merged, not replayed: the idToken is taken from whichever event carries it
 * (E03 may put it on a later Updated), meter readings are placed by their own
 * timestamps, and times are the event's `timestamp`, so events queued offline
 * (E11, E12: `offline: true`) and delivered late keep their real times. A resent
 * event (seqNo not above the last one seen) changes nothing it has not
 * already changed.
 */
export class Ocpp201Rules implements VersionRules {
  readonly actions: ReadonlySet<string> = new Set(['Authorize', 'TransactionEvent', 'StatusNotification', 'BootNotification']);

  /** Each TransactionEvent as parsed when it went by, for its answer; gone with the frame. */
  private readonly parsedRequests = new WeakMap<CallFrame, ReturnType<typeof parseTransactionEvent201>>();

  constructor(private readonly deps: RulesDeps) {}

  call(station: StationInfo, call: CallFrame): void {
    switch (call.action) {
      case 'Authorize':
        return this.authorize(station, call);
      case 'TransactionEvent':
        return this.transactionEvent(station, call);
      case 'StatusNotification':
        return this.statusNotification(station, call);
      case 'BootNotification':
        return this.boot(station, call);
      default:
        return;
    }
  }

  /** The CSMS's verdict on the idToken, kept with the session. */
  result(station: StationInfo, call: CallFrame, payload: unknown): void {
    if (call.action !== 'TransactionEvent') return;
    const request = this.parsedRequests.get(call) ?? parseTransactionEvent201(call.payload, idTokenMaxOf(station.protocol));
    // Already counted when the request went by.
    if (!request.ok) return;
    const answer = parseTransactionEventResult201(payload);
    if (!answer.ok) return this.deps.problems.malformed(station, call, answer.problem, 'answer');
    this.deps.problems.truncated(station, call, answer.value.overlong, 'answer');
    const status = answer.value.idTokenStatus;
    if (status === undefined) return;
    const record = this.deps.ledger.find(station.stationId, request.value.transactionId);
    if (record && record.idTagStatus !== status) this.deps.ledger.change(record, { ...record, idTagStatus: status });
  }

  /** A refused TransactionEvent is resent by the station (E13); the merge makes the resend harmless. */
  error(): void {}

  private authorize(station: StationInfo, call: CallFrame): void {
    const request = parseAuthorize201(call.payload);
    if (!request.ok) return this.deps.problems.malformed(station, call, request.problem);
    this.deps.counters.authorizeRequests += 1;
    const driver = this.deps.ledger.driverFor(request.value.idToken ?? null);
    this.deps.logger.debug({ stationId: station.stationId, driverKnown: driver !== null }, 'Authorize');
  }

  private transactionEvent(station: StationInfo, call: CallFrame): void {
    const request = parseTransactionEvent201(call.payload, idTokenMaxOf(station.protocol));
    // The answer comes with this same frame object (the call lane keeps it): parsed once.
    this.parsedRequests.set(call, request);
    if (!request.ok) return this.deps.problems.malformed(station, call, request.problem);
    const event = request.value;
    const record = this.deps.ledger.find(station.stationId, event.transactionId);
    if (!record) {
      if (event.eventType !== 'Started') return this.deps.problems.unknownTransaction(station, call, event.transactionId);
      this.deps.problems.truncated(station, call, event.overlong);
      return this.begin(station, event);
    }
    if (record.state === 'ended') return this.deps.problems.repeated(station, call, event.transactionId);
    this.deps.problems.truncated(station, call, event.overlong);
    const repeated = record.lastSeqNo !== null && event.seqNo <= record.lastSeqNo;
    if (repeated) this.deps.problems.repeated(station, call, event.transactionId);
    this.deps.ledger.change(record, this.merge(record, event, repeated));
  }

  private begin(station: StationInfo, event: TransactionEvent201): void {
    const idTag = event.idToken ?? null;
    const session = {
      stationId: station.stationId,
      ocppVersion: ocppVersionOf(station.protocol),
      evseId: event.evseId ?? null,
      connectorId: event.connectorId ?? null,
      transactionId: event.transactionId,
      idTag,
      idTagStatus: null,
      driverEmail: this.deps.ledger.driverFor(idTag),
      startedAt: event.at,
      endedAt: null,
      meterStartWh: null,
      meterStartAt: null,
      meterStopWh: null,
      lastMeterWh: null,
      lastMeterAt: null,
      energyWh: null,
      stopReason: null,
      lastSeqNo: event.seqNo,
      missedSeqNos: 0,
      offlineEvents: event.offline ? 1 : 0,
      state: 'active' as const,
    };
    this.deps.ledger.start(foldReadings(session, event.readings, true));
  }

  private merge(record: SessionRecord, event: TransactionEvent201, repeated: boolean): SessionRecord {
    const { ledger } = this.deps;
    const lastSeqNo = record.lastSeqNo ?? event.seqNo;
    // seqNo counts up by one per event of a transaction; a jump means events the gateway never saw (E11 lets a full offline queue drop Updated ones).
    const skipped = !repeated && event.seqNo > lastSeqNo + 1 ? event.seqNo - lastSeqNo - 1 : 0;
    let next: SessionRecord = {
      ...record,
      lastSeqNo: repeated ? record.lastSeqNo : event.seqNo,
      missedSeqNos: record.missedSeqNos + skipped,
      offlineEvents: record.offlineEvents + (event.offline && !repeated ? 1 : 0),
      evseId: record.evseId ?? event.evseId ?? null,
      connectorId: record.connectorId ?? event.connectorId ?? null,
    };
    if (next.idTag === null && event.idToken !== undefined) {
      next = { ...next, idTag: event.idToken, driverEmail: ledger.driverFor(event.idToken) };
    }
    next = foldReadings(next, event.readings, true);
    if (event.eventType !== 'Ended') return next;
    return {
      ...next,
      state: 'ended',
      endedAt: event.at,
      meterStopWh: next.lastMeterWh,
      stopReason: event.stoppedReason ?? 'Local',
      driverEmail: next.driverEmail ?? ledger.driverFor(next.idTag),
    };
  }

  private statusNotification(station: StationInfo, call: CallFrame): void {
    const request = parseStatusNotification201(call.payload);
    if (!request.ok) return this.deps.problems.malformed(station, call, request.problem);
    this.deps.problems.truncated(station, call, request.value.overlong);
    const { evseId, connectorId, status, at } = request.value;
    this.deps.stations.status(station, { evseId, connectorId, status, errorCode: null, info: null, statusAt: at });
  }

  private boot(station: StationInfo, call: CallFrame): void {
    const request = parseBootNotification201(call.payload);
    if (!request.ok) return this.deps.problems.malformed(station, call, request.problem);
    this.deps.problems.truncated(station, call, request.value.overlong);
    const boot = request.value;
    this.deps.stations.boot(station, {
      vendor: boot.vendor,
      model: boot.model,
      serialNumber: boot.serialNumber ?? null,
      firmwareVersion: boot.firmwareVersion ?? null,
      reason: boot.reason,
    });
  }
}
