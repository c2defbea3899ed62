import type { ConnectionSecurity } from '../proxy/hop-security.js';
import type { SqliteDatabase } from './gateway-store.js';

/** Writes each connect and disconnect to the `stations` table (read back by StationDetails, with the boot details). */
export class StationRecords {
  private readonly connectStatement;
  private readonly disconnectStatement;

  constructor(db: SqliteDatabase) {
    this.connectStatement = db.prepare(`
      INSERT INTO stations (station_id, protocol, first_seen_at, last_connected_at, remote_address, connect_count, security)
      VALUES (@stationId, @protocol, @at, @at, @remoteAddress, 1, @security)
      ON CONFLICT (station_id) DO UPDATE SET protocol = excluded.protocol, last_connected_at = excluded.last_connected_at,
        remote_address = excluded.remote_address, connect_count = connect_count + 1, security = excluded.security`);
    this.disconnectStatement = db.prepare(
      'UPDATE stations SET last_disconnected_at = @at, last_close_code = @code WHERE station_id = @stationId',
    );
  }

  connected(stationId: string, protocol: string, remoteAddress: string, at: Date, security?: ConnectionSecurity): void {
    this.connectStatement.run({ stationId, protocol, remoteAddress, at: at.toISOString(), security: security ? JSON.stringify(security) : null });
  }

  disconnected(stationId: string, code: number, at: Date): void {
    this.disconnectStatement.run({ stationId, code, at: at.toISOString() });
  }
}
