import type { OcppProtocol, OcppStation } from './ocpp-station.js';

/**
 * What a charging station says over a session, in OCPP 1.6 (sections 4.1-4.10)
 * or 2.0.1 (functional blocks B, C, E, G), shaped like real stations' frames:
 * MeterValues carry energy, power, current per phase and voltage, as AC
 * wallboxes commonly send them. A call's payload is built when it is sent,
 * so a 1.6 stop carries the transactionId the CPMS gave at the start.
 */
export interface ScriptedCall {
  readonly action: string;
  readonly payload: () => unknown;
  readonly onResult?: (payload: unknown) => void;
}

/** Wh per simulated minute at 7.4 kW (32 A single phase). */
const WH_PER_MINUTE = 123.3;

export class ChargePointScript {
  private energyWh: number;
  private transactionId: string | undefined;
  private seqNo = 0;
  private sessionCount = 0;
  /** MeterValues (1.6) and TransactionEvent Updated with readings (2.0.1) built so far. */
  meterValuesSent = 0;

  constructor(
    readonly protocol: OcppProtocol,
    private readonly index: number,
  ) {
    this.energyWh = 100_000 + index * 1_000;
  }

  get v16(): boolean {
    return this.protocol === 'ocpp1.6';
  }

  get charging(): boolean {
    return this.transactionId !== undefined;
  }

  boot(at: Date): ScriptedCall[] {
    const boot = this.v16
      ? { action: 'BootNotification', payload: () => ({ chargePointVendor: 'Pleevi', chargePointModel: 'Bench AC', chargePointSerialNumber: `SN-${this.index}`, firmwareVersion: '1.2.3' }) }
      : { action: 'BootNotification', payload: () => ({ reason: 'PowerUp', chargingStation: { vendorName: 'Pleevi', model: 'Bench AC', serialNumber: `SN-${this.index}`, firmwareVersion: '1.2.3' } }) };
    return [boot, this.status(at, 'Available')];
  }

  heartbeat(): ScriptedCall {
    return { action: 'Heartbeat', payload: () => ({}) };
  }

  /** Badge, plug in, start; `at` is the station's clock. */
  start(at: Date): ScriptedCall[] {
    this.sessionCount += 1;
    const idTag = `04${(this.index * 31 + this.sessionCount).toString(16).padStart(8, '0').toUpperCase()}`;
    const time = at.toISOString();
    if (this.v16) {
      return [
        { action: 'Authorize', payload: () => ({ idTag }) },
        this.status(at, 'Preparing'),
        {
          action: 'StartTransaction',
          payload: () => ({ connectorId: 1, idTag, meterStart: Math.round(this.energyWh), timestamp: time }),
          onResult: (result) => {
            this.transactionId = transactionIdOf(result);
          },
        },
        this.status(at, 'Charging'),
      ];
    }
    const transactionId = `tx-${this.index}-${this.sessionCount}`;
    return [
      { action: 'Authorize', payload: () => ({ idToken: { idToken: idTag, type: 'ISO14443' } }) },
      this.status(at, 'Occupied'),
      {
        action: 'TransactionEvent',
        payload: () => {
          this.transactionId = transactionId;
          this.seqNo = 0;
          return {
            eventType: 'Started',
            timestamp: time,
            triggerReason: 'Authorized',
            seqNo: this.seqNo,
            transactionInfo: { transactionId, chargingState: 'Charging' },
            evse: { id: 1, connectorId: 1 },
            idToken: { idToken: idTag, type: 'ISO14443' },
            meterValue: [{ timestamp: time, sampledValue: [{ value: this.energyWh, measurand: 'Energy.Active.Import.Register', context: 'Transaction.Begin' }] }],
          };
        },
      },
    ];
  }

  /** One periodic meter reading of the session under way (one simulated minute of charging). */
  meter(at: Date): ScriptedCall {
    this.energyWh += WH_PER_MINUTE;
    this.meterValuesSent += 1;
    const time = at.toISOString();
    if (this.v16) {
      return {
        action: 'MeterValues',
        payload: () => ({
          connectorId: 1,
          ...(this.transactionId !== undefined ? { transactionId: Number(this.transactionId) } : {}),
          meterValue: [
            {
              timestamp: time,
              sampledValue: [
                { value: this.energyWh.toFixed(1), context: 'Sample.Periodic', measurand: 'Energy.Active.Import.Register', unit: 'Wh' },
                { value: '7400', context: 'Sample.Periodic', measurand: 'Power.Active.Import', unit: 'W' },
                { value: '32.1', context: 'Sample.Periodic', measurand: 'Current.Import', phase: 'L1', unit: 'A' },
                { value: '230.4', context: 'Sample.Periodic', measurand: 'Voltage', phase: 'L1-N', unit: 'V' },
              ],
            },
          ],
        }),
      };
    }
    return {
      action: 'TransactionEvent',
      payload: () => {
        this.seqNo += 1;
        return {
          eventType: 'Updated',
          timestamp: time,
          triggerReason: 'MeterValuePeriodic',
          seqNo: this.seqNo,
          transactionInfo: { transactionId: this.transactionId ?? 'none', chargingState: 'Charging' },
          meterValue: [
            {
              timestamp: time,
              sampledValue: [
                { value: Math.round(this.energyWh * 10) / 10, context: 'Sample.Periodic', measurand: 'Energy.Active.Import.Register' },
                { value: 7400, context: 'Sample.Periodic', measurand: 'Power.Active.Import' },
                { value: 32.1, context: 'Sample.Periodic', measurand: 'Current.Import', phase: 'L1' },
                { value: 230.4, context: 'Sample.Periodic', measurand: 'Voltage', phase: 'L1-N' },
              ],
            },
          ],
        };
      },
    };
  }

  /** Stop, unplug, available again. */
  stop(at: Date): ScriptedCall[] {
    const time = at.toISOString();
    const finished = (): void => {
      this.transactionId = undefined;
    };
    if (this.v16) {
      return [
        {
          action: 'StopTransaction',
          payload: () => ({ transactionId: Number(this.transactionId ?? 0), meterStop: Math.round(this.energyWh), timestamp: time, reason: 'EVDisconnected' }),
          onResult: finished,
        },
        this.status(at, 'Finishing'),
        this.status(at, 'Available'),
      ];
    }
    return [
      {
        action: 'TransactionEvent',
        payload: () => {
          this.seqNo += 1;
          return {
            eventType: 'Ended',
            timestamp: time,
            triggerReason: 'EVCommunicationLost',
            seqNo: this.seqNo,
            transactionInfo: { transactionId: this.transactionId ?? 'none', chargingState: 'Idle', stoppedReason: 'EVDisconnected' },
            meterValue: [{ timestamp: time, sampledValue: [{ value: Math.round(this.energyWh * 10) / 10, measurand: 'Energy.Active.Import.Register', context: 'Transaction.End' }] }],
          };
        },
        onResult: finished,
      },
      this.status(at, 'Available'),
    ];
  }

  private status(at: Date, status: string): ScriptedCall {
    const timestamp = at.toISOString();
    if (this.v16) return { action: 'StatusNotification', payload: () => ({ connectorId: 1, errorCode: 'NoError', status, timestamp }) };
    const connectorStatus = status === 'Available' ? 'Available' : 'Occupied';
    return { action: 'StatusNotification', payload: () => ({ timestamp, connectorStatus, evseId: 1, connectorId: 1 }) };
  }
}

/** Send the calls one after another, each after the previous answer. */
export async function runCalls(station: OcppStation, calls: readonly ScriptedCall[]): Promise<void> {
  for (const call of calls) {
    const result = await station.call(call.action, call.payload());
    call.onResult?.(result);
  }
}

function transactionIdOf(result: unknown): string | undefined {
  if (typeof result !== 'object' || result === null || !('transactionId' in result)) return undefined;
  return typeof result.transactionId === 'number' ? String(result.transactionId) : undefined;
}
