import t, { type Test } from 'tap';
import { runCli, type CliRun } from './helpers/run-cli.js';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SqliteDriverDirectory } from '../src/drivers/driver-list-store.js';
import { openStore } from '../src/store/gateway-store.js';
import { mountSmallDisk } from './helpers/small-disk.js';




interface Site {
  readonly dir: string;
  readonly dataDir: string;
  /** Run `pleevi-edge drivers <args> --config <this site's config>`. */
  drivers(...args: string[]): Promise<CliRun>;
  /** Write a CSV file into the test folder and return its path. */
  file(name: string, content: string | Buffer): string;
}

function site(t: Test, dataDirOn?: string): Site {
  const dir = t.testdir();
  const dataDir = dataDirOn ?? join(dir, 'data');
  const config = join(dir, 'config.json');
  writeFileSync(config, JSON.stringify({ dataDir, upstream: { url: 'ws://127.0.0.1:9/ocpp' }, admin: { socket: join(dir, 'admin.sock') } }));
  return {
    dir,
    dataDir,
    drivers: (...args) => runCli(['drivers', ...args, '--config', config]),
    file: (name, content) => {
      const path = join(dir, name);
      writeFileSync(path, content);
      return path;
    },
  };
}

interface ListJson {
  readonly version: number | null;
  readonly source: string | null;
  readonly importedAt: string | null;
  readonly drivers: ReadonlyArray<{ readonly email: string; readonly badgeIds: readonly string[] }>;
}

async function listJson(t: Test, s: Site): Promise<ListJson> {
  const listed = await s.drivers('list', '--json');
  t.equal(listed.code, 0, `drivers list --json exits 0 ${listed.stderr}`);
  return JSON.parse(listed.stdout) as ListJson;
}

const SEMICOLONS = '\ufeffEmail;Badge ID(s)\r\njohn.doe@example.com;BADGE001, BADGE002\r\njane.smith@example.com;BADGE003\r\n';

t.test('import a semicolon export, then list and look up', async (t) => {
  const s = site(t);
  const imported = await s.drivers('import', s.file('drivers.csv', SEMICOLONS));
  t.equal(imported.code, 0, imported.stderr);
  t.match(imported.stdout, /imported drivers\.csv \(replace\): 2 drivers, 3 badges/);
  t.match(imported.stdout, /added\s+2\s+john\.doe@example\.com, jane\.smith@example\.com/);
  t.match(imported.stdout, /removed\s+0/);

  const list = await listJson(t, s);
  t.same(list.drivers, [
    { email: 'jane.smith@example.com', badgeIds: ['BADGE003'] },
    { email: 'john.doe@example.com', badgeIds: ['BADGE001', 'BADGE002'] },
  ]);
  t.match(list.source, /^file:.*drivers\.csv$/);
  t.equal(list.version, null);

  const text = await s.drivers('list');
  t.equal(text.code, 0);
  t.match(text.stdout, /2 drivers, 3 badges/);
  t.match(text.stdout, /john\.doe@example\.com\s+BADGE001, BADGE002/);

  const found = await s.drivers('lookup', '  badge002 ');
  t.equal(found.code, 0);
  t.equal(found.stdout, 'john.doe@example.com\n');
  const foundJson = await s.drivers('lookup', 'badge003', '--json');
  t.same(JSON.parse(foundJson.stdout), { badgeId: 'BADGE003', driver: { email: 'jane.smith@example.com' } });

  const unknown = await s.drivers('lookup', 'nobody');
  t.equal(unknown.code, 1, 'an unknown badge exits 1');
  t.equal(unknown.stdout, '');
  t.match(unknown.stderr, /unknown badge "NOBODY"/);
  const unknownJson = await s.drivers('lookup', 'nobody', '--json');
  t.equal(unknownJson.code, 1);
  t.same(JSON.parse(unknownJson.stdout), { badgeId: 'NOBODY', driver: null });
});

t.test('a bad file: every problem with its line on stderr, exit 2, the list unchanged', async (t) => {
  const s = site(t);
  t.equal((await s.drivers('import', s.file('good.csv', SEMICOLONS))).code, 0);
  const before = await listJson(t, s);
  const bad = s.file('bad.csv', 'email,badge_ids\nok@x.com,B1\nnot-an-email,B2\nempty@x.com,\ndup@x.com,b1\n');
  const result = await s.drivers('import', bad);
  t.equal(result.code, 2);
  t.match(result.stderr, /bad\.csv: 3 problems in the driver list, nothing imported/);
  t.match(result.stderr, /^line 3: "not-an-email" is not an email address$/m);
  t.match(result.stderr, /^line 4: no badge id for empty@x\.com/m);
  t.match(result.stderr, /^line 5: badge "b1" is also on line 2 \(ok@x\.com\)/m);
  t.same(await listJson(t, s), before, 'the stored list is exactly as before');

  const json = await s.drivers('import', bad, '--json');
  t.equal(json.code, 2);
  const parsed = JSON.parse(json.stdout) as { imported: boolean; problems: Array<{ line: number }> };
  t.equal(parsed.imported, false);
  t.same(parsed.problems.map((problem) => problem.line), [3, 4, 5]);
});

t.test('a full disk: a clear error, exit 1, the list unchanged', async (t) => {
  const disk = mountSmallDisk(t, 4 * 1024 * 1024);
  if (!disk) {
    t.plan(0, 'mounting a tmpfs needs root');
    return;
  }
  const s = site(t, disk.path);
  t.equal((await s.drivers('import', s.file('drivers.csv', SEMICOLONS))).code, 0, 'the first list fits');
  disk.fill();
  let rows = 'email,badge\n';
  for (let i = 0; i < 2000; i += 1) rows += `driver${i}@example.com,04${i.toString(16).padStart(8, '0')}\n`;
  const refused = await s.drivers('import', s.file('big.csv', rows));
  t.equal(refused.code, 1);
  t.match(refused.stderr, /big\.csv: the database could not be written \((database or disk is full|cannot prepare the database .+: disk I\/O error)\); the driver list is unchanged \[PE_ERR_STORE\]/);
  const list = await listJson(t, s);
  t.same(
    list.drivers.map((driver) => driver.email),
    ['jane.smith@example.com', 'john.doe@example.com'],
    'the earlier list is still in force, and can be listed on the full disk',
  );
  const lookup = await s.drivers('lookup', 'badge003');
  t.equal(lookup.code, 0, 'a lookup works on the full disk');
  t.match(lookup.stdout, /jane\.smith@example\.com/);
  t.match(lookup.stderr, /note: the database cannot be opened \(.+\); this is read from a copy of the file and may miss the latest changes/, 'and says it reads a copy');
});

t.test('not UTF-8 and missing header are refused with exit 2', async (t) => {
  const s = site(t);
  const latin1 = await s.drivers('import', s.file('latin1.csv', Buffer.from([...Buffer.from('email,badge_ids\nj'), 0xe9, ...Buffer.from('@x.com,B1\n')])));
  t.equal(latin1.code, 2);
  t.match(latin1.stderr, /^line 2: not valid UTF-8/m);
  const headerless = await s.drivers('import', s.file('headerless.csv', 'a@x.com,B1\n'));
  t.equal(headerless.code, 2);
  t.match(headerless.stderr, /^line 1: missing header/m);
});

t.test('--dry-run prints the diff and writes nothing; --merge keeps the others; --json', async (t) => {
  const s = site(t);
  t.equal((await s.drivers('import', s.file('first.csv', SEMICOLONS))).code, 0);
  const before = await listJson(t, s);
  const next = s.file('next.csv', 'email,badge_ids\njohn.doe@example.com,BADGE001\nnew@example.com,"N1, N2"\n');

  const dry = await s.drivers('import', next, '--dry-run');
  t.equal(dry.code, 0, dry.stderr);
  t.match(dry.stdout, /dry run, nothing written: importing next\.csv \(replace\) would leave 2 drivers, 3 badges/);
  t.match(dry.stdout, /added\s+1\s+new@example\.com/);
  t.match(dry.stdout, /removed\s+1\s+jane\.smith@example\.com/);
  t.match(dry.stdout, /changed\s+1\s+john\.doe@example\.com/);
  t.same(await listJson(t, s), before, 'nothing written');

  const merged = await s.drivers('import', next, '--merge', '--json');
  t.equal(merged.code, 0, merged.stderr);
  const result = JSON.parse(merged.stdout) as { imported: boolean; mode: string; added: string[]; removed: string[]; changed: string[]; unchanged: number };
  t.same(
    { imported: result.imported, mode: result.mode, added: result.added, removed: result.removed, changed: result.changed, unchanged: result.unchanged },
    { imported: true, mode: 'merge', added: ['new@example.com'], removed: [], changed: ['john.doe@example.com'], unchanged: 0 },
  );
  t.same((await listJson(t, s)).drivers.map((driver) => driver.email), ['jane.smith@example.com', 'john.doe@example.com', 'new@example.com']);
});

t.test('the daemon\'s open connection sees a CLI import at once', async (t) => {
  const s = site(t);
  // Stands in for the running daemon: its own connection, a directory prepared before the import.
  const daemon = openStore(s.dataDir);
  t.teardown(() => daemon.close());
  const directory = new SqliteDriverDirectory(daemon);
  t.equal(directory.lookup('BADGE001'), undefined);
  t.equal((await s.drivers('import', s.file('drivers.csv', SEMICOLONS))).code, 0);
  t.same(directory.lookup('badge001'), { email: 'john.doe@example.com', badgeId: 'BADGE001' });
});

t.test('usage errors exit 2', async (t) => {
  const s = site(t);
  const noFile = await s.drivers('import');
  t.equal(noFile.code, 2);
  t.match(noFile.stderr, /FILE is missing/);
  const missing = await s.drivers('import', join(s.dir, 'nope.csv'));
  t.equal(missing.code, 2);
  t.match(missing.stderr, /cannot read .*nope\.csv: no such file/);
  const noBadge = await s.drivers('lookup');
  t.equal(noBadge.code, 2);
  const unknownFlag = await s.drivers('list', '--bogus');
  t.equal(unknownFlag.code, 2);
  const help = await runCli(['drivers', 'import', '--help']);
  t.equal(help.code, 0);
  t.match(help.stdout, /Usage: pleevi-edge drivers import FILE/);
});
