/**
 * The privileged half of an update (`pleevi-edge-update`, run as root by
 * pleevi-edge-update.service when the agent leaves `request.json`;
 * docs/appliance.md "Updates"). It trusts nothing the agent wrote: the
 * signature is checked again on the bytes it then unpacks.
 *
 *   take the request (rename: the path unit does not fire again)
 *   verify -> unpack releases/<to>.partial -> rename releases/<to>
 *   stop the agent -> back up the database -> switch `current` -> start
 *   wait until the agent answers /v1/status with <to> (updates.readyTimeoutS)
 *   keep it, or stop, switch back, restore the database, start
 *   outcome.json for the agent; prune to three releases
 *
 * Each step is recorded in the journal before it starts (update-journal.ts);
 * `recover` finishes or undoes whatever a power cut interrupted.
 */
import { constants, existsSync, openSync, closeSync, renameSync, rmSync, fstatSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { adminGet, adminPost } from '../admin/admin-client.js';
import { describeError } from '../errors.js';
import type { Logger } from '../util/logger.js';
import { backupDatabase, restoreDatabase } from './database-backup.js';
import { currentVersion, isWholeRelease, pruneReleases, removeLeftovers, removeRelease, switchCurrent, unpackRelease } from './install-tree.js';
import { runShellCommand } from './shell-command.js';
import { UpdateRefusedError } from './update-error.js';
import { IN_PROGRESS_FILE, OUTCOME_FILE, parseUpdateRequest, REQUEST_FILE, writeJsonAtomic, type UpdateOutcome, type UpdateRequest, type UpdateResult } from './update-files.js';
import { clearJournal, readJournal, recordPhase, type UpdateJournal, type UpdatePhase } from './update-journal.js';
import { readSigningKey, verifyBundle } from './verify-bundle.js';

export interface HelperSettings {
  /** The agent's updates folder (`updates.dir`). */
  readonly updatesDir: string;
  /** The pinned public key (`updates.publicKey`). */
  readonly publicKey: string;
  readonly readyTimeoutS: number;
  /** The agent's `dataDir`: where its database is. */
  readonly dataDir: string;
  /** The agent's admin socket: readiness is its `/v1/status` naming the new version. */
  readonly adminSocket: string;
  /** `/opt/pleevi-edge`: releases/, current, the journal, the database backups. */
  readonly installDir: string;
  /** `systemctl stop pleevi-edge.service` */
  readonly stopCommand: string;
  /** `systemctl start --no-block pleevi-edge.service` */
  readonly startCommand: string;
  readonly logger: Logger;
  /** Default `process.arch`. */
  readonly arch?: string;
}

/** Bundles larger than this are refused before they are read (a release is some tens of MB). */
const MAX_BUNDLE_BYTES = 512 * 1024 * 1024;
const READY_POLL_MS = 500;

/** Run one request if there is one. Returns its outcome (undefined: nothing to do). */
export async function runUpdateHelper(settings: HelperSettings): Promise<UpdateOutcome | undefined> {
  const { logger, updatesDir } = settings;
  // A journal here means an earlier run was cut short: make the tree whole first.
  await recoverInterruptedUpdate(settings, { start: false });
  const taken = takeRequest(updatesDir);
  if (taken === undefined) {
    logger.info({ updatesDir }, 'no update request');
    return undefined;
  }
  const from = currentVersion(settings.installDir) ?? null;
  if (typeof taken === 'string') return finish(settings, { id: null, commandId: null, from, to: null, result: 'refused', reason: taken }, undefined);
  const request = taken;
  const base = { id: request.id, commandId: request.commandId ?? null, from, to: request.version };
  logger.info({ id: request.id, from, to: request.version }, 'update request taken');
  let bundle: Buffer;
  try {
    if (from === null || !isWholeRelease(settings.installDir, from)) throw new UpdateRefusedError('unreadable_bundle', `there is no whole current release under ${settings.installDir} to update from`);
    bundle = readNoFollow(join(updatesDir, request.bundle), MAX_BUNDLE_BYTES);
    const signature = readNoFollow(join(updatesDir, request.sig), 4096).toString('utf8');
    await verifyBundle(bundle, signature, readSigningKey(settings.publicKey), {
      sha256: request.sha256,
      version: request.version,
      currentVersion: from,
      ...(settings.arch !== undefined ? { arch: settings.arch } : {}),
    });
  } catch (error: unknown) {
    logger.warn({ err: describeError(error), id: request.id }, 'update refused');
    return finish(settings, { ...base, result: 'refused', reason: describeError(error) }, request);
  }
  return applyVerified(settings, request, from, bundle);
}

async function applyVerified(settings: HelperSettings, request: UpdateRequest, from: string, bundle: Buffer): Promise<UpdateOutcome> {
  const { installDir, logger } = settings;
  const to = request.version;
  const backupDir = join(installDir, 'backups', from);
  const journal = (phase: UpdatePhase, extra: Partial<Pick<UpdateJournal, 'deadline' | 'reason'>> = {}): UpdateJournal =>
    recordPhase(installDir, { phase, id: request.id, commandId: request.commandId ?? null, from, to, backupDir, deadline: extra.deadline ?? null, reason: extra.reason ?? null });
  const base = { id: request.id, commandId: request.commandId ?? null, from, to };

  journal('unpacking');
  try {
    await unpackRelease(installDir, to, bundle);
  } catch (error: unknown) {
    clearJournal(installDir);
    return finish(settings, { ...base, result: 'refused', reason: describeError(error) }, request);
  }
  if (!isWholeRelease(installDir, to)) {
    removeRelease(installDir, to);
    clearJournal(installDir);
    return finish(settings, { ...base, result: 'refused', reason: 'the unpacked release has no release.json or no agent/bin/pleevi-edge.js' }, request);
  }
  journal('stopping');
  await runShellCommand(settings.stopCommand, logger, 'stop the agent');
  journal('backup');
  const copied = backupDatabase(settings.dataDir, backupDir);
  logger.info({ backupDir, files: copied }, 'database backed up');
  journal('switching');
  switchCurrent(installDir, to);
  journal('starting');
  await runShellCommand(settings.startCommand, logger, 'start the agent');
  const deadline = new Date(Date.now() + settings.readyTimeoutS * 1000);
  journal('waiting', { deadline: deadline.toISOString() });
  const ready = await waitForVersion(settings.adminSocket, to, deadline);
  if (ready) {
    journal('keeping');
    logger.info({ from, to }, 'the new release is ready: update kept');
    const outcome = finish(settings, { ...base, result: 'applied', reason: null }, request);
    const removed = pruneReleases(installDir, from);
    if (removed.length > 0) logger.info({ removed }, 'old releases removed');
    return outcome;
  }
  const reason = `${to} did not report ready within ${settings.readyTimeoutS} s; switched back to ${from}`;
  journal('rolling-back', { reason });
  logger.warn({ from, to }, reason);
  await rollBack(settings, { from, to, backupDir }, { running: true, start: true });
  return finish(settings, { ...base, result: 'rolled-back', reason }, request);
}

/** Stop whatever runs, point `current` back at `from`, put the database back, remove `to`, start. */
async function rollBack(settings: HelperSettings, journal: Pick<UpdateJournal, 'from' | 'to' | 'backupDir'>, options: { running: boolean; start: boolean }): Promise<void> {
  const { installDir, logger } = settings;
  if (options.running) await runShellCommand(settings.stopCommand, logger, 'stop the agent');
  switchCurrent(installDir, journal.from);
  if (existsSync(journal.backupDir)) restoreDatabase(journal.backupDir, settings.dataDir);
  if (journal.to !== journal.from) removeRelease(installDir, journal.to);
  if (options.start) await runShellCommand(settings.startCommand, logger, 'start the agent');
}

/**
 * After a power cut or a crash of the helper (the journal is still there):
 * make `current` name one whole release and the database match it. Before
 * the switch nothing was changed but an unpacked folder; after it and
 * before the new release was proven ready, it is undone (switch back,
 * database restored); once proven ready (`keeping`), it is kept. With
 * `start`, the agent is started afterwards (the helper unit's
 * ExecStopPost; at boot the agent starts by itself after the recovery unit).
 */
export async function recoverInterruptedUpdate(settings: HelperSettings, options: { start: boolean }): Promise<UpdateOutcome | undefined> {
  const { installDir, logger } = settings;
  const journal = readJournal(installDir);
  removeLeftovers(installDir);
  if (journal === undefined) return undefined;
  logger.warn({ phase: journal.phase, from: journal.from, to: journal.to }, 'an update was interrupted: recovering');
  const base = { id: journal.id, commandId: journal.commandId, from: journal.from, to: journal.to };
  const request = inProgressRequest(settings.updatesDir);
  let result: UpdateResult;
  let reason: string;
  if (journal.phase === 'keeping' && isWholeRelease(installDir, journal.to)) {
    switchCurrent(installDir, journal.to);
    result = 'applied';
    reason = 'the helper was interrupted after the new release reported ready; kept';
  } else {
    const switched = ['switching', 'starting', 'waiting', 'rolling-back', 'keeping'].includes(journal.phase);
    if (switched) {
      // At boot (no `start`) the agent has not started yet, and a stop job would cancel its start.
      await rollBack(settings, journal, { running: options.start, start: false });
    } else {
      switchCurrent(installDir, journal.from);
      if (journal.to !== journal.from) removeRelease(installDir, journal.to);
      // Between `stopping` and here the agent may be stopped: `start` brings it back below.
    }
    result = 'rolled-back';
    reason = journal.reason ?? `the update was interrupted (crash or power cut) during "${journal.phase}"; ${journal.from} kept${switched ? ' and its database restored' : ''}`;
  }
  const outcome = finish(settings, { ...base, result, reason }, request);
  if (options.start) await runShellCommand(settings.startCommand, logger, 'start the agent');
  return outcome;
}

/** Write the outcome, remove the request and its bundle, clear the journal, tell a running agent. */
function finish(settings: HelperSettings, fields: Omit<UpdateOutcome, 'at'>, request: UpdateRequest | undefined): UpdateOutcome {
  const { updatesDir, installDir, logger } = settings;
  const outcome: UpdateOutcome = { ...fields, at: new Date().toISOString() };
  writeJsonAtomic(join(updatesDir, OUTCOME_FILE), outcome, 0o644);
  for (const name of [request?.bundle, request?.sig, IN_PROGRESS_FILE]) if (name !== undefined) rmSync(join(updatesDir, name), { force: true });
  clearJournal(installDir);
  logger.info({ outcome }, 'update finished');
  // Best effort: a running agent publishes the outcome now; otherwise it does at its next start.
  adminPost(settings.adminSocket, '/v1/update/outcome', 2000).catch((error: unknown) => logger.info({ err: describeError(error) }, 'the agent was not told about the outcome now; it reads it at its next start'));
  return outcome;
}

/** Rename request.json to in-progress.json (or pick up one taken before a crash) and read it. */
function takeRequest(updatesDir: string): UpdateRequest | string | undefined {
  const taken = join(updatesDir, IN_PROGRESS_FILE);
  try {
    renameSync(join(updatesDir, REQUEST_FILE), taken);
  } catch (error: unknown) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
    if (!existsSync(taken)) return undefined;
  }
  let text: string;
  try {
    text = readNoFollow(taken, 64 * 1024).toString('utf8');
  } catch (error: unknown) {
    rmSync(taken, { force: true });
    return `the update request cannot be read: ${describeError(error)}`;
  }
  const request = parseUpdateRequest(text);
  if (typeof request === 'string') rmSync(taken, { force: true });
  return request;
}

function inProgressRequest(updatesDir: string): UpdateRequest | undefined {
  try {
    const request = parseUpdateRequest(readNoFollow(join(updatesDir, IN_PROGRESS_FILE), 64 * 1024).toString('utf8'));
    return typeof request === 'string' ? undefined : request;
  } catch {
    return undefined;
  }
}

/** Read a regular file the agent left, never through a symbolic link, at most `limit` bytes. */
function readNoFollow(path: string, limit: number): Buffer {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const info = fstatSync(fd);
    if (!info.isFile()) throw new Error(`${path} is not a regular file`);
    if (info.size > limit) throw new Error(`${path} is larger than ${limit} bytes`);
    const buffer = Buffer.alloc(info.size);
    for (let at = 0; at < info.size; ) {
      const read = readSync(fd, buffer, at, info.size - at, at);
      if (read === 0) break;
      at += read;
    }
    return buffer;
  } finally {
    closeSync(fd);
  }
}

/** Poll the admin socket until `/v1/status` names `version`, or the deadline passes. */
async function waitForVersion(socket: string, version: string, deadline: Date): Promise<boolean> {
  while (Date.now() < deadline.getTime()) {
    try {
      const status = await adminGet(socket, '/v1/status', 2000);
      if (typeof status === 'object' && status !== null && (status as { version?: unknown }).version === version) return true;
    } catch {
      // not up yet
    }
    await new Promise((resolve) => setTimeout(resolve, READY_POLL_MS));
  }
  return false;
}
