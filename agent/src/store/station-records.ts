import type { SqliteDatabase } from './gateway-store.js';

export interface StationRecord {
  readonly stationId: string;
  readonly protocol: string;
  readonly firstSeenAt: string;
  readonly lastConnectedAt: string | null;
  readonly lastDisconnectedAt: string | null;
  readonly lastCloseCode: number | null;
  readonly remoteAddress: string | null;
  readonly connectCount: number;
}

interface StationRow {
  station_id: string;
  protocol: string;
  first_seen_at: string;
  last_connected_at: string | null;
  last_disconnected_at: string | null;
  last_close_code: number | null;
  remote_address: string | null;
  connect_count: number;
}

/** The `stations` table: every station that ever connected, and its last connection. */
export class StationRecords {
  private readonly connectStatement;
  private readonly disconnectStatement;
  private readonly listStatement;

  constructor(db: SqliteDatabase) {
    this.connectStatement = db.prepare(`
      INSERT INTO stations (station_id, protocol, first_seen_at, last_connected_at, remote_address, connect_count)
      VALUES (@stationId, @protocol, @at, @at, @remoteAddress, 1)
      ON CONFLICT (station_id) DO UPDATE SET protocol = excluded.protocol, last_connected_at = excluded.last_connected_at,
        remote_address = excluded.remote_address, connect_count = connect_count + 1`);
    this.disconnectStatement = db.prepare(
      'UPDATE stations SET last_disconnected_at = @at, last_close_code = @code WHERE station_id = @stationId',
    );
    this.listStatement = db.prepare<[], StationRow>('SELECT * FROM stations ORDER BY station_id');
  }

  connected(stationId: string, protocol: string, remoteAddress: string, at: Date): void {
    this.connectStatement.run({ stationId, protocol, remoteAddress, at: at.toISOString() });
  }

  disconnected(stationId: string, code: number, at: Date): void {
    this.disconnectStatement.run({ stationId, code, at: at.toISOString() });
  }

  list(): StationRecord[] {
    return this.listStatement.all().map((row) => ({
      stationId: row.station_id,
      protocol: row.protocol,
      firstSeenAt: row.first_seen_at,
      lastConnectedAt: row.last_connected_at,
      lastDisconnectedAt: row.last_disconnected_at,
      lastCloseCode: row.last_close_code,
      remoteAddress: row.remote_address,
      connectCount: row.connect_count,
    }));
  }
}
