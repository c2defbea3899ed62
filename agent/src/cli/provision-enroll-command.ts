import { adminPost } from '../admin/admin-client.js';
import { receivedConfigValidator } from '../config/layered-config.js';
import { resolveConfigPath } from '../config/load-config.js';
import { describeError, GatewayError } from '../errors.js';
import { ProvisioningRuntime, type ProvisioningStatus } from '../provisioning/provisioning-runtime.js';
import { createLogger } from '../util/logger.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, type CliCommand } from './cli-io.js';
import { loadCliConfig } from './load-cli-config.js';
import { parseCommandFlags } from './parse-command-flags.js';
import { terminalSafe } from './terminal-safe.js';

const USAGE = `Usage: pleevi-edge provision enroll [--timeout S] [--config FILE]

Enroll now, instead of at the next attempt. With the daemon running, it is
asked to try at once (its backoff is reset) and its enrollment state is
printed. Without it, this command enrolls in the foreground: it asks the
enrollment service (provisioning.url) until the gateway is claimed and
enrolled, or --timeout seconds have passed (default 600; exit 1), and then
the daemon starts relaying on the enrolled configuration at its next start.
The claim code is never printed.
`;

const DEFAULT_TIMEOUT_S = 600;

/** `pleevi-edge provision enroll` (docs/provisioning.md "Commands"). */
export const provisionEnrollCommand: CliCommand = async (args, io) => {
  const flags = parseCommandFlags('provision enroll', USAGE, args, { timeout: { type: 'string' }, config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } }, io);
  if (typeof flags === 'number') return flags;
  const timeoutS = flags.timeout === undefined ? DEFAULT_TIMEOUT_S : Number(flags.timeout);
  if (!Number.isInteger(timeoutS) || timeoutS < 1 || timeoutS > 86_400) {
    io.stderr.write(`pleevi-edge provision enroll: --timeout must be a whole number of seconds from 1 to 86400\n\n${USAGE}`);
    return EXIT_USAGE;
  }
  const device = loadCliConfig(flags.config, io);
  if (!device) return EXIT_USAGE;
  if (device.provisioning?.url === undefined) {
    io.stderr.write('pleevi-edge provision enroll: no provisioning.url in the configuration: there is no enrollment service to enroll with\n');
    return EXIT_USAGE;
  }

  // A running daemon owns enrollment: ask it instead of competing with it.
  try {
    const answer = (await adminPost(device.admin.socket, '/v1/provision/enroll')) as { enrolling: boolean; provisioning: ProvisioningStatus | null };
    io.stdout.write(terminalSafe(answer.enrolling ? 'asked the running daemon to enroll now' : `the running daemon is not enrolling (${answer.provisioning?.claim ?? 'not provisioned'})`) + '\n');
    if (answer.provisioning?.enrollment) {
      const { state, lastError, nextAttemptAt } = answer.provisioning.enrollment;
      io.stdout.write(terminalSafe(`enrollment ${state}${lastError ? `, last error: ${lastError.message}` : ''}${nextAttemptAt ? `, next attempt ${nextAttemptAt}` : ''}`) + '\n');
    }
    return EXIT_OK;
  } catch (error: unknown) {
    if (!(error instanceof GatewayError && error.code === 'PE_ERR_DAEMON_UNREACHABLE')) throw error;
  }

  const logger = createLogger('warn');
  const runtime = new ProvisioningRuntime({ device, logger, validateConfig: receivedConfigValidator(resolveConfigPath(flags.config, io.env), io.env) });
  const already = runtime.enrolled();
  if (already) {
    io.stdout.write(terminalSafe(`${runtime.identity.gatewayId} is already enrolled: certificate ${already.serialNumber}, valid to ${already.notAfter.toISOString()}`) + '\n');
    return EXIT_OK;
  }
  io.stdout.write(terminalSafe(`enrolling ${runtime.identity.gatewayId} with ${device.provisioning.url} (waiting up to ${timeoutS} s for the claim)`) + '\n');
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutS * 1000);
  });
  const progress = setInterval(() => io.stdout.write(terminalSafe(runtime.enrollmentSentence()) + '\n'), 10_000);
  try {
    const outcome = await Promise.race([runtime.enroll(), timedOut]);
    if (outcome === 'timeout') {
      io.stderr.write(terminalSafe(`pleevi-edge provision enroll: not enrolled within ${timeoutS} s: ${runtime.enrollmentSentence()}`) + '\n');
      return EXIT_FAILURE;
    }
    io.stdout.write(terminalSafe(`enrolled: certificate ${outcome.serialNumber}, valid to ${outcome.notAfter.toISOString()}; start (or restart) the daemon to relay on the enrolled configuration`) + '\n');
    return EXIT_OK;
  } catch (error: unknown) {
    io.stderr.write(terminalSafe(`pleevi-edge provision enroll: ${describeError(error)}`) + '\n');
    return EXIT_FAILURE;
  } finally {
    clearTimeout(timer);
    clearInterval(progress);
    runtime.stop();
  }
};
