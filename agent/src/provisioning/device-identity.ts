/**
 * The gateway's device identity in `dataDir/identity/`: its private key (RSA
 * 2048, mode 0600, never leaves the gateway), the CSR for it, and the claim
 * record with the one-time claim code (docs/provisioning.md). Made once on the
 * first call, then reused as is: a second start has the same key and code.
 *
 * Write order is claim.json, gateway.key, gateway.csr, so every crash leaves a
 * state the next call completes: claim only (a key is made), claim and key (the
 * CSR is made). A key without claim.json cannot come from a crash, and a file
 * that exists but cannot be read or parsed is an IdentityError: making a new
 * key over one that may already be enrolled would orphan the gateway.
 *
 * Once enrolled the claim code is used up: `markClaimed` replaces it by
 * `claimCode: null` and `claimedAt`, and a claimed record is never given a new
 * code. `gateway.crt` is the commit point of an enrollment
 * (enrolled-identity.ts), so a record that still holds a code next to a
 * `gateway.crt` (power cut between the two writes) is marked claimed here.
 */
import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { IdentityError } from '../errors.js';
import { writeFileAtomic } from './atomic-write.js';
import { generateClaimCode, isClaimCode } from './claim-code.js';
import { buildCsr, csrMatches } from './gateway-csr.js';
import type { GatewayIdSource, ResolvedGatewayId } from './gateway-id.js';

export const IDENTITY_DIR = 'identity';
export const KEY_FILE = 'gateway.key';
export const CSR_FILE = 'gateway.csr';
export const CLAIM_FILE = 'claim.json';
/** The client certificate; its presence means enrolled (enrolled-identity.ts writes it last). */
export const CERTIFICATE_FILE = 'gateway.crt';
const RSA_BITS = 2048;
const GATEWAY_ID_SOURCES: readonly GatewayIdSource[] = ['config', 'raspberry-pi-serial', 'dmi-serial', 'machine-id', 'hostname'];

/** claim.json as stored. */
export interface ClaimRecord {
  readonly version: 1;
  readonly gatewayId: string;
  readonly gatewayIdSource: GatewayIdSource;
  /** null once the gateway is enrolled: the code is used up and never shown again. */
  readonly claimCode: string | null;
  readonly createdAt: string;
  /** When the enrollment was stored; only on a claimed record. */
  readonly claimedAt?: string;
}

export interface DeviceIdentity {
  readonly gatewayId: string;
  readonly gatewayIdSource: GatewayIdSource;
  readonly dir: string;
  readonly keyPath: string;
  /** Permission bits of the key file as found, e.g. 0o600. */
  readonly keyMode: number;
  readonly csrPath: string;
  readonly csrPem: string;
  readonly claimPath: string;
  /** Undefined once the gateway is claimed (enrolled): the code is used up. */
  readonly claimCode: string | undefined;
  readonly claimedAt: string | undefined;
  readonly createdAt: string;
  /** True when this call made the key (the first start). */
  readonly created: boolean;
}

export function loadOrCreateIdentity(dataDir: string, resolved: ResolvedGatewayId, now: () => Date = () => new Date()): DeviceIdentity {
  const dir = join(dataDir, IDENTITY_DIR);
  const keyPath = join(dir, KEY_FILE);
  const csrPath = join(dir, CSR_FILE);
  const claimPath = join(dir, CLAIM_FILE);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    followOwner(dir, dataDir);
  } catch (error: unknown) {
    throw new IdentityError(`cannot create ${dir}: ${fsReason(error)}`, { cause: error });
  }

  const owner = (path: string): void => followOwner(path, dataDir);
  let claim = readClaim(claimPath);
  let keyPem = readKey(keyPath);
  if (claim === undefined && keyPem !== undefined) {
    throw new IdentityError(
      `${claimPath} is missing but ${keyPath} exists; the key may already be enrolled, so no new identity is made over it. ` +
        'Restore claim.json from a backup, or remove the identity folder to start over as a new, unclaimed gateway.',
    );
  }
  if (claim === undefined) {
    const fresh: ClaimRecord = { version: 1, gatewayId: resolved.gatewayId, gatewayIdSource: resolved.source, claimCode: generateClaimCode(), createdAt: now().toISOString() };
    // Exclusive: a second `provision status` started at the same moment shows the winner's code, not its own.
    claim = writeSecret(claimPath, `${JSON.stringify(fresh, null, 2)}\n`, owner, true) ? fresh : readClaim(claimPath);
    if (claim === undefined) throw new IdentityError(`${claimPath} vanished while it was being made`);
  }
  if (claim.claimCode !== null && existsSync(join(dir, CERTIFICATE_FILE))) {
    // Enrolled, but the power went before the code was struck out: finish that now.
    claim = { ...claim, claimCode: null, claimedAt: statSync(join(dir, CERTIFICATE_FILE)).mtime.toISOString() };
    writeSecret(claimPath, `${JSON.stringify(claim, null, 2)}\n`, owner);
  }
  if (claim.gatewayId !== resolved.gatewayId || claim.gatewayIdSource !== resolved.source) {
    // The id changed (gatewayId set in the file after the first start): the record and the CSR
    // follow it; the key and the claim code stay. An enrolled certificate keeps the CN it was
    // issued with (renewal asks for that CN, certificate-renewal.ts).
    claim = { ...claim, gatewayId: resolved.gatewayId, gatewayIdSource: resolved.source };
    writeSecret(claimPath, `${JSON.stringify(claim, null, 2)}\n`, owner);
  }

  let created = false;
  if (keyPem === undefined) {
    const fresh = generateKeyPairSync('rsa', { modulusLength: RSA_BITS, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } }).privateKey;
    created = writeSecret(keyPath, fresh, owner, true);
    keyPem = created ? fresh : readKey(keyPath);
    if (keyPem === undefined) throw new IdentityError(`${keyPath} vanished while it was being made`);
  }

  // The CSR is derived from the key and the id: missing, damaged or stale, it is simply made again.
  let csrPem = readOptional(csrPath);
  if (csrPem === undefined || !csrMatches(csrPem, keyPem, claim.gatewayId)) {
    csrPem = buildCsr(keyPem, claim.gatewayId);
    write(csrPath, csrPem, 0o644, owner);
  }

  return {
    gatewayId: claim.gatewayId,
    gatewayIdSource: claim.gatewayIdSource,
    dir,
    keyPath,
    keyMode: statSync(keyPath).mode & 0o777,
    csrPath,
    csrPem,
    claimPath,
    claimCode: claim.claimCode ?? undefined,
    claimedAt: claim.claimedAt,
    createdAt: claim.createdAt,
    created,
  };
}

/**
 * Strike the used-up claim code out of claim.json (`claimCode: null`,
 * `claimedAt`), so nothing shows it again and no new code is made. Called by
 * storeEnrollment after gateway.crt is written.
 */
export function markClaimed(dataDir: string, now: () => Date = () => new Date()): void {
  const claimPath = join(dataDir, IDENTITY_DIR, CLAIM_FILE);
  const claim = readClaim(claimPath);
  if (claim === undefined) throw new IdentityError(`${claimPath} is missing; the enrollment is stored but the claim record cannot be marked claimed`);
  if (claim.claimCode === null) return;
  const claimed: ClaimRecord = { ...claim, claimCode: null, claimedAt: now().toISOString() };
  writeSecret(claimPath, `${JSON.stringify(claimed, null, 2)}\n`, (path) => followOwner(path, dataDir));
}

function readClaim(path: string): ClaimRecord | undefined {
  const text = readOptional(path);
  if (text === undefined) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error: unknown) {
    throw corrupt(path, 'not valid JSON', error);
  }
  if (!isClaimRecord(value)) throw corrupt(path, 'not a claim record (version 1 with gatewayId, gatewayIdSource, claimCode, createdAt)');
  return value;
}

function isClaimRecord(value: unknown): value is ClaimRecord {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return (
    record['version'] === 1 &&
    typeof record['gatewayId'] === 'string' &&
    GATEWAY_ID_SOURCES.includes(record['gatewayIdSource'] as GatewayIdSource) &&
    (isClaimCode(record['claimCode']) || (record['claimCode'] === null && typeof record['claimedAt'] === 'string')) &&
    typeof record['createdAt'] === 'string'
  );
}

function readKey(path: string): string | undefined {
  const pem = readOptional(path);
  if (pem === undefined) return undefined;
  let type: string | undefined;
  try {
    type = createPrivateKey(pem).asymmetricKeyType;
  } catch (error: unknown) {
    throw corrupt(path, 'not a readable PEM private key', error);
  }
  if (type !== 'rsa') throw corrupt(path, `a ${type ?? 'unknown'} key, not RSA`);
  return pem;
}

function corrupt(path: string, what: string, cause?: unknown): IdentityError {
  return new IdentityError(
    `${path} is ${what}; it is left as it is and no new identity is made, because the key may already be enrolled. ` +
      'Restore the identity folder from a backup, or remove it to start over as a new, unclaimed gateway.',
    cause === undefined ? undefined : { cause },
  );
}

/** File text, or undefined when it does not exist; any other failure (EACCES, EISDIR) is an IdentityError. */
function readOptional(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new IdentityError(`cannot read ${path}: ${fsReason(error)}; nothing is regenerated over it`, { cause: error });
  }
}

function writeSecret(path: string, text: string, owner: (path: string) => void, exclusive = false): boolean {
  return write(path, text, 0o600, owner, exclusive);
}

/** False when `exclusive` and the file already existed (it is then left as it is). */
function write(path: string, text: string, mode: number, owner: (path: string) => void, exclusive = false): boolean {
  try {
    const written = writeFileAtomic(path, text, mode, { exclusive });
    if (written) owner(path);
    return written;
  } catch (error: unknown) {
    throw new IdentityError(`cannot write ${path}: ${fsReason(error)}`, { cause: error });
  }
}

export function fsReason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code ?? (error instanceof Error ? error.message : String(error));
}

/**
 * Run as root (`sudo pleevi-edge provision status`), the files would belong to
 * root and the service user could not read its own key: they take the owner
 * of dataDir instead, which the installation gives to the service user.
 */
export function followOwner(path: string, dataDir: string): void {
  if (process.getuid?.() !== 0) return;
  const { uid, gid } = statSync(dataDir);
  if (uid !== 0 || gid !== 0) chownSync(path, uid, gid);
}
