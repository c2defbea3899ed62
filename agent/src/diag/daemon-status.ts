import { adminGet } from '../admin/admin-client.js';
import { describeError } from '../errors.js';

/** The daemon's `GET /v1/status` answer, or why there is none (not running, another admin.socket, no permission). */
export type DaemonStatus = { readonly answered: true; readonly status: Record<string, unknown> } | { readonly answered: false; readonly reason: string };

export async function readDaemonStatus(socket: string, timeoutMs: number): Promise<DaemonStatus> {
  try {
    const answer = await adminGet(socket, '/v1/status', timeoutMs);
    if (typeof answer !== 'object' || answer === null || Array.isArray(answer)) return { answered: false, reason: 'the admin API sent something that is not a status' };
    return { answered: true, status: answer as Record<string, unknown> };
  } catch (error: unknown) {
    return { answered: false, reason: describeError(error) };
  }
}
