import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, runProgram, type CliRun } from './run-cli.js';

export { runProgram };

/** The compiled release script (npm run release runs it after the build; npm test builds first). */
export const RELEASE_SCRIPT = join(ROOT, 'dist/scripts/release/release.js');
export const INSTALL_SCRIPT = join(ROOT, 'scripts/install.sh');

export interface BuiltRelease {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly tarball: string;
  readonly privateKeyFile: string;
  readonly publicKeyPem: string;
}

/** What a spawned program did (helpers/run-cli.ts). */
export type Run = CliRun;

/** A real release (the real script, the real npm ci) into outDir, signed with a fresh Ed25519 key. */
export async function buildRelease(outDir: string, version: string, extraArgs: readonly string[] = []): Promise<BuiltRelease> {
  mkdirSync(outDir, { recursive: true });
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const privateKeyFile = join(outDir, 'test-signing-key.pem');
  writeFileSync(privateKeyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const run = await runProgram(process.execPath, [RELEASE_SCRIPT, '--version', version, '--signing-key', privateKeyFile, '--out', outDir, ...extraArgs]);
  return {
    ...run,
    tarball: join(outDir, `pleevi-edge-${version}.tar.gz`),
    privateKeyFile,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}
