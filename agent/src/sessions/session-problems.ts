import type { StationInfo } from '../ocpp/frame-observer.js';
import type { CallFrame } from '../ocpp/ocpp-frame.js';
import type { Logger } from '../util/logger.js';
import type { SessionCounters } from './session-counters.js';

/**
 * Logs and counts what the session bookkeeping cannot use. None of it touches
 * the relay: the frame has already gone (or goes) on unchanged, and the CPMS
 * decides what it makes of it.
 */
export class SessionProblems {
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
