import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import type { Test } from 'tap';
import type { UpdatePhase } from '../../src/update/update-journal.js';
import type { ReleaseBundle } from './release-bundle.js';
import type { UpdateSite } from './update-site.js';

/**
 * Power cut in the middle of an update: the helper kills itself with
 * SIGKILL right after recording `phase` in its journal
 * (PLEEVI_UPDATE_CRASH_AT), the daemon dies with it; then the boot-time
 * recovery (`--recover`) runs. Afterwards `current` must name one whole
 * release (its release.json and entry point present), the journal must be
 * gone, and the daemon must start on that release. Returns the version it
 * came back on.
 */
export async function powerCutAt(t: Test, site: UpdateSite, phase: UpdatePhase, bundle: ReleaseBundle, expected: string): Promise<void> {
  const apply = await site.cli(['update', 'apply', bundle.file]);
  t.equal(apply.code, 0, `${phase}: update apply: ${apply.stderr}`);
  const crashed = await site.helper([], { PLEEVI_UPDATE_CRASH_AT: phase });
  t.equal(crashed.code, null, `${phase}: the helper died (SIGKILL) right after recording the phase`);
  t.ok(existsSync(join(site.installDir, 'update-state.json')), `${phase}: the journal is left behind`);
  site.kill();

  const recovered = await site.helper(['--recover']);
  t.equal(recovered.code, 0, `${phase}: --recover exits 0: ${recovered.stderr}`);
  const current = readlinkSync(join(site.installDir, 'current'));
  t.equal(current, `releases/${expected}`, `${phase}: current points to ${expected}`);
  const release = JSON.parse(readFileSync(join(site.installDir, current, 'release.json'), 'utf8')) as { version: string };
  t.equal(release.version, expected, `${phase}: current holds a whole release (its release.json)`);
  t.ok(existsSync(join(site.installDir, current, 'agent', 'bin', 'pleevi-edge.js')) && existsSync(join(site.installDir, current, 'dist', 'agent', 'src', 'cli', 'main.js')), `${phase}: and its files`);
  t.notOk(existsSync(join(site.installDir, 'update-state.json')), `${phase}: the journal is cleared`);
  t.notOk(existsSync(join(site.installDir, 'releases', `${bundle.version}.partial`)), `${phase}: no partial release is left`);
  const outcome = JSON.parse(readFileSync(join(site.updatesDir, 'outcome.json'), 'utf8')) as { result: string; reason: string };
  t.equal(outcome.result, expected === bundle.version ? 'applied' : 'rolled-back', `${phase}: outcome ${outcome.result}: ${outcome.reason}`);
  t.notOk(existsSync(join(site.updatesDir, 'in-progress.json')), `${phase}: the request is gone`);

  site.start();
  await site.waitForVersion(expected);
  t.pass(`${phase}: the daemon starts on ${expected}`);
  site.stop();
}
