/**
 * One base error with a stable `code` for everything the gateway reports to a
 * user (CLI output, logs, admin API). Codes are part of the documented
 * interface (README "Error codes"); never rename one, add new ones instead.
 */
export class GatewayError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The configuration file is missing, unreadable or invalid. CLI exit code 2. */
export class ConfigError extends GatewayError {
  /** Every problem found, each with its JSON path, reported all at once. */
  readonly problems: readonly ConfigProblem[];

  constructor(message: string, problems: readonly ConfigProblem[], options?: { cause?: unknown }) {
    super('PE_ERR_CONFIG', message, options);
    this.problems = problems;
  }
}

export interface ConfigProblem {
  /** JSON path of the offending value, e.g. `$.listen.port`. */
  readonly path: string;
  readonly message: string;
}

/** The CPMS answered the upstream handshake with an HTTP refusal (401, 404, ...). */
export class UpstreamRefusedError extends GatewayError {
  constructor(
    readonly statusCode: number,
    readonly headers: Readonly<Record<string, string>>,
    readonly body: Buffer,
  ) {
    super('PE_ERR_UPSTREAM_REFUSED', `CPMS refused the connection with HTTP ${statusCode}`);
  }
}

/** The CPMS could not be reached (DNS, TCP, TLS). Answered to the station as 502. */
export class UpstreamUnreachableError extends GatewayError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PE_ERR_UPSTREAM_UNREACHABLE', message, options);
  }
}

/** The CPMS did not complete the handshake in `upstream.connectTimeoutMs`. Answered as 504. */
export class UpstreamTimeoutError extends GatewayError {
  constructor(timeoutMs: number) {
    super('PE_ERR_UPSTREAM_TIMEOUT', `CPMS did not answer the handshake within ${timeoutMs} ms`);
  }
}

/**
 * The CPMS completed the handshake but agreed to none of the offered
 * subprotocols (OCPP-J 1.6 section 3.1.2: it then closes). The station is
 * answered the same way.
 */
export class UpstreamNoSubprotocolError extends GatewayError {
  constructor() {
    super('PE_ERR_UPSTREAM_NO_SUBPROTOCOL', 'CPMS agreed to none of the offered OCPP subprotocols');
  }
}

/** A gateway call to a station did not get its answer in time. */
export class CallTimeoutError extends GatewayError {
  constructor(action: string, timeoutMs: number) {
    super('PE_ERR_CALL_TIMEOUT', `station did not answer ${action} within ${timeoutMs} ms`);
  }
}

/** A gateway call could not be sent or completed because the station link closed. */
export class StationGoneError extends GatewayError {
  constructor(stationId: string) {
    super('PE_ERR_STATION_GONE', `station ${stationId} is not connected`);
  }
}

/** The SQLite store could not be opened or migrated. */
export class StoreError extends GatewayError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PE_ERR_STORE', message, options);
  }
}

/** Describe an unknown thrown value for a log line or CLI message. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}

/** A station id that cannot name a station (docs/station-interface.md "URL and station id"); never dialled upstream. */
export class InvalidStationIdError extends GatewayError {
  constructor(stationId: string, reason: string) {
    super('PE_ERR_STATION_ID', `station id ${JSON.stringify(stationId)} refused: ${reason}`);
  }
}

/** Too many requests wait for a bounded resource (upstream dials, password hashing); answered 503 with Retry-After. */
export class GateFullError extends GatewayError {
  constructor(gate: string, maxActive: number, maxWaiting: number) {
    super('PE_ERR_BUSY', `${gate}: ${maxActive} in progress and ${maxWaiting} waiting; try again later`);
  }
}

/**
 * The gateway's device identity in `dataDir/identity/` cannot be read or is
 * inconsistent. Never repaired by making a new key: the old one may already
 * be enrolled (docs/provisioning.md).
 */
export class IdentityError extends GatewayError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('PE_ERR_IDENTITY', message, options);
  }
}

/**
 * Enrollment or renewal did not give the gateway a usable certificate: the
 * service refused it (403, 404), or its answer was refused by the gateway (a
 * certificate for another key, from a CA outside the bundle, without the
 * right CN or extended key usage, a configuration that does not validate).
 * Nothing is stored from a refused answer and the current certificate is
 * kept (docs/provisioning.md "Enrollment" and "Renewal").
 */
export class EnrollmentError extends GatewayError {
  constructor(
    readonly reason: EnrollmentProblem,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('PE_ERR_ENROLLMENT', message, options);
  }
}

/** Which check failed, for code (and tests) to match on instead of the message. */
export type EnrollmentProblem =
  | 'service-url'
  | 'malformed-answer'
  | 'key-mismatch'
  | 'untrusted-issuer'
  | 'wrong-subject'
  | 'missing-usage'
  | 'invalid-config'
  | 'refused-by-service';
