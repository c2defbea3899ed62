import { tunnelState, type TunnelState } from './vpn/tunnel-status.js';
import type { GatewayConfig } from './config/gateway-config.js';
import { StationGoneError } from './errors.js';
import { InspectionPipeline } from './ocpp/inspection-pipeline.js';
import type { FrameObserver } from './ocpp/frame-observer.js';
import type { GatewayCallOutcome } from './ocpp/gateway-call-outcome.js';
import type { LocalAnswerer } from './ocpp/local-answerer.js';
import { RelayMetrics } from './proxy/relay-metrics.js';
import { LocalAuthorizer } from './drivers/local-authorizer.js';
import { SqliteDriverDirectory } from './drivers/driver-list-store.js';
import type { DriverDirectory } from './drivers/driver-directory.js';
import type { GatewayEvent, GatewayEventSink, GatewayLifecycleEvent } from './events/gateway-events.js';
import { RecentEvents } from './sessions/recent-events.js';
import { SessionObserver } from './sessions/session-observer.js';
import { DEFAULT_STORAGE_RETRY_MS } from './store/deferred-writes.js';
import { CloudLink } from './cloud/cloud-link.js';
import { ScheduleService } from './schedules/schedule-service.js';
import { scheduleCommandHandlers } from './schedules/schedule-commands.js';
import type { MqttLinkStatus } from './cloud/mqtt-link.js';
import { StationListener } from './proxy/station-listener.js';
import { openStore, type SqliteDatabase } from './store/gateway-store.js';
import { openStoreOrMemoryCopy, type OpenedStore, type StorageMode } from './store/store-or-memory-copy.js';
import type { Logger } from './util/logger.js';
import { lanAddresses, urlHost } from './provisioning/lan-addresses.js';
import type { LanPageView } from './provisioning/lan-page.js';
import type { ProvisioningStatus } from './provisioning/provisioning-runtime.js';
import { GATEWAY_VERSION } from './version.js';
import type { ConnectionSecurity } from './proxy/hop-security.js';
import { SecurityEventObserver } from './sessions/security-event-observer.js';
import type { TlsFiles } from './config/gateway-config.js';
import { UpdateCommand } from './update/update-command.js';
import { reportUpdateOutcome } from './update/outcome-report.js';
import { updatesSettings } from './update/updates-settings.js';
import type { UpdateOutcome } from './update/update-files.js';

/** How long the daemon waits for another process's write lock before its write waits in memory instead. */
export const DAEMON_BUSY_TIMEOUT_MS = 250;

export interface GatewayDeps {
  readonly logger: Logger;
  /** Extra observers of the traffic (tests, the demo's frame printer). */
  readonly observers?: readonly FrameObserver[];
  /** Features that answer some station calls themselves. */
  readonly localAnswerers?: readonly LocalAnswerer[];
  /** Who owns a badge; default: the driver list in the gateway's database. */
  readonly drivers?: DriverDirectory;
  /** Where session and station events go; default: the last 200 kept in memory (the cloud link replaces this). */
  readonly events?: GatewayEventSink;
  readonly now?: () => Date;
  /** How long after a connect schedules wait for a BootNotification before re-applying (default 2 s). */
  readonly scheduleSettleMs?: number;
  /**
   * How often session bookkeeping that waits for the storage (disk full) is
   * retried, and how often a gateway running on an in-memory copy tries to
   * open its database again (default 5 s).
   */
  readonly storageRetryMs?: number;
  /** Frames whose session bookkeeping may wait in memory for the storage (default 10,000). */
  readonly maxDeferredFrames?: number;
  /** How long meter readings and statuses wait in memory before they are written (default 5 min; 0: at once). */
  readonly sessionFlushMs?: number;
  /** Time a station has to send its whole upgrade request (default 10 s). */
  readonly handshakeTimeoutMs?: number;
  /**
   * Serve the LAN page at `GET /` (docs/provisioning.md "The LAN page"): the
   * station URL to enter on each station and a short non-secret status.
   * `pleevi-edge run` turns it on; without it a plain request gets 426.
   */
  readonly lanPage?: { readonly certificateExpires?: () => string | undefined };
  /** Enrollment and certificate state for `status` (an enrolling or enrolled gateway). */
  readonly provisioningStatus?: () => ProvisioningStatus;
}

export interface StationStatus {
  readonly stationId: string;
  readonly protocol: string;
  readonly state: string;
  readonly remoteAddress: string;
  readonly connectedAt: string;
  readonly heldCpmsCalls: number;
  readonly queuedGatewayCalls: number;
  /** Both hops' security profiles (docs/station-interface.md "Security report"). */
  readonly security?: ConnectionSecurity;
}

export interface GatewayStatus {
  readonly gatewayId: string;
  readonly version: string;
  readonly startedAt: string;
  readonly uptimeS: number;
  readonly listen: { readonly port: number; readonly tlsPort?: number; readonly path: string };
  readonly upstream: { readonly url: string };
  /** The MQTT link's state, or a sentence when no `mqtt` is configured. */
  readonly cloudLink: MqttLinkStatus | string;
  readonly stations: readonly StationStatus[];
  /**
   * `unavailable` while session bookkeeping waits in memory for the disk (full,
   * I/O errors, locked); `memory` when the database could not even be opened
   * at start and the gateway runs on an in-memory copy (relay only, nothing kept).
   */
  readonly storage: { readonly state: 'ok' | 'unavailable' | 'memory'; readonly waitingFrames: number };
  readonly counters: Record<string, number>;
  /** The latest session and station events, newest last (what the cloud link will publish). */
  readonly recentEvents: readonly GatewayEvent[];
  /** Claim, clock and certificate (docs/provisioning.md); absent on a gateway configured by hand. */
  readonly provisioning?: ProvisioningStatus;
  /** The WireGuard tunnel to the CPMS (`vpn.wireguard`), from the VPN supervisor's status file; absent without one. */
  readonly vpn?: TunnelState;
}

/**
 * The running gateway: store, inspection pipeline, station listener. Built by
 * `pleevi-edge run`, the demo, the benchmark and the tests alike.
 */
export class Gateway {
  readonly metrics = new RelayMetrics();
  readonly pipeline: InspectionPipeline;
  readonly startedAt = new Date();
  /** Sessions and station details, built from the frames going by (issue 3). */
  readonly sessions: SessionObserver;
  readonly events: GatewayEventSink;
  /** The last events, for `status` (kept alongside any other sink). */
  private readonly recentEvents = new RecentEvents(50);
  /** Outbox, command dispatcher and MQTT link; only with `mqtt` configured. */
  readonly cloud: CloudLink | undefined;
  /** Smart-charging schedules from the cloud, applied through the call lane (issue 4). */
  readonly schedules: ScheduleService;
  private readonly listener: StationListener;
  /** Answers Authorize in `authorization.mode: "local"`. */
  private readonly authorizer: LocalAuthorizer | undefined;
  private boundPorts: { port: number; tlsPort?: number } = { port: 0 };
  readonly store: SqliteDatabase;
  /** `memory`: the database could not be opened at start; see `openStoreOrMemoryCopy`. */
  readonly storageMode: StorageMode;
  private readonly storageRetryMs: number;
  private storageProbe: NodeJS.Timeout | undefined;
  private readonly storageRecoveredListeners = new Set<() => void>();
  private readonly provisioningStatus: (() => ProvisioningStatus) | undefined;
  /** The client certificate an `update` download presents: the cloud identity, replaced on renewal. */
  private downloadTls: TlsFiles;

  private constructor(
    readonly config: GatewayConfig,
    opened: OpenedStore,
    private readonly logger: Logger,
    deps: GatewayDeps,
  ) {
    const store = opened.db;
    // The relay runs on this thread and SQLite waits synchronously for a lock:
    // while a CLI import holds it, wait briefly, then let the write wait in
    // memory (SQLITE_BUSY, see DeferredWrites) instead of stalling every station.
    store.pragma(`busy_timeout = ${DAEMON_BUSY_TIMEOUT_MS}`);
    this.store = store;
    this.storageMode = opened.mode;
    this.storageRetryMs = deps.storageRetryMs ?? DEFAULT_STORAGE_RETRY_MS;
    this.provisioningStatus = deps.provisioningStatus;
    const observers = deps.observers ?? [];
    const localAnswerers = deps.localAnswerers ?? [];
    this.pipeline = new InspectionPipeline(logger);
    const drivers = deps.drivers ?? new SqliteDriverDirectory(store);
    // On an in-memory copy the outbox's seq would restart from the copy's at the next start and collide: no cloud link then.
    this.cloud = config.mqtt && opened.mode === 'disk' ? new CloudLink({ config: config.mqtt, gatewayId: config.gatewayId, store, logger, startedAt: this.startedAt, counters: () => this.cloudCounters() }) : undefined;
    const sink: GatewayEventSink | undefined = deps.events ?? this.cloud?.outbox;
    this.events = sink
      ? {
          emit: (event) => sink.emit?.(event),
          committed: (event) => {
            this.recentEvents.committed(event);
            sink.committed?.(event);
          },
        }
      : this.recentEvents;
    const outbox = this.cloud?.outbox;
    this.sessions = new SessionObserver({
      db: store,
      drivers,
      events: this.events,
      logger,
      ...(deps.now ? { now: deps.now } : {}),
      ...(deps.storageRetryMs !== undefined ? { storageRetryMs: deps.storageRetryMs } : {}),
      ...(deps.maxDeferredFrames !== undefined ? { maxDeferredFrames: deps.maxDeferredFrames } : {}),
      ...(deps.sessionFlushMs !== undefined ? { flushMs: deps.sessionFlushMs } : {}),
      ...(outbox ? { alsoFlushed: { waiting: () => outbox.acknowledgedWaiting, flush: () => outbox.flushRemovals() } } : {}),
    });
    this.pipeline.add(this.sessions);
    this.schedules = new ScheduleService({
      db: store,
      caller: this,
      events: this.events,
      config: config.smartCharging,
      logger: logger.child({ feature: 'schedules' }),
      ...(deps.now ? { now: deps.now } : {}),
      ...(deps.scheduleSettleMs !== undefined ? { connectSettleMs: deps.scheduleSettleMs } : {}),
      storageRetryMs: this.storageRetryMs,
    });
    this.pipeline.add(this.schedules);
    for (const handler of scheduleCommandHandlers(this.schedules)) this.cloud?.register(handler);
    this.pipeline.add(new SecurityEventObserver((payload) => this.storeEventAlone({ topic: 'station', payload }), logger.child({ feature: 'security-events' })));
    this.downloadTls = config.mqtt?.tls ?? {};
    this.cloud?.register(
      new UpdateCommand({ updates: updatesSettings(config), tls: () => this.downloadTls, currentVersion: GATEWAY_VERSION, logger: logger.child({ feature: 'updates' }) }),
    );
    for (const observer of observers) this.pipeline.add(observer);
    // An injected directory (tests, the demo) does not come from the copy.
    const driverListUnreadable = deps.drivers === undefined ? opened.copyFailure : undefined;
    this.authorizer = config.authorization.mode === 'local' ? new LocalAuthorizer(drivers, logger, driverListUnreadable !== undefined ? { driverListUnreadable } : {}) : undefined;
    const answerers = this.authorizer ? [this.authorizer, ...localAnswerers] : localAnswerers;
    this.listener = new StationListener({
      config,
      pipeline: this.pipeline,
      localAnswerers: answerers,
      metrics: this.metrics,
      logger,
      ...(deps.handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs: deps.handshakeTimeoutMs } : {}),
      ...(deps.lanPage ? { lanPage: () => this.lanPageView(deps.lanPage?.certificateExpires?.()) } : {}),
    });
  }

  /** The URL to enter on each station, per LAN address: `ws://` and, with a TLS listener, `wss://`. */
  stationUrls(): string[] {
    const hosts = lanAddresses().map(urlHost);
    const path = this.config.listen.path;
    return (hosts.length > 0 ? hosts : ['<gateway-ip>']).flatMap((host) => [
      `ws://${host}:${this.port}${path}/<station id>`,
      ...(this.tlsPort ? [`wss://${host}:${this.tlsPort}${path}/<station id>`] : []),
    ]);
  }

  /** What the LAN page of a claimed gateway shows: nothing secret. */
  private lanPageView(certificateExpires: string | undefined): LanPageView {
    const urls = this.stationUrls();
    const link = this.cloud?.link.status();
    return {
      kind: 'claimed',
      gatewayId: this.config.gatewayId,
      version: GATEWAY_VERSION,
      stationUrls: urls,
      stationsConnected: this.listener.links.size,
      cloudLink: link ? link.state : this.config.mqtt ? 'off' : 'none configured',
      ...(certificateExpires !== undefined ? { certificateExpires } : {}),
    };
  }

  /**
   * An event about the gateway itself (`P/events/gateway`): stored in the
   * outbox on its own, outside any frame's transaction. A full disk loses
   * it with a log line; the relay goes on.
   */
  reportGatewayEvent(payload: GatewayLifecycleEvent): void {
    this.storeEventAlone({ topic: 'gateway', payload });
  }

  private storeEventAlone(event: GatewayEvent): void {
    const { payload } = event;
    try {
      this.store.transaction(() => this.events.emit?.(event))();
    } catch (error: unknown) {
      this.logger.error({ err: error, event: payload.event }, 'a gateway event could not be stored; it is lost');
      return;
    }
    this.events.committed?.(event);
  }

  /**
   * Publish the update helper's last outcome on `P/events/gateway`, once
   * (docs/appliance.md "Updates"): at start, and when the helper says it
   * wrote one. Undefined when there was nothing new.
   */
  reportUpdateOutcome(): UpdateOutcome | undefined {
    try {
      return reportUpdateOutcome(updatesSettings(this.config).dir, this.config.gatewayId, (event) => this.reportGatewayEvent(event), this.logger);
    } catch (error: unknown) {
      this.logger.warn({ err: error }, 'the update outcome could not be read');
      return undefined;
    }
  }

  /**
   * Take the certificates of a configuration loaded again after a renewal
   * (docs/provisioning.md "Renewal"): the LAN server certificate for new
   * `wss://` handshakes, the client certificate for the next upstream dials
   * and the next broker connection. Nothing connected is dropped.
   */
  useCertificates(next: GatewayConfig): void {
    if (next.listen.tls) this.listener.replaceServerCertificate(next.listen.tls);
    this.listener.useUpstreamTls(next.upstream.tls);
    if (next.mqtt) {
      this.cloud?.link.useTls(next.mqtt.tls);
      this.downloadTls = next.mqtt.tls;
    }
  }

  static async start(config: GatewayConfig, deps: GatewayDeps): Promise<Gateway> {
    const opened = openStoreOrMemoryCopy(config.dataDir);
    const gateway = new Gateway(config, opened, deps.logger, deps);
    try {
      gateway.boundPorts = await gateway.listener.listen();
    } catch (error: unknown) {
      await gateway.listener.close();
      opened.db.close();
      throw error;
    }
    if (opened.mode === 'memory') gateway.runOnMemoryCopy(opened.reason ?? 'unknown', opened.copyFailure);
    gateway.schedules.start();
    gateway.cloud?.start();
    if (!config.mqtt) deps.logger.info('no mqtt configured: running without a cloud link');
    deps.logger.info(
      { gatewayId: config.gatewayId, version: GATEWAY_VERSION, port: gateway.boundPorts.port, tlsPort: gateway.boundPorts.tlsPort, upstream: config.upstream.url },
      'gateway started',
    );
    return gateway;
  }

  get port(): number {
    return this.boundPorts.port;
  }

  get tlsPort(): number | undefined {
    return this.boundPorts.tlsPort;
  }

  /**
   * `listener` is called once the database opens again after the gateway
   * started on an in-memory copy; `pleevi-edge run` then restarts the daemon.
   */
  onStorageRecovered(listener: () => void): void {
    this.storageRecoveredListeners.add(listener);
  }

  private runOnMemoryCopy(reason: string, copyFailure: string | undefined): void {
    this.logger.error(
      { reason, dataDir: this.config.dataDir, retryMs: this.storageRetryMs },
      'the database cannot be opened (disk full?): running on an in-memory copy; stations are relayed, the cloud link is off, nothing of this run is kept; tried again until it opens',
    );
    if (copyFailure !== undefined) {
      this.logger.error(
        { copyFailure, authorizationMode: this.config.authorization.mode },
        'the database file cannot be copied either: the copy is empty, without the driver list and the schedules (in local authorization mode every badge reads Invalid)',
      );
    }
    this.storageProbe = setInterval(() => {
      try {
        openStore(this.config.dataDir).close();
      } catch (error: unknown) {
        this.logger.debug({ err: error }, 'the database still cannot be opened');
        return;
      }
      clearInterval(this.storageProbe);
      this.storageProbe = undefined;
      this.logger.warn({ dataDir: this.config.dataDir }, 'the database opens again');
      for (const listener of this.storageRecoveredListeners) listener();
    }, this.storageRetryMs);
    this.storageProbe.unref();
  }

  /** The gateway's own CALL to a connected station, through its call lane. */
  callStation(stationId: string, action: string, payload: unknown, timeoutMs?: number): Promise<GatewayCallOutcome> {
    const link = this.listener.links.get(stationId);
    if (!link) return Promise.reject(new StationGoneError(stationId));
    return link.call(action, payload, timeoutMs);
  }

  isConnected(stationId: string): boolean {
    return this.listener.links.has(stationId);
  }

  protocolOf(stationId: string): string | undefined {
    return this.listener.links.get(stationId)?.info.protocol;
  }

  status(): GatewayStatus {
    const stations = [...this.listener.links.values()].map((link) => ({
      stationId: link.stationId,
      protocol: link.info.protocol,
      state: link.linkState,
      remoteAddress: link.info.remoteAddress,
      connectedAt: new Date(link.connectedAt).toISOString(),
      heldCpmsCalls: link.lane.heldCpmsCallCount,
      queuedGatewayCalls: link.lane.queuedGatewayCallCount,
      ...(link.info.security ? { security: link.info.security } : {}),
    }));
    stations.sort((a, b) => a.stationId.localeCompare(b.stationId));
    return {
      gatewayId: this.config.gatewayId,
      version: GATEWAY_VERSION,
      startedAt: this.startedAt.toISOString(),
      uptimeS: Math.round((Date.now() - this.startedAt.getTime()) / 1000),
      listen: { port: this.port, ...(this.tlsPort ? { tlsPort: this.tlsPort } : {}), path: this.config.listen.path },
      upstream: { url: this.config.upstream.url },
      cloudLink: this.cloud ? this.cloud.link.status() : this.config.mqtt ? 'off (running on an in-memory copy of the database)' : 'none (no mqtt configured: the gateway runs without a cloud link)',
      stations,
      storage: { state: this.storageMode === 'memory' ? 'memory' : this.sessions.deferredFrames > 0 ? 'unavailable' : 'ok', waitingFrames: this.sessions.deferredFrames },
      counters: { ...this.metrics.snapshot(), ...this.sessions.counters.snapshot(), ...this.storeCounters(), observerFailures: this.pipeline.observerFailures, stationsConnected: stations.length },
      recentEvents: this.recentEvents.list().slice(-20),
      ...(this.provisioningStatus ? { provisioning: this.provisioningStatus() } : {}),
      ...(this.config.vpn ? { vpn: tunnelState(this.config.vpn.wireguard) } : {}),
    };
  }

  /** What `P/metrics` carries besides the link's own outbox figures. */
  private cloudCounters(): Record<string, number> {
    return {
      stationsConnected: this.listener.links.size,
      ...this.metrics.snapshot(),
      ...this.sessions.counters.snapshot(),
      ...this.storeCounters(),
      observerFailures: this.pipeline.observerFailures,
    };
  }

  /** Writes and reads of the store that failed without stopping the relay. */
  private storeCounters(): Record<string, number> {
    return { scheduleEventsFailed: this.schedules.failedReports, ...this.authorizer?.counters };
  }

  async close(): Promise<void> {
    if (this.storageProbe) clearInterval(this.storageProbe);
    this.schedules.close();
    await this.listener.close();
    await this.cloud?.stop();
    this.sessions.close();
    try {
      this.cloud?.outbox.markCleanStop();
    } catch (error: unknown) {
      this.logger.warn({ err: error }, 'could not mark the stop as clean; the next start skips ahead in event seq');
    }
    this.store.close();
    this.logger.info('gateway stopped');
  }
}
