import t from 'tap';
import { spawnSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT, runProgram } from '../../agent/test/helpers/run-cli.js';

/**
 * The arm64 release made on an x64 machine (docs/install.md "arm64"): `npm
 * run release -- --arch arm64` cross-compiles better-sqlite3 with Debian's
 * g++-aarch64-linux-gnu. Checked: the bundle is signed, says arm64, and its
 * addon is an AArch64 ELF object; with PLEEVI_ARM64_ROOT (an arm64 Debian
 * trixie tree with nodejs, binfmt qemu-user, run as root) the tree's own node
 * opens a database with it (--check-root).
 *
 * Not part of `npm test` (the cross compile takes over a minute of CPU and
 * a compiler CI does not install): `npm run test:arm64`.
 */

t.setTimeout(1_800_000);

const compiler = spawnSync('aarch64-linux-gnu-g++', ['--version']);
const checkRoot = process.env['PLEEVI_ARM64_ROOT'];

t.test('an arm64 release cross-compiled on x64: signed, arm64, the addon an AArch64 ELF', async (t) => {
  t.equal(process.arch, 'x64', 'this check is the cross build from x64');
  t.equal(compiler.status, 0, 'aarch64-linux-gnu-g++ is installed (apt-get install g++-aarch64-linux-gnu)');
  const dir = mkdtempSync(join(tmpdir(), 'pleevi-arm64-release-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const keyFile = join(dir, 'signing-key.pem');
  writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
  const out = join(dir, 'out');
  const args = [join(ROOT, 'dist/scripts/release/release.js'), '--arch', 'arm64', '--version', '0.0.2-cross', '--signing-key', keyFile, '--out', out];
  if (checkRoot) args.push('--check-root', checkRoot);
  const run = await runProgram(process.execPath, args);
  t.equal(run.code, 0, run.stderr);
  t.comment(run.stdout.trim());

  const tarball = join(out, 'pleevi-edge-0.0.2-cross.tar.gz');
  const bytes = readFileSync(tarball);
  const signature = Buffer.from(readFileSync(`${tarball}.sig`, 'utf8').trim(), 'base64');
  t.ok(verify(null, bytes, createPublicKey(publicKey.export({ type: 'spki', format: 'pem' })), signature), 'signed with the release key');
  const unpacked = join(dir, 'unpacked');
  mkdirSync(unpacked);
  t.equal(spawnSync('tar', ['-xzf', tarball, '-C', unpacked]).status, 0, 'unpacks');
  const top = join(unpacked, 'pleevi-edge-0.0.2-cross');
  t.match(JSON.parse(readFileSync(join(top, 'release.json'), 'utf8')), { arch: 'arm64', nodeAbi: process.versions.modules });
  const addon = readFileSync(join(top, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node'));
  t.equal(addon.readUInt32BE(0), 0x7f454c46, 'the addon is an ELF object');
  t.equal(addon.readUInt16LE(18), 183, 'for EM_AARCH64');
  t.notOk(existsSync(join(top, 'node_modules/better-sqlite3/deps')), 'no C sources in the bundle');
  if (checkRoot) t.match(run.stdout, /better-sqlite3 opened a database in .* \(arm64, v20\./, 'the arm64 tree\'s node loaded the addon (--check-root)');
  else t.comment('PLEEVI_ARM64_ROOT not set: the addon was not loaded by an arm64 node here');
});
