import type { StationInfo } from '../ocpp/frame-observer.js';
import type { CallFrame } from '../ocpp/ocpp-frame.js';
import type { Logger } from '../util/logger.js';
import type { SessionCounters } from './session-counters.js';

const TRUNCATED_LOG_INTERVAL_MS = 60_000;

/**
 * Logs and counts what the session bookkeeping cannot use. None of it touches
 * the relay: the frame has already gone (or goes) on unchanged, and the CPMS
 * decides what it makes of it.
 */
export class SessionProblems {
  private lastTruncatedLogAt = Number.NEGATIVE_INFINITY;
  private truncatedSinceLog = 0;

  constructor(
    private readonly logger: Logger,
    private readonly counters: SessionCounters,
  ) {}

  malformed(station: StationInfo, call: CallFrame, problem: string, part: 'request' | 'answer' = 'request'): void {
    this.counters.sessionPayloadsMalformed += 1;
    this.logger.warn(
      { stationId: station.stationId, action: call.action, messageId: call.id, part, problem },
      'OCPP payload not usable for sessions; relayed as is',
    );
  }

  /**
   * Values cut to their OCPP maximum (bounded-text.ts). Logged at most once a
   * minute: a station that sends an over-long badge sends it on every
   * transaction, and the log must not grow with it.
   */
  truncated(station: StationInfo, call: CallFrame, fields: readonly string[], part: 'request' | 'answer' = 'request'): void {
    if (fields.length === 0) return;
    this.counters.sessionValuesTruncated += fields.length;
    this.truncatedSinceLog += fields.length;
    const at = Date.now();
    if (at - this.lastTruncatedLogAt < TRUNCATED_LOG_INTERVAL_MS) return;
    this.lastTruncatedLogAt = at;
    this.logger.warn(
      { stationId: station.stationId, action: call.action, messageId: call.id, part, fields, truncatedSinceLastLog: this.truncatedSinceLog },
      'OCPP text longer than its type allows: relayed as is, kept cut with "…"; logged at most once a minute',
    );
    this.truncatedSinceLog = 0;
  }

  unknownTransaction(station: StationInfo, call: CallFrame, transactionId: string): void {
    this.counters.sessionUnknownTransactions += 1;
    this.logger.warn(
      { stationId: station.stationId, action: call.action, messageId: call.id, transactionId },
      'message for a transaction the gateway never saw start; not recorded',
    );
  }

  repeated(station: StationInfo, call: CallFrame, transactionId: string): void {
    this.counters.sessionRepeatedMessages += 1;
    this.logger.info({ stationId: station.stationId, action: call.action, messageId: call.id, transactionId }, 'repeated transaction message; session unchanged');
  }
}
