/**
 * `npm run release [-- --version X] [--signing-key FILE] [--out DIR] [--arch ARCH]`:
 * the signed release bundle of docs/install.md.
 *
 * Builds the release tree `pleevi-edge-<version>/` (compiled JS, production
 * node_modules only, the unit files, scripts/install.sh, release.json) in a
 * staging folder, packs it with the system `tar` (sorted names, owner 0/0, a
 * fixed mtime) and gzip (no name, no time in the header), and writes beside
 * it the `.sha256` (sha256sum format) and the `.sig` (Ed25519 over the exact
 * bytes of the .tar.gz, base64 and a newline).
 *
 * Expects `npm run build` to have run (the npm script does it first).
 */
import { spawnSync } from 'node:child_process';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

/** The checkout: this file runs as dist/scripts/release/release.js. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export interface ReleaseOptions {
  readonly version: string;
  readonly arch: string;
  readonly outDir: string;
  readonly signingKey: string | undefined;
  /** Without --signing-key: the development key, made once (one for every arch's default folder). */
  readonly devKeyFile: string;
  /**
   * For another arch, optional: a Debian trixie tree of that arch (binfmt runs
   * its binaries through qemu-user) whose node loads the cross-compiled addon
   * once before it goes into the bundle.
   */
  readonly checkRoot: string | undefined;
}

export interface ReleaseResult {
  readonly tarball: string;
  readonly sha256File: string;
  readonly signatureFile: string;
  readonly publicKeyFile: string;
  readonly sha256: string;
  readonly bytes: number;
  readonly devKeyCreated: boolean;
  readonly info: ReleaseInfo;
}

export interface ReleaseInfo {
  readonly name: 'pleevi-edge';
  readonly version: string;
  readonly arch: string;
  readonly nodeAbi: string;
  readonly commit: string;
  readonly builtAt: string;
}

const VERSION_RULE = /^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/;

function usage(): string {
  return [
    'usage: npm run release [-- --version X] [--signing-key FILE] [--out DIR] [--arch x64|arm64]',
    '  --version X         the release version (default: package.json\'s)',
    '  --signing-key FILE  Ed25519 private key, PKCS8 PEM (default: a development key in OUT, made once)',
    '  --out DIR           where the bundle goes (default: release/ in the checkout, release/<arch>/ for another arch)',
    `  --arch ARCH         the target's process.arch (default: this machine's, ${process.arch}); another arch`,
    '                      cross-compiles the native module (Debian: g++-aarch64-linux-gnu); see docs/install.md',
    '  --check-root DIR    with another --arch: a Debian trixie tree of that arch whose node loads the',
    '                      compiled module once (chroot, qemu-user)',
  ].join('\n');
}

class UsageError extends Error {}

export function parseReleaseArgs(argv: readonly string[]): ReleaseOptions {
  const packageVersion = readPackageVersion();
  let version = packageVersion;
  let arch = process.arch as string;
  let outDir: string | undefined;
  let signingKey: string | undefined;
  let checkRoot: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = (): string => {
      const next = argv[++i];
      if (next === undefined || next.startsWith('--')) throw new UsageError(`${flag} needs a value`);
      return next;
    };
    switch (flag) {
      case '--version': version = value(); break;
      case '--arch': arch = value(); break;
      case '--out': outDir = resolve(value()); break;
      case '--signing-key': signingKey = resolve(value()); break;
      case '--check-root': checkRoot = resolve(value()); break;
      default: throw new UsageError(`unknown argument "${flag}"`);
    }
  }
  if (!VERSION_RULE.test(version)) throw new UsageError(`version "${version}": letters, digits and . + _ - only, starting with a letter or digit`);
  if (arch !== 'x64' && arch !== 'arm64') throw new UsageError(`arch "${arch}": x64 or arm64`);
  if (checkRoot !== undefined && arch === process.arch) throw new UsageError('--check-root is for another --arch than this machine\'s');
  // Another arch's bundle carries the same name: it goes into its own folder.
  const devKeyFile = join(outDir ?? join(ROOT, 'release'), 'dev-signing-key.pem');
  outDir ??= arch === process.arch ? join(ROOT, 'release') : join(ROOT, 'release', arch);
  return { version, arch, outDir, signingKey, devKeyFile, checkRoot };
}

function readPackageVersion(): string {
  const parsed = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  return parsed.version;
}

function run(command: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = process.env): string {
  const result = spawnSync(command, args, { cwd, env, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw new Error(`${command} ${args.join(' ')}: ${result.error.message}`);
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (exit ${result.status}):\n${result.stderr.trim()}`);
  }
  return result.stdout;
}

/** The commit and the time everything in the bundle is stamped with. */
function sourceStamp(): { commit: string; epoch: number } {
  const fromEnv = process.env.SOURCE_DATE_EPOCH;
  const git = (args: string[]): string | undefined => {
    const result = spawnSync('git', args, { cwd: ROOT, encoding: 'utf8' });
    return result.status === 0 ? result.stdout.trim() : undefined;
  };
  const head = git(['rev-parse', 'HEAD']);
  const dirty = head !== undefined && (git(['status', '--porcelain', '--untracked-files=no']) ?? '') !== '';
  const commit = head === undefined ? 'unknown' : dirty ? `${head}-dirty` : head;
  if (fromEnv !== undefined && /^\d+$/.test(fromEnv)) return { commit, epoch: Number(fromEnv) };
  // A clean commit gives the same stamp on every build; a changed tree is stamped now.
  const commitTime = head !== undefined && !dirty ? git(['log', '-1', '--format=%ct']) : undefined;
  return { commit, epoch: commitTime !== undefined ? Number(commitTime) : Math.floor(Date.now() / 1000) };
}

function loadSigningKey(options: ReleaseOptions): { key: KeyObject; devKeyCreated: boolean } {
  let path = options.signingKey;
  let devKeyCreated = false;
  if (path === undefined) {
    path = options.devKeyFile;
    if (!existsSync(path)) {
      mkdirSync(dirname(path), { recursive: true });
      const { privateKey } = generateKeyPairSync('ed25519');
      writeFileSync(path, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
      devKeyCreated = true;
    }
  }
  const key = createPrivateKey(readFileSync(path));
  if (key.asymmetricKeyType !== 'ed25519') throw new UsageError(`${path}: an Ed25519 private key is needed, this is ${key.asymmetricKeyType ?? 'not a private key'}`);
  return { key, devKeyCreated };
}

/** Every regular file under dir, relative, for copying compiled JS without its source maps. */
function filesUnder(dir: string, keep: (name: string) => boolean): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile() && keep(entry.name)) out.push(relative(dir, join(entry.parentPath, entry.name)));
  }
  return out.sort();
}

function copyInto(from: string, to: string, mode = 0o644): void {
  mkdirSync(dirname(to), { recursive: true });
  copyFileSync(from, to);
  chmodSync(to, mode);
}

/**
 * Production dependencies from the lock file, without running any package's
 * install script; then the native addons, which only an install script would
 * have built, come from the checkout's node_modules (built for this machine).
 */
function installProductionModules(tree: string, options: ReleaseOptions): string {
  const cross = options.arch !== process.arch;
  // Checked first: a missing cross compiler should not cost an npm ci.
  const toolchain = cross ? crossToolchain(options.arch) : undefined;
  run('npm', ['ci', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--loglevel=error'], tree, {
    ...process.env,
    npm_config_update_notifier: 'false',
  });
  const modules = join(tree, 'node_modules');
  if (toolchain !== undefined) return crossCompileNative(modules, options, toolchain);
  for (const name of nativePackages(modules)) {
    const staged = join(modules, name);
    const built = join(ROOT, 'node_modules', name);
    const stagedVersion = (JSON.parse(readFileSync(join(staged, 'package.json'), 'utf8')) as { version: string }).version;
    const builtVersion = existsSync(join(built, 'package.json'))
      ? (JSON.parse(readFileSync(join(built, 'package.json'), 'utf8')) as { version: string }).version
      : undefined;
    if (builtVersion !== stagedVersion) {
      throw new Error(`${name}: the lock file has ${stagedVersion}, the checkout's node_modules ${builtVersion ?? 'nothing'}: run npm ci first`);
    }
    const release = join(built, 'build', 'Release');
    const addons = existsSync(release) ? compiledAddons(release) : [];
    if (addons.length === 0) throw new Error(`${name}: no compiled addon in ${release}: run npm ci (or npm rebuild ${name}) first`);
    for (const addon of addons) copyInto(join(release, addon), join(staged, 'build', 'Release', addon), 0o755);
    dropSources(staged);
  }
  // Loading the addon proves it matches this Node (the target's ABI, checked above).
  run(process.execPath, ['--input-type=module', '-e', "import Database from 'better-sqlite3'; new Database(':memory:').prepare('select 1').get();"], tree);
  return process.versions.modules;
}

/** The addons node-gyp built into `release` (build/Release), without better-sqlite3's test extension. */
function compiledAddons(release: string): string[] {
  return readdirSync(release).filter((file) => file.endsWith('.node') && !file.startsWith('test_'));
}

/** The C sources are only needed to compile: the release never does. */
function dropSources(packageDir: string): void {
  rmSync(join(packageDir, 'deps'), { recursive: true, force: true });
  rmSync(join(packageDir, 'src'), { recursive: true, force: true });
}

/** The GNU triplets of Debian's cross compilers (package g++-<triplet>). */
const CROSS_TRIPLETS: Readonly<Record<string, string>> = { arm64: 'aarch64-linux-gnu', x64: 'x86_64-linux-gnu' };

interface CrossToolchain {
  readonly triplet: string;
  /** Node's headers: the prefix that holds include/node/node.h. */
  readonly nodeDir: string;
  readonly nodeGyp: string;
}

/**
 * What compiling for another arch takes, found or refused with the package
 * to install: Debian's cross g++, the running Node's headers (the addon is
 * built for this Node's major version, so its ABI: the target runs Node 20
 * from Debian, as this machine must), and npm's own node-gyp.
 */
function crossToolchain(arch: string): CrossToolchain {
  const triplet = CROSS_TRIPLETS[arch];
  if (triplet === undefined) throw new UsageError(`no cross compiler known for ${arch}`);
  const compiler = spawnSync(`${triplet}-g++`, ['--version'], { encoding: 'utf8' });
  if (compiler.status !== 0) {
    throw new Error(
      `an ${arch} release compiles better-sqlite3 with ${triplet}-g++, which is not installed ` +
        `(Debian: apt-get install g++-${triplet}); or run \`npm ci && npm run release\` on an ${arch} machine with Node 20`,
    );
  }
  const nodeDir = resolve(dirname(process.execPath), '..');
  if (!existsSync(join(nodeDir, 'include', 'node', 'node.h'))) {
    throw new Error(`no Node headers under ${nodeDir}/include/node (Debian: the nodejs package from NodeSource, or libnode-dev)`);
  }
  const npmCli = process.env.npm_execpath;
  const candidates = [
    ...(npmCli ? [join(dirname(npmCli), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js')] : []),
    join(nodeDir, 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
  ];
  const nodeGyp = candidates.find((candidate) => existsSync(candidate));
  if (nodeGyp === undefined) throw new Error(`npm's node-gyp not found (looked in ${candidates.join(', ')})`);
  return { triplet, nodeDir, nodeGyp };
}

/**
 * Each native addon compiled for the target with Debian's cross compiler
 * (about a minute for better-sqlite3's SQLite, against half an hour and more
 * under qemu-user), checked to be an ELF of the target's machine, and loaded
 * once by the target's own node when a --check-root tree is given.
 * Returns the Node ABI the addon was built for.
 */
function crossCompileNative(modules: string, options: ReleaseOptions, toolchain: CrossToolchain): string {
  const env = {
    ...process.env,
    CC: `${toolchain.triplet}-gcc`,
    CXX: `${toolchain.triplet}-g++`,
    LINK: `${toolchain.triplet}-g++`,
    AR: `${toolchain.triplet}-ar`,
    npm_config_update_notifier: 'false',
  };
  for (const name of nativePackages(modules)) {
    const dir = join(modules, name);
    run(process.execPath, [toolchain.nodeGyp, 'rebuild', '--release', `--arch=${options.arch}`, `--nodedir=${toolchain.nodeDir}`, '--jobs=2'], dir, env);
    const release = join(dir, 'build', 'Release');
    const addons = compiledAddons(release);
    if (addons.length === 0) throw new Error(`${name}: node-gyp built no addon for ${options.arch}`);
    // Only the addons stay: the object files are tens of megabytes the target never reads.
    for (const entry of readdirSync(release)) if (!addons.includes(entry)) rmSync(join(release, entry), { recursive: true, force: true });
    for (const entry of readdirSync(join(dir, 'build'))) if (entry !== 'Release') rmSync(join(dir, 'build', entry), { recursive: true, force: true });
    for (const addon of addons) assertElfMachine(join(release, addon), options.arch);
    dropSources(dir);
  }
  if (options.checkRoot !== undefined) loadInTargetTree(modules, options.checkRoot, options.arch);
  return process.versions.modules;
}

/** ELF e_machine values (the ELF specification's table) of the arches we ship. */
const ELF_MACHINES: Readonly<Record<string, number>> = { x64: 62, arm64: 183 };

function assertElfMachine(file: string, arch: string): void {
  const header = readFileSync(file).subarray(0, 20);
  const isElf = header.length === 20 && header.readUInt32BE(0) === 0x7f454c46;
  const machine = isElf ? header.readUInt16LE(18) : -1;
  if (machine !== ELF_MACHINES[arch]) throw new Error(`${file}: not an ${arch} ELF object (e_machine ${machine})`);
}

/** The target tree's node (through qemu-user) opens a database with the staged modules. */
function loadInTargetTree(modules: string, root: string, arch: string): void {
  const inRoot = (script: string): string =>
    // `env -i`: nothing of this machine's environment (a NODE_OPTIONS preload, say) means anything inside the tree.
    run('chroot', [root, '/usr/bin/env', '-i', 'PATH=/usr/sbin:/usr/bin:/sbin:/bin', 'HOME=/tmp', 'LANG=C.UTF-8', '/bin/sh', '-c', script], modules);
  const [targetArch, abi, nodeVersion] = inRoot("node -p 'process.arch + \" \" + process.versions.modules + \" \" + process.version'").trim().split(' ');
  if (targetArch !== arch) throw new Error(`${root}: its node is ${targetArch ?? '?'}, not ${arch}`);
  if (abi !== process.versions.modules) throw new Error(`${root}: its node has ABI ${abi ?? '?'}, the addon was built for ${process.versions.modules}`);
  const work = mkdtempSync(join(root, 'tmp', 'pleevi-check-'));
  try {
    cpSync(modules, join(work, 'node_modules'), { recursive: true, verbatimSymlinks: true });
    inRoot(`cd /tmp/${basename(work)} && node -e "new (require('better-sqlite3'))(':memory:').prepare('select 1').get()"`);
    process.stdout.write(`better-sqlite3 opened a database in ${root}'s node (${targetArch}, ${nodeVersion ?? '?'}, ABI ${abi})\n`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Top-level packages (scoped too) that compile a native addon (a binding.gyp). */
function nativePackages(modules: string): string[] {
  const names: string[] = [];
  for (const entry of readdirSync(modules)) {
    if (entry.startsWith('.')) continue;
    const candidates = entry.startsWith('@') ? readdirSync(join(modules, entry)).map((sub) => `${entry}/${sub}`) : [entry];
    for (const name of candidates) if (existsSync(join(modules, name, 'binding.gyp'))) names.push(name);
  }
  return names.sort();
}

function buildTree(tree: string, options: ReleaseOptions, stamp: Omit<ReleaseInfo, 'nodeAbi'>): ReleaseInfo {
  mkdirSync(tree, { recursive: true });
  const withVersion = (file: string): string => {
    const parsed = JSON.parse(readFileSync(join(ROOT, file), 'utf8')) as Record<string, unknown> & { packages?: Record<string, Record<string, unknown>> };
    parsed.version = options.version;
    const top = parsed.packages?.[''];
    if (top) top.version = options.version;
    return `${JSON.stringify(parsed, null, 2)}\n`;
  };
  copyInto(join(ROOT, 'package.json'), join(tree, 'package.json'));
  copyInto(join(ROOT, 'package-lock.json'), join(tree, 'package-lock.json'));
  const nodeAbi = installProductionModules(tree, options);
  // release.json's keys in the layout's order.
  const info: ReleaseInfo = { name: stamp.name, version: stamp.version, arch: stamp.arch, nodeAbi, commit: stamp.commit, builtAt: stamp.builtAt };
  // The version the release reports (`pleevi-edge --version`) is the release's.
  writeFileSync(join(tree, 'package.json'), withVersion('package.json'));
  writeFileSync(join(tree, 'package-lock.json'), withVersion('package-lock.json'));
  copyInto(join(ROOT, 'README.md'), join(tree, 'README.md'));
  copyInto(join(ROOT, 'LICENSE'), join(tree, 'LICENSE'));

  const compiled = join(ROOT, 'dist', 'agent', 'src');
  if (!existsSync(join(compiled, 'cli', 'main.js'))) throw new Error(`${compiled}: not built; run npm run build first`);
  for (const file of filesUnder(compiled, (name) => name.endsWith('.js') || name.endsWith('.cjs') || name.endsWith('.json'))) {
    copyInto(join(compiled, file), join(tree, 'dist', 'agent', 'src', file));
  }
  writeFileSync(join(tree, 'dist', 'build-info.json'), `${JSON.stringify({ builtAt: info.builtAt, version: options.version }, null, 2)}\n`);
  copyInto(join(ROOT, 'agent', 'bin', 'pleevi-edge.js'), join(tree, 'agent', 'bin', 'pleevi-edge.js'), 0o755);

  for (const file of readdirSync(join(ROOT, 'systemd')).sort()) {
    if (statSync(join(ROOT, 'systemd', file)).isFile()) copyInto(join(ROOT, 'systemd', file), join(tree, 'systemd', file));
  }
  copyInto(join(ROOT, 'scripts', 'install.sh'), join(tree, 'scripts', 'install.sh'), 0o755);
  writeFileSync(join(tree, 'release.json'), `${JSON.stringify(info, null, 2)}\n`);
  return info;
}

export function makeRelease(options: ReleaseOptions): ReleaseResult {
  mkdirSync(options.outDir, { recursive: true });
  const { key, devKeyCreated } = loadSigningKey(options);
  const { commit, epoch } = sourceStamp();
  const stamp = {
    name: 'pleevi-edge' as const,
    version: options.version,
    arch: options.arch,
    commit,
    builtAt: new Date(epoch * 1000).toISOString(),
  };
  const name = `pleevi-edge-${options.version}`;
  const stage = mkdtempSync(join(options.outDir, '.stage-'));
  try {
    const info = buildTree(join(stage, name), options, stamp);
    const tarPath = join(stage, `${name}.tar`);
    run('tar', [
      '--sort=name', '--owner=0', '--group=0', '--numeric-owner', `--mtime=@${epoch}`,
      '--mode=u+rw,go-w,a+rX', '--format=gnu',
      '-C', stage, '-cf', tarPath, name,
    ], stage);
    // zlib's gzip header carries no file name and a zero time: the same tar gives the same bytes.
    const bytes = gzipSync(readFileSync(tarPath), { level: 9 });
    const tarball = join(options.outDir, `${name}.tar.gz`);
    writeFileSync(`${tarball}.tmp`, bytes);
    renameSync(`${tarball}.tmp`, tarball);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    writeFileSync(`${tarball}.sha256`, `${sha256}  ${basename(tarball)}\n`);
    writeFileSync(`${tarball}.sig`, `${sign(null, bytes, key).toString('base64')}\n`);
    const publicKeyFile = join(options.outDir, 'update-signing.pub');
    writeFileSync(publicKeyFile, createPublicKey(key).export({ type: 'spki', format: 'pem' }));
    return { tarball, sha256File: `${tarball}.sha256`, signatureFile: `${tarball}.sig`, publicKeyFile, sha256, bytes: bytes.length, devKeyCreated, info };
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

function megabytes(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function main(argv: readonly string[]): number {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`${usage()}\n`);
    return 0;
  }
  let options: ReleaseOptions;
  try {
    options = parseReleaseArgs(argv);
  } catch (error: unknown) {
    process.stderr.write(`release: ${(error as Error).message}\n${usage()}\n`);
    return 2;
  }
  try {
    const result = makeRelease(options);
    if (result.devKeyCreated) {
      process.stdout.write(`made a DEVELOPMENT signing key: ${options.devKeyFile} (give --signing-key for a real release)\n`);
    }
    process.stdout.write(
      [
        `release ${options.version} (${result.info.arch}, Node ABI ${result.info.nodeAbi})`,
        `  ${result.tarball}  ${megabytes(result.bytes)} (${result.bytes} bytes)`,
        `  ${result.sha256File}  ${result.sha256}`,
        `  ${result.signatureFile}`,
        `  ${result.publicKeyFile}  (the public key to pin: install.sh --signing-key)`,
      ].join('\n') + '\n',
    );
    return 0;
  } catch (error: unknown) {
    process.stderr.write(`release: ${(error as Error).message}\n`);
    return error instanceof UsageError ? 2 : 1;
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
