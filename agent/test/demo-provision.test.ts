/**
 * `npm run demo -- --provision --once` (README.md, docs/provisioning.md "Try
 * it"): the compiled demo as a process. It must exit 0 within a minute, show
 * a claim QR that reads as the claim link, claim, enroll and relay, and never
 * print the claim code again after the claim.
 */
import t from 'tap';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT, type CliRun } from './helpers/run-cli.js';
import { decode, modulesFromTerminal } from './helpers/terminal-qr.js';

/** A claim code as the gateway makes it: four groups of four Crockford base32 characters. */
const CLAIM_CODE = /\b[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}\b/g;
const CLAIM_LINE = 'installer scans the QR and claims the gateway for site demo-site';

t.test('demo --provision --once: QR, claim, enrollment, stations through the enrolled gateway, exit 0', async (t) => {
  const started = Date.now();
  const demo = await new Promise<CliRun>((resolve) => {
    const child = spawn(process.execPath, [join(ROOT, 'dist/scripts/demo.js'), '--provision', '--once'], { cwd: ROOT });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
  const tookS = (Date.now() - started) / 1000;
  t.equal(demo.code, 0, `exit 0; stderr: ${demo.stderr}`);
  t.ok(tookS < 60, `well under a minute (${tookS.toFixed(1)} s)`);
  const out = demo.stdout;

  // Before the claim: the service, the unclaimed gateway and its claim QR with the id and the code.
  t.match(out, /\$ pleevi-provision ca init/);
  t.match(out, /\$ pleevi-provision serve --port 0/);
  t.match(out, /plain ws:\/\/ and mqtt:\/\/ on 127\.0\.0\.1 for the demo/, 'the output says the demo runs without TLS to CPMS and broker');
  t.match(out, /\$ pleevi-edge run --config /);
  t.match(out, /gateway\s+waiting to be claimed/);
  t.match(out, /gateway\s+enrollment: waiting for claim/);
  t.match(out, /service\s+POST \/v1\/enroll -> 202/);
  const code = /^claim code\s+(\S+)$/m.exec(out)?.[1] ?? '';
  t.match(code, /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){3}$/, 'the claim code is printed with the QR');
  t.match(out, /^gateway id\s+gw-demo$/m);
  const link = /^claim link\s+(\S+)$/m.exec(out)?.[1] ?? '';
  t.match(link, new RegExp(`^https://127\\.0\\.0\\.1:\\d+/claim\\?gw=gw-demo&code=${code}$`));
  const qrStart = out.indexOf('$ pleevi-edge provision qr');
  const qrEnd = out.indexOf('gateway id', qrStart);
  t.ok(qrStart >= 0 && qrEnd > qrStart, 'the QR is printed');
  // Only the drawing's own lines (they start with its background colour), not the status lines around it.
  const drawing = out
    .slice(qrStart, qrEnd)
    .split('\n')
    .filter((line) => line.startsWith('\x1b['))
    .join('\n');
  t.equal(decode(modulesFromTerminal(drawing)), link, 'the terminal QR reads (jsQR) as exactly the claim link');

  // The claim, then never the code again.
  const claimAt = out.indexOf(CLAIM_LINE);
  t.ok(claimAt > qrEnd, 'the claim comes after the QR');
  const after = out.slice(claimAt);
  t.match(after, /POST https:\/\/127\.0\.0\.1:\d+\/v1\/claims .*"siteId":"demo-site"/);
  t.match(after, /-> 201 /);
  t.notOk(after.includes(code), 'the claim code is not printed after the claim line');
  t.same(after.match(CLAIM_CODE) ?? [], [], 'nor anything shaped like a claim code');
  t.notOk(demo.stderr.includes(code), 'nor on stderr');

  // Enrollment and the relay in the same gateway process.
  t.match(after, /service\s+POST \/v1\/enroll -> 200/);
  t.match(after, /gateway\s+enrolled: client certificate [0-9A-F]+ /);
  t.match(after, /gateway\s+enrolled: starting to relay on the enrolled configuration \(upstream ws:\/\/127\.0\.0\.1:\d+\/ocpp, MQTT mqtt:\/\/127\.0\.0\.1:\d+\)/);
  t.match(after, /CPMS\s+received BootNotification\s+from CP-DEMO-1 \(relayed by the enrolled gateway\)/);
  t.match(after, /CPMS\s+received TransactionEvent\s+from CS-DEMO-3/);
  t.match(after, /events\/gateway\s+seq\s+\d+\s+enrolled\s+gw-demo, certificate [0-9A-F]+ until /, 'the enrolled event reached the broker');
  t.match(after, /events\/session\s+seq\s+\d+\s+ended\s+CP-DEMO-1\s+tx 1001\s+badge BADGE-0001 -> ana@example\.com/);
  t.match(after, /gateway gw-demo: claimed for demo-site and enrolled; certificate [0-9A-F]+ until \S+ \(renewal scheduled\)/);
  t.match(after, /stations: CP-DEMO-1 \(ocpp1\.6\), CP-DEMO-2 \(ocpp1\.6\), CS-DEMO-3 \(ocpp2\.0\.1\)/);

  const temp = /everything in (\S+), removed at exit/.exec(out)?.[1];
  t.ok(temp !== undefined && !existsSync(temp), 'the temp folder is gone');
});
