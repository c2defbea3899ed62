import type { FrameEvent, FrameObserver } from '../ocpp/frame-observer.js';
import type { StationSecurityEvent } from '../events/gateway-events.js';
import { isCall } from '../ocpp/ocpp-frame.js';
import { ocppVersionOf } from '../ocpp/ocpp-version.js';
import type { Logger } from '../util/logger.js';
import { TextBounds } from './bounded-text.js';
import { isNonEmptyString, isObject, toIsoTime } from './payload-guards.js';

/**
 * SecurityEventNotificationRequest field maxima: OCPP 2.0.1 Part 2 section
 * 1.44 (type string[0..50], techInfo string[0..255]); the OCPP 1.6 Security
 * Whitepaper's extension (section 4 "Security events") uses the same shape.
 */
const TYPE_MAX = 50;
const TECH_INFO_MAX = 255;

const ACTIONS: ReadonlySet<string> = new Set(['SecurityEventNotification']);

/**
 * Records each SecurityEventNotification a station sends on the way through
 * (docs/station-interface.md "Security report"): a warning in the log and a
 * `security` event on `P/events/station` through the durable outbox. The
 * frame itself is relayed unchanged; the CPMS answers it.
 */
export class SecurityEventObserver implements FrameObserver {
  readonly name = 'security-events';
  readonly actions = ACTIONS;

  constructor(
    private readonly report: (event: StationSecurityEvent) => void,
    private readonly logger: Logger,
  ) {}

  onFrame(event: FrameEvent): void {
    const { frame, station, origin } = event;
    if (origin !== 'station' || !isCall(frame) || frame.action !== 'SecurityEventNotification') return;
    const payload = frame.payload;
    if (!isObject(payload) || !isNonEmptyString(payload.type)) {
      this.logger.info({ stationId: station.stationId, messageId: frame.id }, 'a SecurityEventNotification without a type; relayed, not recorded');
      return;
    }
    const bounds = new TextBounds();
    const type = bounds.text('type', payload.type, TYPE_MAX);
    const techInfo = typeof payload.techInfo === 'string' ? bounds.text('techInfo', payload.techInfo, TECH_INFO_MAX) : null;
    const securityEvent: StationSecurityEvent = {
      event: 'security',
      stationId: station.stationId,
      ocppVersion: ocppVersionOf(station.protocol),
      type,
      // The station's time; the receive time when it sent none or an unreadable one.
      occurredAt: toIsoTime(payload.timestamp) ?? new Date(event.receivedAt).toISOString(),
      techInfo,
    };
    this.logger.warn({ stationId: station.stationId, type, techInfo, overlong: bounds.cut }, 'station reported a security event');
    this.report(securityEvent);
  }
}
