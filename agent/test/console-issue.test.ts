/**
 * The console snippet (agent/src/provisioning/console-issue.ts): what agetty
 * will print from it, its QR drawing read back the way a phone sees a
 * light-on-dark console, its mode, atomic replacement once claimed, and no
 * write where the folder does not exist.
 */
import t, { type Test } from 'tap';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import jsQRModule from 'jsqr';
import { generateClaimCode } from '../src/provisioning/claim-code.js';
import { claimQrForConsole } from '../src/provisioning/claim-qr.js';
import { ISSUE_FILE_NAME, removeIssue, writeClaimedIssue, writeClaimIssue, type ClaimIssue } from '../src/provisioning/console-issue.js';

// jsqr is a CommonJS bundle whose types declare an ES default export (see provision-qr.test.ts).
const jsQR = jsQRModule.default;

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'pe-issue-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function claimIssue(gatewayId: string, claimUrl: string, claimCode = 'ABCD-EFGH-JKMN-PQRS'): Promise<ClaimIssue> {
  return { gatewayId, claimCode, claimUrl, qrText: await claimQrForConsole(claimUrl) };
}

/**
 * What agetty prints from an issue file: `\\` is one backslash, any other
 * `\x` is an escape agetty expands (host name, address, ...); those are listed
 * and shown as `<\x>`. (util-linux agetty.c, issuefile_read_stream and
 * output_special_char.)
 */
function asAgettyPrints(text: string): { printed: string; escapes: string[] } {
  let printed = '';
  const escapes: string[] = [];
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i] ?? '';
    if (c !== '\\') {
      printed += c;
      continue;
    }
    i += 1;
    const next = text[i] ?? 'EOF';
    if (next === '\\') {
      printed += '\\';
    } else {
      escapes.push(next);
      printed += `<\\${next}>`;
    }
  }
  return { printed, escapes };
}

/**
 * The QR drawing in printed text as modules, true = light: a drawn half (█ ▀ ▄)
 * is the console's light foreground, a space its dark background.
 */
function lightModulesFromConsole(printed: string): boolean[][] {
  const rows: boolean[][] = [];
  for (const line of printed.split('\n').filter((l) => /^[█▀▄ ]+$/.test(l) && /[█▀▄]/.test(l))) {
    const chars = [...line];
    rows.push(chars.map((c) => c === '█' || c === '▀'));
    rows.push(chars.map((c) => c === '█' || c === '▄'));
  }
  return rows;
}

/**
 * Modules to an RGBA image as a screen shows them, inside a border of the
 * screen's background, and decoded by jsQR without its inverted second try:
 * polarity counts, as it does for many phone scanners. `lightOnDark`: a
 * console (light characters, black background); false: a terminal with a
 * white background, where the same characters come out as a negative.
 */
function decodeAsShown(light: boolean[][], lightOnDark: boolean): string | undefined {
  const border = 4;
  const scale = 4;
  const size = Math.max(...light.map((row) => row.length), light.length) + 2 * border;
  const width = size * scale;
  const background = lightOnDark ? 0 : 255;
  const pixels = new Uint8ClampedArray(width * width * 4).fill(background);
  for (let at = 3; at < pixels.length; at += 4) pixels[at] = 255;
  light.forEach((row, y) =>
    row.forEach((isLight, x) => {
      if (!isLight) return;
      const value = lightOnDark ? 255 : 0;
      for (let dy = 0; dy < scale; dy += 1) {
        for (let dx = 0; dx < scale; dx += 1) {
          const at = (((y + border) * scale + dy) * width + (x + border) * scale + dx) * 4;
          pixels[at] = value;
          pixels[at + 1] = value;
          pixels[at + 2] = value;
        }
      }
    }),
  );
  return jsQR(pixels, width, width, { inversionAttempts: 'dontInvert' })?.data;
}

t.test('the claim snippet: id, code and link under a QR that reads back, on a light-on-dark console, as exactly the claim link; mode 0600', async (t) => {
  const dir = tempDir(t);
  const url = 'https://claim.example.com/claim?gw=gw-issue-test&code=ABCD-EFGH-JKMN-PQRS';
  t.equal(writeClaimIssue(dir, await claimIssue('gw-issue-test', url)), true);
  const path = join(dir, ISSUE_FILE_NAME);
  t.equal(statSync(path).mode & 0o777, 0o600, 'it holds the claim code: mode 0600');
  const text = readFileSync(path, 'utf8');
  t.notMatch(text, /\x1b/, 'no ANSI colours: the console may be a serial line');
  const { printed, escapes } = asAgettyPrints(text);
  t.same(escapes, [], 'nothing agetty would expand');
  t.match(printed, /^Pleevi Edge gateway gw-issue-test is not claimed yet\.\n/);
  t.match(printed, /\ngateway id {3}gw-issue-test\nclaim code {3}ABCD-EFGH-JKMN-PQRS\nclaim link {3}https:\/\/claim\.example\.com\/claim\?gw=gw-issue-test&code=ABCD-EFGH-JKMN-PQRS\n/);
  const light = lightModulesFromConsole(printed);
  t.equal(decodeAsShown(light, true), url, 'the QR on a light-on-dark console reads as exactly the claim link');
  t.equal(decodeAsShown(light, false), undefined, 'the same drawing on a light background is a negative and does not read: the polarity is checked');
  t.ok(Math.max(...printed.split('\n').filter((line) => !line.startsWith('claim link')).map((line) => [...line].length)) <= 80, 'fits an 80-column console (the link may wrap)');
});

t.test('the snippet QR reads back for any claim code (30 random codes, gateway ids up to 64 characters)', async (t) => {
  const dir = tempDir(t);
  for (let i = 0; i < 30; i += 1) {
    const gatewayId = `gw-${'0123456789abcdef'.repeat(4).slice(0, 3 + ((i * 7) % 61))}`.slice(0, 64);
    const code = generateClaimCode();
    const url = `https://claim.example.com/claim?gw=${gatewayId}&code=${code}`;
    writeClaimIssue(dir, await claimIssue(gatewayId, url, code));
    const { printed } = asAgettyPrints(readFileSync(join(dir, ISSUE_FILE_NAME), 'utf8'));
    t.equal(decodeAsShown(lightModulesFromConsole(printed), true), url);
    const qrWidth = Math.max(...printed.split('\n').filter((line) => /[█▀▄]/.test(line)).map((line) => [...line].length));
    t.ok(qrWidth <= 80, `with a ${gatewayId.length}-character id the QR is ${qrWidth} columns: fits an 80-column console`);
  }
});

t.test('backslashes are doubled and controls escaped, so agetty prints the text as it is', async (t) => {
  const dir = tempDir(t);
  // \4 and \n would be an address and the host name to agetty; ESC would reach the console.
  const url = 'https://claim.example.com/a\\4b\\n\\\\c\x1b[2J/claim?gw=gw-x&code=ABCD-EFGH-JKMN-PQRS';
  writeClaimIssue(dir, await claimIssue('gw-x', url));
  const text = readFileSync(join(dir, ISSUE_FILE_NAME), 'utf8');
  t.match(text, 'a\\\\4b\\\\n\\\\\\\\c\\\\x1b[2J', 'each backslash doubled; ESC shown as the text \\x1b');
  const { printed, escapes } = asAgettyPrints(text);
  t.same(escapes, [], 'no escape left for agetty to expand');
  t.match(printed, 'claim link   https://claim.example.com/a\\4b\\n\\\\c\\x1b[2J/claim', 'agetty prints the backslashes as they are');
  t.notMatch(text, /\x1b/, 'no raw ESC in the file');

  writeClaimedIssue(dir, { gatewayId: 'gw-x', stationUrls: ['ws://192.168.1.20:8080/ocpp\\4'] });
  const claimed = asAgettyPrints(readFileSync(join(dir, ISSUE_FILE_NAME), 'utf8'));
  t.same(claimed.escapes, []);
  t.match(claimed.printed, '  ws://192.168.1.20:8080/ocpp\\4\n');
});

t.test('once claimed the snippet is replaced atomically: no claim code, mode 0644, the station URLs; removed on request', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, ISSUE_FILE_NAME);
  writeFileSync(join(dir, '10-other.issue'), 'another snippet\n');
  writeClaimIssue(dir, await claimIssue('gw-claimed', 'https://claim.example.com/claim?gw=gw-claimed&code=WXYZ-WXYZ-WXYZ-WXYZ', 'WXYZ-WXYZ-WXYZ-WXYZ'));
  const before = statSync(path).ino;

  t.equal(writeClaimedIssue(dir, { gatewayId: 'gw-claimed', stationUrls: ['ws://192.168.1.20:8080/ocpp', 'ws://[fd00::20]:8080/ocpp'] }), true);
  t.not(statSync(path).ino, before, 'a new file renamed over the old one, not the old one rewritten in place');
  t.equal(statSync(path).mode & 0o777, 0o644, 'nothing secret: mode 0644');
  const { printed } = asAgettyPrints(readFileSync(path, 'utf8'));
  t.equal(printed, "Pleevi Edge gateway gw-claimed is claimed.\nEach charging station's OCPP server URL:\n  ws://192.168.1.20:8080/ocpp\n  ws://[fd00::20]:8080/ocpp\n\n");
  t.notMatch(printed, /WXYZ|claim\?|[█▀▄]/, 'no claim code, link or QR left');
  t.same(readdirSync(dir).sort(), ['10-other.issue', ISSUE_FILE_NAME], 'no temp file left; the other snippet untouched');
  t.equal(readFileSync(join(dir, '10-other.issue'), 'utf8'), 'another snippet\n');

  writeClaimedIssue(dir, { gatewayId: 'gw-claimed', stationUrls: [] });
  t.match(readFileSync(path, 'utf8'), /none yet/, 'no station URL yet: said so');

  t.equal(removeIssue(dir), true);
  t.equal(existsSync(path), false);
  t.equal(removeIssue(dir), false, 'removing again: nothing to remove, no error');
  t.same(readdirSync(dir), ['10-other.issue']);
});

t.test('no folder, no snippet: the folder is never created', async (t) => {
  const dir = join(tempDir(t), 'issue.d');
  t.equal(writeClaimIssue(dir, await claimIssue('gw-none', 'https://claim.example.com/claim?gw=gw-none&code=ABCD-EFGH-JKMN-PQRS')), false);
  t.equal(writeClaimedIssue(dir, { gatewayId: 'gw-none', stationUrls: [] }), false);
  t.equal(removeIssue(dir), false);
  t.equal(existsSync(dir), false, 'not created');
  writeFileSync(dir, 'a file, not a folder');
  t.equal(writeClaimIssue(dir, await claimIssue('gw-none', 'https://claim.example.com/claim?gw=gw-none&code=ABCD-EFGH-JKMN-PQRS')), false, 'a file in its place is no folder either');
});

t.test('the appliance layout: /etc/issue.d/pleevi-edge.issue is a link to the file in the service user\'s folder, and follows each replacement', async (t) => {
  const root = tempDir(t);
  const issueD = join(root, 'etc', 'issue.d');
  const own = join(root, 'var', 'lib', 'pleevi-edge', 'console');
  mkdirSync(issueD, { recursive: true });
  mkdirSync(own, { recursive: true });
  symlinkSync(join(own, ISSUE_FILE_NAME), join(issueD, ISSUE_FILE_NAME));
  writeClaimIssue(own, await claimIssue('gw-link', 'https://claim.example.com/claim?gw=gw-link&code=ABCD-EFGH-JKMN-PQRS'));
  t.match(readFileSync(join(issueD, ISSUE_FILE_NAME), 'utf8'), /ABCD-EFGH-JKMN-PQRS/, 'agetty, following the link, reads the claim snippet');
  writeClaimedIssue(own, { gatewayId: 'gw-link', stationUrls: ['ws://192.168.1.20:8080/ocpp'] });
  t.match(readFileSync(join(issueD, ISSUE_FILE_NAME), 'utf8'), /is claimed/, 'and the claimed one after the replacement');
});
