/**
 * The claim QR of `provision qr --svg` as people see it: the SVG shown on a
 * page in a real browser (headless Chromium, phone-sized window), the
 * screenshot read by an independent decoder (zbarimg), as a phone's camera
 * reads a screen. It must hold exactly the claim link, and be the only code.
 * The checks that follow show the harness can fail: another link reads as
 * that other link, two codes read as two, a page without one reads as none.
 */
import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { claimQrAsSvg, claimQrForConsole } from '../src/provisioning/claim-qr.js';
import { ISSUE_FILE_NAME, writeClaimIssue } from '../src/provisioning/console-issue.js';
import { browserToolsMissing, decodeQrInImage, screenshotAtPhoneSize } from './helpers/browser-qr.js';
import { runCli } from './helpers/run-cli.js';

const skip = browserToolsMissing();
// About nine Chromium starts of 2 to 5 s each, more on a loaded machine: more than the suite's 120 s per file.
t.setTimeout(300_000);

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'pe-qr-browser-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A page like the claim pages: a heading, a line of text, the QR images at a phone-page size (240 CSS px). */
function claimPage(images: readonly string[]): string {
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">',
    '<title>Claim this gateway</title>',
    '<style>body{margin:0;padding:16px;font-family:"DejaVu Sans",sans-serif;background:#fff;color:#111}img{display:block;width:240px;height:240px;margin:16px auto}</style>',
    '</head><body>',
    '<h1>Claim this gateway</h1>',
    '<p>Scan the code with the installer app, or type the gateway id and claim code.</p>',
    ...images.map((src) => `<img src="${src}" alt="claim QR code">`),
    '</body></html>',
  ].join('\n');
}

/** Serve `files` (name to content) on 127.0.0.1, a free port; closed in teardown. Returns the base URL. */
async function serve(t: Test, files: Readonly<Record<string, string>>): Promise<string> {
  const server = createServer((request, response) => {
    const name = (request.url ?? '/').replace(/^\//, '').replace(/\?.*$/, '') || 'index.html';
    const body = files[name];
    if (body === undefined) {
      response.writeHead(404).end();
      return;
    }
    const type = name.endsWith('.svg') ? 'image/svg+xml' : 'text/html; charset=utf-8';
    response.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

/** Serve a page with these SVG images, screenshot it at phone size, and decode every QR code in it. */
async function codesOnPage(t: Test, dir: string, svgs: readonly string[]): Promise<string[]> {
  const files: Record<string, string> = {};
  svgs.forEach((svg, i) => (files[`qr-${i}.svg`] = svg));
  files['index.html'] = claimPage(Object.keys(files));
  const url = await serve(t, files);
  const png = join(dir, `page-${svgs.length}-${Date.now()}.png`);
  await screenshotAtPhoneSize(url, png);
  return decodeQrInImage(png);
}

t.test('provision qr --svg on a page in Chromium at phone size: zbarimg reads exactly the claim link, one code', { skip }, async (t) => {
  const dir = tempDir(t);
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify({ gatewayId: 'gw-qr-browser', upstream: { url: 'wss://cpms.example.com/ocpp' }, dataDir: join(dir, 'data'), provisioning: { claimBaseUrl: 'https://claim.example.com/' } }));
  const status = await runCli(['provision', 'status', '--json', '--config', configPath], { env: {} });
  t.equal(status.code, 0, status.stderr);
  const { claimUrl } = JSON.parse(status.stdout) as { claimUrl: string };

  const svgPath = join(dir, 'claim.svg');
  const run = await runCli(['provision', 'qr', '--svg', svgPath, '--config', configPath], { env: {} });
  t.equal(run.code, 0, run.stderr);
  const codes = await codesOnPage(t, dir, [readFileSync(svgPath, 'utf8')]);
  t.same(codes, [claimUrl], 'one code on the page, and it holds exactly the claim link');
});

t.test('the harness can fail: another link, two codes and no code all read as what they are', { skip }, async (t) => {
  const dir = tempDir(t);
  const claim = 'https://claim.example.com/claim?gw=gw-qr-browser&code=ABCD-EFGH-JKMN-PQRS';
  const other = 'https://other.example.net/claim?gw=gw-someone-else&code=WXYZ-WXYZ-WXYZ-WXYZ';

  t.same(await codesOnPage(t, dir, [await claimQrAsSvg(other)]), [other], 'a code of another link reads as that link, not the claim link');
  const both = await codesOnPage(t, dir, [await claimQrAsSvg(claim), await claimQrAsSvg(other)]);
  t.same([...both].sort(), [claim, other].sort(), 'two codes on a page read as two (so "only one code" is checked)');
  t.same(await codesOnPage(t, dir, []), [], 'a page without a code reads as none');
});

/**
 * The console snippet as a console draws it: a monospace font at one line per
 * 16 pixels, the VGA console's light grey on black, the cells taller than wide
 * (so the modules are not square), and the font's faint seams between cells.
 */
function consolePage(text: string, colours: { foreground: string; background: string }): string {
  const escaped = text.replaceAll('&', '&amp;').replaceAll('<', '&lt;');
  return `<!doctype html><html><head><meta charset="utf-8"></head><body style="margin:0;background:${colours.background}"><pre style="margin:8px;font:16px/1 'DejaVu Sans Mono',monospace;color:${colours.foreground}">${escaped}</pre></body></html>`;
}

t.test('the console snippet drawn as a console draws it (grey on black, monospace) reads in zbarimg as the claim link; as a negative it does not', { skip }, async (t) => {
  const dir = tempDir(t);
  const url = 'https://claim.example.com/claim?gw=gw-console&code=ABCD-EFGH-JKMN-PQRS';
  writeClaimIssue(dir, { gatewayId: 'gw-console', claimCode: 'ABCD-EFGH-JKMN-PQRS', claimUrl: url, qrText: await claimQrForConsole(url) });
  // The snippet holds no backslash, so agetty prints it as it is.
  const text = readFileSync(join(dir, ISSUE_FILE_NAME), 'utf8');
  const window = { width: 720, height: 640 };

  const onConsole = await serve(t, { 'index.html': consolePage(text, { foreground: '#aaaaaa', background: '#000000' }) });
  await screenshotAtPhoneSize(onConsole, join(dir, 'console.png'), window);
  t.same(await decodeQrInImage(join(dir, 'console.png')), [url], 'light on dark, as on the console: exactly the claim link');

  const negative = await serve(t, { 'index.html': consolePage(text, { foreground: '#000000', background: '#ffffff' }) });
  await screenshotAtPhoneSize(negative, join(dir, 'negative.png'), window);
  t.same(await decodeQrInImage(join(dir, 'negative.png')), [], 'dark on light (a white terminal) it is a negative: no code, so the polarity is checked');
});

t.test('the harness reports a browser failure with its stderr, not a silent empty result', { skip }, async (t) => {
  const dir = tempDir(t);
  const url = await serve(t, { 'index.html': claimPage([]) });
  await t.rejects(screenshotAtPhoneSize(url, join(dir, 'missing', 'nowhere.png')), /no image at .*nowhere\.png; chromium's stderr/s, 'no image written');
  // Port 9 is one Chromium refuses to load (ERR_UNSAFE_PORT): a page that does not load is an error, not a picture of an error page.
  await t.rejects(screenshotAtPhoneSize('http://127.0.0.1:9/', join(dir, 'refused.png')), /the page did not load \(net::ERR_/, 'page load failure');
  await t.rejects(screenshotAtPhoneSize(url, join(dir, 'slow.png'), { timeoutMs: 1 }), /no result within 1 ms \(killed\)/, 'timeout');
  await t.rejects(decodeQrInImage(join(dir, 'not-there.png')), /zbarimg.*exit 1/s);
});
