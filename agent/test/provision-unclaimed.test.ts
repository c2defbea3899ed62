import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { browserToolsMissing, decodeQrInImage, screenshotAtPhoneSize } from './helpers/browser-qr.js';
import { refusedStation } from './helpers/ocpp-peers.js';
import { rawUpgrade } from './helpers/raw-http.js';
import { CLI, ROOT, runCli } from './helpers/run-cli.js';
import { waitUntil } from './helpers/wait-until.js';

/**
 * An unclaimed gateway (docs/provisioning.md "Before the claim"): a
 * configuration with an enrollment service and no upstream. It starts, says
 * it waits for its claim, answers stations 503 + Retry-After, and shows the
 * claim QR code on its LAN page. The enrollment service here is a port
 * nobody listens on: nothing in this test needs it to answer.
 */

interface HttpAnswer {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

function httpGet(url: string): Promise<HttpAnswer> {
  return new Promise((resolve, reject) => {
    get(url, (response) => {
      let body = '';
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
    }).on('error', reject);
  });
}

function unclaimedConfig(dir: string, extra: Record<string, unknown> = {}): string {
  const path = join(dir, 'config.json');
  writeFileSync(
    path,
    JSON.stringify({
      gatewayId: 'gw-unclaimed-1',
      dataDir: join(dir, 'data'),
      listen: { host: '127.0.0.1', port: 0 },
      provisioning: { url: 'https://127.0.0.1:9/', claimBaseUrl: 'https://claim.example.test/app' },
      admin: { socket: join(dir, 'admin.sock') },
      ...extra,
    }),
  );
  return path;
}

t.test('an unclaimed gateway starts, waits for its claim, answers stations 503 and shows the claim QR on its LAN page', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pe-unc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const configPath = unclaimedConfig(dir);

  const check = await runCli(['config', 'check', '--config', configPath]);
  t.equal(check.code, 0, 'config check accepts a file without upstream when provisioning.url is set');
  t.match(check.stdout, /upstream:\s+none yet: the gateway is waiting to be claimed and enrolled at https:\/\/127\.0\.0\.1:9\//);

  const daemon = spawn(process.execPath, [CLI, 'run', '--config', configPath], { cwd: ROOT });
  let log = '';
  daemon.stdout.on('data', (chunk: Buffer) => (log += chunk.toString()));
  daemon.stderr.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => daemon.once('exit', (code) => resolve(code)));
  t.teardown(() => daemon.kill('SIGKILL'));
  await waitUntil(() => log.includes('waiting to be claimed'), 'the daemon waits for its claim', 20_000);

  const identity = await runCli(['provision', 'status', '--json', '--config', configPath]);
  const { claimCode, claimUrl } = JSON.parse(identity.stdout) as { claimCode: string; claimUrl: string };
  t.match(claimCode, /^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/, 'the daemon made the identity and its claim code');
  t.equal(claimUrl, `https://claim.example.test/app/claim?gw=gw-unclaimed-1&code=${claimCode}`);

  const statusJson = await runCli(['status', '--json', '--config', configPath]);
  t.equal(statusJson.code, 0);
  const status = JSON.parse(statusJson.stdout) as { mode: string; gatewayId: string; listen: { port: number }; provisioning: { claim: string } };
  t.equal(status.mode, 'awaiting-claim');
  t.equal(status.gatewayId, 'gw-unclaimed-1');
  t.equal(status.provisioning.claim, 'unclaimed');
  t.notMatch(statusJson.stdout, claimCode, 'status --json never carries the claim code');
  const statusText = await runCli(['status', '--config', configPath]);
  t.match(statusText.stdout, /WAITING TO BE CLAIMED: stations get 503/);
  const port = status.listen.port;

  const refused = await rawUpgrade(port, '/ocpp/CP-EARLY');
  t.equal(refused.status, 503, 'a station is answered 503 at once');
  t.match(refused.head, /\r\nretry-after: 60\r\n/, 'with Retry-After');
  refused.socket.destroy();
  const station = await refusedStation({ endpoint: `ws://127.0.0.1:${port}/ocpp`, identity: 'CP-RPC' });
  t.equal(station.code, 503, 'an OCPP client (ocpp-rpc) sees the 503 too');
  await waitUntil(() => log.includes('a station connected before the gateway is claimed'), 'the refusal is logged');

  const page = await httpGet(`http://127.0.0.1:${port}/`);
  t.equal(page.status, 200, 'GET / is the LAN page');
  t.match(page.headers['content-type'], /^text\/html/);
  t.equal(page.headers['cache-control'], 'no-store', 'the page with the claim code is never cached');
  t.match(page.headers['content-security-policy'], /default-src 'none'/);
  t.match(page.body, 'gw-unclaimed-1');
  t.match(page.body, claimCode, 'the typable claim code is on the page');
  t.match(page.body, /<svg/, 'with the QR code');
  const other = await httpGet(`http://127.0.0.1:${port}/ocpp/CP-1`);
  t.equal(other.status, 404, 'nothing else is served');

  const missing = browserToolsMissing();
  await t.test('the LAN page in a real browser at phone size: the QR code reads as exactly the claim link', { skip: missing }, async (t) => {
    const png = join(dir, 'lan-page.png');
    await screenshotAtPhoneSize(`http://127.0.0.1:${port}/`, png);
    t.same(await decodeQrInImage(png), [claimUrl]);
  });

  t.notMatch(log, claimCode, 'the claim code never reaches the log');
  daemon.kill('SIGTERM');
  t.equal(await exited, 0, 'SIGTERM stops it cleanly');
});

t.test('without upstream and without provisioning.url the file is refused, saying what is missing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pe-unc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const configPath = unclaimedConfig(dir, { provisioning: { claimBaseUrl: 'https://claim.example.test' } });
  const check = await runCli(['config', 'check', '--config', configPath]);
  t.equal(check.code, 2);
  t.match(check.stderr, /\$\.upstream: is required/);
  const run = await runCli(['run', '--config', configPath]);
  t.equal(run.code, 2, 'run refuses it too');
});
