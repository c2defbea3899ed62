import { join } from 'node:path';
import type { GatewayLifecycleEvent } from '../events/gateway-events.js';
import type { Logger } from '../util/logger.js';
import { OUTCOME_FILE, readOutcome, writeJsonAtomic, type UpdateOutcome } from './update-files.js';

const EVENTS: Readonly<Record<UpdateOutcome['result'], GatewayLifecycleEvent['event']>> = {
  applied: 'update-applied',
  'rolled-back': 'update-rolled-back',
  refused: 'update-refused',
};

/** The `P/events/gateway` event for an outcome (docs/cloud.md "Topics"). */
export function outcomeEvent(gatewayId: string, outcome: UpdateOutcome): GatewayLifecycleEvent {
  return {
    event: EVENTS[outcome.result],
    gatewayId,
    updateId: outcome.id,
    commandId: outcome.commandId,
    fromVersion: outcome.from,
    toVersion: outcome.to,
    reason: outcome.reason,
  };
}

/**
 * Publish the helper's last outcome once: at the agent's start (after an
 * update the agent is restarted, on the new release or back on the old
 * one) and when the helper tells the running agent. The outcome is marked
 * reported (`reportedAt`, written atomically) only after its event is in the
 * durable outbox, so a crash in between reports it again rather than never.
 * Returns the outcome reported, if any.
 */
export function reportUpdateOutcome(updatesDir: string, gatewayId: string, report: (event: GatewayLifecycleEvent) => void, logger: Logger): UpdateOutcome | undefined {
  const outcome = readOutcome(updatesDir);
  if (outcome === undefined || outcome.reportedAt !== undefined) return undefined;
  report(outcomeEvent(gatewayId, outcome));
  try {
    writeJsonAtomic(join(updatesDir, OUTCOME_FILE), { ...outcome, reportedAt: new Date().toISOString() }, 0o640);
  } catch (error: unknown) {
    logger.warn({ err: error }, 'the update outcome could not be marked reported; it may be reported again at the next start');
  }
  logger.info({ result: outcome.result, from: outcome.from, to: outcome.to, reason: outcome.reason }, 'update outcome reported');
  return outcome;
}
