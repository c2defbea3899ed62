import pino from 'pino';
import type { LogLevel } from '../config/gateway-config.js';

export type Logger = pino.Logger;

/**
 * Paths pino censors wherever they appear in a log object. Code never puts a
 * secret into a log call in the first place; this is the second line of
 * defence (README.md "Operations and diagnosis": secrets never reach logs).
 */
const REDACTED_PATHS = [
  'password',
  'passwordHash',
  'authorization',
  'key',
  '*.password',
  '*.passwordHash',
  '*.authorization',
  '*.key',
  'headers.authorization',
  'req.headers.authorization',
  '*.headers.authorization',
];

/**
 * Structured JSON logs on stdout (journald keeps them), written synchronously:
 * a crash or SIGKILL never loses the lines that explain it. Per-station context
 * comes from `logger.child({ stationId })`.
 */
export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { svc: 'pleevi-edge' },
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    destination ?? pino.destination({ dest: 1, sync: true }),
  );
}
