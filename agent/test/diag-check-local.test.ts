/** `pleevi-edge diag check` on what is local: a real SQLite file damaged on purpose, an unclaimed and a broken configuration. */
import { closeSync, mkdirSync, openSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { openStore } from '../src/store/gateway-store.js';
import { byId, closedPort, diagJson, site } from './helpers/diag-check-run.js';

t.test('a damaged database fails the integrity check, read next to nothing else', async (t) => {
  const port = await closedPort();
  const { dir, configPath } = site(t, () => ({ upstream: { url: `ws://127.0.0.1:${port}/ocpp` } }));
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir);
  const db = openStore(dataDir);
  const insert = db.prepare('INSERT INTO stations (station_id, first_seen_at) VALUES (?, ?)');
  for (let index = 0; index < 2000; index++) insert.run(`CP-${index}-${'x'.repeat(40)}`, new Date().toISOString());
  db.pragma('wal_checkpoint(TRUNCATE)');
  db.close();

  const before = await diagJson(configPath);
  t.equal(byId(before.checks, 'database').status, 'pass', 'intact: passes');

  // Overwrite two pages in the middle of the file: the stations table's leaves (the small tables' roots come first).
  const file = join(dataDir, 'pleevi-edge.db');
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.alloc(8192, 0x41), 0, 8192, Math.floor(statSync(file).size / 2 / 4096) * 4096);
  closeSync(fd);
  const after = await diagJson(configPath);
  const check = byId(after.checks, 'database');
  t.equal(check.status, 'fail', 'damaged: fails');
  t.match(check.detail, /is damaged|malformed/);
  t.match(check.fix, /systemctl stop pleevi-edge/);
  t.equal(after.code, 1);

  writeFileSync(join(dataDir, 'pleevi-edge.db'), 'not a database at all '.repeat(50));
  rmSync(join(dataDir, 'pleevi-edge.db-wal'), { force: true });
  rmSync(join(dataDir, 'pleevi-edge.db-shm'), { force: true });
  const garbage = byId((await diagJson(configPath)).checks, 'database');
  t.equal(garbage.status, 'fail');
  t.match(garbage.detail, /not a database/);
});

t.test('an unclaimed gateway: the configuration line warns with "claim the gateway"; a broken file fails with the config check fix', async (t) => {
  const unclaimed = site(t, () => ({ provisioning: { url: 'http://127.0.0.1:9/enroll' } }));
  const { checks } = await diagJson(unclaimed.configPath);
  const config = byId(checks, 'config');
  t.equal(config.status, 'warn');
  t.match(config.fix, /^claim the gateway/);
  t.equal(byId(checks, 'upstream').status, 'skip');

  const broken = site(t, () => ({ upstream: { url: 'http://not-a-websocket' } }));
  const failed = await diagJson(broken.configPath);
  t.equal(failed.code, 1);
  const problem = byId(failed.checks, 'config');
  t.equal(problem.status, 'fail');
  t.match(problem.detail, /\$\.upstream\.url/);
  t.match(problem.fix, /pleevi-edge config check/);
  t.equal(byId(failed.checks, 'clock').status, 'pass', 'the clock is still checked');
});
