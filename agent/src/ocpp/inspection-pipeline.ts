import type { Logger } from '../util/logger.js';
import type { FrameEvent, FrameObserver, MalformedFrameEvent, StationInfo } from './frame-observer.js';

/** OCPP 1.6, 2.0.1 and 2.1 define about 150 actions; vendor DataTransfer does not add names. */
const MAX_REMEMBERED_ACTIONS = 512;
/** The longest action name in the OCPP schemas is under 40 characters. */
const MAX_REMEMBERED_ACTION_LENGTH = 64;

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
  /**
   * Memo of `wantsAction`. Action names come from the stations, so only a
   * bounded number is remembered: every real OCPP action fits many times
   * over, and a station sending a new made-up name per frame cannot grow the
   * gateway (found by the fuzz suite).
   */
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
      if (this.wantedActions.size < MAX_REMEMBERED_ACTIONS && action.length <= MAX_REMEMBERED_ACTION_LENGTH) this.wantedActions.set(action, wanted);
    }
    return wanted;
  }

  /** How many action names `wantsAction` remembers (bounded; for diagnostics and tests). */
  get rememberedActionCount(): number {
    return this.wantedActions.size;
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
