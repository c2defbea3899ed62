import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describeError } from '../errors.js';
import { parseReleaseManifest, type ReleaseManifest } from './release-manifest.js';
import { runTar } from './run-tar.js';
import { UpdateRefusedError } from './update-error.js';

/** What a bundle must match besides its signature. */
export interface BundleExpectations {
  /** Hex SHA-256 the bundle must have (the MQTT command's `sha256`). */
  readonly sha256?: string;
  /** The version the bundle must carry (the MQTT command's `version`). */
  readonly version?: string;
  /** The version running now: the same again is refused. */
  readonly currentVersion?: string;
  /** Default `process.arch`. */
  readonly arch?: string;
}

export interface VerifiedBundle {
  readonly manifest: ReleaseManifest;
  readonly sha256: string;
  /** The tree's top folder inside the tarball, `pleevi-edge-<version>`. */
  readonly topDir: string;
}

/** The pinned Ed25519 public key (SPKI PEM) at `path`. */
export function readSigningKey(path: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey(readFileSync(path, 'utf8'));
  } catch (error: unknown) {
    throw new UpdateRefusedError('no_public_key', `the update signing key ${path} cannot be read: ${describeError(error)}`, { cause: error });
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new UpdateRefusedError('no_public_key', `the update signing key ${path} is not an Ed25519 public key`);
  return key;
}

export function sha256Hex(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Check a bundle held in memory (docs/appliance.md "Updates"): the SHA-256
 * when one is expected, the detached Ed25519 signature (`.sig`: base64 text)
 * against the pinned key, and only then what is inside: `release.json` with
 * the right name, version and architecture, in the top folder
 * `pleevi-edge-<version>/`. Nothing is written anywhere. Throws
 * UpdateRefusedError with the reason.
 */
export async function verifyBundle(bytes: Buffer, signatureText: string, key: KeyObject, expect: BundleExpectations = {}): Promise<VerifiedBundle> {
  const sha256 = sha256Hex(bytes);
  if (expect.sha256 !== undefined && expect.sha256.toLowerCase() !== sha256) {
    throw new UpdateRefusedError('sha256_mismatch', `the bundle's SHA-256 is ${sha256}, not the expected ${expect.sha256.toLowerCase()}`);
  }
  const signature = Buffer.from(signatureText.trim(), 'base64');
  if (signature.length !== 64 || !verify(null, bytes, key, signature)) {
    throw new UpdateRefusedError('bad_signature', 'the bundle\'s signature does not verify against the pinned update signing key: not a release signed for this gateway, or damaged');
  }
  const manifest = await readManifest(bytes);
  const arch = expect.arch ?? process.arch;
  if (manifest.manifest.arch !== arch) {
    throw new UpdateRefusedError('wrong_arch', `the bundle is built for ${manifest.manifest.arch}, this gateway is ${arch}`);
  }
  if (expect.version !== undefined && manifest.manifest.version !== expect.version) {
    throw new UpdateRefusedError('version_mismatch', `the bundle holds version ${manifest.manifest.version}, not the announced ${expect.version}`);
  }
  if (expect.currentVersion !== undefined && manifest.manifest.version === expect.currentVersion) {
    throw new UpdateRefusedError('same_version', `version ${manifest.manifest.version} is the one running now`);
  }
  return { ...manifest, sha256 };
}

const MANIFEST_ENTRY = /^(?:\.\/)?(pleevi-edge-[^/]+)\/release\.json$/;

/** release.json read from the tarball's bytes, without unpacking anything to disk. */
async function readManifest(bytes: Buffer): Promise<{ manifest: ReleaseManifest; topDir: string }> {
  const listing = await runTar(['-tzf', '-'], bytes);
  if (listing.code !== 0) throw new UpdateRefusedError('unreadable_bundle', `the bundle is not a readable tar.gz: ${listing.stderr || `tar exit ${listing.code}`}`);
  const entries = listing.stdout.toString('utf8').split('\n');
  const found = entries.map((entry) => MANIFEST_ENTRY.exec(entry)).filter((match) => match !== null);
  const entry = found[0];
  if (entry === undefined || found.length > 1) throw new UpdateRefusedError('unreadable_bundle', 'the bundle has no single pleevi-edge-<version>/release.json at its top');
  const topDir = entry[1] ?? '';
  const strayTop = entries.find((name) => name !== '' && !name.replace(/^\.\//, '').startsWith(`${topDir}/`) && name.replace(/^\.\//, '') !== topDir);
  if (strayTop !== undefined) throw new UpdateRefusedError('unreadable_bundle', `the bundle holds ${strayTop} outside its top folder ${topDir}/`);
  const extracted = await runTar(['-xzOf', '-', entry[0]], bytes);
  if (extracted.code !== 0) throw new UpdateRefusedError('unreadable_bundle', `release.json cannot be read from the bundle: ${extracted.stderr}`);
  const manifest = parseReleaseManifest(extracted.stdout.toString('utf8'));
  if (typeof manifest === 'string') throw new UpdateRefusedError('unreadable_bundle', manifest);
  if (topDir !== `pleevi-edge-${manifest.version}`) {
    throw new UpdateRefusedError('unreadable_bundle', `the bundle's top folder is ${topDir}, not pleevi-edge-${manifest.version}`);
  }
  return { manifest, topDir };
}
