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
  /** Asked for every frame, so counted when observers are added. */
  private frameObserverCount = 0;
  /** Per action: does any observer want its frames? Cached, it is asked for every frame. */
  private readonly wantedActions = new Map<string, boolean>();

  constructor(private readonly logger: Logger) {}

  add(observer: FrameObserver): void {
    this.observers.push(observer);
    this.wantedActions.clear();
    if (observer.onFrame) this.frameObserverCount += 1;
  }

  /** Whether frames of this action (calls and their answers) must be parsed for some observer. */
  wantsAction(action: string): boolean {
    let wanted = this.wantedActions.get(action);
    if (wanted === undefined) {
      wanted = this.observers.some((observer) => observer.onFrame !== undefined && (observer.actions === undefined || observer.actions.has(action)));
      this.wantedActions.set(action, wanted);
    }
    return wanted;
  }

  get observerFailures(): number {
    return this.observerFailureCount;
  }

  get hasFrameObservers(): boolean {
    return this.frameObserverCount > 0;
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
