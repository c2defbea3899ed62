import { describeError, StationGoneError } from '../errors.js';
import { clearChargingProfileCall, setChargingProfileCall, type OcppCall } from './charging-profile.js';
import type { ScheduleRecord } from './schedule-records.js';
import type { StationCaller } from './station-caller.js';

/** How one SetChargingProfile / ClearChargingProfile went. */
export type Attempt =
  /** The station answered with a CALLRESULT: its `status` and, 2.0.1, `statusInfo.reasonCode`. */
  | { readonly kind: 'answered'; readonly status: string; readonly reason: string | null }
  /** CALLERROR, timeout, or a payload that failed the schema: retried on the next trigger. */
  | { readonly kind: 'failed'; readonly reason: string }
  /** Not connected, or gone during the call: nothing happened on the station. */
  | { readonly kind: 'offline' };

/**
 * Sends the gateway's charging-profile calls through the call lane
 * (`StationCaller`), after building them for the station's current OCPP
 * version and checking them against the official schema.
 */
export class ProfileSender {
  constructor(
    private readonly caller: StationCaller,
    private readonly stackLevel: number,
    private readonly callTimeoutMs: number,
  ) {}

  apply(schedule: ScheduleRecord): Promise<Attempt> {
    return this.send(schedule.stationId, (protocol) =>
      setChargingProfileCall(protocol, schedule, { profileId: schedule.profileId, stackLevel: this.stackLevel, acceptedAt: schedule.acceptedAt }),
    );
  }

  clear(schedule: ScheduleRecord): Promise<Attempt> {
    return this.send(schedule.stationId, (protocol) => clearChargingProfileCall(protocol, schedule.profileId));
  }

  private async send(stationId: string, build: (protocol: string) => OcppCall): Promise<Attempt> {
    const protocol = this.caller.protocolOf(stationId);
    if (protocol === undefined || !this.caller.isConnected(stationId)) return { kind: 'offline' };
    let call: OcppCall;
    try {
      call = build(protocol);
    } catch (error: unknown) {
      return { kind: 'failed', reason: describeError(error) };
    }
    try {
      const outcome = await this.caller.callStation(stationId, call.action, call.payload, this.callTimeoutMs);
      if (outcome.kind === 'error') {
        return { kind: 'failed', reason: `station answered ${call.action} with CALLERROR ${outcome.errorCode}${outcome.errorDescription ? `: ${outcome.errorDescription}` : ''}` };
      }
      return answered(call.action, outcome.payload);
    } catch (error: unknown) {
      if (error instanceof StationGoneError) return { kind: 'offline' };
      return { kind: 'failed', reason: describeError(error) };
    }
  }
}

function answered(action: string, payload: unknown): Attempt {
  const fields = typeof payload === 'object' && payload !== null ? (payload as Record<string, unknown>) : {};
  const status = fields['status'];
  if (typeof status !== 'string') return { kind: 'failed', reason: `station answered ${action} without a status` };
  const info = fields['statusInfo'];
  const reasonCode = typeof info === 'object' && info !== null ? (info as Record<string, unknown>)['reasonCode'] : undefined;
  return { kind: 'answered', status, reason: typeof reasonCode === 'string' ? reasonCode : null };
}
