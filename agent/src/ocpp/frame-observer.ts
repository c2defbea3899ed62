import type { ConnectionSecurity } from '../proxy/hop-security.js';
import type { CallFrame, OcppFrame } from './ocpp-frame.js';

/** Who sent a frame. `gateway` frames are the gateway's own calls (the call lane). */
export type FrameOrigin = 'station' | 'cpms' | 'gateway';

export interface StationInfo {
  readonly stationId: string;
  /** The negotiated subprotocol, e.g. `ocpp1.6`; empty when none was agreed. */
  readonly protocol: string;
  readonly remoteAddress: string;
  /** Both hops' security profiles as negotiated when the station connected (proxy/hop-security.ts). */
  readonly security?: ConnectionSecurity;
}

/** One parsed frame on its way through, with the call it answers when it is a reply. */
export interface FrameEvent {
  readonly station: StationInfo;
  readonly origin: FrameOrigin;
  readonly frame: OcppFrame;
  /** For a CALLRESULT / CALLERROR: the CALL it answers, matched by message id. */
  readonly answers?: CallFrame;
  /** Epoch milliseconds when the gateway received the frame. */
  readonly receivedAt: number;
}

export interface MalformedFrameEvent {
  readonly station: StationInfo;
  readonly origin: FrameOrigin;
  readonly reason: string;
  readonly bytes: number;
}

/**
 * What drivers, sessions and schedules implement to watch the traffic. They
 * observe only: they never touch sockets, and an observer that throws is
 * logged and counted without affecting the relay.
 */
export interface FrameObserver {
  readonly name: string;
  /**
   * The actions whose frames (the CALL and its answer) this observer wants.
   * Frames of other actions are not even parsed for it; omit to see all
   * (costly: every frame is then parsed).
   */
  readonly actions?: ReadonlySet<string>;
  onStationConnected?(station: StationInfo): void;
  onFrame?(event: FrameEvent): void;
  onMalformedFrame?(event: MalformedFrameEvent): void;
  onStationDisconnected?(station: StationInfo, code: number, reason: string): void;
}
