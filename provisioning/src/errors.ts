/**
 * Errors of the enrollment service. An ApiError is what a caller is told: an
 * HTTP status and a stable `code` (docs/provisioning-service.md "Error
 * codes"), the body `{"error":{"code","message"}}`. The CLI prints the same
 * code for the same refusal (`claim` from the command line follows the rules
 * of POST /v1/claims).
 */
import { GatewayError } from '../../agent/src/errors.js';

export class ApiError extends GatewayError {
  constructor(
    readonly status: number,
    code: string,
    message: string,
    /** Seconds for a Retry-After header (429, 202). */
    readonly retryAfterS?: number,
  ) {
    super(code, message);
  }
}

/** The data folder, the CA or the database cannot be used. CLI exit 1. */
export class ProvisionError extends GatewayError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PV_ERR_PROVISION', message, options);
  }
}

/** A bad argument or input file. CLI exit 2. */
export class UsageError extends GatewayError {
  constructor(message: string) {
    super('PV_ERR_USAGE', message);
  }
}
