/**
 * Listings far larger than a site has today, spawned as the real CLI (from
 * dist/: `npm run build` first) on a real SQLite file. A table formatter that
 * spread every row into one call (`Math.max(...widths)`) overflowed the stack
 * past about 120,000 rows (`drivers list`, and `sessions --limit 0`, which
 * shares the formatter); so did a driver import that spread every problem
 * into `push`.
 */
import t, { type Test } from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { seedSyntheticDriverList, syntheticBadgeId } from '../src/drivers/driver-list-store.js';
import { openStore } from '../src/store/gateway-store.js';
import { runCli } from './helpers/run-cli.js';

const DRIVERS = 200_000;

function site(t: Test): { configPath: string; dataDir: string; dir: string } {
  const dir = t.testdir();
  const dataDir = join(dir, 'data');
  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify({ dataDir, upstream: { url: 'ws://127.0.0.1:9/ocpp' }, admin: { socket: join(dir, 'admin.sock') } }));
  return { configPath, dataDir, dir };
}

t.test(`drivers list prints all ${DRIVERS} drivers and exits 0`, async (t) => {
  const { configPath, dataDir } = site(t);
  const db = openStore(dataDir);
  seedSyntheticDriverList(db, DRIVERS);
  db.close();

  const listed = await runCli(['drivers', 'list', '--config', configPath]);
  t.equal(listed.code, 0, listed.stderr);
  t.equal(listed.stderr, '');
  const lines = listed.stdout.split('\n');
  t.match(lines[0], new RegExp(`^${DRIVERS} drivers, ${DRIVERS} badges`));
  t.match(lines[2], /^EMAIL\s+BADGES$/);
  const rows = lines.slice(3).filter((line) => line !== '');
  t.equal(rows.length, DRIVERS, 'one line per driver');
  t.equal(rows[0], `driver-000001@example.test  ${syntheticBadgeId(1)}`, 'columns aligned to the widest cell');
  t.equal(rows.at(-1), `driver-${DRIVERS}@example.test  ${syntheticBadgeId(DRIVERS)}`, 'the last driver too');
});

t.test('a driver file with a problem on each of 200,000 lines: every problem printed, exit 2', async (t) => {
  const { configPath, dir } = site(t);
  const lines = ['email,badge_ids'];
  for (let i = 0; i < DRIVERS; i++) lines.push(`not-an-email-${i},B${i}`);
  const file = join(dir, 'drivers.csv');
  writeFileSync(file, `${lines.join('\n')}\n`);

  const imported = await runCli(['drivers', 'import', file, '--config', configPath]);
  t.equal(imported.code, 2, 'a refused file, not a crash');
  const problems = imported.stderr.split('\n').filter((line) => /^line \d+: /.test(line));
  t.equal(problems.length, DRIVERS, 'one problem per line');
  t.equal(problems.at(-1), `line ${DRIVERS + 1}: "not-an-email-${DRIVERS - 1}" is not an email address`);
});
