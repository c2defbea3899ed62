/**
 * A cloud schedule as the gateway keeps it: the `set-schedule` command of
 * docs/schedules.md "Commands" after validation, independent of the OCPP version the
 * station speaks (charging-profile.ts turns it into one).
 */
export type SchedulePurpose = 'default' | 'max';
export type ScheduleUnit = 'A' | 'W';
export type ScheduleRecurrency = 'daily' | 'weekly';

export interface SchedulePeriod {
  /** Seconds from the start of the schedule (OCPP `startPeriod`). */
  readonly startOffsetS: number;
  readonly limit: number;
  readonly phases?: number;
}

export interface ScheduleSpec {
  readonly scheduleId: string;
  readonly stationId: string;
  /** 0 is the whole station; a 1.6 connectorId, a 2.0.1 evseId. */
  readonly connectorId: number;
  readonly purpose: SchedulePurpose;
  readonly unit: ScheduleUnit;
  /** ISO 8601 UTC (normalized), or null. */
  readonly startsAt: string | null;
  readonly validUntil: string | null;
  readonly recurrency: ScheduleRecurrency | null;
  readonly periods: readonly SchedulePeriod[];
}

/** Where a schedule is with its station. `cleared` and `expired` are final; the others are "in force". */
export type ScheduleState = 'pending' | 'applied' | 'rejected' | 'failed' | 'clearing' | 'cleared' | 'expired';

export const LIVE_STATES: readonly ScheduleState[] = ['pending', 'applied', 'rejected', 'failed', 'clearing'];
