/** The support bundle's redaction and tar writer, in process; the bundle tests run them end to end. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { Redactor, REDACTED } from '../src/diag/redaction.js';
import { tarGz } from '../src/diag/tar-writer.js';

const KEY = ['-----BEGIN PRIVATE KEY-----', 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQDf1nXq2vBzTkQ8', 'aW5vdGhlci1saW5lLW9mLXRoZS1rZXktbWF0ZXJpYWwtZm9yLXRlc3Rpbmcx', '-----END PRIVATE KEY-----', ''].join('\n');

t.test('values under secret keys are replaced, counts and flags kept', async (t) => {
  const redactor = new Redactor([]);
  const out = JSON.parse(
    redactor.redact({ stations: [{ id: 'CP-1', password: 'p1', passwordHash: 'scrypt$x', upstream: { username: 'u', password: 'p2' } }], tls: { key: KEY, cert: 'CERT' }, claimCode: 'ABCD-EFGH', token: 'tok', privateKeyPem: 'x', counters: { authFailures: 3 }, hasPassword: true }),
  ) as Record<string, unknown>;
  t.same(out, {
    stations: [{ id: 'CP-1', password: REDACTED, passwordHash: REDACTED, upstream: { username: 'u', password: REDACTED } }],
    tls: { key: REDACTED, cert: 'CERT' },
    claimCode: REDACTED,
    token: REDACTED,
    privateKeyPem: REDACTED,
    counters: { authFailures: 3 },
    hasPassword: true,
  });
});

t.test('in any text: PEM private keys (whole, escaped on one line, cut short), URL and HTTP credentials, JSON secret pairs, and the known literals in every form', async (t) => {
  const redactor = new Redactor(['s3cret-station-pw', 'WXYZ-2345-QRST', KEY, 'ab']);
  const journal = [
    `Nov 29 10:00:00 gw node[1]: {"level":"info","msg":"key ${JSON.stringify(KEY).slice(1, -1)}"}`,
    'Nov 29 10:00:01 gw node[1]: dialing wss://cp:hunter22@cpms.example.com/ocpp',
    'Nov 29 10:00:02 gw node[1]: Authorization: Basic Q1AtMTpzM2NyZXQ=',
    'Nov 29 10:00:03 gw node[1]: {"password":"inline-pw-in-log","station":"CP-1"}',
    'Nov 29 10:00:04 gw node[1]: station said s3cret-station-pw, code WXYZ-2345-QRST, tab "s3cret-station-pw"',
    `Nov 29 10:00:05 gw node[1]: fragment ${KEY.split('\n')[2] ?? ''}`,
    '-----BEGIN RSA PRIVATE KEY-----',
    'MIIEpAIBAAKCAQEAcutShort',
    '(ab is too short to scrub alone)',
  ].join('\n');
  const out = redactor.redact(journal);
  for (const secret of ['hunter22', 'Q1AtMTpzM2NyZXQ=', 'inline-pw-in-log', 's3cret-station-pw', 'WXYZ-2345-QRST', 'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcw', 'aW5vdGhlci1saW5lLW9m', 'MIIEpAIBAAKCAQEAcutShort']) {
    t.notOk(out.includes(secret), `no ${secret}`);
  }
  t.match(out, /wss:\/\/\[REDACTED\]@cpms\.example\.com/);
  t.match(out, /Basic \[REDACTED\]/);
  t.match(out, /"station":"CP-1"/, 'the rest of a line stays');
  t.match(out, /ab is too short to scrub alone/, 'a literal under 4 characters is left to the key rules');
});

t.test('the tar writer: system tar lists and extracts plain files, long names included, mode 0600', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pe-tar-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const long = `top/${'a'.repeat(90)}/${'b'.repeat(90)}.txt`;
  const archive = join(dir, 'x.tar.gz');
  writeFileSync(archive, tarGz([{ name: 'top/one.txt', content: 'one\n' }, { name: long, content: Buffer.alloc(1500, 0x62) }, { name: 'top/empty.txt', content: '' }]));
  const listing = execFileSync('tar', ['-tvzf', archive], { encoding: 'utf8' });
  t.match(listing, /^-rw------- .* top\/one\.txt$/m);
  execFileSync('tar', ['-xzf', archive, '-C', dir]);
  t.equal(readFileSync(join(dir, 'top/one.txt'), 'utf8'), 'one\n');
  t.equal(readFileSync(join(dir, long)).length, 1500);
  t.equal(readFileSync(join(dir, 'top/empty.txt'), 'utf8'), '');
});
