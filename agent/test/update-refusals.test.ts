/**
 * Bundles that must be refused, by `pleevi-edge update apply` (the agent's
 * check) and by the root helper (which never trusts what the agent left):
 * a bad signature, a key that is not the pinned one, a changed byte, the
 * wrong architecture, the version running now, a signed file that is not a
 * release. Each refusal is a clear error and changes nothing: the install
 * folder and the updates folder are identical before and after.
 */
import t from 'tap';
import { sign } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256Hex } from '../src/update/verify-bundle.js';
import { buildReleaseBundle, makeSigningKeys } from './helpers/release-bundle.js';
import { makeUpdateSite } from './helpers/update-site.js';

// Real daemons, helpers and CLIs as processes, one after another: minutes on a busy 2-core machine, not the default 120 s.
t.setTimeout(360_000);

const keys = makeSigningKeys();
const otherKeys = makeSigningKeys();
const out = t.testdir();
const A = '9.1.0';
const installed = buildReleaseBundle({ version: A, outDir: join(out, 'a'), keys });
const good = buildReleaseBundle({ version: '9.2.0', outDir: join(out, 'good'), keys });
const foreign = buildReleaseBundle({ version: '9.2.0', outDir: join(out, 'foreign'), keys: otherKeys });
const otherArch = buildReleaseBundle({ version: '9.2.0', outDir: join(out, 'arch'), keys, arch: process.arch === 'arm64' ? 'x64' : 'arm64' });

t.test('update apply refuses, with the reason, and changes nothing', async (t) => {
  const site = await makeUpdateSite(t, { installed, publicKeyPem: keys.publicKeyPem, upstreamUrl: 'ws://127.0.0.1:9/ocpp' });
  const before = site.manifest();

  const badSig = join(out, 'bad.sig');
  const signature = Buffer.from(readFileSync(good.sigFile, 'utf8').trim(), 'base64');
  signature[10] = (signature[10] ?? 0) ^ 0xff;
  writeFileSync(badSig, `${signature.toString('base64')}\n`);
  const tampered = join(out, 'tampered.tar.gz');
  const bytes = readFileSync(good.file);
  bytes[bytes.length - 20] = (bytes[bytes.length - 20] ?? 0) ^ 0x01;
  writeFileSync(tampered, bytes);
  const notRelease = join(out, 'not-a-release.tar.gz');
  writeFileSync(notRelease, 'just some signed bytes');
  writeFileSync(`${notRelease}.sig`, sign(null, readFileSync(notRelease), keys.privateKey).toString('base64'));

  const cases: { what: string; args: string[]; code: string; message: RegExp }[] = [
    { what: 'a damaged signature', args: [good.file, '--sig', badSig], code: 'bad_signature', message: /does not verify against the pinned update signing key/ },
    { what: 'signed with another key', args: [foreign.file], code: 'bad_signature', message: /does not verify/ },
    { what: 'one byte of the bundle changed', args: [tampered, '--sig', good.sigFile], code: 'bad_signature', message: /does not verify/ },
    { what: 'built for another architecture', args: [otherArch.file], code: 'wrong_arch', message: new RegExp(`built for (x64|arm64), this gateway is ${process.arch}`) },
    { what: 'the version running now', args: [installed.file], code: 'same_version', message: /version 9\.1\.0 is the one running now/ },
    { what: 'signed, but not a release', args: [notRelease], code: 'unreadable_bundle', message: /not a readable tar\.gz/ },
    { what: 'no signature file', args: [join(out, 'missing.tar.gz')], code: 'unreadable_bundle', message: /ENOENT/ },
  ];
  for (const refusal of cases) {
    const run = await site.cli(['update', 'apply', ...refusal.args]);
    t.equal(run.code, 1, `${refusal.what}: exit 1`);
    t.match(run.stderr, new RegExp(`refused \\(${refusal.code}\\): .*nothing was changed`), `${refusal.what}: refused (${refusal.code})`);
    t.match(run.stderr, refusal.message, `${refusal.what}: says why`);
  }
  const json = await site.cli(['update', 'apply', good.file, '--sig', badSig, '--json']);
  t.match(JSON.parse(json.stdout), { ok: false, error: { code: 'bad_signature', message: /does not verify/ } }, '--json: the code and the message');
  t.equal(site.manifest(), before, 'the install and updates folders are exactly as before');

  // A wrong pinned key: the good bundle is refused too.
  writeFileSync(join(site.dir, 'update-signing.pub'), otherKeys.publicKeyPem);
  const wrongKey = await site.cli(['update', 'apply', good.file]);
  t.equal(wrongKey.code, 1);
  t.match(wrongKey.stderr, /refused \(bad_signature\)/, 'against another pinned key the good bundle is refused');
  writeFileSync(join(site.dir, 'update-signing.pub'), 'not a key');
  const noKey = await site.cli(['update', 'apply', good.file]);
  t.match(noKey.stderr, /refused \(no_public_key\): the update signing key .* cannot be read/, 'an unreadable pinned key refuses every bundle');
  t.equal(site.manifest(), before, 'still nothing changed');
});

t.test('the helper checks again: a request the agent wrote for a foreign bundle is refused, the tree is untouched', async (t) => {
  const site = await makeUpdateSite(t, { installed, publicKeyPem: keys.publicKeyPem, upstreamUrl: 'ws://127.0.0.1:9/ocpp' });
  // What a compromised agent could leave: a request whose bundle is signed with its own key.
  mkdirSync(site.updatesDir, { recursive: true });
  const installBefore = site.manifest().split('\n').filter((line) => !line.includes(site.updatesDir)).join('\n');
  copyFileSync(foreign.file, join(site.updatesDir, 'pleevi-edge-9.2.0.tar.gz'));
  copyFileSync(foreign.sigFile, join(site.updatesDir, 'pleevi-edge-9.2.0.tar.gz.sig'));
  writeFileSync(
    join(site.updatesDir, 'request.json'),
    JSON.stringify({ id: 'forged-1', version: '9.2.0', bundle: 'pleevi-edge-9.2.0.tar.gz', sig: 'pleevi-edge-9.2.0.tar.gz.sig', sha256: sha256Hex(readFileSync(foreign.file)), requestedAt: new Date().toISOString() }),
  );
  const helper = await site.helper();
  t.equal(helper.code, 0, helper.stderr);
  const outcome = JSON.parse(readFileSync(join(site.updatesDir, 'outcome.json'), 'utf8')) as Record<string, unknown>;
  t.match(outcome, { id: 'forged-1', from: A, to: '9.2.0', result: 'refused', reason: /does not verify against the pinned update signing key/ });
  t.equal(readlinkSync(join(site.installDir, 'current')), `releases/${A}`);
  t.equal(site.manifest().split('\n').filter((line) => !line.includes(site.updatesDir)).join('\n'), installBefore, 'the install folder is exactly as before');
  t.notOk(existsSync(join(site.updatesDir, 'request.json')) || existsSync(join(site.updatesDir, 'pleevi-edge-9.2.0.tar.gz')), 'the request and the bundle are removed');

  // A request naming a path outside the updates folder is not read at all.
  writeFileSync(join(site.updatesDir, 'request.json'), JSON.stringify({ id: 'forged-2', version: '9.2.0', bundle: '../../etc/shadow', sig: 'x.sig', sha256: '0'.repeat(64) }));
  await site.helper();
  t.match(JSON.parse(readFileSync(join(site.updatesDir, 'outcome.json'), 'utf8')), { id: null, result: 'refused', reason: /must be file names in the updates folder/ });
  t.equal(readlinkSync(join(site.installDir, 'current')), `releases/${A}`);
});
