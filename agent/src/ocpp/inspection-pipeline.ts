import type { Logger } from '../util/logger.js';
import type { FrameEvent, FrameObserver, MalformedFrameEvent, StationInfo } from './frame-observer.js';

/**
 * Fans inspected frames out to the observers. Each observer call is isolated:
 * a bug in one observer is logged and counted, the frame is still relayed and
 * the other observers still see it.
 */
export class InspectionPipeline {
  private readonly observers: FrameObserver[] = [];
  private observerFailureCount = 0;

  constructor(private readonly logger: Logger) {}

  add(observer: FrameObserver): void {
    this.observers.push(observer);
  }

  get observerFailures(): number {
    return this.observerFailureCount;
  }

  get hasObservers(): boolean {
    return this.observers.length > 0;
  }

  stationConnected(station: StationInfo): void {
    for (const observer of this.observers) {
      if (observer.onStationConnected) this.guard(observer, () => observer.onStationConnected?.(station));
    }
  }

  frame(event: FrameEvent): void {
    for (const observer of this.observers) {
      if (observer.onFrame) this.guard(observer, () => observer.onFrame?.(event));
    }
  }

  malformedFrame(event: MalformedFrameEvent): void {
    for (const observer of this.observers) {
      if (observer.onMalformedFrame) this.guard(observer, () => observer.onMalformedFrame?.(event));
    }
  }

  stationDisconnected(station: StationInfo, code: number, reason: string): void {
    for (const observer of this.observers) {
      if (observer.onStationDisconnected) this.guard(observer, () => observer.onStationDisconnected?.(station, code, reason));
    }
  }

  private guard(observer: FrameObserver, call: () => void): void {
    try {
      call();
    } catch (error: unknown) {
      this.observerFailureCount += 1;
      this.logger.error({ err: error, observer: observer.name }, 'frame observer failed; relay continues');
    }
  }
}
