/**
 * A power cut before the switch of `current` (the helper killed with
 * SIGKILL at each journal phase up to `switching`, the daemon with it),
 * then the boot-time recovery: the gateway starts on one whole release.
 * The later phases are in update-power-cut-late.test.ts.
 */
import t from 'tap';
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

t.test('a power cut at unpacking, stopping, backup or switching: recovered to A, the daemon starts', async (t) => {
  const site = await makeUpdateSite(t, { installed, publicKeyPem: keys.publicKeyPem, upstreamUrl: 'ws://127.0.0.1:9/ocpp', readyTimeoutS: 5 });
  // A database for the backup to copy.
  site.start();
  await site.waitForVersion('9.1.0');
  site.stop();
  for (const phase of ['unpacking', 'stopping', 'backup', 'switching'] as const) await powerCutAt(t, site, phase, next, '9.1.0');
});
