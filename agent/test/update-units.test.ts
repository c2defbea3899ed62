/**
 * The update units pass systemd-analyze verify together with the gateway's
 * unit, and agree with the code on the paths they name.
 */
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_INSTALL_DIR } from '../src/update/helper-defaults.js';
import { JOURNAL_FILE } from '../src/update/update-journal.js';
import { REQUEST_FILE } from '../src/update/update-files.js';
import { CLI, ROOT } from './helpers/run-cli.js';

const UNITS = ['pleevi-edge-update.path', 'pleevi-edge-update.service', 'pleevi-edge-update-recover.service'];

t.test('the update units pass systemd-analyze verify', { skip: existsSync('/usr/bin/systemd-analyze') && existsSync('/usr/bin/node') ? false : 'systemd-analyze or /usr/bin/node missing' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pe-units-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const unit of UNITS) copyFileSync(join(ROOT, 'systemd', unit), join(dir, unit));
  const gateway = readFileSync(join(ROOT, 'systemd/pleevi-edge.service'), 'utf8').replace(/^ExecStart=\S+ \S+/m, `ExecStart=${process.execPath} ${CLI}`);
  writeFileSync(join(dir, 'pleevi-edge.service'), gateway);
  const result = spawnSync('systemd-analyze', ['verify', ...[...UNITS, 'pleevi-edge.service'].map((unit) => join(dir, unit))], { encoding: 'utf8', cwd: dir });
  t.equal(result.stderr.trim(), '', 'no complaint about the units');
  t.equal(result.status, 0);
});

t.test('the units name the paths the code uses', async (t) => {
  const path = readFileSync(join(ROOT, 'systemd/pleevi-edge-update.path'), 'utf8');
  t.match(path, `PathExists=/var/lib/pleevi-edge/updates/${REQUEST_FILE}`, 'the request file in the default updates folder');
  const recover = readFileSync(join(ROOT, 'systemd/pleevi-edge-update-recover.service'), 'utf8');
  t.match(recover, `ConditionPathExists=${DEFAULT_INSTALL_DIR}/${JOURNAL_FILE}`, 'the journal');
  for (const unit of ['pleevi-edge-update.service', 'pleevi-edge-update-recover.service']) {
    t.match(readFileSync(join(ROOT, 'systemd', unit), 'utf8'), `${DEFAULT_INSTALL_DIR}/current/dist/agent/src/update/update-helper-main.js`, `${unit} runs the helper of the current release`);
  }
  t.ok(existsSync(join(ROOT, 'dist/agent/src/update/update-helper-main.js')), 'which the build makes');
});
