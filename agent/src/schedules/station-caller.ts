import type { GatewayCallOutcome } from '../ocpp/gateway-call-outcome.js';

/**
 * What smart charging needs from the proxy: the gateway's own call lane
 * toward a station (OCPP 2.0.1 Part 4 section 6.4) and who is connected.
 * `Gateway` implements it.
 */
export interface StationCaller {
  callStation(stationId: string, action: string, payload: unknown, timeoutMs?: number): Promise<GatewayCallOutcome>;
  isConnected(stationId: string): boolean;
  /** The negotiated subprotocol of a connected station (`ocpp1.6`, `ocpp2.0.1`, ...), undefined when not connected. */
  protocolOf(stationId: string): string | undefined;
}
