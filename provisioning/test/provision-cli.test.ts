/**
 * `pleevi-provision` as a process: the CA (make, import, never replace),
 * sites, tokens, factory identities and their labels, usage and exit codes.
 */
import t from 'tap';
import { X509Certificate } from 'node:crypto';
import { readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateClaimCode } from '../../agent/src/provisioning/claim-code.js';
import { runProvision, tempDir } from './helpers/provision-cli.js';

t.test('ca init makes a CA once; an import takes an existing one; neither replaces a CA', async (t) => {
  const data = join(tempDir(t), 'data');
  const made = await runProvision(['ca', 'init', '--cn', 'Site CA'], { PLEEVI_PROVISION_DATA: data });
  t.equal(made.code, 0, made.stderr);
  t.match(made.stdout, /CA created: Site CA/);
  t.equal(statSync(join(data, 'ca.key')).mode & 0o777, 0o600);
  t.equal(statSync(data).mode & 0o777, 0o700);
  const ca = new X509Certificate(readFileSync(join(data, 'ca.crt')));
  t.equal(ca.subject, 'CN=Site CA');
  t.ok(ca.ca, 'basicConstraints cA');
  t.ok(ca.verify(ca.publicKey), 'self-signed');
  const keyBefore = readFileSync(join(data, 'ca.key'), 'utf8');

  const again = await runProvision(['ca', 'init', '--data', data]);
  t.equal(again.code, 1);
  t.match(again.stderr, /a CA already exists/);
  t.equal(readFileSync(join(data, 'ca.key'), 'utf8'), keyBefore, 'untouched');
  const importOver = await runProvision(['ca', 'init', '--data', data, '--import-cert', join(data, 'ca.crt'), '--import-key', join(data, 'ca.key')]);
  t.equal(importOver.code, 1);

  const other = tempDir(t);
  const imported = await runProvision(['ca', 'init', '--data', other, '--import-cert', join(data, 'ca.crt'), '--import-key', join(data, 'ca.key')]);
  t.equal(imported.code, 0, imported.stderr);
  t.match(imported.stdout, /CA imported: Site CA/);
  t.equal(readFileSync(join(other, 'ca.crt'), 'utf8'), readFileSync(join(data, 'ca.crt'), 'utf8'));
  t.equal(statSync(join(other, 'ca.key')).mode & 0o777, 0o600);

  // A key that is not the certificate's, and a certificate that is no CA.
  const third = tempDir(t);
  const otherCa = tempDir(t);
  t.equal((await runProvision(['ca', 'init', '--data', otherCa])).code, 0);
  const mismatch = await runProvision(['ca', 'init', '--data', third, '--import-cert', join(data, 'ca.crt'), '--import-key', join(otherCa, 'ca.key')]);
  t.equal(mismatch.code, 2);
  t.match(mismatch.stderr, /is not the key of/);
  t.same(readdirSync(third), [], 'nothing written');
  t.equal((await runProvision(['ca', 'init', '--data', third, '--import-cert', join(data, 'ca.crt')])).code, 2, '--import-key missing');
});

t.test('usage, help and exit codes', async (t) => {
  const none = await runProvision([]);
  t.equal(none.code, 2);
  t.match(none.stdout, /Usage: pleevi-provision/);
  t.equal((await runProvision(['--help'])).code, 0);
  const unknown = await runProvision(['frobnicate']);
  t.equal(unknown.code, 2);
  // A sample: every command parses --help the same way (parseCommand); each process start costs about a second here.
  for (const command of [['ca', 'init'], ['serve'], ['claim'], ['label']]) {
    const help = await runProvision([...command, '--help']);
    t.equal(help.code, 0, `${command.join(' ')} --help`);
    t.match(help.stdout, new RegExp(`Usage: pleevi-provision ${command.join(' ')}`));
  }
  const noData = await runProvision(['list']);
  t.equal(noData.code, 2);
  t.match(noData.stderr, /--data DIR or set PLEEVI_PROVISION_DATA/);
  t.equal((await runProvision(['list', '--bogus', '--data', tempDir(t)])).code, 2);
  const noCa = await runProvision(['serve', '--port', '0', '--data', tempDir(t)]);
  t.equal(noCa.code, 1);
  t.match(noCa.stderr, /no CA .* ca init/);
  t.equal((await runProvision(['serve', '--data', tempDir(t)])).code, 2, 'no --port');
});

t.test('sites, tokens, claim from the command line', async (t) => {
  const data = tempDir(t);
  const env = { PLEEVI_PROVISION_DATA: data };
  writeFileSync(join(data, 'array.json'), '[1,2]');
  writeFileSync(join(data, 'site.json'), '{"upstream":{"url":"wss://cpms.example"}}');
  t.equal((await runProvision(['sites', 'add', 'one', '--config', join(data, 'array.json')], env)).code, 2, 'a config must be an object');
  t.equal((await runProvision(['sites', 'add', 'bad/site', '--config', join(data, 'site.json')], env)).code, 2);
  t.equal((await runProvision(['sites', 'add', 'one', '--config', join(data, 'site.json')], env)).code, 0);
  t.equal((await runProvision(['sites', 'add', 'one', '--config', join(data, 'site.json')], env)).code, 2, 'exists: --replace needed');
  t.equal((await runProvision(['sites', 'add', 'one', '--config', join(data, 'site.json'), '--replace', '--server-certificate'], env)).code, 0);
  t.match(JSON.parse((await runProvision(['sites', 'list', '--json'], env)).stdout), [{ id: 'one', serverCertificate: true, config: { upstream: { url: 'wss://cpms.example' } } }]);

  t.equal((await runProvision(['tokens', 'add', '--role', 'admin'], env)).code, 2);
  const token = (await runProvision(['tokens', 'add', '--role', 'operator', '--label', 'ops'], env)).stdout.trim();
  t.match(token, /^pvt_[A-Za-z0-9_-]{43}$/);
  const tokens = JSON.parse((await runProvision(['tokens', 'list', '--json'], env)).stdout) as { id: string; role: string; label: string }[];
  t.match(tokens, [{ role: 'operator', label: 'ops' }]);
  t.notOk(JSON.stringify(tokens).includes(token.slice(4)), 'the token itself is not kept');
  t.equal((await runProvision(['tokens', 'remove', tokens[0]?.id ?? ''], env)).code, 0);
  t.same(JSON.parse((await runProvision(['tokens', 'list', '--json'], env)).stdout), []);

  const code = generateClaimCode();
  t.equal((await runProvision(['gateways', 'add', 'gw-f1', '--serial', 'SN-1', '--claim-code', code], env)).code, 0);
  t.equal((await runProvision(['gateways', 'add', 'gw-f1', '--serial', 'SN-1', '--claim-code', code], env)).code, 2, 'already registered');
  t.equal((await runProvision(['gateways', 'add', 'gw-f2', '--serial', 'SN-2', '--claim-code', 'not-a-code'], env)).code, 2);
  const wrong = await runProvision(['claim', 'gw-f1', 'ZZZZ-ZZZZ-ZZZZ-ZZZZ', '--site', 'one'], env);
  t.equal(wrong.code, 1);
  t.match(wrong.stderr, /\[not_found\]/);
  // Typed the way a person reads it: lower case, no dashes, O for 0 and l for 1.
  const typed = code.replace(/-/g, '').toLowerCase().replace(/0/g, 'o').replace(/1/g, 'l');
  const claimed = await runProvision(['claim', 'gw-f1', typed, '--site', 'one'], env);
  t.equal(claimed.code, 0, claimed.stderr);
  t.match(JSON.parse((await runProvision(['list', '--json'], env)).stdout), [{ gatewayId: 'gw-f1', serial: 'SN-1', state: 'claimed', siteId: 'one' }]);
  const twice = await runProvision(['claim', 'gw-f1', code, '--site', 'one'], env);
  t.equal(twice.code, 1);
  t.match(twice.stderr, /\[code_used\]/);
  t.equal((await runProvision(['preauthorize', 'SN-9', '--site', 'nope'], env)).code, 2, 'unknown site');
  t.equal((await runProvision(['preauthorize', 'SN-9', '--site', 'one'], env)).code, 0);
  t.match((await runProvision(['list'], env)).stdout, /^GATEWAY\s+SERIAL\s+STATE\s+SITE/);
});

t.test('factory batch: gateways import, then SVG labels with the QR, id and code', async (t) => {
  const data = tempDir(t);
  const out = join(tempDir(t), 'labels');
  const env = { PLEEVI_PROVISION_DATA: data };
  const codes = [generateClaimCode(), generateClaimCode(), generateClaimCode()];
  writeFileSync(join(data, 'batch.csv'), `gatewayId,serial,claimCode\ngw-b1,SN-B1,${codes[0]}\ngw-b2,SN-B2,${codes[1]}\ngw-b3,SN-B3,${codes[2]}\n`);
  writeFileSync(join(data, 'bad.csv'), `gatewayId,serial,claimCode\ngw-x1,SN-X1,${generateClaimCode()}\ngw-x2,SN-X2,nope\n`);
  const bad = await runProvision(['gateways', 'import', join(data, 'bad.csv')], env);
  t.equal(bad.code, 2);
  t.match(bad.stderr, /line 3/);
  t.same(JSON.parse((await runProvision(['list', '--json'], env)).stdout), [], 'all or nothing');
  const imported = await runProvision(['gateways', 'import', join(data, 'batch.csv')], env);
  t.equal(imported.code, 0, imported.stderr);
  t.match(imported.stdout, /3 gateways registered/);

  t.equal((await runProvision(['label', '--out', out, '--all'], env)).code, 2, 'no base URL');
  t.equal((await runProvision(['label', '--out', out, '--base-url', 'https://p.example', 'gw-none'], env)).code, 2);
  writeFileSync(join(data, 'site.json'), '{}');
  await runProvision(['sites', 'add', 'one', '--config', join(data, 'site.json')], env);
  await runProvision(['claim', 'gw-b3', codes[2] ?? '', '--site', 'one'], env);
  const labels = await runProvision(['label', '--out', out, '--all'], { ...env, PLEEVI_PROVISION_BASE_URL: 'https://provision.example/' });
  t.equal(labels.code, 0, labels.stderr);
  t.match(labels.stdout, /2 labels written/);
  t.same(readdirSync(out).sort(), ['gw-b1.svg', 'gw-b2.svg'], 'the claimed gateway gets none');
  const svg = readFileSync(join(out, 'gw-b1.svg'), 'utf8');
  t.equal(statSync(join(out, 'gw-b1.svg')).mode & 0o777, 0o600);
  t.match(svg, /^<\?xml version="1.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
  t.ok(svg.includes('>gw-b1</text>'));
  t.ok(svg.includes(`>${codes[0]}</text>`));
  t.match(svg, /<svg x="20" y="10" width="220" height="220" xmlns="http:\/\/www.w3.org\/2000\/svg" viewBox="0 0 \d+ \d+"[^>]*><path[^>]+fill="#ffffff"[^>]*\/><path[^>]+stroke="#000000" d="M[^"]+"\/><\/svg>/, 'the QR drawing');
  t.ok(wellFormed(svg), 'tags balance');
  const xmllint = await import('node:child_process').then((cp) => cp.spawnSync('xmllint', ['--noout', join(out, 'gw-b1.svg')]));
  if (xmllint.error === undefined) t.equal(xmllint.status, 0, 'xmllint reads it');
});

/** Every element closed in order, attributes quoted: enough of XML to catch a broken label. */
function wellFormed(xml: string): boolean {
  const stack: string[] = [];
  const body = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  for (const match of body.matchAll(/<(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|<|>/g)) {
    if (match[2] === undefined) return false;
    if (match[1] === '/') {
      if (stack.pop() !== match[2]) return false;
    } else if (match[4] !== '/') stack.push(match[2]);
  }
  return stack.length === 0;
}
