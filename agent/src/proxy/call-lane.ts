import { randomBytes } from 'node:crypto';
import { CallTimeoutError, StationGoneError } from '../errors.js';
import type { CallFrame, ReplyFrame } from '../ocpp/ocpp-frame.js';
import type { GatewayCallOutcome } from '../ocpp/gateway-call-outcome.js';

/**
 * Prefix of every message id the gateway generates. CPMS ids are checked too,
 * but the prefix makes the gateway's calls easy to spot in a capture.
 */
export const GATEWAY_ID_PREFIX = 'pgw-';

/** How long an id of a timed-out gateway call is remembered so its late reply is swallowed. */
const LATE_REPLY_MEMORY_MS = 10 * 60_000;

interface PendingGatewayCall {
  /** Assigned when the call is sent, so it is checked against the CPMS ids in flight at that moment. */
  id: string;
  readonly action: string;
  readonly payload: unknown;
  readonly timeoutMs: number;
  readonly resolve: (outcome: GatewayCallOutcome) => void;
  readonly reject: (error: Error) => void;
  timer?: NodeJS.Timeout;
}

/** Who a reply from the station belongs to; for the gateway's calls, which call it answers. */
export type ReplyOwner =
  | { readonly owner: 'cpms'; readonly call: CallFrame }
  | { readonly owner: 'gateway'; readonly call: CallFrame }
  | { readonly owner: 'late-gateway'; readonly call: CallFrame };

export interface CallLaneOptions {
  readonly stationId: string;
  /** How long a gateway call, or a CPMS call holding the lane, may wait for the station. */
  readonly callTimeoutMs: number;
  /** Writes one gateway CALL, serialized as `text`, to the station socket. */
  readonly sendToStation: (call: CallFrame, text: string) => void;
  readonly now?: () => number;
}

/**
 * The single lane of CALLs toward one station, shared by the CPMS and the
 * gateway (OCPP 2.0.1 Part 4 section 6.4, Local Controller; OCPP-J 1.6
 * section 4.1.1: one outstanding CALL per direction).
 *
 * - While a CPMS call is outstanding, gateway calls wait.
 * - While a gateway call is outstanding, CPMS calls are held, in order, until
 *   the station answers or the gateway's call times out.
 * - CPMS first: held CPMS calls go before queued gateway calls.
 * - Replies to gateway calls, late ones included, are consumed here and never
 *   reach the CPMS.
 *
 * Replies *to the station's* calls never pass through the lane, so they are
 * never delayed by it.
 */
export class CallLane {
  /**
   * CPMS calls forwarded to the station and not yet answered, with their lane
   * timer. The only record of them: the link pairs the station's reply with
   * the call from here, and the timer bounds how long one is remembered.
   */
  private readonly cpmsOutstanding = new Map<string, { readonly call: CallFrame; readonly timer: NodeJS.Timeout }>();
  private readonly heldCpmsCalls: Array<{ readonly call: CallFrame; readonly send: () => void }> = [];
  private gatewayOutstanding: PendingGatewayCall | undefined;
  private readonly gatewayQueue: PendingGatewayCall[] = [];
  private readonly lateGatewayCalls = new Map<string, { readonly call: CallFrame; readonly at: number }>();
  private closed = false;
  private readonly now: () => number;

  constructor(private readonly options: CallLaneOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Number of CPMS calls held back because a gateway call is outstanding. */
  get heldCpmsCallCount(): number {
    return this.heldCpmsCalls.length;
  }

  get queuedGatewayCallCount(): number {
    return this.gatewayQueue.length + (this.gatewayOutstanding ? 1 : 0);
  }

  /**
   * A CALL from the CPMS toward the station: sent at once, or held while a
   * gateway call is outstanding. `send` writes the original bytes; `call` is
   * what the link read of it (maybe only its header), kept to pair the reply.
   */
  submitCpmsCall(call: CallFrame, send: () => void): void {
    if (this.closed) return;
    if (this.gatewayOutstanding || this.heldCpmsCalls.length > 0) {
      this.heldCpmsCalls.push({ call, send });
      return;
    }
    this.sendCpmsCall(call, send);
  }

  /** The CPMS call with this id that the station has not answered yet (and whose lane time has not run out). */
  cpmsCall(id: string): CallFrame | undefined {
    return this.cpmsOutstanding.get(id)?.call;
  }

  /**
   * Classify a CALLRESULT / CALLERROR from the station. Gateway replies are
   * resolved here; the caller must not forward them.
   */
  takeStationReply(reply: ReplyFrame): ReplyOwner | undefined {
    const pending = this.gatewayOutstanding;
    if (pending && pending.id === reply.id) {
      clearTimeout(pending.timer);
      this.gatewayOutstanding = undefined;
      pending.resolve(toOutcome(reply));
      this.pump();
      return { owner: 'gateway', call: asCallFrame(pending) };
    }
    const late = this.lateGatewayCalls.get(reply.id);
    if (late) {
      this.lateGatewayCalls.delete(reply.id);
      return { owner: 'late-gateway', call: late.call };
    }
    const outstanding = this.cpmsOutstanding.get(reply.id);
    if (outstanding) {
      clearTimeout(outstanding.timer);
      this.cpmsOutstanding.delete(reply.id);
      this.pump();
      return { owner: 'cpms', call: outstanding.call };
    }
    return undefined;
  }

  /** Whether a reply with this id answers a gateway call (outstanding or timed out). */
  ownsReply(id: string): boolean {
    return this.gatewayOutstanding?.id === id || this.lateGatewayCalls.has(id);
  }

  /** The gateway's own call. Resolves with the station's answer; rejects on timeout or when the station goes. */
  call(action: string, payload: unknown, timeoutMs = this.options.callTimeoutMs): Promise<GatewayCallOutcome> {
    if (this.closed) return Promise.reject(new StationGoneError(this.options.stationId));
    return new Promise<GatewayCallOutcome>((resolve, reject) => {
      this.gatewayQueue.push({ id: '', action, payload, timeoutMs, resolve, reject });
      this.pump();
    });
  }

  /**
   * The upstream connection was lost: the CPMS calls it had outstanding can
   * no longer be answered to it. Returns their ids so the link can swallow
   * the station's replies to them.
   */
  forgetCpmsCalls(): string[] {
    const ids = [...this.cpmsOutstanding.keys(), ...this.heldCpmsCalls.map((held) => held.call.id)];
    for (const { timer } of this.cpmsOutstanding.values()) clearTimeout(timer);
    this.cpmsOutstanding.clear();
    this.heldCpmsCalls.length = 0;
    this.pump();
    return ids;
  }

  /** The station link closed: every waiting gateway call fails with StationGoneError. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const gone = new StationGoneError(this.options.stationId);
    for (const { timer } of this.cpmsOutstanding.values()) clearTimeout(timer);
    this.cpmsOutstanding.clear();
    this.heldCpmsCalls.length = 0;
    if (this.gatewayOutstanding) {
      clearTimeout(this.gatewayOutstanding.timer);
      this.gatewayOutstanding.reject(gone);
      this.gatewayOutstanding = undefined;
    }
    for (const queued of this.gatewayQueue.splice(0)) queued.reject(gone);
  }

  private sendCpmsCall(call: CallFrame, send: () => void): void {
    // A station that never answers must not block the gateway forever: after
    // the call timeout the lane is released and the call forgotten (a late
    // reply is still relayed, unpaired; the CPMS's own call stays its business).
    const timer = setTimeout(() => {
      this.cpmsOutstanding.delete(call.id);
      this.pump();
    }, this.options.callTimeoutMs);
    timer.unref();
    this.cpmsOutstanding.set(call.id, { call, timer });
    send();
  }

  private pump(): void {
    if (this.closed || this.gatewayOutstanding || this.cpmsOutstanding.size > 0) return;
    const held = this.heldCpmsCalls.shift();
    if (held) {
      this.sendCpmsCall(held.call, held.send);
      return;
    }
    const next = this.gatewayQueue.shift();
    if (!next) return;
    next.id = this.newMessageId();
    this.gatewayOutstanding = next;
    next.timer = setTimeout(() => this.timeOut(next), next.timeoutMs);
    next.timer.unref();
    this.options.sendToStation(asCallFrame(next), JSON.stringify([2, next.id, next.action, next.payload]));
  }

  private timeOut(pending: PendingGatewayCall): void {
    if (this.gatewayOutstanding !== pending) return;
    this.gatewayOutstanding = undefined;
    this.rememberLate(pending);
    pending.reject(new CallTimeoutError(pending.action, pending.timeoutMs));
    this.pump();
  }

  private rememberLate(pending: PendingGatewayCall): void {
    const now = this.now();
    for (const [lateId, entry] of this.lateGatewayCalls) {
      if (now - entry.at < LATE_REPLY_MEMORY_MS) break;
      this.lateGatewayCalls.delete(lateId);
    }
    this.lateGatewayCalls.set(pending.id, { call: asCallFrame(pending), at: now });
  }

  /** A fixed prefix plus 96 random bits (docs/ocpp-notes.md "The gateway's own calls": ids never collide with the CPMS's). */
  private newMessageId(): string {
    for (;;) {
      const id = GATEWAY_ID_PREFIX + randomBytes(12).toString('base64url');
      if (!this.cpmsOutstanding.has(id) && !this.heldCpmsCalls.some((held) => held.call.id === id)) return id;
    }
  }
}

function asCallFrame(pending: PendingGatewayCall): CallFrame {
  return { messageType: 2, id: pending.id, action: pending.action, payload: pending.payload };
}

function toOutcome(reply: ReplyFrame): GatewayCallOutcome {
  if (reply.messageType === 3) return { kind: 'result', payload: reply.payload };
  return {
    kind: 'error',
    errorCode: reply.errorCode,
    errorDescription: reply.errorDescription,
    errorDetails: reply.errorDetails,
  };
}
