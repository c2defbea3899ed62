import type { RawData, WebSocket } from 'ws';
import type { CallFrame, OcppFrame } from '../ocpp/ocpp-frame.js';
import { isCall, isReply } from '../ocpp/ocpp-frame.js';
import { parseFrame } from '../ocpp/parse-frame.js';
import { headerOnlyFrame, scanFrameHeader, type FrameHeader } from '../ocpp/frame-header.js';
import { redialWithinGrace, type RedialRequest } from './redial-within-grace.js';
import type { InspectionPipeline } from '../ocpp/inspection-pipeline.js';
import type { FrameOrigin, StationInfo } from '../ocpp/frame-observer.js';
import type { Logger } from '../util/logger.js';
import { RateLimitedLog } from '../util/rate-limited-log.js';
import { BacklogWatch, SLOW_PEER_GRACE_MS } from './backlog-watch.js';
import { describeError } from '../errors.js';
import { CallLane } from './call-lane.js';
import type { GatewayCallOutcome } from '../ocpp/gateway-call-outcome.js';
import { CloseCode, mirrorClose, TRANSIENT_UPSTREAM_CLOSE_CODES } from './close-codes.js';
import type { RelayMetrics } from './relay-metrics.js';
import type { EarlyFrame } from './upstream-dialer.js';
import type { LocalAnswerer } from '../ocpp/local-answerer.js';

export type LinkState = 'open' | 'reconnecting' | 'closed';

export interface StationLinkOptions {
  readonly station: StationInfo;
  readonly stationSocket: WebSocket;
  readonly upstreamSocket: WebSocket;
  /** Frames the CPMS sent while the station's handshake was still being answered. */
  readonly earlyUpstreamFrames: readonly EarlyFrame[];
  /** Opens a new upstream connection offering only the negotiated subprotocol. */
  readonly redial: RedialRequest['redial'];
  readonly outageGraceMs: number;
  readonly maxBufferedBytes: number;
  readonly callTimeoutMs: number;
  readonly pipeline: InspectionPipeline;
  /** Features that may answer a station call themselves (not relayed). */
  readonly localAnswerers: readonly LocalAnswerer[];
  readonly metrics: RelayMetrics;
  readonly logger: Logger;
  readonly onClosed: (link: StationLink) => void;
}

/** A frame as far as it was read: `parsed` false means only its header is real (payload not parsed). */
interface InspectedFrame {
  readonly frame: OcppFrame;
  readonly parsed: boolean;
}

/** A station frame not yet forwarded; `call` is set for a station CALL, which waits its turn (one in flight). */
interface PendingStationFrame {
  readonly data: Buffer;
  readonly isBinary: boolean;
  readonly call?: CallFrame;
}

/** The station CALL forwarded to the CPMS and not yet answered. */
interface StationCallInFlight {
  readonly call: CallFrame;
  readonly at: number;
}

/** At most this many station frames wait behind the call in flight (their bytes are bounded by `maxBufferedBytes` too). */
const MAX_WAITING_STATION_FRAMES = 1_000;
/** One malformed-frame log line per station per this interval; the count is in `malformedFrames`. */
const MALFORMED_LOG_INTERVAL_MS = 10_000;
/** Ids of CPMS calls from a lost upstream are remembered this long for the station's late reply. */
const ORPHANED_CALL_MEMORY_MS = 10 * 60_000;


/**
 * One station's relay: the station socket, its upstream socket, and the call
 * lane between them. Frames flow socket -> parse a copy -> observers -> the
 * exact original bytes to the other side.
 *
 * Upstream loss (OCPP 2.0.1 Part 4 section 6.3): the station is held open for
 * `outageGraceMs` while the gateway redials, its frames queued in order; if the
 * CPMS is not back in time the station is closed so it queues its own
 * transaction messages (OCPP-J 1.6 section 3.7 / 2.0.1 offline queuing).
 * A station CALL that was in flight on the lost connection can never be
 * answered: the station is then closed at once rather than left waiting.
 */
export class StationLink {
  private state: LinkState = 'open';
  private upstream: WebSocket;
  readonly lane: CallLane;
  readonly connectedAt = Date.now();
  /**
   * The station CALL forwarded to the CPMS and not yet answered. OCPP-J allows
   * one (1.6 section 4.1.1 SHOULD, 2.0.1 Part 4 section 4.1.1 SHALL): further
   * station CALLs (and the frames behind them) wait in `waitingStationFrames`, in order, until it is answered
   * or `callTimeoutMs` passed. So memory per station stays bounded when the
   * CPMS answers slowly or not at all, and a reply is always paired with the
   * right call even when a station reuses a message id.
   */
  private stationCallInFlight: StationCallInFlight | undefined;
  private readonly waitingStationFrames: PendingStationFrame[] = [];
  private waitingBytes = 0;
  private waitingTimer: NodeJS.Timeout | undefined;
  /** Ids of CPMS calls made on an upstream connection that no longer exists, with when it was lost. */
  private readonly orphanedCpmsCallIds = new Map<string, number>();
  /** Station frames received during a CPMS outage, sent in order once it is back. */
  private readonly heldStationFrames: PendingStationFrame[] = [];
  private heldBytes = 0;
  private readonly stationBacklog: BacklogWatch;
  private readonly cpmsBacklog: BacklogWatch;
  /** Set while a new connection for the same station id is being accepted upstream. */
  private replacement: Promise<boolean> | undefined;
  private readonly malformedLog = new RateLimitedLog(MALFORMED_LOG_INTERVAL_MS);
  private outageStartedAt = 0;
  private stationAlive = true;
  private upstreamAlive = true;
  private readonly logger: Logger;

  constructor(private readonly options: StationLinkOptions) {
    this.logger = options.logger;
    this.upstream = options.upstreamSocket;
    this.stationBacklog = new BacklogWatch(options.maxBufferedBytes, () => options.stationSocket.bufferedAmount, () => this.closeSlowPeer('station'));
    this.cpmsBacklog = new BacklogWatch(options.maxBufferedBytes, () => this.upstream.bufferedAmount, () => this.closeSlowPeer('cpms'));
    this.lane = new CallLane({
      stationId: options.station.stationId,
      callTimeoutMs: options.callTimeoutMs,
      sendToStation: (call, text) => {
        this.emitFrame('gateway', call, undefined);
        this.sendToStation(Buffer.from(text), false);
      },
    });
    const station = options.stationSocket;
    station.on('message', (data, isBinary) => this.onStationMessage(toBuffer(data), isBinary));
    station.on('close', (code, reason) => this.onStationClose(code, reason));
    station.on('error', (error) => this.onSocketError('station', error));
    station.on('pong', () => {
      this.stationAlive = true;
    });
    this.attachUpstream(this.upstream);
    options.pipeline.stationConnected(options.station);
    for (const early of options.earlyUpstreamFrames) this.onUpstreamMessage(early.data, early.isBinary);
  }

  get stationId(): string {
    return this.options.station.stationId;
  }

  get info(): StationInfo {
    return this.options.station;
  }

  get linkState(): LinkState {
    return this.state;
  }

  /** The gateway's own CALL to this station, through the shared lane. */
  call(action: string, payload: unknown, timeoutMs?: number): Promise<GatewayCallOutcome> {
    this.options.metrics.gatewayCalls += 1;
    return this.lane.call(action, payload, timeoutMs);
  }

  /**
   * One heartbeat tick (RFC 6455 ping per hop, never relayed end to end): a
   * peer that did not answer the previous ping is dead and is dropped.
   */
  heartbeat(): void {
    if (this.state === 'closed') return;
    const station = this.options.stationSocket;
    if (!this.stationAlive) {
      this.logger.warn('station did not answer ping; dropping it');
      station.terminate();
      return;
    }
    this.stationAlive = false;
    station.ping();
    this.forgetAbandonedStationCall();
    this.forgetOldOrphans();
    if (this.state === 'open') {
      if (!this.upstreamAlive) {
        this.logger.warn('CPMS did not answer ping; treating the upstream as lost');
        this.upstream.terminate();
        return;
      }
      this.upstreamAlive = false;
      this.upstream.ping();
    }
  }

  /**
   * A station gives up on a call after its own timeout (usually 30 s), so an
   * unanswered call older than the call timeout no longer counts as in flight;
   * the next waiting call may go. True when the slot is (now) free.
   */
  private forgetAbandonedStationCall(): boolean {
    const inFlight = this.stationCallInFlight;
    if (!inFlight) return true;
    if (Date.now() - inFlight.at < this.options.callTimeoutMs) return false;
    this.logger.info({ messageId: inFlight.call.id, action: inFlight.call.action }, 'CPMS did not answer a station call in time; the next one may go');
    this.stationCallInFlight = undefined;
    return true;
  }

  private forgetOldOrphans(): void {
    const oldest = Date.now() - ORPHANED_CALL_MEMORY_MS;
    for (const [id, lostAt] of this.orphanedCpmsCallIds) {
      if (lostAt < oldest) this.orphanedCpmsCallIds.delete(id);
    }
  }

  /**
   * A new connection for this station id is being accepted upstream. Until
   * `accepted` settles, a loss of this link's upstream (the CPMS closing the
   * connection it is about to replace) does not start a redial, which would
   * compete with the newcomer; if the newcomer is refused, the usual outage
   * handling runs then.
   */
  expectReplacement(accepted: Promise<boolean>): void {
    const pending = accepted.then(
      (ok) => ok,
      () => false,
    );
    this.replacement = pending;
    void pending.then(() => {
      if (this.replacement === pending) this.replacement = undefined;
    });
  }

  /** Close both sides, e.g. when the station reconnected on a new socket or at shutdown. */
  close(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.logger.info({ code, reason }, 'closing station link');
    this.finish(code, reason);
    mirrorClose(this.options.stationSocket, code, reason);
    mirrorClose(this.upstream, code, reason);
  }

  /** Resolves once the upstream socket has fully closed (used when a station replaces its connection). */
  upstreamClosed(): Promise<void> {
    const upstream = this.upstream;
    if (upstream.readyState === upstream.CLOSED) return Promise.resolve();
    return new Promise((resolve) => upstream.once('close', () => resolve()));
  }

  private attachUpstream(upstream: WebSocket): void {
    // The dialer's listener kept early frames; from here the link relays them.
    upstream.removeAllListeners('message');
    upstream.on('message', (data, isBinary) => {
      if (upstream === this.upstream) this.onUpstreamMessage(toBuffer(data), isBinary);
    });
    upstream.on('close', (code, reason) => {
      if (upstream === this.upstream) this.onUpstreamClose(code, reason);
    });
    upstream.on('error', (error) => this.onSocketError('upstream', error));
    upstream.on('pong', () => {
      if (upstream === this.upstream) this.upstreamAlive = true;
    });
  }

  private onStationMessage(data: Buffer, isBinary: boolean): void {
    if (this.state === 'closed') return;
    this.stationAlive = true;
    const metrics = this.options.metrics;
    metrics.framesFromStations += 1;
    metrics.bytesFromStations += data.length;
    const inspected = this.inspect(data, isBinary, 'station', (header) => this.stationFrameNeedsBody(header));
    if (inspected) {
      const { frame, parsed } = inspected;
      let answers: CallFrame | undefined;
      if (isReply(frame)) {
        const owner = this.lane.takeStationReply(frame);
        if (owner && owner.owner !== 'cpms') {
          // Replies to the gateway's own calls never reach the CPMS (2.0.1 Part 4 section 6.4).
          metrics.swallowedReplies += 1;
          this.emitFrame('station', frame, owner.call);
          return;
        }
        // Only a reply no live call claims can be for the lost connection: a
        // restarted CPMS may reuse an id of a call it made before.
        if (!owner && this.orphanedCpmsCallIds.delete(frame.id)) {
          metrics.swallowedReplies += 1;
          this.logger.info({ messageId: frame.id }, 'station answered a CPMS call from the lost upstream connection; dropped');
          return;
        }
        answers = owner?.call;
      } else if (isCall(frame)) {
        if (parsed && this.answerLocally(frame)) return;
        if (parsed) this.emitFrame('station', frame, undefined);
        this.forwardFromStation({ data, isBinary, call: frame });
        return;
      }
      if (parsed) this.emitFrame('station', frame, answers);
    }
    this.forwardFromStation({ data, isBinary });
  }

  /**
   * Every station frame goes upstream through here: held during an outage;
   * otherwise sent at once unless a station CALL has to wait for the one in
   * flight, in which case it and everything after it wait, in order. The
   * gateway never reorders a station's frames; it only paces its calls.
   */
  private forwardFromStation(pending: PendingStationFrame): void {
    if (this.state === 'closed') return;
    if (this.state === 'reconnecting') {
      this.hold(pending);
      return;
    }
    if (this.waitingStationFrames.length === 0 && (!pending.call || this.forgetAbandonedStationCall())) {
      this.sendStationFrame(pending);
      return;
    }
    this.waitingStationFrames.push(pending);
    this.waitingBytes += pending.data.length;
    if (this.waitingStationFrames.length > MAX_WAITING_STATION_FRAMES || this.waitingBytes + this.heldBytes > this.options.maxBufferedBytes) {
      this.options.metrics.stationCallOverflows += 1;
      this.logger.warn(
        { waitingFrames: this.waitingStationFrames.length, waitingBytes: this.waitingBytes, inFlight: this.stationCallInFlight?.call.action },
        'station sends calls faster than the CPMS answers them (OCPP-J allows one in flight); closing the station so it retries',
      );
      this.close(CloseCode.TryAgainLater, 'too many unanswered calls');
      return;
    }
    this.armWaitingTimer();
  }

  private sendStationFrame(pending: PendingStationFrame): void {
    if (pending.call) this.stationCallInFlight = { call: pending.call, at: Date.now() };
    this.sendUpstream(pending.data, pending.isBinary);
  }

  /** The in-flight station call was answered (or abandoned): what waited behind it goes, up to the next call. */
  private sendWaitingFrames(): void {
    clearTimeout(this.waitingTimer);
    this.waitingTimer = undefined;
    while (this.state === 'open') {
      const next = this.waitingStationFrames[0];
      if (!next || (next.call && !this.forgetAbandonedStationCall())) break;
      this.waitingStationFrames.shift();
      this.waitingBytes -= next.data.length;
      this.sendStationFrame(next);
    }
    if (this.waitingStationFrames.length > 0) this.armWaitingTimer();
  }

  /** Waiting calls must not wait for ever on a call the CPMS never answers: release the slot at its timeout. */
  private armWaitingTimer(): void {
    if (this.waitingTimer || !this.stationCallInFlight) return;
    const dueIn = Math.max(0, this.stationCallInFlight.at + this.options.callTimeoutMs - Date.now());
    this.waitingTimer = setTimeout(() => {
      this.waitingTimer = undefined;
      this.sendWaitingFrames();
    }, dueIn + 1);
    this.waitingTimer.unref();
  }

  private onUpstreamMessage(data: Buffer, isBinary: boolean): void {
    if (this.state === 'closed') return;
    this.upstreamAlive = true;
    const metrics = this.options.metrics;
    metrics.framesFromCpms += 1;
    metrics.bytesFromCpms += data.length;
    const inspected = this.inspect(data, isBinary, 'cpms', (header) => this.cpmsFrameNeedsBody(header));
    if (inspected && isCall(inspected.frame)) {
      const call = inspected.frame;
      this.orphanedCpmsCallIds.delete(call.id);
      if (inspected.parsed) this.emitFrame('cpms', call, undefined);
      this.lane.submitCpmsCall(call, () => this.sendToStation(data, isBinary));
      return;
    }
    let answeredStationCall = false;
    if (inspected) {
      let answers: CallFrame | undefined;
      if (isReply(inspected.frame) && this.stationCallInFlight?.call.id === inspected.frame.id) {
        answers = this.stationCallInFlight.call;
        this.stationCallInFlight = undefined;
        answeredStationCall = true;
      }
      if (inspected.parsed) this.emitFrame('cpms', inspected.frame, answers);
    }
    this.sendToStation(data, isBinary);
    if (answeredStationCall) this.sendWaitingFrames();
  }

  /** Only frames someone looks at are parsed past their header: the answers to the gateway, and the actions observers asked for. */
  private stationFrameNeedsBody(header: FrameHeader): boolean {
    if (header.action !== undefined) {
      return this.options.pipeline.wantsAction(header.action) || this.options.localAnswerers.some((answerer) => answerer.actions.has(header.action ?? ''));
    }
    if (this.lane.ownsReply(header.id)) return true;
    const call = this.lane.cpmsCall(header.id);
    return call !== undefined && this.options.pipeline.wantsAction(call.action);
  }

  private cpmsFrameNeedsBody(header: FrameHeader): boolean {
    if (header.action !== undefined) return this.options.pipeline.wantsAction(header.action);
    const inFlight = this.stationCallInFlight;
    return inFlight !== undefined && inFlight.call.id === header.id && this.options.pipeline.wantsAction(inFlight.call.action);
  }

  /** A station call a local answerer takes: answered here, never relayed. */
  private answerLocally(call: CallFrame): boolean {
    for (const answerer of this.options.localAnswerers) {
      if (!answerer.actions.has(call.action)) continue;
      let payload: unknown;
      try {
        payload = answerer.answer(this.options.station, call);
      } catch (error: unknown) {
        this.logger.error({ err: error, answerer: answerer.name, action: call.action }, 'local answerer failed; relaying the call instead');
        continue;
      }
      if (payload === undefined) continue;
      this.options.metrics.localAnswers += 1;
      this.emitFrame('station', call, undefined);
      this.emitFrame('gateway', { messageType: 3, id: call.id, payload }, call);
      this.sendToStation(Buffer.from(JSON.stringify([3, call.id, payload])), false);
      return true;
    }
    return false;
  }

  /**
   * Read a frame's header from the bytes; parse the whole frame only when
   * `needsBody` says someone will look at it. A frame whose header is broken,
   * or whose body does not parse when parsed, is counted as malformed (and
   * still relayed by the caller).
   */
  private inspect(data: Buffer, isBinary: boolean, origin: FrameOrigin, needsBody: (header: FrameHeader) => boolean): InspectedFrame | undefined {
    if (isBinary) return this.malformed(origin, 'binary frame (OCPP-J is text)', data.length);
    const scanned = scanFrameHeader(data);
    if (scanned && !scanned.ok) return this.malformed(origin, scanned.reason, data.length);
    if (scanned && !needsBody(scanned.header)) return { frame: headerOnlyFrame(scanned.header), parsed: false };
    const result = parseFrame(data.toString('utf8'));
    if (!result.ok) return this.malformed(origin, result.reason, data.length);
    return { frame: result.frame, parsed: true };
  }

  private malformed(origin: FrameOrigin, reason: string, bytes: number): undefined {
    this.options.metrics.malformedFrames += 1;
    this.malformedLog.warn(this.logger, { origin, reason, bytes }, 'malformed OCPP frame relayed as is');
    this.options.pipeline.malformedFrame({ station: this.options.station, origin, reason, bytes });
    return undefined;
  }

  private emitFrame(origin: FrameOrigin, frame: OcppFrame, answers: CallFrame | undefined): void {
    const pipeline = this.options.pipeline;
    if (!pipeline.hasFrameObservers) return;
    pipeline.frame({ station: this.options.station, origin, frame, answers, receivedAt: Date.now() });
  }

  private sendToStation(data: Buffer, isBinary: boolean): void {
    const station = this.options.stationSocket;
    if (station.readyState !== station.OPEN) return;
    station.send(data, { binary: isBinary });
    this.stationBacklog.afterSend();
  }

  private sendUpstream(data: Buffer, isBinary: boolean): void {
    const upstream = this.upstream;
    if (upstream.readyState !== upstream.OPEN) {
      this.hold({ data, isBinary });
      return;
    }
    upstream.send(data, { binary: isBinary });
    this.cpmsBacklog.afterSend();
  }

  private socketOf(side: 'station' | 'cpms'): WebSocket {
    return side === 'station' ? this.options.stationSocket : this.upstream;
  }

  private hold(pending: PendingStationFrame): void {
    this.heldStationFrames.push(pending);
    this.heldBytes += pending.data.length;
    if (this.heldBytes + this.waitingBytes > this.options.maxBufferedBytes) {
      this.options.metrics.outageHoldOverflows += 1;
      this.logger.warn({ heldBytes: this.heldBytes }, 'too much held during the CPMS outage; closing the station so it queues');
      this.close(CloseCode.TryAgainLater, 'CPMS unavailable');
    }
  }

  /** A peer that cannot keep up is closed rather than letting memory grow (both sides go: they are one link). */
  private closeSlowPeer(side: 'station' | 'cpms'): void {
    this.options.metrics.slowPeerCloses += 1;
    this.logger.warn({ side, limit: this.options.maxBufferedBytes, buffered: this.socketOf(side).bufferedAmount, graceMs: SLOW_PEER_GRACE_MS }, 'peer cannot keep up; closing the link');
    if (side === 'station') this.options.stationSocket.terminate();
    this.close(CloseCode.TryAgainLater, `${side} cannot keep up`);
  }

  private onStationClose(code: number, reason: Buffer): void {
    if (this.state === 'closed') return;
    this.logger.info({ code, reason: reason.toString() }, 'station disconnected');
    this.finish(code, reason.toString());
    // The station is gone: its upstream goes too, closed the way the station closed.
    mirrorClose(this.upstream, code, reason);
  }

  private onUpstreamClose(code: number, reason: Buffer): void {
    if (this.state !== 'open') return;
    const text = reason.toString();
    if (!TRANSIENT_UPSTREAM_CLOSE_CODES.has(code) || this.options.outageGraceMs <= 0) {
      this.logger.info({ code, reason: text }, 'CPMS closed the connection; closing the station the same way');
      this.finish(code, text);
      mirrorClose(this.options.stationSocket, code, reason);
      return;
    }
    if (!this.forgetAbandonedStationCall()) {
      // The answer to this call died with the connection; resending it could
      // execute it twice. Close now so the station retries it itself.
      this.logger.warn({ code, inFlight: this.stationCallInFlight?.call.id }, 'CPMS connection lost with a station call in flight; closing the station');
      this.close(CloseCode.ServiceRestart, 'CPMS connection lost');
      return;
    }
    this.state = 'reconnecting';
    this.outageStartedAt = Date.now();
    for (const id of this.lane.forgetCpmsCalls()) this.orphanedCpmsCallIds.set(id, this.outageStartedAt);
    const deadline = this.outageStartedAt + this.options.outageGraceMs;
    const replacement = this.replacement;
    if (replacement) {
      // The CPMS may be closing this connection because it accepted the
      // station's new one; redialling now would compete with it.
      this.logger.info({ code, reason: text }, 'CPMS closed the connection while a new one for this station is being accepted');
      void replacement.then((replaced) => {
        if (!replaced && this.state === 'reconnecting') void this.redialUntilDeadline(deadline);
      });
      return;
    }
    this.logger.warn({ code, reason: text, graceMs: this.options.outageGraceMs }, 'CPMS connection lost; reconnecting');
    void this.redialUntilDeadline(deadline);
  }

  private async redialUntilDeadline(deadline: number): Promise<void> {
    const back = await redialWithinGrace({
      redial: this.options.redial,
      deadline,
      stillWanted: () => this.state === 'reconnecting',
      onFailure: (error, leftMs) => this.logger.debug({ err: describeError(error), leftMs }, 'CPMS redial failed'),
    });
    if (this.state !== 'reconnecting') return;
    if (back) {
      this.resume(back.socket, back.early);
      return;
    }
    this.options.metrics.upstreamOutagesBeyondGrace += 1;
    this.logger.warn({ graceMs: this.options.outageGraceMs }, 'CPMS not back within the grace; closing the station so it queues its messages');
    this.finish(CloseCode.GoingAway, 'CPMS unavailable');
    mirrorClose(this.options.stationSocket, CloseCode.GoingAway, 'CPMS unavailable');
  }

  private resume(socket: WebSocket, early: readonly EarlyFrame[]): void {
    this.upstream = socket;
    this.upstreamAlive = true;
    this.attachUpstream(socket);
    this.state = 'open';
    this.options.metrics.upstreamReconnects += 1;
    this.logger.info({ outageMs: Date.now() - this.outageStartedAt, heldFrames: this.heldStationFrames.length }, 'CPMS connection restored');
    const held = this.heldStationFrames.splice(0);
    this.heldBytes = 0;
    // Calls that waited behind the in-flight one before the outage go first, then what came during it.
    this.sendWaitingFrames();
    for (const frame of held) {
      if (this.state !== 'open') return;
      this.forwardFromStation(frame);
    }
    for (const frame of early) this.onUpstreamMessage(frame.data, frame.isBinary);
  }

  private onSocketError(side: 'station' | 'upstream', error: Error): void {
    // ws emits 'close' after 'error'; the close handlers do the work.
    this.logger.warn({ side, err: describeError(error) }, 'socket error');
    if (side === 'station' && /max payload/i.test(error.message)) this.options.metrics.oversizedFrames += 1;
  }

  private finish(code: number, reason: string): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.lane.close();
    this.heldStationFrames.length = 0;
    this.heldBytes = 0;
    this.waitingStationFrames.length = 0;
    this.waitingBytes = 0;
    this.stationCallInFlight = undefined;
    clearTimeout(this.waitingTimer);
    this.stationBacklog.stop();
    this.cpmsBacklog.stop();
    this.options.pipeline.stationDisconnected(this.options.station, code, reason);
    this.options.onClosed(this);
  }
}

function toBuffer(data: RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}
