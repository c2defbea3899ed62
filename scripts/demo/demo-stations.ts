import { RPCClient } from 'ocpp-rpc';

interface Station {
  connect(): Promise<unknown>;
  call(method: string, params: unknown): Promise<unknown>;
  handle(method: string, handler: (call: { params: unknown }) => unknown): void;
  close(options?: Record<string, unknown>): Promise<unknown>;
}

export interface DemoStation {
  meterTick(): Promise<void>;
  close(): Promise<void>;
}

const StationClass = RPCClient as unknown as new (options: Record<string, unknown>) => Station;

function connect(endpoint: string, identity: string, protocol: string): Promise<Station> {
  const station = new StationClass({ endpoint, identity, protocols: [protocol], strictMode: true, reconnect: false });
  station.handle('GetConfiguration', () => ({ configurationKey: [{ key: 'HeartbeatInterval', readonly: false, value: '300' }] }));
  // A limit from the cloud reaches the station as a charging profile (docs/schedules.md): accept it and say what arrived.
  station.handle('SetChargingProfile', ({ params }) => {
    console.log(`  ${identity.padEnd(10)} station got SetChargingProfile: ${describeProfile(params)} -> Accepted`);
    return { status: 'Accepted' };
  });
  return station.connect().then(() => station);
}

/** An OCPP 1.6 station: boot, badge, a charging session with meter values, stop. */
export async function runStation16(endpoint: string, identity: string, badge: string): Promise<DemoStation> {
  const station = await connect(endpoint, identity, 'ocpp1.6');
  const now = (): string => new Date().toISOString();
  await station.call('BootNotification', { chargePointVendor: 'Pleevi', chargePointModel: 'DemoBox', chargePointSerialNumber: `SN-${identity}`, firmwareVersion: '1.0.0' });
  await station.call('StatusNotification', { connectorId: 1, errorCode: 'NoError', status: 'Available', timestamp: now() });
  await station.call('Authorize', { idTag: badge });
  const started = (await station.call('StartTransaction', { connectorId: 1, idTag: badge, meterStart: 10_000, timestamp: now() })) as { transactionId: number };
  let meterWh = 10_000;
  const meterTick = async (): Promise<void> => {
    meterWh += 1_500;
    await station.call('MeterValues', {
      connectorId: 1,
      transactionId: started.transactionId,
      meterValue: [{ timestamp: now(), sampledValue: [{ value: String(meterWh), measurand: 'Energy.Active.Import.Register', unit: 'Wh' }] }],
    });
  };
  await meterTick();
  await station.call('StopTransaction', { transactionId: started.transactionId, meterStop: meterWh + 500, timestamp: now(), reason: 'Local' });
  return { meterTick, close: async () => void (await station.close()) };
}

/** An OCPP 2.0.1 station: boot, a transaction whose idToken arrives on an Updated event. */
export async function runStation201(endpoint: string, identity: string, badge: string): Promise<DemoStation> {
  const station = await connect(endpoint, identity, 'ocpp2.0.1');
  const now = (): string => new Date().toISOString();
  await station.call('BootNotification', { reason: 'PowerUp', chargingStation: { vendorName: 'Pleevi', model: 'DemoBox201', serialNumber: `SN-${identity}` } });
  await station.call('StatusNotification', { timestamp: now(), connectorStatus: 'Available', evseId: 1, connectorId: 1 });
  const transactionId = `tx-${identity}`;
  let seqNo = 0;
  let meterWh = 5_000;
  const event = (eventType: string, triggerReason: string, extra: Record<string, unknown> = {}) =>
    station.call('TransactionEvent', {
      eventType,
      timestamp: now(),
      triggerReason,
      seqNo: seqNo++,
      transactionInfo: { transactionId },
      evse: { id: 1, connectorId: 1 },
      meterValue: [{ timestamp: now(), sampledValue: [{ value: meterWh, measurand: 'Energy.Active.Import.Register' }] }],
      ...extra,
    });
  await event('Started', 'CablePluggedIn');
  await station.call('Authorize', { idToken: { idToken: badge, type: 'ISO14443' } });
  await event('Updated', 'Authorized', { idToken: { idToken: badge, type: 'ISO14443' } });
  const meterTick = async (): Promise<void> => {
    meterWh += 1_000;
    await event('Updated', 'MeterValuePeriodic');
  };
  await meterTick();
  return { meterTick, close: async () => void (await station.close()) };
}

interface ProfileView {
  chargingProfileId?: number;
  id?: number;
  chargingProfilePurpose?: string;
  chargingProfileKind?: string;
  stackLevel?: number;
  chargingSchedule?: ScheduleView | ScheduleView[];
}

interface ScheduleView {
  chargingRateUnit?: string;
  chargingSchedulePeriod?: { startPeriod?: number; limit?: number }[];
}

/** "TxDefaultProfile #900000 (Relative, stack 8) on connector 0: 16 A from 0 s, 10 A from 3600 s", for 1.6 and 2.0.1. */
function describeProfile(params: unknown): string {
  const request = (params ?? {}) as { connectorId?: number; evseId?: number; csChargingProfiles?: ProfileView; chargingProfile?: ProfileView };
  const profile = request.csChargingProfiles ?? request.chargingProfile ?? {};
  const where = request.connectorId !== undefined ? `connector ${request.connectorId}` : `EVSE ${request.evseId ?? '?'}`;
  const schedule = Array.isArray(profile.chargingSchedule) ? profile.chargingSchedule[0] : profile.chargingSchedule;
  const unit = schedule?.chargingRateUnit ?? '?';
  const periods = (schedule?.chargingSchedulePeriod ?? []).map((period) => `${period.limit ?? '?'} ${unit} from ${period.startPeriod ?? '?'} s`).join(', ');
  return `${profile.chargingProfilePurpose ?? '?'} #${profile.chargingProfileId ?? profile.id ?? '?'} (${profile.chargingProfileKind ?? '?'}, stack ${profile.stackLevel ?? '?'}) on ${where}: ${periods}`;
}
