/**
 * The device identity (docs/provisioning.md "The gateway's identity"), on real
 * files: the serial sources as files in a temp folder, the key, CSR and claim
 * record in a temp dataDir, and the CLI as a process.
 */
import t, { type Test } from 'tap';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import forge from 'node-forge';
import { parseConfig } from '../src/config/load-config.js';
import { IdentityError } from '../src/errors.js';
import { CROCKFORD_ALPHABET, generateClaimCode, isClaimCode } from '../src/provisioning/claim-code.js';
import { claimUrl } from '../src/provisioning/claim-url.js';
import { loadOrCreateIdentity } from '../src/provisioning/device-identity.js';
import { resolveGatewayId } from '../src/provisioning/gateway-id.js';
import { readHardwareSerial, type SerialSourcePaths } from '../src/provisioning/hardware-serial.js';
import { runCli } from './helpers/run-cli.js';

const PI_CPUINFO = `processor\t: 0
BogoMIPS\t: 108.00
Features\t: fp asimd evtstrm crc32 cpuid

Hardware\t: BCM2835
Revision\t: c03111
Serial\t\t: 10000000ABCDEF01
Model\t\t: Raspberry Pi 4 Model B Rev 1.1
`;
const X86_CPUINFO = 'processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Core(TM)\n';

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'pe-identity-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Serial source files in `dir`; a source given as undefined does not exist. */
function sources(dir: string, files: { cpuinfo?: string; dmi?: string; machineId?: string }): SerialSourcePaths {
  const paths = { cpuinfo: join(dir, 'cpuinfo'), dmiProductSerial: join(dir, 'product_serial'), machineId: join(dir, 'machine-id') };
  if (files.cpuinfo !== undefined) writeFileSync(paths.cpuinfo, files.cpuinfo);
  if (files.dmi !== undefined) writeFileSync(paths.dmiProductSerial, files.dmi);
  if (files.machineId !== undefined) writeFileSync(paths.machineId, files.machineId);
  return paths;
}

t.test('gateway id: config, then Pi serial, DMI serial, machine-id, then hostname', async (t) => {
  const dir = tempDir(t);
  mkdirSync(join(dir, 'all'));
  const all = sources(join(dir, 'all'), {});
  writeFileSync(all.cpuinfo, PI_CPUINFO);
  writeFileSync(all.dmiProductSerial, 'DMI-123\n');
  writeFileSync(all.machineId, '3d1219c7c4c5404aaa1f6d2a48adfda4\n');
  t.same(resolveGatewayId('gw-site-7', all), { gatewayId: 'gw-site-7', source: 'config' }, 'the config wins');
  t.same(resolveGatewayId(undefined, all), { gatewayId: 'gw-10000000abcdef01', source: 'raspberry-pi-serial' }, 'Pi serial, lower case');

  writeFileSync(all.cpuinfo, X86_CPUINFO);
  t.same(resolveGatewayId(undefined, all), { gatewayId: 'gw-dmi-123', source: 'dmi-serial' }, 'no Serial line: the DMI serial');

  writeFileSync(all.dmiProductSerial, 'To Be Filled By O.E.M.\n');
  t.same(resolveGatewayId(undefined, all), { gatewayId: 'gw-3d1219c7c4c5404aaa1f6d2a48adfda4', source: 'machine-id' }, 'a firmware placeholder is no serial');

  rmSync(all.machineId);
  t.same(resolveGatewayId(undefined, all, () => 'Edge Box#1'), { gatewayId: 'gw-Edge-Box-1', source: 'hostname' }, 'nothing readable: the hostname, as before');

  const odd = join(dir, 'odd');
  mkdirSync(odd);
  const oddPaths = sources(odd, { cpuinfo: 'Serial : 0000000000000000\n', dmi: ' Serial/With:Odd*Chars' + 'x'.repeat(80) + '\n' });
  const fromDmi = resolveGatewayId(undefined, oddPaths);
  t.equal(fromDmi.source, 'dmi-serial', 'an all-zero Pi serial is skipped');
  t.match(fromDmi.gatewayId, /^gw-serial-with-odd-chars/);
  t.match(fromDmi.gatewayId, /^[A-Za-z0-9._-]{1,64}$/, "within the config's gatewayId rule");
});

t.test('the DMI serial readable by root only (EACCES) is skipped, not an error', { skip: process.getuid?.() === 0 ? 'root reads a 0400 file anyway' : false }, async (t) => {
  const dir = tempDir(t);
  const paths = sources(dir, { cpuinfo: X86_CPUINFO, dmi: 'DMI-SECRET\n', machineId: 'abc123\n' });
  chmodSync(paths.dmiProductSerial, 0o000);
  t.same(readHardwareSerial(paths), { serial: 'abc123', source: 'machine-id' });
});

t.test('a serial source that is a folder (EISDIR) is skipped like an unreadable one', async (t) => {
  const dir = tempDir(t);
  const paths = sources(dir, { cpuinfo: X86_CPUINFO, machineId: 'abc123\n' });
  mkdirSync(paths.dmiProductSerial);
  t.same(readHardwareSerial(paths), { serial: 'abc123', source: 'machine-id' });
});

t.test('parseConfig without gatewayId takes the hardware serial', async (t) => {
  const dir = tempDir(t);
  const serialSources = sources(dir, { cpuinfo: PI_CPUINFO });
  const config = parseConfig({ upstream: { url: 'wss://cpms.example.com/ocpp' }, mqtt: { url: 'mqtts://broker:8883' } }, { baseDir: dir, env: {}, serialSources });
  t.equal(config.gatewayId, 'gw-10000000abcdef01');
  t.equal(config.gatewayIdSource, 'raspberry-pi-serial');
  t.equal(config.mqtt?.topicPrefix, 'pleevi/v1/gw/gw-10000000abcdef01', 'the MQTT topics follow');
});

t.test('claim code: 16 Crockford base32 symbols in four groups, 80 random bits', async (t) => {
  t.equal(CROCKFORD_ALPHABET.length, 32);
  const seen = new Set<string>();
  const symbols = new Set<string>();
  const malformed: string[] = [];
  for (let index = 0; index < 2000; index += 1) {
    const code = generateClaimCode();
    if (!isClaimCode(code) || !/^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/.test(code) || /[ILOU]/.test(code)) malformed.push(code);
    seen.add(code);
    for (const symbol of code.replaceAll('-', '')) symbols.add(symbol);
  }
  t.same(malformed, [], 'every code is XXXX-XXXX-XXXX-XXXX of Crockford symbols (no I, L, O, U)');
  t.equal(seen.size, 2000, 'no repeats');
  t.equal(symbols.size, 32, 'every symbol of the alphabet occurs: all 5 bits of each symbol are random');
  t.equal(16 * Math.log2(CROCKFORD_ALPHABET.length), 80, '16 symbols of 5 bits = 80 bits');
  t.notOk(isClaimCode('ABCD-EFGH-IJKL-MNOP'), 'I, L, O are refused');
});

t.test('claim link: <claimBaseUrl>/claim?gw=...&code=..., none without a base URL', async (t) => {
  t.equal(claimUrl('https://claim.example.com/', 'gw-1', 'ABCD-EFGH-JKMN-PQRS'), 'https://claim.example.com/claim?gw=gw-1&code=ABCD-EFGH-JKMN-PQRS');
  t.equal(claimUrl('https://example.com/site', 'gw-1', 'ABCD-EFGH-JKMN-PQRS'), 'https://example.com/site/claim?gw=gw-1&code=ABCD-EFGH-JKMN-PQRS');
  t.equal(claimUrl(undefined, 'gw-1', 'ABCD-EFGH-JKMN-PQRS'), undefined);
});

t.test('identity: a 0600 RSA-2048 key, a CSR for it with CN = gateway id, a claim record; a restart keeps them', async (t) => {
  const dataDir = join(tempDir(t), 'data');
  const first = loadOrCreateIdentity(dataDir, { gatewayId: 'gw-10000000abcdef01', source: 'raspberry-pi-serial' }, () => new Date('2026-01-02T03:04:05Z'));
  t.equal(first.created, true);
  t.equal(statSync(first.keyPath).mode & 0o777, 0o600, 'key file mode 0600');
  t.equal(statSync(first.claimPath).mode & 0o777, 0o600, 'claim record mode 0600 (it holds the claim code)');
  t.equal(statSync(first.dir).mode & 0o777, 0o700, 'identity folder 0700');
  const keyPem = readFileSync(first.keyPath, 'utf8');
  const key = createPrivateKey(keyPem);
  t.equal(key.asymmetricKeyType, 'rsa');
  t.equal(key.asymmetricKeyDetails?.modulusLength, 2048);

  const csr = forge.pki.certificationRequestFromPem(readFileSync(first.csrPath, 'utf8'));
  t.ok(csr.verify(), 'the CSR signature verifies');
  t.equal(csr.subject.getField('CN')?.value, 'gw-10000000abcdef01', 'CN = gateway id');
  t.equal(csr.siginfo.algorithmOid, forge.pki.oids['sha256WithRSAEncryption'], 'signed SHA-256');
  const csrPublic = createPublicKey(forge.pki.publicKeyToPem(csr.publicKey as forge.pki.rsa.PublicKey));
  t.equal(
    csrPublic.export({ type: 'spki', format: 'pem' }),
    createPublicKey(key).export({ type: 'spki', format: 'pem' }),
    "the CSR's public key is the private key's",
  );

  t.ok(isClaimCode(first.claimCode));
  t.same(JSON.parse(readFileSync(first.claimPath, 'utf8')), {
    version: 1,
    gatewayId: 'gw-10000000abcdef01',
    gatewayIdSource: 'raspberry-pi-serial',
    claimCode: first.claimCode,
    createdAt: '2026-01-02T03:04:05.000Z',
  });

  const second = loadOrCreateIdentity(dataDir, { gatewayId: 'gw-10000000abcdef01', source: 'raspberry-pi-serial' });
  t.equal(second.created, false);
  t.equal(second.claimCode, first.claimCode, 'same claim code');
  t.equal(readFileSync(second.keyPath, 'utf8'), keyPem, 'same key');
  t.equal(second.createdAt, first.createdAt);
  t.equal(second.csrPem, first.csrPem, 'same CSR');

  const renamed = loadOrCreateIdentity(dataDir, { gatewayId: 'gw-site-7', source: 'config' });
  t.equal(readFileSync(renamed.keyPath, 'utf8'), keyPem, 'gatewayId set in the file later: same key');
  t.equal(renamed.claimCode, first.claimCode, 'and same code');
  t.equal(forge.pki.certificationRequestFromPem(renamed.csrPem).subject.getField('CN')?.value, 'gw-site-7', 'the CSR follows the new id');
});

t.test('crash states complete; a corrupt or orphaned key is a clear error and is never overwritten', async (t) => {
  const dataDir = join(tempDir(t), 'data');
  const id = { gatewayId: 'gw-crash', source: 'machine-id' } as const;
  const first = loadOrCreateIdentity(dataDir, id);
  const keyPem = readFileSync(first.keyPath, 'utf8');

  rmSync(first.csrPath);
  const csrAgain = loadOrCreateIdentity(dataDir, id);
  t.ok(forge.pki.certificationRequestFromPem(csrAgain.csrPem).verify(), 'a missing CSR is made again');
  writeFileSync(first.csrPath, 'garbage');
  t.ok(forge.pki.certificationRequestFromPem(loadOrCreateIdentity(dataDir, id).csrPem).verify(), 'so is a damaged one (it is derived)');

  rmSync(first.keyPath);
  const newKey = loadOrCreateIdentity(dataDir, id);
  t.equal(newKey.created, true, 'claim record without a key (crash before the key was written): the key is made');
  t.equal(newKey.claimCode, first.claimCode, 'with the same claim code');
  const keyPem2 = readFileSync(first.keyPath, 'utf8');
  t.not(keyPem2, keyPem);

  const corrupt = '-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n';
  writeFileSync(first.keyPath, corrupt, { mode: 0o600 });
  t.throws(() => loadOrCreateIdentity(dataDir, id), { name: 'IdentityError', code: 'PE_ERR_IDENTITY', message: /gateway\.key is not a readable PEM private key.*may already be enrolled/ });
  t.equal(readFileSync(first.keyPath, 'utf8'), corrupt, 'the corrupt key is left as it is');

  writeFileSync(first.keyPath, keyPem2);
  const claimText = readFileSync(first.claimPath, 'utf8');
  writeFileSync(first.claimPath, '{"version":1,');
  t.throws(() => loadOrCreateIdentity(dataDir, id), { code: 'PE_ERR_IDENTITY', message: /claim\.json is not valid JSON/ });
  writeFileSync(first.claimPath, '{"version":1,"gatewayId":"gw-crash","gatewayIdSource":"machine-id","claimCode":"short","createdAt":"x"}');
  t.throws(() => loadOrCreateIdentity(dataDir, id), { code: 'PE_ERR_IDENTITY', message: /claim\.json is not a claim record/ });
  t.equal(readFileSync(first.keyPath, 'utf8'), keyPem2, 'the key is untouched by a bad claim record');

  rmSync(first.claimPath);
  t.throws(() => loadOrCreateIdentity(dataDir, id), { code: 'PE_ERR_IDENTITY', message: /claim\.json is missing but .*gateway\.key exists/ }, 'a key without its claim record is not a crash state');
  t.equal(readFileSync(first.keyPath, 'utf8'), keyPem2, 'and the key is kept');
  writeFileSync(first.claimPath, claimText);
  t.equal(loadOrCreateIdentity(dataDir, id).claimCode, first.claimCode, 'restored from a backup, it works again');

  rmSync(first.keyPath);
  mkdirSync(first.keyPath);
  t.throws(() => loadOrCreateIdentity(dataDir, id), new IdentityError(`cannot read ${first.keyPath}: EISDIR; nothing is regenerated over it`), 'an unreadable key file is an error, not a missing one');
});

t.test('pleevi-edge provision status as a process: same identity twice, key 0600, the key never printed', async (t) => {
  const dir = tempDir(t);
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify({ upstream: { url: 'wss://cpms.example.com/ocpp' }, dataDir: join(dir, 'data'), provisioning: { claimBaseUrl: 'https://claim.example.com' } }));
  const runs = [];
  for (let index = 0; index < 2; index += 1) {
    const run = await runCli(['provision', 'status', '--json', '--config', configPath], { env: {} });
    t.equal(run.code, 0, run.stderr);
    t.equal(run.stderr, '');
    runs.push(JSON.parse(run.stdout) as { gatewayId: string; gatewayIdSource: string; keyFile: string; keyMode: string; claimState: string; claimCode: string; claimUrl: string; created: boolean });
  }
  const [first, second] = runs;
  if (first === undefined || second === undefined) throw new Error('two runs');
  t.equal(first.created, true);
  t.equal(second.created, false);
  t.equal(second.gatewayId, first.gatewayId, 'same gateway id');
  t.equal(second.claimCode, first.claimCode, 'same claim code');
  t.ok(isClaimCode(first.claimCode));
  t.equal(first.keyMode, '0600');
  t.equal(statSync(first.keyFile).mode & 0o777, 0o600);
  t.equal(first.claimState, 'unclaimed');
  t.equal(first.claimUrl, `https://claim.example.com/claim?gw=${first.gatewayId}&code=${first.claimCode}`);

  const text = await runCli(['provision', 'status', '--config', configPath], { env: {} });
  t.equal(text.code, 0, text.stderr);
  t.match(text.stdout, new RegExp(`gateway id\\s+${first.gatewayId}`));
  t.match(text.stdout, /claim state\s+unclaimed/);
  t.match(text.stdout, new RegExp(`claim code\\s+${first.claimCode}`));
  t.match(text.stdout, /private key\s+\S+gateway\.key \(mode 0600\)/);
  const keyBody = readFileSync(first.keyFile, 'utf8').split('\n')[1] ?? '';
  t.notMatch(text.stdout, /PRIVATE KEY-----/, 'no PEM in the output');
  t.ok(keyBody.length > 0 && !text.stdout.includes(keyBody), 'no part of the key in the output');
});

t.test('pleevi-edge provision <other>: unknown subcommand, exit 2; enroll without a service; no claim base URL: said so', async (t) => {
  const unknown = await runCli(['provision', 'frobnicate'], { env: {} });
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /unknown subcommand "provision frobnicate"/);
  const bare = await runCli(['provision'], { env: {} });
  t.equal(bare.code, 2);
  t.match(bare.stderr, /a subcommand is required/);

  const dir = tempDir(t);
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify({ gatewayId: 'gw-no-link', upstream: { url: 'wss://cpms.example.com/ocpp' }, dataDir: join(dir, 'data') }));
  const run = await runCli(['provision', 'status', '--config', configPath], { env: {} });
  t.equal(run.code, 0, run.stderr);
  t.match(run.stdout, /id from\s+configuration file/);
  t.match(run.stdout, /claim link\s+none: set provisioning\.claimBaseUrl/);
  t.match(run.stdout, /no provisioning\.url configured, so the gateway does not enroll/);
  const enroll = await runCli(['provision', 'enroll', '--config', configPath], { env: {} });
  t.equal(enroll.code, 2, 'enroll without provisioning.url is a usage error');
  t.match(enroll.stderr, /no provisioning\.url in the configuration/);

  writeFileSync(join(dir, 'data', 'identity', 'gateway.key'), 'broken');
  const broken = await runCli(['provision', 'status', '--config', configPath], { env: {} });
  t.equal(broken.code, 1);
  t.match(broken.stderr, /gateway\.key is not a readable PEM private key.*\[PE_ERR_IDENTITY\]/);
});

t.test('run as root, the identity files take the owner of dataDir (the service user can read its key)', { skip: process.getuid?.() === 0 ? false : 'needs root to chown' }, async (t) => {
  const dataDir = join(tempDir(t), 'data');
  mkdirSync(dataDir);
  chownSync(dataDir, 4242, 4343);
  const identity = loadOrCreateIdentity(dataDir, { gatewayId: 'gw-owner', source: 'config' });
  for (const path of [identity.dir, identity.keyPath, identity.csrPath, identity.claimPath]) {
    const { uid, gid } = statSync(path);
    t.same({ uid, gid }, { uid: 4242, gid: 4343 }, path);
  }
  t.equal(statSync(identity.keyPath).mode & 0o777, 0o600, 'and the key stays 0600');
});

t.test('three first runs of provision status at once agree on one identity', async (t) => {
  const dir = tempDir(t);
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify({ gatewayId: 'gw-race', upstream: { url: 'wss://cpms.example.com/ocpp' }, dataDir: join(dir, 'data') }));
  const runs = await Promise.all([0, 1, 2].map(() => runCli(['provision', 'status', '--json', '--config', configPath], { env: {} })));
  const results = runs.map((run) => {
    t.equal(run.code, 0, run.stderr);
    return JSON.parse(run.stdout) as { claimCode: string; keyFile: string; created: boolean };
  });
  t.equal(new Set(results.map((result) => result.claimCode)).size, 1, 'one claim code shown by all three');
  t.equal(results.filter((result) => result.created).length, 1, 'exactly one of them made the key');
  const again = loadOrCreateIdentity(join(dir, 'data'), { gatewayId: 'gw-race', source: 'config' });
  t.equal(again.claimCode, results[0]?.claimCode, 'and it is the stored one');
  t.ok(forge.pki.certificationRequestFromPem(again.csrPem).verify());
});
