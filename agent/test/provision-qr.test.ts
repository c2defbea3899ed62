/**
 * `pleevi-edge provision qr` as a process: the QR codes it draws are read
 * back by an independent decoder (jsQR) from the exact output, the terminal
 * drawing and the SVG file, and must hold exactly the claim link.
 */
import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateClaimCode } from '../src/provisioning/claim-code.js';
import { claimQrForTerminal } from '../src/provisioning/claim-qr.js';
import { runCli } from './helpers/run-cli.js';
import { decode, modulesFromTerminal } from './helpers/terminal-qr.js';

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'pe-qr-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The SVG of the `qrcode` library: one path of horizontal runs ("M x y.5", "m dx 0", "h n"). */
function modulesFromSvg(svg: string): boolean[][] {
  const size = Number(/viewBox="0 0 (\d+) \1"/.exec(svg)?.[1]);
  const path = /<path stroke="#000000" d="([^"]+)"/.exec(svg)?.[1] ?? '';
  const rows = Array.from({ length: size }, () => new Array<boolean>(size).fill(false));
  let x = 0;
  let y = 0;
  for (const [, command, a, b] of path.matchAll(/([Mmh])(-?[\d.]+)(?: (-?[\d.]+))?/g)) {
    const first = Number(a);
    if (command === 'M') {
      x = first;
      y = Math.floor(Number(b));
    } else if (command === 'm') {
      x += first;
    } else {
      for (let i = 0; i < first; i += 1) {
        const row = rows[y];
        if (row) row[x + i] = true;
      }
      x += first;
    }
  }
  return rows;
}

t.test('provision qr draws the claim link in the terminal and as SVG; both decode to exactly that link', async (t) => {
  const dir = tempDir(t);
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify({ gatewayId: 'gw-qr-test', upstream: { url: 'wss://cpms.example.com/ocpp' }, dataDir: join(dir, 'data'), provisioning: { claimBaseUrl: 'https://claim.example.com/' } }));
  const status = await runCli(['provision', 'status', '--json', '--config', configPath], { env: {} });
  t.equal(status.code, 0, status.stderr);
  const { claimCode, claimUrl } = JSON.parse(status.stdout) as { claimCode: string; claimUrl: string };
  t.equal(claimUrl, `https://claim.example.com/claim?gw=gw-qr-test&code=${claimCode}`);

  const svgPath = join(dir, 'claim.svg');
  const run = await runCli(['provision', 'qr', '--svg', svgPath, '--config', configPath], { env: {} });
  t.equal(run.code, 0, run.stderr);
  t.equal(decode(modulesFromTerminal(run.stdout)), claimUrl, 'the terminal drawing decodes to the claim link');
  t.match(run.stdout, new RegExp(`claim code\\s+${claimCode}`), 'the code to type instead is printed under it');
  t.equal(decode(modulesFromSvg(readFileSync(svgPath, 'utf8'))), claimUrl, 'the SVG decodes to the claim link');
  t.equal(statSync(svgPath).mode & 0o777, 0o600, 'the SVG holds the claim code: mode 0600');
});

t.test('the terminal drawing decodes for any claim code (read back in-process, 50 random codes)', async (t) => {
  for (let i = 0; i < 50; i += 1) {
    const url = `https://claim.example.com/claim?gw=gw-${i}&code=${generateClaimCode()}`;
    t.equal(decode(modulesFromTerminal(await claimQrForTerminal(url))), url);
  }
});

t.test('provision qr without provisioning.claimBaseUrl: a clear error, exit 2, nothing drawn', async (t) => {
  const dir = tempDir(t);
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify({ gatewayId: 'gw-qr-none', upstream: { url: 'wss://cpms.example.com/ocpp' }, dataDir: join(dir, 'data') }));
  const run = await runCli(['provision', 'qr', '--config', configPath], { env: {} });
  t.equal(run.code, 2);
  t.match(run.stderr, /no provisioning\.claimBaseUrl/);
  t.equal(run.stdout, '');
});
