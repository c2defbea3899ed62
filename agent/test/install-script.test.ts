import t from 'tap';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { ROOT } from './helpers/run-cli.js';
import { buildRelease, INSTALL_SCRIPT, runProgram, type BuiltRelease, type Run } from './helpers/release.js';

// One real release for the file, installed into throwaway system trees (--root):
// about 3 minutes on a busy 2-core machine, 6 when it is very busy.
t.setTimeout(900_000);

const VERSION = '9.8.7-inst.1';
const dir = mkdtempSync(join(tmpdir(), 'pe-install-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
let release: BuiltRelease;
const publicKeyFile = join(dir, 'update-signing.pub');

t.before(async () => {
  release = await buildRelease(join(dir, 'out'), VERSION);
  if (release.code !== 0) throw new Error(`release failed: ${release.stderr}`);
  writeFileSync(publicKeyFile, release.publicKeyPem);
});

/** A system tree for useradd --root: the host's account files, nothing else. */
function makeRoot(name: string): string {
  const root = join(dir, name);
  mkdirSync(join(root, 'etc'), { recursive: true });
  for (const file of ['passwd', 'group', 'shadow', 'gshadow']) {
    copyFileSync(join('/etc', file), join(root, 'etc', file));
    chmodSync(join(root, 'etc', file), statSync(join('/etc', file)).mode & 0o7777);
  }
  return root;
}

/** Every path under root with its type and mode, owner, symlink target or content hash. */
function manifest(root: string): string[] {
  const lines: string[] = [];
  const walk = (path: string): void => {
    const st = lstatSync(path);
    let what = '';
    if (st.isSymbolicLink()) what = `-> ${readlinkSync(path)}`;
    else if (st.isFile()) what = createHash('sha256').update(readFileSync(path)).digest('hex');
    lines.push(`${relative(root, path) || '.'}\t${st.mode.toString(8)}\t${st.uid}:${st.gid}\t${what}`);
    if (st.isDirectory()) for (const name of readdirSync(path).sort()) walk(join(path, name));
  };
  walk(root);
  return lines;
}

function install(args: readonly string[], env: NodeJS.ProcessEnv = process.env, script = INSTALL_SCRIPT): Promise<Run> {
  return runProgram('bash', [script, ...args], { env });
}

function account(root: string, file: 'passwd' | 'group'): string[] | undefined {
  const line = readFileSync(join(root, 'etc', file), 'utf8').split('\n').find((entry) => entry.startsWith('pleevi-edge:'));
  return line?.split(':');
}

function modeOf(path: string): { mode: number; owner: string } {
  const st = lstatSync(path);
  return { mode: st.mode & 0o7777, owner: `${st.uid}:${st.gid}` };
}

const root = () => join(dir, 'image');
const opt = (...parts: string[]) => join(root(), 'opt/pleevi-edge', ...parts);

t.test('installs a release into an image tree (--root)', async (t) => {
  makeRoot('image');
  const run = await install(['--root', root(), '--signing-key', publicKeyFile, release.tarball]);
  t.equal(run.code, 0, run.stderr);
  t.match(run.stdout, /SHA-256 matches/);
  t.match(run.stdout, /signature verifies/);
  t.match(run.stdout, /usr\/bin\/node is missing or does not run here: Node\.js's version not checked/, 'no node in the tree: a note');

  const user = account(root(), 'passwd');
  const group = account(root(), 'group');
  if (!user || !group) throw new Error('no pleevi-edge account');
  const [uid, gid] = [Number(user[2]), Number(group[2])];
  t.ok(uid < 1000 && gid < 1000, 'a system user and group');
  t.equal(Number(user[3]), gid, 'in its own group');
  t.equal(user[5], '/var/lib/pleevi-edge', 'home is the state directory');
  t.equal(user[6], '/usr/sbin/nologin', 'no login shell');
  t.notOk(existsSync(join(root(), 'home/pleevi-edge')), 'no home made');

  const svc = `${uid}:${gid}`;
  t.same(modeOf(join(root(), 'etc/pleevi-edge')), { mode: 0o750, owner: `0:${gid}` }, '/etc/pleevi-edge');
  t.same(modeOf(join(root(), 'etc/pleevi-edge/config.json')), { mode: 0o640, owner: `0:${gid}` }, 'config.json');
  t.same(modeOf(join(root(), 'etc/pleevi-edge/update-signing.pub')), { mode: 0o644, owner: '0:0' }, 'the pinned key');
  t.equal(readFileSync(join(root(), 'etc/pleevi-edge/update-signing.pub'), 'utf8'), release.publicKeyPem);
  t.same(modeOf(join(root(), 'var/lib/pleevi-edge')), { mode: 0o750, owner: svc }, '/var/lib/pleevi-edge');
  t.same(modeOf(join(root(), 'var/lib/pleevi-edge/updates')), { mode: 0o750, owner: svc }, 'updates/');
  t.same(modeOf(opt()), { mode: 0o755, owner: '0:0' }, '/opt/pleevi-edge');
  t.same(modeOf(opt('releases', VERSION)), { mode: 0o755, owner: '0:0' }, 'the release folder');
  const config = JSON.parse(readFileSync(join(root(), 'etc/pleevi-edge/config.json'), 'utf8')) as Record<string, unknown>;
  t.same(config.dataDir, '/var/lib/pleevi-edge', 'a starter config');

  // The release is root's and nothing in it is writable by the service.
  const loose = manifest(opt('releases', VERSION)).filter((line) => {
    const [, mode, owner] = line.split('\t');
    return owner !== '0:0' || (!mode?.startsWith('12') && (parseInt(mode ?? '0', 8) & 0o022) !== 0);
  });
  t.same(loose, [], 'every file root-owned, none group- or world-writable');

  t.equal(readlinkSync(opt('current')), `releases/${VERSION}`, 'current, relative');
  t.equal(readlinkSync(join(root(), 'usr/local/bin/pleevi-edge')), '/opt/pleevi-edge/current/agent/bin/pleevi-edge.js');
  t.equal(readlinkSync(join(root(), 'etc/issue.d/pleevi-edge.issue')), '/var/lib/pleevi-edge/console/pleevi-edge.issue');
  const unit = join(root(), 'etc/systemd/system/pleevi-edge.service');
  t.equal(readFileSync(unit, 'utf8'), readFileSync(join(ROOT, 'systemd/pleevi-edge.service'), 'utf8'), 'the unit copied');
  t.same(modeOf(unit), { mode: 0o644, owner: '0:0' });
  t.equal(readlinkSync(join(root(), 'etc/systemd/system/multi-user.target.wants/pleevi-edge.service')), '/etc/systemd/system/pleevi-edge.service', 'enabled: the wants link');

  // What the unit runs is there and runs.
  const execStart = /^ExecStart=\/usr\/bin\/node (\S+) run/m.exec(readFileSync(unit, 'utf8'))?.[1] ?? '';
  const version = await runProgram(process.execPath, [join(root(), execStart), '--version'], { cwd: dir });
  t.equal(version.stdout.trim(), VERSION, 'the unit\'s ExecStart script runs from current');
});

t.test('a second run with the same release changes nothing', async (t) => {
  const before = manifest(root());
  const again = await install(['--root', root(), '--signing-key', publicKeyFile, release.tarball]);
  t.equal(again.code, 0, again.stderr);
  t.match(again.stdout, `release ${VERSION} is already in`);
  t.same(manifest(root()), before, 'paths, modes, owners, links and contents identical');
  // The install.sh inside the installed release installs its own release by default.
  const own = await install(['--root', root()], process.env, opt('current/scripts/install.sh'));
  t.equal(own.code, 0, own.stderr);
  t.same(manifest(root()), before, 'the same from the release folder');
});

t.test("the operator's config is never overwritten", async (t) => {
  const path = join(root(), 'etc/pleevi-edge/config.json');
  writeFileSync(path, '{"upstream":{"url":"wss://operator.example/ocpp"}}\n');
  const other = join(dir, 'other-config.json');
  writeFileSync(other, '{"upstream":{"url":"wss://other.example/ocpp"}}\n');
  const run = await install(['--root', root(), '--config', other, release.tarball]);
  t.equal(run.code, 0, run.stderr);
  t.match(run.stdout, /kept the existing .*config\.json/);
  t.equal(readFileSync(path, 'utf8'), '{"upstream":{"url":"wss://operator.example/ocpp"}}\n');
});

t.test('a new release switches current; the last three stay', async (t) => {
  const installed = opt('releases', VERSION);
  const versions = ['9.8.8', '9.8.9', '9.9.0'];
  for (const next of versions) {
    const tree = join(dir, `pleevi-edge-${next}`);
    cpSync(installed, tree, { recursive: true, verbatimSymlinks: true });
    const info = readFileSync(join(tree, 'release.json'), 'utf8');
    writeFileSync(join(tree, 'release.json'), info.replace(`"version": "${VERSION}"`, `"version": "${next}"`));
    const run = await install(['--root', root(), tree]);
    t.equal(run.code, 0, run.stderr);
    t.equal(readlinkSync(opt('current')), `releases/${next}`, `current -> ${next}`);
  }
  t.same(readdirSync(opt('releases')).sort(), versions, `${VERSION} removed, three kept`);
  t.equal(readlinkSync(join(root(), 'etc/systemd/system/multi-user.target.wants/pleevi-edge.service')), '/etc/systemd/system/pleevi-edge.service', 'still enabled');
});

t.test('--uninstall removes the program and keeps config, state and user', async (t) => {
  writeFileSync(join(root(), 'var/lib/pleevi-edge/pleevi-edge.db'), 'state');
  const run = await install(['--root', root(), '--uninstall']);
  t.equal(run.code, 0, run.stderr);
  for (const gone of ['opt/pleevi-edge', 'usr/local/bin/pleevi-edge', 'etc/issue.d/pleevi-edge.issue', 'etc/systemd/system/pleevi-edge.service', 'etc/systemd/system/multi-user.target.wants/pleevi-edge.service']) {
    t.notOk(existsSync(join(root(), gone)) || lstatExists(join(root(), gone)), `no ${gone}`);
  }
  t.equal(readFileSync(join(root(), 'etc/pleevi-edge/config.json'), 'utf8'), '{"upstream":{"url":"wss://operator.example/ocpp"}}\n', 'config kept');
  t.equal(readFileSync(join(root(), 'var/lib/pleevi-edge/pleevi-edge.db'), 'utf8'), 'state', 'state kept');
  t.ok(account(root(), 'passwd'), 'user kept');
});

t.test('--uninstall --purge removes config, state, user and group', async (t) => {
  const run = await install(['--root', root(), '--uninstall', '--purge']);
  t.equal(run.code, 0, run.stderr);
  t.notOk(existsSync(join(root(), 'etc/pleevi-edge')));
  t.notOk(existsSync(join(root(), 'var/lib/pleevi-edge')));
  t.notOk(account(root(), 'passwd'), 'no user');
  t.notOk(account(root(), 'group'), 'no group');
});

t.test('an old Node.js in the tree is refused and nothing is touched', async (t) => {
  const old = makeRoot('old-node');
  mkdirSync(join(old, 'usr/bin'), { recursive: true });
  writeFileSync(join(old, 'usr/bin/node'), '#!/bin/sh\necho v18.19.0\n', { mode: 0o755 });
  const before = manifest(old);
  const run = await install(['--root', old, release.tarball]);
  t.equal(run.code, 1);
  t.match(run.stderr, 'pleevi-edge needs Node.js 20 or newer; this system has v18.19.0. On Debian 12');
  t.same(manifest(old), before, 'the tree is untouched');
});

t.test('without --root, an old node on PATH stops it before it changes anything', async (t) => {
  const bin = join(dir, 'fake-bin');
  const tripped = join(dir, 'tripped');
  mkdirSync(bin);
  writeFileSync(join(bin, 'node'), '#!/bin/sh\necho v18.19.0\n', { mode: 0o755 });
  // Anything that would change the system leaves a mark instead.
  for (const command of ['mkdir', 'install', 'ln', 'mv', 'cp', 'rm', 'tar', 'chown', 'chmod', 'touch', 'useradd', 'groupadd', 'userdel', 'systemctl', 'chroot', 'mktemp']) {
    writeFileSync(join(bin, command), `#!/bin/sh\necho "${command} $*" >> ${tripped}\nexit 99\n`, { mode: 0o755 });
  }
  const run = await install([release.tarball], { ...process.env, PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}` });
  t.equal(run.code, 1);
  t.match(run.stderr, 'pleevi-edge needs Node.js 20 or newer; this system has v18.19.0. On Debian 12 (bookworm)');
  t.notOk(existsSync(tripped), 'no command that changes anything ran');
});

t.test('a tampered tarball or another key is refused before anything changes', async (t) => {
  const target = makeRoot('tampered');
  const before = manifest(target);
  mkdirSync(join(dir, 'tampered-bundle'));
  const copy = join(dir, 'tampered-bundle', `pleevi-edge-${VERSION}.tar.gz`);
  const bytes = readFileSync(release.tarball);
  for (const suffix of ['.sha256', '.sig']) copyFileSync(release.tarball + suffix, copy + suffix);
  bytes[bytes.length - 100] ^= 0x01;
  writeFileSync(copy, bytes);
  const tampered = await install(['--root', target, '--signing-key', publicKeyFile, copy]);
  t.equal(tampered.code, 1);
  t.match(tampered.stderr, /SHA-256 .* but .*\.sha256 says/);

  copyFileSync(release.tarball, copy);
  const otherKey = join(dir, 'other.pub');
  const made = spawnSync(process.execPath, ['-e', "const c=require('node:crypto');process.stdout.write(c.generateKeyPairSync('ed25519').publicKey.export({type:'spki',format:'pem'}))"], { encoding: 'utf8' });
  writeFileSync(otherKey, made.stdout);
  const wrongKey = await install(['--root', target, '--signing-key', otherKey, copy]);
  t.equal(wrongKey.code, 1);
  t.match(wrongKey.stderr, /signature .* does not verify/);
  t.same(manifest(target), before, 'the tree is untouched');
});

t.test('install.sh is shellcheck clean', { skip: spawnSync('shellcheck', ['--version']).status === 0 ? false : 'shellcheck not installed (apt-get install shellcheck)' }, async (t) => {
  const run = await runProgram('shellcheck', [INSTALL_SCRIPT]);
  t.equal(run.stdout + run.stderr, '', 'no finding');
  t.equal(run.code, 0);
});

function lstatExists(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}
