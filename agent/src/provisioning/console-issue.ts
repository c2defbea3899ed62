/**
 * The claim QR on the console login screen (docs/provisioning.md "The claim
 * QR code"): a snippet `pleevi-edge.issue` that agetty shows above the login
 * prompt. agetty prints /etc/issue, then every `*.issue` file of
 * /etc/issue.d (in version order; names starting with a dot are skipped, so
 * the atomic write's temp file never shows), following a symbolic link.
 *
 * While the gateway is unclaimed the snippet holds the claim code, a secret
 * until it is used: mode 0600. agetty runs as root and reads it whatever its
 * mode. Once claimed it is replaced by text with nothing secret (the gateway
 * id and the URL each station is to be given), mode 0644.
 *
 * Where: replacing a file atomically renames a temp file inside its folder,
 * which needs write permission on the folder, and /etc/issue.d belongs to
 * root while the daemon runs as `pleevi-edge`. So the daemon writes into a
 * folder of its own, and the appliance image links
 * /etc/issue.d/pleevi-edge.issue to the file there. A folder that does not
 * exist is never created: no folder, no snippet.
 *
 * agetty reads `\` as the start of an escape (`\n` the host name, `\4` an
 * address, `\e` ESC, ...): every backslash of the text is doubled, and
 * control characters (ESC, CR, ...) from configured values are shown as
 * escapes instead of reaching the console.
 */
import { lstatSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic, fsyncDir } from './atomic-write.js';
import { terminalSafe } from '../cli/terminal-safe.js';

export const ISSUE_FILE_NAME = 'pleevi-edge.issue';

/** The claim snippet holds the claim code. */
export const CLAIM_ISSUE_MODE = 0o600;
/** The claimed snippet holds nothing secret. */
export const CLAIMED_ISSUE_MODE = 0o644;

export interface ClaimIssue {
  readonly gatewayId: string;
  readonly claimCode: string;
  readonly claimUrl: string;
  /** The QR drawing for the console: `claimQrForConsole(claimUrl)`. */
  readonly qrText: string;
}

export interface ClaimedIssue {
  readonly gatewayId: string;
  /** The URL each charging station is to be given (its OCPP central system URL). */
  readonly stationUrls: readonly string[];
}

/** Text as agetty will print it: controls shown as escapes (per line), then every backslash doubled. */
export function escapeIssueText(text: string): string {
  return text
    .split('\n')
    .map((line) => terminalSafe(line).replaceAll('\\', '\\\\'))
    .join('\n');
}

export function claimIssueText(issue: ClaimIssue): string {
  return escapeIssueText(
    [
      `Pleevi Edge gateway ${issue.gatewayId} is not claimed yet.`,
      'Scan the QR code with the installer app, or type the id and claim code.',
      '',
      issue.qrText.replace(/\n+$/, ''),
      '',
      `gateway id   ${issue.gatewayId}`,
      `claim code   ${issue.claimCode}`,
      `claim link   ${issue.claimUrl}`,
      '',
      '',
    ].join('\n'),
  );
}

export function claimedIssueText(issue: ClaimedIssue): string {
  const urls = issue.stationUrls.length === 0 ? ['  (none yet: the gateway has no LAN address)'] : issue.stationUrls.map((url) => `  ${url}`);
  return escapeIssueText([`Pleevi Edge gateway ${issue.gatewayId} is claimed.`, "Each charging station's OCPP server URL:", ...urls, '', ''].join('\n'));
}

function isDirectory(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || (error as NodeJS.ErrnoException).code === 'ENOTDIR') return false;
    throw error;
  }
}

/** Write the claim snippet (mode 0600) to `<dir>/pleevi-edge.issue`, atomically. False, and nothing written, when `dir` does not exist. */
export function writeClaimIssue(dir: string, issue: ClaimIssue): boolean {
  if (!isDirectory(dir)) return false;
  writeFileAtomic(join(dir, ISSUE_FILE_NAME), claimIssueText(issue), CLAIM_ISSUE_MODE);
  return true;
}

/** Replace the snippet, atomically, by the claimed text (mode 0644, no claim code). False, and nothing written, when `dir` does not exist. */
export function writeClaimedIssue(dir: string, issue: ClaimedIssue): boolean {
  if (!isDirectory(dir)) return false;
  writeFileAtomic(join(dir, ISSUE_FILE_NAME), claimedIssueText(issue), CLAIMED_ISSUE_MODE);
  return true;
}

/** Remove the snippet; false when there was none (or no folder). */
export function removeIssue(dir: string): boolean {
  if (!isDirectory(dir)) return false;
  const path = join(dir, ISSUE_FILE_NAME);
  try {
    lstatSync(path);
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw error;
  }
  rmSync(path, { force: true });
  fsyncDir(dir);
  return true;
}
