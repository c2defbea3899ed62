import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { UpdatesConfig } from '../config/gateway-config.js';
import { writeFileAtomic } from '../provisioning/atomic-write.js';
import { UpdateRefusedError } from './update-error.js';
import { bundleFileName, IN_PROGRESS_FILE, REQUEST_FILE, writeJsonAtomic, type UpdateRequest } from './update-files.js';
import { readSigningKey, verifyBundle, type BundleExpectations, type VerifiedBundle } from './verify-bundle.js';

export interface RequestUpdateOptions {
  readonly updates: UpdatesConfig;
  /** The version running now; the same again is refused. */
  readonly currentVersion: string;
  /** What the cloud announced (MQTT `update`): the bundle must match it. */
  readonly expect?: Pick<BundleExpectations, 'sha256' | 'version'>;
  readonly commandId?: string;
  readonly now?: () => Date;
}

export interface RequestedUpdate {
  readonly request: UpdateRequest;
  readonly verified: VerifiedBundle;
}

/**
 * The agent's half of an update (docs/appliance.md "Updates"): check the
 * bundle held in memory against the pinned key, then leave exactly those
 * bytes and the signature in the updates folder and write `request.json`
 * last, atomically (its appearance starts the privileged helper). A refused
 * bundle writes nothing. One update at a time.
 */
export async function requestUpdate(bundle: Buffer, signature: string, options: RequestUpdateOptions): Promise<RequestedUpdate> {
  const { updates } = options;
  const key = readSigningKey(updates.publicKey);
  const verified = await verifyBundle(bundle, signature, key, { ...options.expect, currentVersion: options.currentVersion });
  const dir = updates.dir;
  mkdirSync(dir, { recursive: true, mode: 0o750 });
  for (const busy of [REQUEST_FILE, IN_PROGRESS_FILE]) {
    if (existsSync(join(dir, busy))) throw new UpdateRefusedError('update_in_progress', `an update is already waiting or in progress (${join(dir, busy)}); wait for its outcome (pleevi-edge update status)`);
  }
  const version = verified.manifest.version;
  const bundleName = bundleFileName(version);
  const sigName = `${bundleName}.sig`;
  writeFileAtomic(join(dir, bundleName), bundle, 0o640);
  writeFileAtomic(join(dir, sigName), `${signature.trim()}\n`, 0o640);
  const request: UpdateRequest = {
    id: randomUUID(),
    version,
    bundle: bundleName,
    sig: sigName,
    sha256: verified.sha256,
    requestedAt: (options.now?.() ?? new Date()).toISOString(),
    ...(options.commandId !== undefined ? { commandId: options.commandId } : {}),
  };
  writeJsonAtomic(join(dir, REQUEST_FILE), request, 0o640);
  return { request, verified };
}
