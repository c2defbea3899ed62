import t from 'tap';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from './helpers/run-cli.js';
import { buildRelease, runProgram, type BuiltRelease } from './helpers/release.js';

// One real release (npm ci --omit=dev into a staging folder, tar, sign) for the whole file.
t.setTimeout(300_000);

const VERSION = '9.8.7-test.1';
const TOP = `pleevi-edge-${VERSION}`;
const dir = mkdtempSync(join(tmpdir(), 'pe-release-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const out = join(dir, 'out');
let release: BuiltRelease;
let entries: string[] = [];

t.before(async () => {
  release = await buildRelease(out, VERSION);
  if (release.code === 0) {
    const listing = await runProgram('tar', ['-tzf', release.tarball]);
    entries = listing.stdout.split('\n').filter((line) => line !== '');
  }
});

t.test('npm run release writes the bundle and says where', async (t) => {
  t.equal(release.code, 0, release.stderr);
  t.match(release.stdout, `${release.tarball}  `, 'the tarball path');
  t.match(release.stdout, /\d+\.\d MB \(\d+ bytes\)/, 'its size');
  t.match(release.stdout, `${release.tarball}.sha256`);
  t.match(release.stdout, `${release.tarball}.sig`);
  t.equal(readFileSync(join(out, 'update-signing.pub'), 'utf8'), release.publicKeyPem, 'the public key to pin is written beside');
});

t.test('the tarball holds the release tree under pleevi-edge-<version>/', async (t) => {
  for (const path of [
    'release.json',
    'package.json',
    'package-lock.json',
    'README.md',
    'LICENSE',
    'dist/build-info.json',
    'dist/agent/src/cli/main.js',
    'dist/agent/src/version.js',
    'agent/bin/pleevi-edge.js',
    'systemd/pleevi-edge.service',
    'scripts/install.sh',
    'node_modules/ws/package.json',
    'node_modules/better-sqlite3/build/Release/better_sqlite3.node',
  ]) {
    t.ok(entries.includes(`${TOP}/${path}`), path);
  }
  t.ok(entries.every((entry) => entry.startsWith(`${TOP}/`)), 'everything under the one top folder');
  const ours = entries.filter((entry) => !entry.startsWith(`${TOP}/node_modules/`));
  t.same(ours.filter((entry) => entry.includes('/dist/agent/test/') || entry.includes('/dist/scripts/') || entry.endsWith('.map')), [], 'no tests, dev scripts or source maps of ours');
  t.same(ours.filter((entry) => entry.endsWith('.ts')), [], 'no TypeScript sources of ours');
  t.same(entries.filter((entry) => /\/better-sqlite3\/(deps|src)\//.test(entry)), [], 'no C sources of the native module');

  // Every package the lock file marks dev-only is absent; the production ones are there.
  const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
  const devOnly = Object.entries(lock.packages).filter(([path, meta]) => path.startsWith('node_modules/') && meta.dev === true).map(([path]) => path);
  t.ok(devOnly.length > 50, 'the lock has dev-only packages to look for');
  const present = devOnly.filter((path) => entries.includes(`${TOP}/${path}/package.json`));
  t.same(present, [], 'no dev-only package');
  for (const name of ['tap', 'typescript', 'aedes', '@types/better-sqlite3']) {
    t.notOk(entries.some((entry) => entry.startsWith(`${TOP}/node_modules/${name}/`)), `no ${name}`);
  }
  for (const name of ['ajv', 'better-sqlite3', 'mqtt', 'node-forge', 'ocpp-rpc', 'pino', 'qrcode', 'systemd-notify', 'ws']) {
    t.ok(entries.includes(`${TOP}/node_modules/${name}/package.json`), `dependency ${name}`);
  }
});

t.test('the entries are sorted, owned by 0/0 and carry one fixed time', async (t) => {
  const verbose = await runProgram('tar', ['--numeric-owner', '--full-time', '-tvzf', release.tarball]);
  const lines = verbose.stdout.split('\n').filter((line) => line !== '');
  t.ok(lines.length > 1000);
  t.same(lines.filter((line) => line.split(/\s+/)[1] !== '0/0'), [], 'owner and group 0');
  t.equal(new Set(lines.map((line) => line.split(/\s+/).slice(3, 5).join(' '))).size, 1, 'one mtime');
  t.same(lines.filter((line) => /^.{5}w|^.{8}w/.test(line)), [], 'nothing writable by group or others');
  // --sort=name: the entries of each folder come in byte order of their names.
  const byFolder = new Map<string, string[]>();
  for (const entry of entries.map((name) => name.replace(/\/$/, ''))) {
    const cut = entry.lastIndexOf('/');
    const folder = entry.slice(0, Math.max(cut, 0));
    byFolder.set(folder, [...(byFolder.get(folder) ?? []), entry.slice(cut + 1)]);
  }
  const unsorted = [...byFolder].filter(([, names]) => names.join('\n') !== [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))).join('\n'));
  t.same(unsorted.map(([folder]) => folder), [], 'sorted by name in every folder');
  t.match(lines.find((line) => line.endsWith('/agent/bin/pleevi-edge.js')) ?? '', /^-rwxr-xr-x/, 'the CLI is executable');
  t.match(lines.find((line) => line.endsWith('/scripts/install.sh')) ?? '', /^-rwxr-xr-x/, 'install.sh is executable');
});

t.test('release.json, the sha256 file and the signature', async (t) => {
  const info = JSON.parse((await runProgram('tar', ['-xzOf', release.tarball, `${TOP}/release.json`])).stdout) as Record<string, unknown>;
  const head = (await runProgram('git', ['rev-parse', 'HEAD'])).stdout.trim();
  t.same(Object.keys(info), ['name', 'version', 'arch', 'nodeAbi', 'commit', 'builtAt']);
  t.equal(info.name, 'pleevi-edge');
  t.equal(info.version, VERSION);
  t.equal(info.arch, process.arch);
  t.equal(info.nodeAbi, process.versions.modules);
  t.match(info.commit, new RegExp(`^${head}(-dirty)?$`), 'the commit it was built from');
  t.ok(!Number.isNaN(Date.parse(String(info.builtAt))), 'builtAt is a time');
  const buildInfo = JSON.parse((await runProgram('tar', ['-xzOf', release.tarball, `${TOP}/dist/build-info.json`])).stdout) as Record<string, unknown>;
  t.same(buildInfo, { builtAt: info.builtAt, version: VERSION }, 'dist/build-info.json agrees');

  const bytes = readFileSync(release.tarball);
  const digest = createHash('sha256').update(bytes).digest('hex');
  t.equal(readFileSync(`${release.tarball}.sha256`, 'utf8'), `${digest}  ${TOP}.tar.gz\n`, 'sha256sum format');
  const check = await runProgram('sha256sum', ['-c', `${TOP}.tar.gz.sha256`], { cwd: out });
  t.equal(check.code, 0, 'sha256sum -c agrees');

  const signatureText = readFileSync(`${release.tarball}.sig`, 'utf8');
  t.match(signatureText, /^[A-Za-z0-9+/]+={0,2}\n$/, 'base64 and a newline');
  const signature = Buffer.from(signatureText.trim(), 'base64');
  t.equal(signature.length, 64, 'an Ed25519 signature');
  const publicKey = createPublicKey(release.publicKeyPem);
  t.ok(verify(null, bytes, publicKey, signature), 'verifies over the exact bytes');
  const flipped = Buffer.from(bytes);
  flipped[Math.floor(flipped.length / 2)] ^= 0x01;
  t.notOk(verify(null, flipped, publicKey, signature), 'one flipped bit and it fails');
});

t.test('the unpacked tree runs on its own, away from the checkout', async (t) => {
  const unpacked = join(dir, 'unpacked');
  const empty = join(dir, 'empty');
  mkdirSync(unpacked);
  mkdirSync(empty);
  t.equal((await runProgram('tar', ['-xzf', release.tarball, '-C', unpacked])).code, 0);
  const cli = join(unpacked, TOP, 'agent/bin/pleevi-edge.js');
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: empty };
  const version = await runProgram(process.execPath, [cli, '--version'], { cwd: empty, env });
  t.equal(version.code, 0, version.stderr);
  t.equal(version.stdout.trim(), VERSION, 'reports the release version');

  // The native module loads from the tree: the driver list lives in SQLite.
  const config = join(empty, 'config.json');
  writeFileSync(config, JSON.stringify({ dataDir: join(empty, 'data'), upstream: { url: 'ws://127.0.0.1:9/ocpp' } }));
  const csv = join(empty, 'drivers.csv');
  writeFileSync(csv, 'email,badge_ids\nada@example.com,AB12\n');
  const imported = await runProgram(process.execPath, [cli, 'drivers', 'import', csv, '--config', config], { cwd: empty, env });
  t.equal(imported.code, 0, imported.stderr);
  const lookup = await runProgram(process.execPath, [cli, 'drivers', 'lookup', 'ab12', '--json', '--config', config], { cwd: empty, env });
  t.equal(lookup.code, 0, lookup.stderr);
  t.match(lookup.stdout, /ada@example\.com/, 'better-sqlite3 from the release answered');
  t.ok(statSync(join(empty, 'data')).isDirectory());
});

t.test('another --arch without its cross compiler stops with the package to install', async (t) => {
  // PATH holds only node: no cross g++ can be found, whatever this machine has installed.
  const bin = join(dir, 'node-only-bin');
  mkdirSync(bin, { recursive: true });
  symlinkSync(process.execPath, join(bin, 'node'));
  const other = process.arch === 'arm64' ? 'x64' : 'arm64';
  const run = await runProgram(
    process.execPath,
    [join(ROOT, 'dist/scripts/release/release.js'), '--arch', other, '--version', '0.0.1-arch', '--signing-key', release.privateKeyFile, '--out', join(dir, 'arch')],
    { env: { ...process.env, PATH: bin } },
  );
  t.equal(run.code, 1);
  t.match(run.stderr, /apt-get install g\+\+-(aarch64|x86_64)-linux-gnu/, 'names the Debian package of the cross compiler');
  t.notOk(existsSync(join(dir, 'arch', 'pleevi-edge-0.0.1-arch.tar.gz')), 'no bundle written');
});

t.test('bad arguments are refused with the usage', async (t) => {
  const run = await runProgram(process.execPath, [join(ROOT, 'dist/scripts/release/release.js'), '--version', '../evil']);
  t.equal(run.code, 2);
  t.match(run.stderr, /version "\.\.\/evil"/);
  t.match(run.stderr, /usage: npm run release/);
});
