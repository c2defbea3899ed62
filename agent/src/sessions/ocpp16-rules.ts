import type { StationInfo } from '../ocpp/frame-observer.js';
import type { CallFrame } from '../ocpp/ocpp-frame.js';
import { foldReadings } from './meter-readings.js';
import {
  parseAuthorize16,
  parseBootNotification16,
  parseMeterValues16,
  parseStartTransaction16,
  parseStartTransactionResult16,
  parseStatusNotification16,
  parseStopTransaction16,
} from './ocpp16-payloads.js';
import { ocppVersionOf } from '../ocpp/ocpp-version.js';
import type { RulesDeps, VersionRules } from './version-rules.js';

/**
 * OCPP 1.6 sessions (OCPP 1.6 sections 4.7-4.10, messages 6.45-6.50). The
 * transaction id is the CPMS's: a session exists only once the
 * StartTransaction.conf carrying it went by (the pipeline matches it to its
 * request by message id), never before and never with an invented id.
 */
export class Ocpp16Rules implements VersionRules {
  readonly actions: ReadonlySet<string> = new Set([
    'Authorize',
    'StartTransaction',
    'StopTransaction',
    'MeterValues',
    'StatusNotification',
    'BootNotification',
  ]);

  constructor(private readonly deps: RulesDeps) {}

  call(station: StationInfo, call: CallFrame): void {
    switch (call.action) {
      case 'Authorize':
        return this.authorize(station, call);
      case 'StopTransaction':
        return this.stop(station, call);
      case 'MeterValues':
        return this.meterValues(station, call);
      case 'StatusNotification':
        return this.statusNotification(station, call);
      case 'BootNotification':
        return this.boot(station, call);
      default:
        // StartTransaction waits for its answer: the transaction id is in it.
        return;
    }
  }

  result(station: StationInfo, call: CallFrame, payload: unknown): void {
    if (call.action === 'StartTransaction') this.started(station, call, payload);
  }

  error(station: StationInfo, call: CallFrame, errorCode: string): void {
    if (call.action !== 'StartTransaction') return;
    this.deps.counters.sessionStartsRefused += 1;
    this.deps.logger.info({ stationId: station.stationId, messageId: call.id, errorCode }, 'CPMS answered StartTransaction with an error; no session');
  }

  private authorize(station: StationInfo, call: CallFrame): void {
    const request = parseAuthorize16(call.payload);
    if (!request.ok) return this.deps.problems.malformed(station, call, request.problem);
    this.deps.counters.authorizeRequests += 1;
    const driver = this.deps.ledger.driverFor(request.value.idTag);
    this.deps.logger.debug({ stationId: station.stationId, driverKnown: driver !== null }, 'Authorize');
  }

  private started(station: StationInfo, call: CallFrame, payload: unknown): void {
    const { ledger, problems } = this.deps;
    const request = parseStartTransaction16(call.payload);
    if (!request.ok) return problems.malformed(station, call, request.problem);
    const answer = parseStartTransactionResult16(payload);
    if (!answer.ok) return problems.malformed(station, call, answer.problem, 'answer');
    problems.truncated(station, call, request.value.overlong);
    problems.truncated(station, call, answer.value.overlong, 'answer');
    const { connectorId, idTag, meterStartWh, startedAt } = request.value;
    const transactionId = String(answer.value.transactionId);

    const existing = ledger.find(station.stationId, transactionId);
    if (existing?.state === 'active') {
      // A station that missed the answer resends StartTransaction; a careful CPMS gives the same id back.
      if (existing.startedAt === startedAt && existing.connectorId === connectorId) return problems.repeated(station, call, transactionId);
      this.deps.counters.sessionTransactionIdsReused += 1;
      this.deps.logger.warn(
        { stationId: station.stationId, transactionId, sessionId: existing.sessionId },
        'CPMS gave an active transaction id to a new transaction; the older session is closed without a stop',
      );
      ledger.change(existing, { ...existing, state: 'ended' });
    }

    ledger.start({
      stationId: station.stationId,
      ocppVersion: ocppVersionOf(station.protocol),
      evseId: null,
      connectorId,
      transactionId,
      idTag,
      idTagStatus: answer.value.idTagStatus,
      driverEmail: ledger.driverFor(idTag),
      startedAt,
      endedAt: null,
      meterStartWh,
      meterStartAt: startedAt,
      meterStopWh: null,
      lastMeterWh: meterStartWh,
      lastMeterAt: startedAt,
      energyWh: null,
      stopReason: null,
      lastSeqNo: null,
      missedSeqNos: 0,
      offlineEvents: 0,
      state: 'active',
    });
  }

  /** Recorded from the CALL: the transaction stopped at the station whatever the CPMS answers. */
  private stop(station: StationInfo, call: CallFrame): void {
    const { ledger, problems } = this.deps;
    const request = parseStopTransaction16(call.payload);
    if (!request.ok) return problems.malformed(station, call, request.problem);
    const stop = request.value;
    const transactionId = String(stop.transactionId);
    const record = ledger.find(station.stationId, transactionId);
    if (!record) return problems.unknownTransaction(station, call, transactionId);
    if (record.state === 'ended') return problems.repeated(station, call, transactionId);
    problems.truncated(station, call, stop.overlong);

    const final = { wh: stop.meterStopWh, at: stop.stoppedAt };
    const read = foldReadings(record, [...stop.readings, final], false);
    // idTag is optional here (6.49): the start's badge stays the session's; a list imported meanwhile may now know it.
    ledger.change(record, {
      ...read,
      driverEmail: record.driverEmail ?? ledger.driverFor(record.idTag),
      state: 'ended',
      endedAt: stop.stoppedAt,
      meterStopWh: stop.meterStopWh,
      stopReason: stop.reason ?? 'Local',
    });
  }

  private meterValues(station: StationInfo, call: CallFrame): void {
    const { ledger, problems } = this.deps;
    const request = parseMeterValues16(call.payload);
    if (!request.ok) return problems.malformed(station, call, request.problem);
    const { transactionId, readings } = request.value;
    // Without a transactionId the readings are the connector's, outside any transaction.
    if (transactionId === undefined || readings.length === 0) return;
    const record = ledger.find(station.stationId, String(transactionId));
    if (!record) return problems.unknownTransaction(station, call, String(transactionId));
    // After the stop, meterStop is the final reading.
    if (record.state === 'ended') return;
    ledger.change(record, foldReadings(record, readings, false));
  }

  private statusNotification(station: StationInfo, call: CallFrame): void {
    const request = parseStatusNotification16(call.payload);
    if (!request.ok) return this.deps.problems.malformed(station, call, request.problem);
    this.deps.problems.truncated(station, call, request.value.overlong);
    const status = request.value;
    this.deps.stations.status(station, {
      evseId: null,
      connectorId: status.connectorId,
      status: status.status,
      errorCode: status.errorCode,
      info: status.info ?? null,
      // The timestamp is optional in 1.6; then the time of receipt is the status time.
      statusAt: status.at ?? this.deps.now().toISOString(),
    });
  }

  private boot(station: StationInfo, call: CallFrame): void {
    const request = parseBootNotification16(call.payload);
    if (!request.ok) return this.deps.problems.malformed(station, call, request.problem);
    this.deps.problems.truncated(station, call, request.value.overlong);
    const boot = request.value;
    this.deps.stations.boot(station, {
      vendor: boot.vendor,
      model: boot.model,
      serialNumber: boot.serialNumber ?? null,
      firmwareVersion: boot.firmwareVersion ?? null,
      reason: null,
    });
  }
}
