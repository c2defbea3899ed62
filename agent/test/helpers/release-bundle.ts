/**
 * Release bundles in the layout of the appliance plan (docs/appliance.md
 * "Updates"), made by the tests themselves from this checkout's build:
 * `pleevi-edge-<version>/` with release.json, package.json (with that
 * version), a copy of dist/, agent/bin/pleevi-edge.js, systemd/, and
 * node_modules as a symbolic link to the checkout's (the tests run on this
 * machine); packed with the system tar and signed with Ed25519 like
 * `npm run release` does. Stands in for the release script until that
 * lands; the format is the same.
 */
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sha256Hex } from '../../src/update/verify-bundle.js';
import { ROOT } from './run-cli.js';

export interface SigningKeys {
  readonly privateKey: KeyObject;
  /** SPKI PEM, what `/etc/pleevi-edge/update-signing.pub` holds. */
  readonly publicKeyPem: string;
}

export function makeSigningKeys(): SigningKeys {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  return { privateKey, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString() };
}

export interface BundleOptions {
  readonly version: string;
  /** Where the .tar.gz and .sig go. */
  readonly outDir: string;
  readonly keys: SigningKeys;
  /** Default `process.arch`. */
  readonly arch?: string;
  /** Replaces agent/bin/pleevi-edge.js (a release that never becomes ready). */
  readonly entryPoint?: string;
}

export interface ReleaseBundle {
  readonly version: string;
  readonly file: string;
  readonly sigFile: string;
  readonly sha256: string;
}

export function buildReleaseBundle(options: BundleOptions): ReleaseBundle {
  const { version } = options;
  const work = mkdtempSync(join(tmpdir(), 'pe-release-'));
  try {
    const top = join(work, `pleevi-edge-${version}`);
    mkdirSync(join(top, 'agent', 'bin'), { recursive: true });
    const manifest = { name: 'pleevi-edge', version, arch: options.arch ?? process.arch, nodeAbi: process.versions.modules, commit: 'test', builtAt: new Date().toISOString() };
    writeFileSync(join(top, 'release.json'), `${JSON.stringify(manifest, null, 2)}\n`);
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(top, 'package.json'), `${JSON.stringify({ ...pkg, version }, null, 2)}\n`);
    for (const file of ['package-lock.json', 'README.md', 'LICENSE']) cpSync(join(ROOT, file), join(top, file));
    // Compiled code only: the tests' own compiled files stay out, as they would in a release.
    cpSync(join(ROOT, 'dist'), join(top, 'dist'), { recursive: true, filter: (source) => !source.includes('/dist/agent/test') && !source.endsWith('.map') });
    cpSync(join(ROOT, 'systemd'), join(top, 'systemd'), { recursive: true });
    if (options.entryPoint !== undefined) writeFileSync(join(top, 'agent', 'bin', 'pleevi-edge.js'), options.entryPoint);
    else cpSync(join(ROOT, 'agent', 'bin', 'pleevi-edge.js'), join(top, 'agent', 'bin', 'pleevi-edge.js'));
    symlinkSync(join(ROOT, 'node_modules'), join(top, 'node_modules'));
    mkdirSync(options.outDir, { recursive: true });
    const file = join(options.outDir, `pleevi-edge-${version}.tar.gz`);
    const packed = spawnSync('tar', ['-czf', file, '-C', work, `pleevi-edge-${version}`], { encoding: 'utf8' });
    if (packed.status !== 0) throw new Error(`tar failed: ${packed.stderr}`);
    const bytes = readFileSync(file);
    const sigFile = `${file}.sig`;
    writeFileSync(sigFile, `${sign(null, bytes, options.keys.privateKey).toString('base64')}\n`);
    return { version, file, sigFile, sha256: sha256Hex(bytes) };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
