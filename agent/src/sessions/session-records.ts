import { StoreError } from '../errors.js';
import type { SqliteDatabase } from '../store/gateway-store.js';
import type { NewSession, SessionRecord } from './session-record.js';

interface SessionRow {
  session_id: number;
  station_id: string;
  ocpp_version: string;
  evse_id: number | null;
  connector_id: number | null;
  transaction_id: string;
  id_tag: string | null;
  id_tag_status: string | null;
  driver_email: string | null;
  started_at: string;
  ended_at: string | null;
  meter_start_wh: number | null;
  meter_start_at: string | null;
  meter_stop_wh: number | null;
  last_meter_wh: number | null;
  last_meter_at: string | null;
  energy_wh: number | null;
  stop_reason: string | null;
  last_seq_no: number | null;
  missed_seq_nos: number;
  offline_events: number;
  state: 'active' | 'ended';
  created_at: string;
  updated_at: string;
}

export interface SessionQuery {
  readonly activeOnly?: boolean;
  readonly limit?: number;
}

const COLUMNS = `station_id, ocpp_version, evse_id, connector_id, transaction_id, id_tag, id_tag_status, driver_email,
  started_at, ended_at, meter_start_wh, meter_start_at, meter_stop_wh, last_meter_wh, last_meter_at, energy_wh,
  stop_reason, last_seq_no, missed_seq_nos, offline_events, state`;

const VALUES = `@stationId, @ocppVersion, @evseId, @connectorId, @transactionId, @idTag, @idTagStatus, @driverEmail,
  @startedAt, @endedAt, @meterStartWh, @meterStartAt, @meterStopWh, @lastMeterWh, @lastMeterAt, @energyWh,
  @stopReason, @lastSeqNo, @missedSeqNos, @offlineEvents, @state`;

/**
 * The `sessions` table. Everything needed to finish a session lives here, so
 * a transaction that starts before a gateway restart and ends after it is
 * still whole (a 1.6 StopTransaction finds its session by station and id).
 */
export class SessionRecords {
  private readonly insertStatement;
  private readonly saveStatement;
  private readonly latestStatement;
  private readonly byIdStatement;
  private readonly listStatement;
  private readonly listActiveStatement;

  constructor(db: SqliteDatabase) {
    this.insertStatement = db.prepare<Record<string, unknown>, SessionRow>(
      `INSERT INTO sessions (${COLUMNS}, created_at, updated_at) VALUES (${VALUES}, @at, @at) RETURNING *`,
    );
    this.saveStatement = db.prepare<Record<string, unknown>, SessionRow>(`
      UPDATE sessions SET evse_id = @evseId, connector_id = @connectorId, id_tag = @idTag, id_tag_status = @idTagStatus,
        driver_email = @driverEmail, ended_at = @endedAt, meter_start_wh = @meterStartWh, meter_start_at = @meterStartAt,
        meter_stop_wh = @meterStopWh, last_meter_wh = @lastMeterWh, last_meter_at = @lastMeterAt, energy_wh = @energyWh,
        stop_reason = @stopReason, last_seq_no = @lastSeqNo, missed_seq_nos = @missedSeqNos, offline_events = @offlineEvents,
        state = @state, updated_at = @at
      WHERE session_id = @sessionId RETURNING *`);
    // The newest row first: ended sessions may share a 1.6 id (migration 003).
    this.latestStatement = db.prepare<[string, string], SessionRow>(
      `SELECT * FROM sessions WHERE station_id = ? AND transaction_id = ? ORDER BY state = 'active' DESC, session_id DESC LIMIT 1`,
    );
    this.byIdStatement = db.prepare<[number], SessionRow>('SELECT * FROM sessions WHERE session_id = ?');
    this.listStatement = db.prepare<[number], SessionRow>('SELECT * FROM sessions ORDER BY started_at DESC, session_id DESC LIMIT ?');
    this.listActiveStatement = db.prepare<[number], SessionRow>(
      `SELECT * FROM sessions WHERE state = 'active' ORDER BY started_at DESC, session_id DESC LIMIT ?`,
    );
  }

  insert(session: NewSession, at: Date): SessionRecord {
    const row = this.insertStatement.get({ ...session, at: at.toISOString() });
    if (!row) throw new StoreError(`session ${session.stationId}/${session.transactionId} was not stored`);
    return fromRow(row);
  }

  save(record: SessionRecord, at: Date): SessionRecord {
    const row = this.saveStatement.get({ ...record, at: at.toISOString() });
    if (!row) throw new StoreError(`session ${record.sessionId} is no longer in the database`);
    return fromRow(row);
  }

  /** The active session with this id, else the newest ended one. */
  find(stationId: string, transactionId: string): SessionRecord | undefined {
    const row = this.latestStatement.get(stationId, transactionId);
    return row ? fromRow(row) : undefined;
  }

  byId(sessionId: number): SessionRecord | undefined {
    const row = this.byIdStatement.get(sessionId);
    return row ? fromRow(row) : undefined;
  }

  /** Newest first (by the station's start time). */
  list(query: SessionQuery = {}): SessionRecord[] {
    const limit = query.limit ?? -1;
    const rows = query.activeOnly ? this.listActiveStatement.all(limit) : this.listStatement.all(limit);
    return rows.map(fromRow);
  }
}

function fromRow(row: SessionRow): SessionRecord {
  return {
    sessionId: row.session_id,
    stationId: row.station_id,
    ocppVersion: row.ocpp_version,
    evseId: row.evse_id,
    connectorId: row.connector_id,
    transactionId: row.transaction_id,
    idTag: row.id_tag,
    idTagStatus: row.id_tag_status,
    driverEmail: row.driver_email,
    startedAt: row.started_at,
    endedAt: row.ended_at,
    meterStartWh: row.meter_start_wh,
    meterStartAt: row.meter_start_at,
    meterStopWh: row.meter_stop_wh,
    lastMeterWh: row.last_meter_wh,
    lastMeterAt: row.last_meter_at,
    energyWh: row.energy_wh,
    stopReason: row.stop_reason,
    lastSeqNo: row.last_seq_no,
    missedSeqNos: row.missed_seq_nos,
    offlineEvents: row.offline_events,
    state: row.state,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}
