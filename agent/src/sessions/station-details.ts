import { parseStoredSecurity, type ConnectionSecurity } from '../proxy/hop-security.js';
import type { SqliteDatabase } from '../store/gateway-store.js';

export interface BootDetails {
  readonly vendor: string;
  readonly model: string;
  readonly serialNumber: string | null;
  readonly firmwareVersion: string | null;
  /** OCPP 2.x BootReason; null for 1.6. */
  readonly reason: string | null;
}

export interface ConnectorStatus {
  /** OCPP 2.x EVSE; null for 1.6. */
  readonly evseId: number | null;
  readonly connectorId: number;
  readonly status: string;
  readonly errorCode: string | null;
  readonly info: string | null;
  readonly statusAt: string;
}

/** A station as `pleevi-edge stations` shows it: connections, boot details, connector status. */
export interface StationDetail {
  readonly stationId: string;
  readonly protocol: string;
  readonly vendor: string | null;
  readonly model: string | null;
  readonly serialNumber: string | null;
  readonly firmwareVersion: string | null;
  readonly bootReason: string | null;
  readonly lastBootAt: string | null;
  readonly firstSeenAt: string;
  readonly lastConnectedAt: string | null;
  readonly lastDisconnectedAt: string | null;
  readonly lastCloseCode: number | null;
  readonly remoteAddress: string | null;
  readonly connectCount: number;
  /** Both hops' security profiles at the last connection; null for a station last seen before version 0.2. */
  readonly security: ConnectionSecurity | null;
  readonly connectors: readonly ConnectorStatus[];
}

interface StationRow {
  station_id: string;
  protocol: string;
  vendor: string | null;
  model: string | null;
  serial_number: string | null;
  firmware_version: string | null;
  boot_reason: string | null;
  last_boot_at: string | null;
  first_seen_at: string;
  last_connected_at: string | null;
  last_disconnected_at: string | null;
  last_close_code: number | null;
  remote_address: string | null;
  connect_count: number;
  security: string | null;
}

interface ConnectorRow {
  station_id: string;
  evse_id: number | null;
  connector_id: number;
  status: string;
  error_code: string | null;
  info: string | null;
  status_at: string;
}

/**
 * The boot details on `stations` and the `connector_status` table (migration
 * 003). Connections themselves are `StationRecords`' (store/station-records.ts).
 */
export class StationDetails {
  private readonly bootStatement;
  private readonly statusStatement;
  private readonly stationsStatement;
  private readonly connectorsStatement;

  constructor(db: SqliteDatabase) {
    // The station row exists from its connection; the upsert only guards the order of observers.
    this.bootStatement = db.prepare(`
      INSERT INTO stations (station_id, protocol, first_seen_at, vendor, model, serial_number, firmware_version, boot_reason, last_boot_at)
      VALUES (@stationId, @protocol, @at, @vendor, @model, @serialNumber, @firmwareVersion, @reason, @at)
      ON CONFLICT (station_id) DO UPDATE SET vendor = excluded.vendor, model = excluded.model,
        serial_number = excluded.serial_number, firmware_version = excluded.firmware_version,
        boot_reason = excluded.boot_reason, last_boot_at = excluded.last_boot_at`);
    this.statusStatement = db.prepare(`
      INSERT INTO connector_status (station_id, evse_id, connector_id, status, error_code, info, status_at, updated_at)
      VALUES (@stationId, @evseId, @connectorId, @status, @errorCode, @info, @statusAt, @at)
      ON CONFLICT (station_id, coalesce(evse_id, -1), connector_id) DO UPDATE SET status = excluded.status,
        error_code = excluded.error_code, info = excluded.info, status_at = excluded.status_at, updated_at = excluded.updated_at`);
    this.stationsStatement = db.prepare<[], StationRow>(`
      SELECT station_id, protocol, vendor, model, serial_number, firmware_version, boot_reason, last_boot_at, first_seen_at,
        last_connected_at, last_disconnected_at, last_close_code, remote_address, connect_count, security
      FROM stations ORDER BY station_id`);
    this.connectorsStatement = db.prepare<[], ConnectorRow>(
      'SELECT * FROM connector_status ORDER BY station_id, coalesce(evse_id, -1), connector_id',
    );
  }

  recordBoot(stationId: string, protocol: string, boot: BootDetails, at: Date): void {
    this.bootStatement.run({ stationId, protocol, ...boot, at: at.toISOString() });
  }

  recordStatus(stationId: string, status: ConnectorStatus, at: Date): void {
    this.statusStatement.run({ stationId, ...status, at: at.toISOString() });
  }

  list(): StationDetail[] {
    const connectors = new Map<string, ConnectorStatus[]>();
    for (const row of this.connectorsStatement.all()) {
      const list = connectors.get(row.station_id) ?? [];
      list.push({
        evseId: row.evse_id,
        connectorId: row.connector_id,
        status: row.status,
        errorCode: row.error_code,
        info: row.info,
        statusAt: row.status_at,
      });
      connectors.set(row.station_id, list);
    }
    return this.stationsStatement.all().map((row) => ({
      stationId: row.station_id,
      protocol: row.protocol,
      vendor: row.vendor,
      model: row.model,
      serialNumber: row.serial_number,
      firmwareVersion: row.firmware_version,
      bootReason: row.boot_reason,
      lastBootAt: row.last_boot_at,
      firstSeenAt: row.first_seen_at,
      lastConnectedAt: row.last_connected_at,
      lastDisconnectedAt: row.last_disconnected_at,
      lastCloseCode: row.last_close_code,
      remoteAddress: row.remote_address,
      connectCount: row.connect_count,
      security: parseStoredSecurity(row.security),
      connectors: connectors.get(row.station_id) ?? [],
    }));
  }
}
