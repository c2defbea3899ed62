/**
 * The bounds of a `set-schedule` command (docs/schedules.md "Bounds"). OCPP
 * itself only says 32-bit integers and one decimal for `limit`; these are
 * tighter, so that a value no station can act on is refused with the field's
 * name instead of being sent.
 */

/**
 * Highest connector (1.6) / EVSE (2.0.1) id. Real stations number them from 1
 * to a handful; even a site controller that presents a car park as one
 * station stays far below this.
 */
export const MAX_CONNECTOR_ID = 1000;

/**
 * Highest `limit` per unit: the Megawatt Charging System (IEC 63379 /
 * SAE J3271), the largest connector there is, is specified up to 3000 A at
 * 1250 V, i.e. 3.75 MW. No connector, nor a station of this gateway's sites,
 * can use more.
 */
export const MAX_LIMIT = { A: 3000, W: 3_750_000 } as const;

/**
 * Latest `startOffsetS` (OCPP `startPeriod`) of a schedule that does not
 * recur: 366 days. A recurring one must start its periods within its cycle
 * (a day or a week).
 */
export const MAX_START_OFFSET_S = 366 * 86_400;

/** 2.0.1 ChargingScheduleType.chargingSchedulePeriod maxItems; 1.6 has no bound, this one is sane for both. */
export const MAX_PERIODS = 1024;

/** `scheduleId` and `stationId`: stored, logged and echoed, so kept to a sane size. */
export const MAX_ID_LENGTH = 128;
