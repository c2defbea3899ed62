/**
 * The files the agent and the privileged helper exchange in the updates
 * folder (`updates.dir`, default `<dataDir>/updates`; docs/appliance.md
 * "Updates"). The agent owns the folder; the helper reads what the agent
 * left there and trusts none of it without checking the signature again.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../provisioning/atomic-write.js';
import { isReleaseVersion } from './release-manifest.js';

/** Written last by the agent: its presence starts the helper (`pleevi-edge-update.path`). */
export const REQUEST_FILE = 'request.json';
/** The request once the helper took it (renamed, so the path unit does not start the helper again). */
export const IN_PROGRESS_FILE = 'in-progress.json';
/** The helper's verdict, read by the agent at start (and when the helper pokes it). */
export const OUTCOME_FILE = 'outcome.json';

export interface UpdateRequest {
  readonly id: string;
  readonly version: string;
  /** File names inside the updates folder (never paths). */
  readonly bundle: string;
  readonly sig: string;
  readonly sha256: string;
  readonly requestedAt: string;
  /** The MQTT `update` command's id, when the cloud asked. */
  readonly commandId?: string;
}

export type UpdateResult = 'applied' | 'rolled-back' | 'refused';

export interface UpdateOutcome {
  readonly id: string | null;
  readonly commandId: string | null;
  /** The version that ran before, and the one the update was to bring. */
  readonly from: string | null;
  readonly to: string | null;
  readonly result: UpdateResult;
  readonly reason: string | null;
  readonly at: string;
  /** Set by the agent once it stored the `P/events/gateway` event. */
  readonly reportedAt?: string;
}

/** A file name the request may name: no folder, no dot files. */
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,200}$/;

export function bundleFileName(version: string): string {
  return `pleevi-edge-${version}.tar.gz`;
}

export function writeJsonAtomic(path: string, value: unknown, mode = 0o644): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`, mode);
}

/** The request in `text`, or a sentence saying why it cannot be used. */
export function parseUpdateRequest(text: string): UpdateRequest | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'the request is not valid JSON';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'the request is not a JSON object';
  const fields = value as Record<string, unknown>;
  const text_ = (key: string): string | undefined => (typeof fields[key] === 'string' ? fields[key] : undefined);
  const id = text_('id');
  const bundle = text_('bundle');
  const sig = text_('sig');
  const sha256 = text_('sha256');
  const requestedAt = text_('requestedAt');
  const commandId = text_('commandId');
  if (id === undefined || id === '' || id.length > 200) return 'the request has no usable "id"';
  if (!isReleaseVersion(fields.version)) return 'the request has no usable "version"';
  if (bundle === undefined || !FILE_NAME.test(bundle) || sig === undefined || !FILE_NAME.test(sig)) return 'the request\'s "bundle" and "sig" must be file names in the updates folder';
  if (sha256 === undefined || !/^[0-9a-f]{64}$/.test(sha256)) return 'the request has no usable "sha256"';
  return { id, version: fields.version, bundle, sig, sha256, requestedAt: requestedAt ?? '', ...(commandId !== undefined ? { commandId } : {}) };
}

/** The last outcome in the updates folder, or undefined when there is none (or it cannot be read). */
export function readOutcome(updatesDir: string): UpdateOutcome | undefined {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(join(updatesDir, OUTCOME_FILE), 'utf8'));
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null) return undefined;
  const outcome = value as Partial<UpdateOutcome>;
  if (outcome.result !== 'applied' && outcome.result !== 'rolled-back' && outcome.result !== 'refused') return undefined;
  return value as UpdateOutcome;
}
