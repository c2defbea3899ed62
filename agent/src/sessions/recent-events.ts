import type { GatewayEvent, GatewayEventSink, SessionEvent, StationEvent } from '../events/gateway-events.js';

/**
 * An in-memory sink that keeps the last `limit` committed events: what
 * `status` shows and the tests look at. Nothing survives a restart.
 */
export class RecentEvents implements GatewayEventSink {
  private readonly events: GatewayEvent[] = [];

  constructor(readonly limit = 200) {}

  committed(event: GatewayEvent): void {
    this.events.push(event);
    if (this.events.length > this.limit) this.events.splice(0, this.events.length - this.limit);
  }

  list(): GatewayEvent[] {
    return [...this.events];
  }

  sessionEvents(): SessionEvent[] {
    return this.events.flatMap((event) => (event.topic === 'session' ? [event.payload] : []));
  }

  stationEvents(): StationEvent[] {
    return this.events.flatMap((event) => (event.topic === 'station' ? [event.payload] : []));
  }
}
