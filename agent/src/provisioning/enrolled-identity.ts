/**
 * The enrolled state in `dataDir/identity/`, next to the key and claim record
 * of device-identity.ts (docs/provisioning.md "The enrolled files"):
 *
 * - `ca-bundle.pem`: the CA certificate(s) of the answer;
 * - `server.crt`: the optional LAN server certificate (same key);
 * - `enrolled-config.json`: the `config` object as received (it may hold
 *   station passwords);
 * - `enrollment.json`: service URL, enrolledAt, renewedAt;
 * - `gateway.crt`: the client certificate, written LAST: it is the commit
 *   point. Without it the gateway is not enrolled, whatever else is there, so
 *   a power cut never leaves a certificate without its CA bundle and
 *   configuration.
 *
 * Every file is written atomically (atomic-write.ts) with mode 0600 and takes
 * the owner of dataDir like the key. A file that exists but cannot be read is
 * an IdentityError, never "not enrolled": that would start a new enrollment
 * next to a working certificate. Nothing here deletes a certificate because
 * it looks expired.
 */
import { X509Certificate, createPublicKey } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { IdentityError } from '../errors.js';
import { fsyncDir, writeFileAtomic } from './atomic-write.js';
import { CERTIFICATE_FILE, IDENTITY_DIR, KEY_FILE, followOwner, fsReason, markClaimed } from './device-identity.js';
import { subjectCommonNames, type EnrollmentAnswer, type RenewalAnswer } from './enrollment-answer.js';

export const CA_BUNDLE_FILE = 'ca-bundle.pem';
export const SERVER_CERTIFICATE_FILE = 'server.crt';
export const ENROLLED_CONFIG_FILE = 'enrolled-config.json';
export const ENROLLMENT_FILE = 'enrollment.json';
const SECRET_MODE = 0o600;

/** enrollment.json as stored. */
interface EnrollmentRecord {
  readonly version: 1;
  readonly serviceUrl: string;
  readonly enrolledAt: string;
  readonly renewedAt: string | null;
}

export interface EnrolledIdentity {
  readonly dir: string;
  /** The private key's path (the key itself is read only where it is used). */
  readonly keyPath: string;
  readonly certificatePath: string;
  readonly caBundlePath: string;
  /** Undefined when the service issued no server certificate. */
  readonly serverCertificatePath: string | undefined;
  readonly certificatePem: string;
  readonly caBundlePem: string;
  readonly serverCertificatePem: string | undefined;
  readonly config: Readonly<Record<string, unknown>>;
  /** The client certificate's subject CN: the gateway id it was issued for. */
  readonly commonName: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Hex, as node:crypto gives it. */
  readonly serialNumber: string;
  readonly fingerprint256: string;
  readonly serviceUrl: string;
  readonly enrolledAt: string;
  readonly renewedAt: string | undefined;
}

export interface StoreOptions {
  /** The enrollment service it came from (provisioning.url), kept for renewal. */
  readonly serviceUrl: string;
  readonly now?: () => Date;
}

/**
 * Store a verified enrollment answer (verifyEnrollmentAnswer first) and strike
 * the used-up claim code out of claim.json. Returns what loadEnrolledIdentity
 * now reads.
 */
export function storeEnrollment(dataDir: string, answer: EnrollmentAnswer, options: StoreOptions): EnrolledIdentity {
  const now = options.now ?? (() => new Date());
  const dir = identityDir(dataDir);
  const record: EnrollmentRecord = { version: 1, serviceUrl: options.serviceUrl, enrolledAt: now().toISOString(), renewedAt: null };
  writeSecret(dataDir, CA_BUNDLE_FILE, answer.caBundle);
  if (answer.serverCertificate !== undefined) {
    writeSecret(dataDir, SERVER_CERTIFICATE_FILE, answer.serverCertificate);
  } else {
    // One left from an earlier enrollment would not match the new one.
    removeFile(dir, SERVER_CERTIFICATE_FILE);
  }
  writeSecret(dataDir, ENROLLED_CONFIG_FILE, `${JSON.stringify(answer.config, null, 2)}\n`);
  writeSecret(dataDir, ENROLLMENT_FILE, `${JSON.stringify(record, null, 2)}\n`);
  writeSecret(dataDir, CERTIFICATE_FILE, answer.certificate);
  markClaimed(dataDir, now);
  return mustLoad(dataDir);
}

/**
 * Store a verified renewal (verifyRenewalAnswer first): the server
 * certificate before the client certificate (both are for the same key, so a
 * power cut between them leaves two valid certificates), then renewedAt. A
 * renewal without a server certificate keeps the one there is.
 */
export function storeRenewal(dataDir: string, answer: RenewalAnswer, now: () => Date = () => new Date()): EnrolledIdentity {
  const before = mustLoad(dataDir);
  if (answer.serverCertificate !== undefined) writeSecret(dataDir, SERVER_CERTIFICATE_FILE, answer.serverCertificate);
  writeSecret(dataDir, CERTIFICATE_FILE, answer.certificate);
  const record: EnrollmentRecord = { version: 1, serviceUrl: before.serviceUrl, enrolledAt: before.enrolledAt, renewedAt: now().toISOString() };
  writeSecret(dataDir, ENROLLMENT_FILE, `${JSON.stringify(record, null, 2)}\n`);
  return mustLoad(dataDir);
}

/** The enrolled state, or undefined when there is no `gateway.crt` (not enrolled). Damage is an IdentityError. */
export function loadEnrolledIdentity(dataDir: string): EnrolledIdentity | undefined {
  const dir = join(dataDir, IDENTITY_DIR);
  const certificatePath = join(dir, CERTIFICATE_FILE);
  const certificatePem = readOptional(certificatePath);
  if (certificatePem === undefined) return undefined;
  const certificate = parseCertificate(certificatePath, certificatePem);
  const keyPath = join(dir, KEY_FILE);
  const keyPem = readRequired(keyPath);
  let keyMatches: boolean;
  try {
    keyMatches = certificate.publicKey.export({ type: 'spki', format: 'der' }).equals(createPublicKey(keyPem).export({ type: 'spki', format: 'der' }));
  } catch (error: unknown) {
    throw damaged(keyPath, 'not a readable private key', error);
  }
  if (!keyMatches) throw damaged(certificatePath, "a certificate for another key than gateway.key");

  const caBundlePath = join(dir, CA_BUNDLE_FILE);
  const caBundlePem = readRequired(caBundlePath);
  const serverPath = join(dir, SERVER_CERTIFICATE_FILE);
  const serverCertificatePem = readOptional(serverPath);
  if (serverCertificatePem !== undefined) parseCertificate(serverPath, serverCertificatePem);
  const configPath = join(dir, ENROLLED_CONFIG_FILE);
  const config = asRecord(parseJson(configPath, readRequired(configPath)));
  if (config === undefined) throw damaged(configPath, 'not a JSON object');
  const recordPath = join(dir, ENROLLMENT_FILE);
  const record = parseJson(recordPath, readRequired(recordPath));
  if (!isEnrollmentRecord(record)) throw damaged(recordPath, 'not an enrollment record (version 1 with serviceUrl, enrolledAt, renewedAt)');

  return {
    dir,
    keyPath,
    certificatePath,
    caBundlePath,
    serverCertificatePath: serverCertificatePem === undefined ? undefined : serverPath,
    certificatePem,
    caBundlePem,
    serverCertificatePem,
    config,
    commonName: subjectCommonNames(certificate)[0] ?? '',
    notBefore: new Date(certificate.validFrom),
    notAfter: new Date(certificate.validTo),
    serialNumber: certificate.serialNumber,
    fingerprint256: certificate.fingerprint256,
    serviceUrl: record.serviceUrl,
    enrolledAt: record.enrolledAt,
    renewedAt: record.renewedAt ?? undefined,
  };
}

function mustLoad(dataDir: string): EnrolledIdentity {
  const identity = loadEnrolledIdentity(dataDir);
  if (identity === undefined) throw new IdentityError(`${join(dataDir, IDENTITY_DIR, CERTIFICATE_FILE)} vanished right after it was written`);
  return identity;
}

function identityDir(dataDir: string): string {
  const dir = join(dataDir, IDENTITY_DIR);
  // The key and claim record are made first (loadOrCreateIdentity); no enrollment without them.
  if (!existsSync(join(dir, KEY_FILE))) throw new IdentityError(`${join(dir, KEY_FILE)} is missing: there is no identity to enroll`);
  return dir;
}

function writeSecret(dataDir: string, name: string, text: string): void {
  const path = join(dataDir, IDENTITY_DIR, name);
  try {
    writeFileAtomic(path, text, SECRET_MODE);
    followOwner(path, dataDir);
  } catch (error: unknown) {
    throw new IdentityError(`cannot write ${path}: ${fsReason(error)}`, { cause: error });
  }
}

function removeFile(dir: string, name: string): void {
  const path = join(dir, name);
  if (!existsSync(path)) return;
  try {
    rmSync(path, { force: true });
    fsyncDir(dir);
  } catch (error: unknown) {
    throw new IdentityError(`cannot remove the stale ${path}: ${fsReason(error)}`, { cause: error });
  }
}

function parseCertificate(path: string, pem: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (error: unknown) {
    throw damaged(path, 'not a readable PEM certificate', error);
  }
}

function parseJson(path: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error: unknown) {
    throw damaged(path, 'not valid JSON', error);
  }
}

function isEnrollmentRecord(value: unknown): value is EnrollmentRecord {
  const record = asRecord(value);
  return (
    record !== undefined &&
    record['version'] === 1 &&
    typeof record['serviceUrl'] === 'string' &&
    typeof record['enrolledAt'] === 'string' &&
    (record['renewedAt'] === null || typeof record['renewedAt'] === 'string')
  );
}

function damaged(path: string, what: string, cause?: unknown): IdentityError {
  return new IdentityError(
    `${path} is ${what}; the enrolled identity is left as it is. Restore the identity folder from a backup, or reset provisioning to enroll again.`,
    cause === undefined ? undefined : { cause },
  );
}

function readRequired(path: string): string {
  const text = readOptional(path);
  if (text === undefined) throw damaged(path, `missing next to ${CERTIFICATE_FILE}`);
  return text;
}

function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new IdentityError(`cannot read ${path}: ${fsReason(error)}`, { cause: error });
  }
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}
