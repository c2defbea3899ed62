import type { CloudCommand, CommandHandler } from '../cloud/cloud-command.js';
import { CommandError } from '../cloud/cloud-command.js';
import type { TlsFiles, UpdatesConfig } from '../config/gateway-config.js';
import type { Logger } from '../util/logger.js';
import { downloadOverHttps } from './bundle-download.js';
import { isReleaseVersion } from './release-manifest.js';
import { requestUpdate } from './request-update.js';
import { UpdateRefusedError } from './update-error.js';

export interface UpdateCommandOptions {
  readonly updates: UpdatesConfig;
  /** The client certificate to fetch with, read at each command (a renewal replaces it). */
  readonly tls: () => TlsFiles;
  readonly currentVersion: string;
  readonly logger: Logger;
  /** Default 256 MiB. */
  readonly maxBundleBytes?: number;
  /** Default 10 minutes. */
  readonly downloadTimeoutMs?: number;
}

const DEFAULT_MAX_BUNDLE_BYTES = 256 * 1024 * 1024;
const MAX_SIGNATURE_BYTES = 4096;

/**
 * `update` (docs/cloud.md "Commands", docs/appliance.md "Updates"):
 * `{"id","version","url","sha256"}`. Fetches the bundle and `url + ".sig"`
 * over HTTPS with the gateway's client certificate, checks the SHA-256, the
 * signature and the release inside, and leaves the request for the
 * privileged helper. The ack says `accepted`; the outcome comes later as a
 * `P/events/gateway` event (`update-applied`, `update-rolled-back`,
 * `update-refused`) carrying this command's id.
 */
export class UpdateCommand implements CommandHandler {
  readonly name = 'update';

  constructor(private readonly options: UpdateCommandOptions) {}

  async execute(command: CloudCommand): Promise<unknown> {
    const { version, url, sha256 } = command.body;
    if (!isReleaseVersion(version)) throw new CommandError('invalid_argument', '"version" must be a release version (letters, digits, . + _ -)');
    if (typeof url !== 'string' || !url.startsWith('https://')) throw new CommandError('invalid_argument', '"url" must be an https:// URL');
    if (typeof sha256 !== 'string' || !/^[0-9A-Fa-f]{64}$/.test(sha256)) throw new CommandError('invalid_argument', '"sha256" must be the bundle\'s SHA-256 in hex (64 characters)');
    const { logger } = this.options;
    const timeoutMs = this.options.downloadTimeoutMs ?? 600_000;
    try {
      const tls = this.options.tls();
      const bundle = await downloadOverHttps(url, { tls, maxBytes: this.options.maxBundleBytes ?? DEFAULT_MAX_BUNDLE_BYTES, timeoutMs });
      const signature = await downloadOverHttps(`${url}.sig`, { tls, maxBytes: MAX_SIGNATURE_BYTES, timeoutMs });
      const { request } = await requestUpdate(bundle, signature.toString('utf8'), {
        updates: this.options.updates,
        currentVersion: this.options.currentVersion,
        expect: { sha256, version },
        commandId: command.id,
      });
      logger.info({ version, updateId: request.id, bytes: bundle.length }, 'update accepted: the request waits for the update helper');
      return { state: 'accepted', version, updateId: request.id };
    } catch (error: unknown) {
      if (error instanceof UpdateRefusedError) {
        logger.warn({ version, code: error.refusal, reason: error.message }, 'update refused');
        throw new CommandError(error.refusal, error.message, { cause: error });
      }
      throw error;
    }
  }
}
