/**
 * The installed releases (docs/appliance.md "Installed layout"):
 * `<installDir>/releases/<version>/` and `<installDir>/current`, a relative
 * symbolic link to one of them, switched with rename(2) of a new link so
 * that at every instant it names one whole release.
 */
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { basename, join } from 'node:path';
import { fsyncDir } from '../provisioning/atomic-write.js';
import { parseReleaseManifest } from './release-manifest.js';
import { runTar } from './run-tar.js';

export const RELEASES_DIR = 'releases';
export const CURRENT_LINK = 'current';
const PARTIAL_SUFFIX = '.partial';

export function releaseDir(installDir: string, version: string): string {
  return join(installDir, RELEASES_DIR, version);
}

/** The version `current` points to, or undefined when there is no usable link. */
export function currentVersion(installDir: string): string | undefined {
  try {
    return basename(readlinkSync(join(installDir, CURRENT_LINK)));
  } catch {
    return undefined;
  }
}

/** A release folder that holds its release.json (with its own version) and its entry point: a whole release. */
export function isWholeRelease(installDir: string, version: string): boolean {
  const dir = releaseDir(installDir, version);
  try {
    const manifest = parseReleaseManifest(readFileSync(join(dir, 'release.json'), 'utf8'));
    return typeof manifest !== 'string' && manifest.version === version && existsSync(join(dir, 'agent', 'bin', 'pleevi-edge.js'));
  } catch {
    return false;
  }
}

/** Versions present under releases/ (whole or not), partial unpackings excluded. */
export function installedReleases(installDir: string): string[] {
  try {
    return readdirSync(join(installDir, RELEASES_DIR)).filter((name) => !name.endsWith(PARTIAL_SUFFIX) && !name.startsWith('.')).sort();
  } catch {
    return [];
  }
}

/**
 * Unpack the verified bundle bytes into `releases/<version>.partial`, flush
 * it to the disk, then rename it to `releases/<version>`: a release folder
 * under its real name is always complete. Files become root's (no owners
 * from the archive).
 */
export async function unpackRelease(installDir: string, version: string, bundle: Buffer): Promise<void> {
  const releases = join(installDir, RELEASES_DIR);
  mkdirSync(releases, { recursive: true, mode: 0o755 });
  const partial = join(releases, `${version}${PARTIAL_SUFFIX}`);
  const final = join(releases, version);
  rmSync(partial, { recursive: true, force: true });
  // A folder of that version that is not current is left from an earlier attempt: never trusted, unpacked again.
  rmSync(final, { recursive: true, force: true });
  mkdirSync(partial, { mode: 0o755 });
  const unpacked = await runTar(['-xzf', '-', '-C', partial, '--strip-components=1', '--no-same-owner'], bundle);
  if (unpacked.code !== 0) {
    rmSync(partial, { recursive: true, force: true });
    throw new Error(`the bundle could not be unpacked: ${unpacked.stderr || `tar exit ${unpacked.code}`}`);
  }
  // syncfs(2) of the file system holding it: every unpacked file on the disk before the name says "complete".
  spawnSync('sync', ['-f', partial]);
  renameSync(partial, final);
  fsyncDir(releases);
}

/** Point `current` at `releases/<version>` in one rename(2). */
export function switchCurrent(installDir: string, version: string): void {
  const temp = join(installDir, `.${CURRENT_LINK}.${randomBytes(6).toString('hex')}`);
  symlinkSync(join(RELEASES_DIR, version), temp);
  try {
    renameSync(temp, join(installDir, CURRENT_LINK));
  } catch (error: unknown) {
    rmSync(temp, { force: true });
    throw error;
  }
  fsyncDir(installDir);
}

/** Remove what a crash left half-made: `*.partial` folders and temp links. */
export function removeLeftovers(installDir: string): void {
  for (const name of safeList(join(installDir, RELEASES_DIR))) {
    if (name.endsWith(PARTIAL_SUFFIX)) rmSync(join(installDir, RELEASES_DIR, name), { recursive: true, force: true });
  }
  for (const name of safeList(installDir)) {
    if (name.startsWith(`.${CURRENT_LINK}.`)) rmSync(join(installDir, name), { force: true });
  }
}

export function removeRelease(installDir: string, version: string): void {
  rmSync(releaseDir(installDir, version), { recursive: true, force: true });
}

/**
 * Keep at most `keep` releases: always `current` and `previous`, then the
 * most recently installed others. Returns the versions removed.
 */
export function pruneReleases(installDir: string, previous: string | undefined, keep = 3): string[] {
  const current = currentVersion(installDir);
  const protectedVersions = new Set([current, previous].filter((version): version is string => version !== undefined));
  const others = installedReleases(installDir)
    .filter((version) => !protectedVersions.has(version))
    .map((version) => ({ version, at: lstatSync(releaseDir(installDir, version)).ctimeMs }))
    .sort((a, b) => b.at - a.at);
  const room = Math.max(0, keep - protectedVersions.size);
  const removed = others.slice(room).map(({ version }) => version);
  for (const version of removed) removeRelease(installDir, version);
  return removed;
}

function safeList(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
