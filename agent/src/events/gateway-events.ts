import type { ConnectionSecurity } from '../proxy/hop-security.js';

/**
 * Events the gateway reports to the cloud (docs/cloud.md "Event payloads":
 * `P/events/session`, `P/events/station`). The payloads here are the published
 * JSON without `seq` and `ts`: the durable outbox stamps those when it stores
 * an event, so they are strictly increasing across restarts.
 */

/** A session event (docs/sessions.md "Events"). */
export interface SessionEvent {
  readonly event: 'started' | 'updated' | 'ended';
  readonly stationId: string;
  /** `1.6`, `2.0`, `2.0.1` or `2.1`. */
  readonly ocppVersion: string;
  /** OCPP 1.6 only: the connector of StartTransaction. */
  readonly connectorId?: number;
  /** OCPP 2.x only: null until the station names the EVSE (it may on a later event). */
  readonly evseId?: number | null;
  /** Always a string: 1.6 integer ids (chosen by the CPMS) in decimal, 2.x ids as the station sent them. */
  readonly transactionId: string;
  /** The badge as the station sent it; null until a 2.x event carries an idToken. */
  readonly idTag: string | null;
  /** The driver behind the badge; null when the badge is unknown (or not yet known). */
  readonly driver: { readonly email: string } | null;
  /** The station's own time of the start (ISO 8601, UTC), also for events replayed after an outage. */
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly meterStartWh: number | null;
  readonly meterStopWh: number | null;
  /** Energy so far (last reading minus start), or in total once ended. */
  readonly energyWh: number | null;
  /** OCPP stop reason; `Local` when the station left it out (1.6 StopTransaction.req `reason`, 2.0.1 TransactionType `stoppedReason`: "may only be omitted when Local"). */
  readonly stopReason: string | null;
}

interface StationEventBase {
  readonly stationId: string;
  readonly ocppVersion: string;
}

export interface StationConnectedEvent extends StationEventBase {
  readonly event: 'connected';
  readonly remoteAddress: string;
  /** The profile of each hop, TLS version, cipher, certificate expiry (docs/station-interface.md "Security report"). */
  readonly security?: ConnectionSecurity;
}

export interface StationDisconnectedEvent extends StationEventBase {
  readonly event: 'disconnected';
  /** WebSocket close code seen on the station's side. */
  readonly code: number;
  readonly reason: string;
}

/** From BootNotification (1.6 section 4.2, 2.0.1 B01). */
export interface StationBootEvent extends StationEventBase {
  readonly event: 'boot';
  readonly vendor: string;
  readonly model: string;
  readonly serialNumber: string | null;
  readonly firmwareVersion: string | null;
  /** OCPP 2.x BootReason (`PowerUp`, `Watchdog`, ...); null for 1.6. */
  readonly reason: string | null;
}

/** From StatusNotification (1.6 section 4.9, 2.0.1 G01). */
export interface StationStatusEvent extends StationEventBase {
  readonly event: 'status';
  /** OCPP 2.x only. */
  readonly evseId?: number;
  /** 1.6: 0 is the whole charge point. */
  readonly connectorId: number;
  /** 1.6 ChargePointStatus or 2.x ConnectorStatus. */
  readonly status: string;
  /** 1.6 ChargePointErrorCode; null for 2.x. */
  readonly errorCode: string | null;
  /** The station's timestamp, or the receive time when a 1.6 station left it out. */
  readonly statusAt: string;
}

/** From SecurityEventNotification (2.0.1 A04, 1.6 Security Whitepaper section 4): recorded on the way through. */
export interface StationSecurityEvent extends StationEventBase {
  readonly event: 'security';
  /** The security event type, e.g. `FirmwareUpdated`, `InvalidCentralSystemCertificate` (2.0.1 Appendix 1). */
  readonly type: string;
  /** The station's timestamp (ISO 8601, UTC); the receive time when it sent none. */
  readonly occurredAt: string;
  readonly techInfo: string | null;
}

export type StationEvent = StationConnectedEvent | StationDisconnectedEvent | StationBootEvent | StationStatusEvent | StationSecurityEvent;

/** `P/events/schedule` (docs/schedules.md "Schedule events"): what happened to a cloud schedule on a station. */
export interface ScheduleEvent {
  readonly event: 'applied' | 'rejected' | 'failed' | 'reapplied' | 'cleared' | 'expired';
  readonly scheduleId: string;
  readonly stationId: string;
  readonly connectorId: number;
  /** The charging profile id the gateway used (from `smartCharging.profileIdBase`). */
  readonly profileId: number;
  /** The station's answer (`Accepted`, `Rejected`, ...), null when none came. */
  readonly status: string | null;
  /** Why, in words, for failed / rejected / reapplied / expired. */
  readonly reason: string | null;
}

/**
 * `P/events/gateway` (docs/cloud.md, docs/provisioning.md "Events"): the
 * gateway itself. Never carries a secret: no claim code, key or
 * configuration.
 */
export interface GatewayLifecycleEvent {
  readonly event: 'enrolled' | 'enrollment-refused' | 'certificate-renewed' | 'certificate-renewal-failed' | 'certificate-expiring';
  readonly gatewayId: string;
  /** The client certificate's serial (hex): the new one for enrolled / renewed, the current one otherwise. */
  readonly serialNumber?: string;
  readonly previousSerialNumber?: string;
  /** When the certificate in use expires (ISO 8601). */
  readonly notAfter?: string;
  /** HTTP status of a refusal; null when none came (unreachable service). */
  readonly status?: number | null;
  /** `refused`, `unreachable`, `invalid-answer`, `error` for a failed renewal. */
  readonly reason?: string;
  /** The service's error code or a PE_ERR_ code. */
  readonly code?: string;
  readonly message?: string;
}

/** An event and the topic it goes to (`P/events/<topic>`). */
export type GatewayEvent =
  | {
      readonly topic: 'session';
      readonly payload: SessionEvent;
      /**
       * An `updated` event of the session flush (only readings changed): the
       * id of the session whose stored row holds everything in it but the
       * readings (`meterStartWh`, `energyWh`). The durable outbox stores this
       * reference and those two instead of the JSON.
       */
      readonly flushedSessionId?: number;
    }
  | { readonly topic: 'station'; readonly payload: StationEvent }
  | { readonly topic: 'schedule'; readonly payload: ScheduleEvent }
  | { readonly topic: 'gateway'; readonly payload: GatewayLifecycleEvent };

/**
 * Where the observers put their events: the MQTT outbox in production, an
 * in-memory list for `status` and in tests. Both hooks run synchronously on
 * the frame path.
 */
export interface GatewayEventSink {
  /**
   * Inside the SQLite transaction that made the change: a durable sink (the
   * outbox, in the same database) stores the event here, so the two commit
   * or roll back together. Throwing rolls the change back.
   */
  emit?(event: GatewayEvent): void;
  /**
   * After that transaction committed: in-memory consumers see only events
   * whose change was stored (a commit can still fail, e.g. on a full disk).
   */
  committed?(event: GatewayEvent): void;
}
