import type { SqliteDatabase } from '../store/gateway-store.js';
import { LIVE_STATES, type SchedulePeriod, type ScheduleSpec, type ScheduleState } from './schedule-spec.js';

/** A stored schedule: the spec plus what the gateway did with it. */
export interface ScheduleRecord extends ScheduleSpec {
  readonly profileId: number;
  readonly acceptedAt: string;
  readonly commandId: string | null;
  readonly state: ScheduleState;
  /** The last outcome reported: `applied`, `rejected`, `failed`, `reapplied`, `cleared`, `expired` (or `pending`). */
  readonly lastResult: string | null;
  /** The station's OCPP status with it, if it answered. */
  readonly lastStatus: string | null;
  readonly lastReason: string | null;
  readonly lastAt: string | null;
  readonly createdAt: string;
  readonly updatedAt: string;
}

export interface ScheduleOutcome {
  readonly state: ScheduleState;
  readonly result: string;
  readonly status: string | null;
  readonly reason: string | null;
  readonly at: string;
}

interface ScheduleRow {
  schedule_id: string;
  station_id: string;
  connector_id: number;
  purpose: 'default' | 'max';
  unit: 'A' | 'W';
  starts_at: string | null;
  valid_until: string | null;
  recurrency: 'daily' | 'weekly' | null;
  periods: string;
  profile_id: number;
  accepted_at: string;
  command_id: string | null;
  state: ScheduleState;
  last_result: string | null;
  last_status: string | null;
  last_reason: string | null;
  last_at: string | null;
  created_at: string;
  updated_at: string;
}

const LIVE = LIVE_STATES.map((state) => `'${state}'`).join(', ');

/** The `schedules` table (migration 005). */
export class ScheduleRecords {
  private readonly getStatement;
  private readonly liveByStationStatement;
  private readonly liveStatement;
  private readonly allStatement;
  private readonly nextProfileIdStatement;
  private readonly upsertStatement;
  private readonly outcomeStatement;
  private readonly stationKnownStatement;
  private readonly stationProtocolStatement;
  private readonly nextExpiryStatement;

  constructor(private readonly db: SqliteDatabase) {
    this.getStatement = db.prepare<[string], ScheduleRow>('SELECT * FROM schedules WHERE schedule_id = ?');
    this.liveByStationStatement = db.prepare<[string], ScheduleRow>(
      `SELECT * FROM schedules WHERE station_id = ? AND state IN (${LIVE}) ORDER BY profile_id`,
    );
    this.liveStatement = db.prepare<[], ScheduleRow>(`SELECT * FROM schedules WHERE state IN (${LIVE}) ORDER BY station_id, connector_id, profile_id`);
    this.allStatement = db.prepare<[], ScheduleRow>('SELECT * FROM schedules ORDER BY station_id, connector_id, profile_id');
    this.nextProfileIdStatement = db.prepare<[number, number], { next: number }>(
      'SELECT max(coalesce(max(profile_id) + 1, ?), ?) AS next FROM schedules',
    );
    this.upsertStatement = db.prepare(`
      INSERT INTO schedules (schedule_id, station_id, connector_id, purpose, unit, starts_at, valid_until, recurrency, periods,
        profile_id, accepted_at, command_id, state, last_result, last_status, last_reason, last_at, created_at, updated_at)
      VALUES (@scheduleId, @stationId, @connectorId, @purpose, @unit, @startsAt, @validUntil, @recurrency, @periods,
        @profileId, @at, @commandId, 'pending', NULL, NULL, NULL, NULL, @at, @at)
      ON CONFLICT (schedule_id) DO UPDATE SET station_id = excluded.station_id, connector_id = excluded.connector_id,
        purpose = excluded.purpose, unit = excluded.unit, starts_at = excluded.starts_at, valid_until = excluded.valid_until,
        recurrency = excluded.recurrency, periods = excluded.periods, accepted_at = excluded.accepted_at,
        command_id = excluded.command_id, state = 'pending', last_result = NULL, last_status = NULL, last_reason = NULL,
        last_at = NULL, updated_at = excluded.updated_at`);
    this.outcomeStatement = db.prepare(`
      UPDATE schedules SET state = @state, last_result = @result, last_status = @status, last_reason = @reason,
        last_at = @at, updated_at = @at WHERE schedule_id = @scheduleId`);
    this.stationKnownStatement = db.prepare<[string], { one: number }>('SELECT 1 AS one FROM stations WHERE station_id = ?');
    this.stationProtocolStatement = db.prepare<[string], { protocol: string }>('SELECT protocol FROM stations WHERE station_id = ?');
    this.nextExpiryStatement = db.prepare<[], { at: string | null }>(
      `SELECT min(valid_until) AS at FROM schedules WHERE valid_until IS NOT NULL AND state IN (${LIVE})`,
    );
  }

  get(scheduleId: string): ScheduleRecord | undefined {
    const row = this.getStatement.get(scheduleId);
    return row ? toRecord(row) : undefined;
  }

  /** Schedules in force on a station (not cleared, not expired). */
  liveOnStation(stationId: string): ScheduleRecord[] {
    return this.liveByStationStatement.all(stationId).map(toRecord);
  }

  live(): ScheduleRecord[] {
    return this.liveStatement.all().map(toRecord);
  }

  all(): ScheduleRecord[] {
    return this.allStatement.all().map(toRecord);
  }

  /**
   * Store a new version of a schedule as `pending`. A known scheduleId keeps
   * its profile id; a new one gets the next id above every id ever given out.
   */
  save(spec: ScheduleSpec, commandId: string | null, profileIdBase: number, at: Date): ScheduleRecord {
    return this.db.transaction(() => {
      const existing = this.getStatement.get(spec.scheduleId);
      const profileId = existing?.profile_id ?? this.nextProfileIdStatement.get(profileIdBase, profileIdBase)?.next ?? profileIdBase;
      this.upsertStatement.run({
        ...spec,
        periods: JSON.stringify(spec.periods),
        profileId,
        commandId,
        at: at.toISOString(),
      });
      const saved = this.getStatement.get(spec.scheduleId);
      if (!saved) throw new Error(`schedule ${spec.scheduleId} vanished while being saved`);
      return toRecord(saved);
    })();
  }

  record(scheduleId: string, outcome: ScheduleOutcome): void {
    this.outcomeStatement.run({ scheduleId, ...outcome });
  }

  stationKnown(stationId: string): boolean {
    return this.stationKnownStatement.get(stationId) !== undefined;
  }

  /** The subprotocol of the station's last connection, from the `stations` table. */
  lastProtocolOf(stationId: string): string | undefined {
    return this.stationProtocolStatement.get(stationId)?.protocol;
  }

  /** The earliest `validUntil` among schedules in force. */
  nextExpiry(): string | undefined {
    return this.nextExpiryStatement.get()?.at ?? undefined;
  }
}

function toRecord(row: ScheduleRow): ScheduleRecord {
  return {
    scheduleId: row.schedule_id,
    stationId: row.station_id,
    connectorId: row.connector_id,
    purpose: row.purpose,
    unit: row.unit,
    startsAt: row.starts_at,
    validUntil: row.valid_until,
    recurrency: row.recurrency,
    periods: JSON.parse(row.periods) as SchedulePeriod[],
    profileId: row.profile_id,
    acceptedAt: row.accepted_at,
    commandId: row.command_id,
    state: row.state,
    lastResult: row.last_result,
    lastStatus: row.last_status,
    lastReason: row.last_reason,
    lastAt: row.last_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
