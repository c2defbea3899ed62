/**
 * The gateway's WireGuard key pair. A key is 32 bytes of X25519 in base64,
 * the form `wg genkey` / `wg pubkey` use; node:crypto makes and derives it,
 * so no `wg` binary is needed to show the public key.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { WIREGUARD_KEY_PATTERN } from '../config/config-wireguard.js';
import { writeFileAtomic } from '../provisioning/atomic-write.js';

/** PKCS#8 DER prefix of an X25519 private key (RFC 8410); the 32 raw bytes follow. */
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

/** A new private key, base64. */
export function generateWireguardPrivateKey(): string {
  const { privateKey } = generateKeyPairSync('x25519');
  const jwk = privateKey.export({ format: 'jwk' });
  if (typeof jwk.d !== 'string') throw new Error('X25519 key without its private part');
  return Buffer.from(jwk.d, 'base64url').toString('base64');
}

/** The public key of a base64 private key, base64 (what `wg pubkey` prints). */
export function wireguardPublicKey(privateKeyBase64: string): string {
  const raw = Buffer.from(privateKeyBase64.trim(), 'base64');
  if (raw.length !== 32) throw new Error('a WireGuard private key is 32 bytes');
  const privateKey = createPrivateKey({ key: Buffer.concat([X25519_PKCS8_PREFIX, raw]), format: 'der', type: 'pkcs8' });
  const jwk = createPublicKey(privateKey).export({ format: 'jwk' });
  if (typeof jwk.x !== 'string') throw new Error('X25519 public key without its value');
  return Buffer.from(jwk.x, 'base64url').toString('base64');
}

/**
 * The key at `path`, made there (mode 0600, atomically: two processes at once
 * end up with the same key) when it does not exist yet. Returns its public key.
 */
export function ensureWireguardKey(path: string): { publicKey: string; created: boolean } {
  let created = false;
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
    created = writeFileAtomic(path, `${generateWireguardPrivateKey()}\n`, 0o600, { exclusive: true });
  }
  return { publicKey: publicKeyOfFile(path), created };
}

/** The public key belonging to the private key file at `path`; throws when it cannot be read or is no key. */
export function publicKeyOfFile(path: string): string {
  const text = readFileSync(path, 'utf8').trim();
  // The message names the file, never what is in it.
  if (!WIREGUARD_KEY_PATTERN.test(text)) throw new Error(`${path} is not a WireGuard private key (32 bytes in base64)`);
  return wireguardPublicKey(text);
}
