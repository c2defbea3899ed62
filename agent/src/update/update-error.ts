import type { CommandErrorCode } from '../cloud/cloud-command.js';
import { GatewayError } from '../errors.js';

/**
 * Why an update bundle is refused (docs/appliance.md "Updates"). The same
 * codes are the MQTT `update` command's ack error codes (docs/cloud.md).
 */
export type UpdateRefusalCode = Extract<
  CommandErrorCode,
  'bad_signature' | 'sha256_mismatch' | 'wrong_arch' | 'same_version' | 'version_mismatch' | 'unreadable_bundle' | 'no_public_key' | 'download_failed' | 'update_in_progress'
>;

/** An update that is not carried out; nothing was changed. */
export class UpdateRefusedError extends GatewayError {
  constructor(
    readonly refusal: UpdateRefusalCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('PE_ERR_UPDATE', message, options);
  }
}
