/**
 * A real-browser check of a QR code: the page is drawn by headless Chromium
 * (Debian's /usr/bin/chromium) in a phone-sized window, and the screenshot is
 * read by an independent decoder, zbarimg (Debian's zbar-tools), as a phone's
 * camera would read the screen. Nothing here knows how the QR was made.
 *
 * Both programs come from Debian packages (`.ci/run` installs them); a test
 * skips with `browserToolsMissing()` as its reason when they are absent.
 */
import { spawn } from 'node:child_process';
import { accessSync, constants, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const CHROMIUM_BIN = process.env.CHROMIUM_BIN ?? '/usr/bin/chromium';
export const ZBARIMG_BIN = process.env.ZBARIMG_BIN ?? '/usr/bin/zbarimg';

/** An iPhone 12 to 15's viewport in CSS pixels: the size the claim page must scan at. */
export const PHONE_WINDOW = { width: 390, height: 844 } as const;

/**
 * The flags that let Chromium run here: as root (no sandbox), without a GPU,
 * and without its own background connections (the network is closed, and they
 * only add noise and time).
 */
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--hide-scrollbars',
  '--force-device-scale-factor=1',
] as const;

const DEFAULT_TIMEOUT_MS = 30_000;

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Why the browser check cannot run here (for `t.test(name, { skip }, ...)`), or false when it can. */
export function browserToolsMissing(): string | false {
  const missing = [
    executable(CHROMIUM_BIN) ? undefined : `chromium not found at ${CHROMIUM_BIN} (apt-get install chromium, or set CHROMIUM_BIN)`,
    executable(ZBARIMG_BIN) ? undefined : `zbarimg not found at ${ZBARIMG_BIN} (apt-get install zbar-tools, or set ZBARIMG_BIN)`,
  ].filter((reason): reason is string => reason !== undefined);
  return missing.length === 0 ? false : missing.join('; ');
}

export function browserToolsAvailable(): boolean {
  return browserToolsMissing() === false;
}

interface Run {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

/**
 * Run a program to its end, or kill it (its whole process group: Chromium
 * starts helpers) after `timeoutMs`.
 */
function run(command: string, args: readonly string[], timeoutMs: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => {
      timedOut = true;
      if (child.pid !== undefined) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
      }
    }, timeoutMs);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut });
    });
  });
}

/**
 * The end of a program's stderr for an error message. Chromium logs a lot
 * before the line that matters; its complaints that there is no D-Bus (there
 * never is here) are left out.
 */
function tail(text: string, max = 4000): string {
  const trimmed = text
    .split('\n')
    .filter((line) => !/ERROR:dbus\/|^Connection (Error|Null)/.test(line))
    .join('\n')
    .trim();
  return trimmed.length <= max ? trimmed : `...${trimmed.slice(-max)}`;
}

export interface ScreenshotOptions {
  readonly width?: number;
  readonly height?: number;
  readonly timeoutMs?: number;
  /**
   * Base64 SHA-256 of the SubjectPublicKeyInfo of server keys to trust (a
   * test service with its own CA): Chromium pins exactly those keys; every
   * other certificate is still verified as usual.
   */
  readonly trustSpki?: readonly string[];
}

/**
 * Load `url` in headless Chromium in a phone-sized window (390x844 CSS pixels,
 * device scale 1) and write the visible part as a PNG to `outPng`. Each call
 * has its own empty profile folder, removed afterwards. Rejects with
 * Chromium's stderr when it fails, times out, cannot load the page or writes
 * no image.
 */
export async function screenshotAtPhoneSize(url: string, outPng: string, options: ScreenshotOptions = {}): Promise<void> {
  const width = options.width ?? PHONE_WINDOW.width;
  const height = options.height ?? PHONE_WINDOW.height;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const profile = mkdtempSync(join(tmpdir(), 'pe-chromium-'));
  try {
    rmSync(outPng, { force: true });
    const pins = options.trustSpki && options.trustSpki.length > 0 ? [`--ignore-certificate-errors-spki-list=${options.trustSpki.join(',')}`] : [];
    const args = [...CHROMIUM_FLAGS, ...pins, `--user-data-dir=${profile}`, `--window-size=${width},${height}`, `--screenshot=${outPng}`, url];
    const result = await run(CHROMIUM_BIN, args, timeoutMs);
    const what = `${CHROMIUM_BIN} --screenshot of ${url}`;
    if (result.timedOut) throw new Error(`${what}: no result within ${timeoutMs} ms (killed); chromium's stderr:\n${tail(result.stderr)}`);
    if (result.code !== 0) {
      throw new Error(`${what}: exit ${result.code ?? `signal ${result.signal ?? '?'}`}; chromium's stderr:\n${tail(result.stderr)}`);
    }
    // A page that did not load (refused, 404 is fine) still gives exit 0 and a picture of the error page.
    const loadFailure = /Page load failed: (\S+)/.exec(result.stderr);
    if (loadFailure) throw new Error(`${what}: the page did not load (${loadFailure[1]}); chromium's stderr:\n${tail(result.stderr)}`);
    if (!existsSync(outPng) || statSync(outPng).size === 0) {
      throw new Error(`${what}: exit 0 but no image at ${outPng}; chromium's stderr:\n${tail(result.stderr)}`);
    }
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

/**
 * Every QR code zbarimg finds in the image, as text, in the order it reports
 * them; [] when there is none. Only QR codes are looked for (text on a page
 * can otherwise read as a one-dimensional barcode).
 */
export async function decodeQrInImage(png: string, options: { timeoutMs?: number } = {}): Promise<string[]> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  // --raw: only the data, one symbol per line; -Sdisable -Sqrcode.enable: QR codes only.
  const result = await run(ZBARIMG_BIN, ['--quiet', '--raw', '-Sdisable', '-Sqrcode.enable', png], timeoutMs);
  if (result.timedOut) throw new Error(`${ZBARIMG_BIN} ${png}: no result within ${timeoutMs} ms (killed)`);
  // zbarimg exits 4 when the image was read and holds no code.
  if (result.code === 4) return [];
  if (result.code !== 0) throw new Error(`${ZBARIMG_BIN} ${png}: exit ${result.code ?? `signal ${result.signal ?? '?'}`}; stderr:\n${tail(result.stderr)}`);
  return result.stdout.split('\n').filter((line) => line !== '');
}
