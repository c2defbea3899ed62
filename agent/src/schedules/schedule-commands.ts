import type { CloudCommand, CommandHandler } from '../cloud/cloud-command.js';
import { parseClearSchedule, parseSetSchedule } from './parse-schedule-command.js';
import type { ClearScheduleResult, ScheduleService, SetScheduleResult } from './schedule-service.js';

/**
 * `set-schedule` and `clear-schedule` (docs/schedules.md "Commands") for the command
 * dispatcher. The ack result is the service's answer; errors are
 * CommandErrors with their ack codes (docs/schedules.md); async, so a bad
 * body is a rejected promise, never a synchronous throw.
 */
export function scheduleCommandHandlers(service: ScheduleService, now: () => Date = () => new Date()): CommandHandler[] {
  const setSchedule: CommandHandler = {
    name: 'set-schedule',
    execute: async (command: CloudCommand): Promise<SetScheduleResult> => service.set(parseSetSchedule(command.body, now()), command.id),
  };
  const clearSchedule: CommandHandler = {
    name: 'clear-schedule',
    execute: async (command: CloudCommand): Promise<ClearScheduleResult> => service.clear(parseClearSchedule(command.body)),
  };
  return [setSchedule, clearSchedule];
}
