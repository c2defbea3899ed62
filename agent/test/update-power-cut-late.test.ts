/**
 * A power cut after the switch of `current` (the helper killed with SIGKILL
 * at `starting`, `waiting`, `rolling-back`, `keeping`), then the boot-time
 * recovery: back on A with its database restored, unless the new release
 * had already been proven ready (`keeping`: kept). And a crash of the
 * helper alone while the new release runs: `--recover --start` (the
 * helper unit's ExecStopPost) stops it, switches back and starts A.
 */
import t from 'tap';
import { readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { powerCutAt } from './helpers/power-cut.js';
import { buildReleaseBundle, makeSigningKeys } from './helpers/release-bundle.js';
import { makeUpdateSite } from './helpers/update-site.js';

// Real daemons, helpers and CLIs as processes, one after another: minutes on a busy 2-core machine, not the default 120 s.
t.setTimeout(360_000);

const keys = makeSigningKeys();
const out = t.testdir();
const installed = buildReleaseBundle({ version: '9.1.0', outDir: join(out, 'a'), keys });
const next = buildReleaseBundle({ version: '9.2.0', outDir: join(out, 'b'), keys });
const never = buildReleaseBundle({ version: '9.3.0', outDir: join(out, 'c'), keys, entryPoint: 'setInterval(() => {}, 1000);\n' });

t.test('a power cut at starting, waiting or rolling-back: back on A; at keeping: B is kept', async (t) => {
  const site = await makeUpdateSite(t, { installed, publicKeyPem: keys.publicKeyPem, upstreamUrl: 'ws://127.0.0.1:9/ocpp', readyTimeoutS: 20 });
  site.start();
  await site.waitForVersion('9.1.0');
  site.stop();
  await powerCutAt(t, site, 'starting', next, '9.1.0');
  await powerCutAt(t, site, 'waiting', next, '9.1.0');
  // Only a release that is not ready gets to rolling-back.
  await powerCutAt(t, site, 'rolling-back', never, '9.1.0');
  await powerCutAt(t, site, 'keeping', next, '9.2.0');
});

t.test('the helper alone crashes while B runs: --recover --start stops B, switches back, starts A', async (t) => {
  const site = await makeUpdateSite(t, { installed, publicKeyPem: keys.publicKeyPem, upstreamUrl: 'ws://127.0.0.1:9/ocpp', readyTimeoutS: 20 });
  site.start();
  await site.waitForVersion('9.1.0');
  t.equal((await site.cli(['update', 'apply', next.file])).code, 0);
  const crashed = await site.helper([], { PLEEVI_UPDATE_CRASH_AT: 'waiting' });
  t.equal(crashed.code, null, 'the helper died');
  await site.waitForVersion('9.2.0');
  const recovered = await site.helper(['--recover', '--start']);
  t.equal(recovered.code, 0, recovered.stderr);
  t.equal(readlinkSync(join(site.installDir, 'current')), 'releases/9.1.0');
  await site.waitForVersion('9.1.0');
  t.pass('A runs again');
  t.match(JSON.parse(readFileSync(join(site.updatesDir, 'outcome.json'), 'utf8')), { result: 'rolled-back', reason: /interrupted .* during "waiting"/ });
  site.stop();
});
