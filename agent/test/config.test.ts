import { generateKeyPairSync } from 'node:crypto';
import { chmodSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import forge from 'node-forge';
import t from 'tap';
import { runCli } from './helpers/run-cli.js';
import type { CliIo } from '../src/cli/cli-io.js';
import { configCheckCommand } from '../src/cli/config-check-command.js';
import { DEFAULT_CONFIG_PATH, loadConfig, parseConfig, resolveConfigPath } from '../src/config/load-config.js';
import { ConfigError, type ConfigProblem } from '../src/errors.js';
import { hashPassword } from '../src/auth/password-hash.js';

const SECRET = 'S3cret-Station-Pw-0001';
const UPSTREAM_SECRET = 'Upstream-Basic-Pw-0002';

/** A self-signed certificate and its key, PEM; node makes the key, forge the X.509 wrapper. */
function selfSigned(commonName: string): { cert: string; key: string } {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const key = privateKey.export({ type: 'pkcs1', format: 'pem' }).toString();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  cert.serialNumber = '01';
  cert.validity.notBefore = new Date(Date.now() - 60_000);
  cert.validity.notAfter = new Date(Date.now() + 86_400_000);
  const subject = [{ name: 'commonName', value: commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.sign(forge.pki.privateKeyFromPem(key), forge.md.sha256.create());
  return { cert: forge.pki.certificateToPem(cert), key };
}

const server = selfSigned('gateway.local');
const other = selfSigned('someone-else');

function captureIo(env: NodeJS.ProcessEnv = {}): { io: CliIo; stdout: () => string; stderr: () => string } {
  let out = '';
  let err = '';
  return {
    io: {
      stdout: { write: (text: string) => (out += text) },
      stderr: { write: (text: string) => (err += text) },
      env,
    },
    stdout: () => out,
    stderr: () => err,
  };
}

function problemsOf(fn: () => unknown): readonly ConfigProblem[] {
  try {
    fn();
  } catch (error: unknown) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}


const minimal = { upstream: { url: 'wss://cpms.example.com/ocpp' } };

t.test('resolveConfigPath: --config, then PLEEVI_EDGE_CONFIG, then the packaged default', async (t) => {
  t.equal(resolveConfigPath('/a/flag.json', { PLEEVI_EDGE_CONFIG: '/b/env.json' }), '/a/flag.json');
  t.equal(resolveConfigPath(undefined, { PLEEVI_EDGE_CONFIG: '/b/env.json' }), '/b/env.json');
  t.equal(resolveConfigPath(undefined, { PLEEVI_EDGE_CONFIG: '' }), DEFAULT_CONFIG_PATH);
  t.equal(resolveConfigPath(undefined, {}), '/etc/pleevi-edge/config.json');
  t.equal(resolveConfigPath('rel/config.json', {}), resolve(process.cwd(), 'rel/config.json'), 'relative to the working directory');
});

t.test('a minimal config gets every default', async (t) => {
  // No hardware serial readable (the serial sources are covered by provision-identity.test.ts): the hostname default.
  const nowhere = '/nonexistent/pleevi-edge-test';
  const serialSources = { cpuinfo: nowhere, dmiProductSerial: nowhere, machineId: nowhere };
  const config = parseConfig(minimal, { baseDir: '/etc/pleevi-edge', env: {}, serialSources });
  t.same(config, {
    gatewayId: `gw-${hostname().replace(/[^A-Za-z0-9._-]/g, '-')}`.slice(0, 64),
    gatewayIdSource: 'hostname',
    dataDir: resolve(process.cwd(), 'var'),
    listen: {
      host: '0.0.0.0',
      port: 8080,
      path: '/ocpp',
      maxFrameBytes: 262_144,
      maxBufferedBytes: 1_048_576,
      pingIntervalMs: 30_000,
    },
    upstream: {
      url: 'wss://cpms.example.com/ocpp',
      tls: {},
      connectTimeoutMs: 10_000,
      outageGraceMs: 15_000,
      maxConcurrentHandshakes: 64,
      permessageDeflate: true,
    },
    stations: { allowUnknown: true, list: [] },
    authorization: { mode: 'cpms' },
    smartCharging: { profileIdBase: 900_000, stackLevel: 8, callTimeoutMs: 30_000 },
    admin: { socket: join(resolve(process.cwd(), 'var'), 'admin.sock') },
    log: { level: 'info' },
    updates: { dir: join(resolve(process.cwd(), 'var'), 'updates'), publicKey: '/etc/pleevi-edge/update-signing.pub', readyTimeoutS: 120 },
  });
  t.equal(config.mqtt, undefined, 'no mqtt section, no cloud link');
  t.equal(config.source, undefined);
});

t.test('systemd directories, relative paths and normalisation', async (t) => {
  const env = { STATE_DIRECTORY: '/var/lib/pleevi-edge:/var/lib/other', RUNTIME_DIRECTORY: '/run/pleevi-edge' };
  const fromEnv = parseConfig({ ...minimal, gatewayId: 'gw-site-7' }, { baseDir: '/etc/pleevi-edge', env });
  t.equal(fromEnv.dataDir, '/var/lib/pleevi-edge', 'first entry of STATE_DIRECTORY');
  t.equal(fromEnv.admin.socket, '/run/pleevi-edge/admin.sock', 'RUNTIME_DIRECTORY wins over dataDir');

  const explicit = parseConfig(
    {
      dataDir: 'state',
      admin: { socket: 'run/admin.sock' },
      gatewayId: 'gw-site-7',
      listen: { path: '/cs/ocpp/' },
      upstream: { url: 'ws://cpms.lan:9000/ocpp//' },
      mqtt: { url: 'mqtts://broker.example.com:8883' },
    },
    { baseDir: '/etc/pleevi-edge', env, source: '/etc/pleevi-edge/config.json' },
  );
  t.equal(explicit.source, '/etc/pleevi-edge/config.json');
  t.equal(explicit.dataDir, '/etc/pleevi-edge/state', 'dataDir relative to the config folder');
  t.equal(explicit.admin.socket, '/etc/pleevi-edge/run/admin.sock');
  t.equal(explicit.listen.path, '/cs/ocpp', 'no trailing slash');
  t.equal(explicit.upstream.url, 'ws://cpms.lan:9000/ocpp', 'no trailing slash before /<stationId>');
  t.equal(explicit.mqtt?.topicPrefix, 'pleevi/v1/gw/gw-site-7', '{gatewayId} filled in');

  const dataDirSocket = parseConfig({ ...minimal, dataDir: '/srv/pe' }, { baseDir: '/etc', env: {} });
  t.equal(dataDirSocket.admin.socket, '/srv/pe/admin.sock', 'without RUNTIME_DIRECTORY the socket lives in dataDir');
});

t.test('loadConfig reads TLS files relative to the config folder', async (t) => {
  const dir = t.testdir({
    'config.json': JSON.stringify({
      gatewayId: 'gw-1',
      listen: { port: 0, tls: { cert: 'tls/server.crt', key: 'tls/server.key' } },
      upstream: { url: 'wss://cpms.example.com/ocpp', tls: { ca: 'tls/ca.pem', cert: 'tls/client.crt', key: 'tls/client.key' } },
      stations: {
        allowUnknown: false,
        list: [
          { id: 'CP-001', password: SECRET, upstream: { username: 'CP-001', password: UPSTREAM_SECRET, cert: 'tls/client.crt', key: 'tls/client.key' } },
          // Inline PEM works too (configs built in memory, provisioning).
          { id: 'CP-002', upstream: { cert: other.cert, key: other.key } },
          { id: 'CP-003' },
        ],
      },
      mqtt: { url: 'mqtts://broker:8883', tls: { ca: 'tls/ca.pem' }, topicPrefix: 'site/{gatewayId}' },
      authorization: { mode: 'local' },
      log: { level: 'debug' },
    }),
    tls: { 'server.crt': server.cert, 'server.key': server.key, 'ca.pem': other.cert, 'client.crt': other.cert, 'client.key': other.key },
  });
  const config = loadConfig(join(dir, 'config.json'), {});
  t.equal(config.source, join(dir, 'config.json'));
  t.same(config.listen.tls, { port: 8443, cert: server.cert, key: server.key });
  t.equal(config.listen.port, 0, 'port 0: the OS picks one');
  t.same(config.upstream.tls, { ca: other.cert, cert: other.cert, key: other.key });
  t.same(config.stations.list[0], {
    id: 'CP-001',
    password: SECRET,
    upstream: { username: 'CP-001', password: UPSTREAM_SECRET, cert: other.cert, key: other.key },
  });
  t.same(config.stations.list[1], { id: 'CP-002', upstream: { cert: other.cert, key: other.key } });
  t.same(config.stations.list[2], { id: 'CP-003' }, 'a station without a local password is allowed');
  t.equal(config.stations.allowUnknown, false);
  t.same(config.mqtt, { url: 'mqtts://broker:8883', tls: { ca: other.cert }, topicPrefix: 'site/gw-1', outboxMaxEvents: 100_000, protocolVersion: 5 });
  t.equal(config.authorization.mode, 'local');
  t.equal(config.log.level, 'debug');
});

t.test('every problem is reported at once, in file order, with its path', async (t) => {
  const dir = t.testdir({ 'not-a-cert.pem': 'hello\n', 'server.key': server.key });
  const problems = problemsOf(() =>
    parseConfig(
      {
        gatewayId: 'gw/with/slashes',
        listen: { prot: 8080, port: 70_000, path: 'ocpp', tls: { cert: 'missing.crt', key: 'server.key' }, 'odd key': 1 },
        upstream: { url: 'https://cpms.example.com', tls: { cert: 'not-a-cert.pem' }, connectTimeoutMs: 0 },
        stations: {
          allowUnknown: 'no',
          list: [
            { id: 'CP-1', password: SECRET, passwordHash: 'scrypt$nope' },
            { id: 'CP:2', upstream: { password: UPSTREAM_SECRET } },
            { id: 'x'.repeat(49) },
            { id: 'CP-1', extra: true },
            { password: SECRET },
          ],
        },
        authorization: { mode: 'cloud' },
        mqtt: { url: 'tcp://broker', topicPrefix: 'a/#' },
        smartCharging: { stackLevel: -1, profileIdBase: 1.5 },
        provisioning: { url: 'ftp://x' },
        log: { level: 'verbose' },
        extra: {},
      },
      { baseDir: dir, env: {} },
    ),
  );
  const lines = problems.map((problem) => `${problem.path}: ${problem.message}`);
  t.same(
    problems.map((problem) => problem.path),
    [
      '$.gatewayId',
      '$.listen.prot',
      '$.listen.port',
      '$.listen.path',
      '$.listen.tls.cert',
      '$.listen["odd key"]',
      '$.upstream.url',
      '$.upstream.tls.key',
      '$.upstream.tls.cert',
      '$.upstream.connectTimeoutMs',
      '$.stations.allowUnknown',
      '$.stations.list[0]',
      '$.stations.list[0].passwordHash',
      '$.stations.list[1].id',
      '$.stations.list[1].upstream.username',
      '$.stations.list[2].id',
      '$.stations.list[3].id',
      '$.stations.list[3].extra',
      '$.stations.list[4].id',
      '$.authorization.mode',
      '$.mqtt.url',
      '$.mqtt.topicPrefix',
      '$.smartCharging.stackLevel',
      '$.smartCharging.profileIdBase',
      '$.provisioning.url',
      '$.log.level',
      '$.extra',
    ],
    lines.join('\n'),
  );
  t.match(lines, [
    /gatewayId: must be 1 to 64 characters/,
    /prot: unknown key/,
    /port: must be <= 65535/,
    /path: must be a URL path prefix/,
    /cert: cannot read .*missing\.crt: file not found/,
    /odd key"\]: unknown key/,
    /url: must be a ws:\/\/ or wss:\/\/ URL/,
    /tls\.key: is required when cert is set/,
    /tls\.cert: .*not-a-cert\.pem is not a PEM certificate/,
    /connectTimeoutMs: must be >= 1/,
    /allowUnknown: must be boolean/,
    /list\[0\]: set either password or passwordHash, not both/,
    /passwordHash: must be scrypt\$N\$r\$p\$salt\$hash/,
    /list\[1\]\.id: must be 1 to 48 characters of A-Z a-z 0-9 \* - _ = \+ \| @ \. and not only dots/,
    /username: is required when password is set/,
    /list\[2\]\.id: must be 1 to 48 characters/,
    /list\[3\]\.id: duplicate station id "CP-1" \(first at \$\.stations\.list\[0\]\.id\)/,
    /extra: unknown key/,
    /list\[4\]\.id: is required/,
    /mode: must be one of "cpms", "local"/,
    /mqtt\.url: must be an mqtt:\/\/ or mqtts:\/\/ URL/,
    /topicPrefix: must be a topic without '\+' or '#'/,
    /stackLevel: must be >= 0/,
    /profileIdBase: must be integer/,
    /provisioning\.url: must be an https:\/\/ \(or http:\/\/\) URL/,
    /level: must be one of "fatal"/,
    /\$\.extra: unknown key/,
  ]);
  const everything = JSON.stringify(problems);
  t.notMatch(everything, SECRET, 'the station password never appears');
  t.notMatch(everything, UPSTREAM_SECRET, 'the upstream password never appears');
});

t.test('rules that span several values', async (t) => {
  const dir = t.testdir({ 'c.crt': server.cert, 'c.key': server.key, 'wrong.key': other.key });
  const problems = problemsOf(() =>
    parseConfig(
      {
        listen: { port: 8443, tls: { cert: 'c.crt', key: 'wrong.key' } },
        upstream: { url: 'ws://user:pw@cpms.lan/ocpp?x=1', tls: { ca: 'c.crt' } },
        stations: { list: [{ id: 'CP-1', upstream: { cert: 'c.crt', key: 'c.key' } }] },
        mqtt: { url: 'mqtt://broker', tls: { ca: 'c.crt' } },
      },
      { baseDir: dir, env: {} },
    ),
  );
  t.match(
    problems.map((problem) => `${problem.path}: ${problem.message}`),
    [
      /^\$\.listen\.tls: rejected by OpenSSL: .*key values mismatch/,
      /^\$\.listen\.tls\.port: must differ from listen\.port \(both 8443\)/,
      /^\$\.upstream\.url: must not contain credentials/,
      /^\$\.upstream\.url: must not have a query or fragment/,
      /^\$\.upstream\.tls: is only used with a wss:\/\/ upstream\.url/,
      /^\$\.stations\.list\[0\]\.upstream\.cert: a client certificate is only used with a wss:\/\//,
      /^\$\.mqtt\.tls: is only used with an mqtts:\/\/ mqtt\.url/,
    ],
  );
  t.equal(problems.length, 7);
});

t.test('mqtt: the outbox bound and the protocol version are checked', async (t) => {
  const problems = problemsOf(() =>
    parseConfig({ upstream: { url: 'ws://cpms.lan/ocpp' }, mqtt: { url: 'mqtt://broker', outboxMaxEvents: 5, protocolVersion: 3 } }, { baseDir: t.testdir(), env: {} }),
  );
  t.same(
    problems.map((problem) => problem.path),
    ['$.mqtt.outboxMaxEvents', '$.mqtt.protocolVersion'],
  );
  const ok = parseConfig({ gatewayId: 'gw-9', upstream: { url: 'ws://cpms.lan/ocpp' }, mqtt: { url: 'mqtt://broker', protocolVersion: 4 } }, { baseDir: t.testdir(), env: {} });
  t.same(ok.mqtt, { url: 'mqtt://broker', tls: {}, topicPrefix: 'pleevi/v1/gw/gw-9', outboxMaxEvents: 100_000, protocolVersion: 4 });
});

t.test('a valid passwordHash is accepted and kept as is', async (t) => {
  const passwordHash = await hashPassword(SECRET);
  const config = parseConfig({ ...minimal, stations: { list: [{ id: 'CP-1', passwordHash }] } }, { baseDir: '/', env: {} });
  t.same(config.stations.list, [{ id: 'CP-1', passwordHash }]);
});

t.test('file-level failures: missing, a directory, bad JSON, a byte-order mark', async (t) => {
  const fixtures: Record<string, string> = {
    'bom.json': `\uFEFF${JSON.stringify(minimal)}`,
    'trailing-comma.json': '{\n  "upstream": { "url": "wss://x/ocpp", }\n}\n',
    'bare-word.json': `{\n  "stations": { "list": [ { "id": "CP-1", "password": ${SECRET} } ] }\n}\n`,
    'truncated.json': '{\n  "upstream": {\n',
  };
  const dir = t.testdir({ ...fixtures, sub: {} });
  t.equal(loadConfig(join(dir, 'bom.json'), {}).upstream.url, 'wss://cpms.example.com/ocpp', 'a byte-order mark is skipped');

  const expectProblem = (file: string, pattern: RegExp, message: RegExp): void => {
    try {
      loadConfig(join(dir, file), {});
      t.fail(`${file} should not load`);
    } catch (error: unknown) {
      t.type(error, ConfigError);
      if (!(error instanceof ConfigError)) return;
      t.equal(error.code, 'PE_ERR_CONFIG');
      t.match(error.message, message, file);
      t.equal(error.problems.length, 1);
      t.equal(error.problems[0]?.path, '$');
      t.match(error.problems[0]?.message, pattern, file);
      t.notMatch(JSON.stringify({ message: error.message, problems: error.problems }), SECRET, `${file}: no secret in the report`);
    }
  };
  expectProblem('absent.json', /cannot read .*absent\.json: file not found/, /cannot read the file/);
  expectProblem('sub', /cannot read .*sub: is a directory/, /cannot read the file/);
  const column = (file: string, needle: string): number => {
    const line = fixtures[file]?.split('\n')[1] ?? '';
    return line.indexOf(needle) + 1;
  };
  expectProblem(
    'trailing-comma.json',
    new RegExp(`invalid JSON at line 2, column ${column('trailing-comma.json', '}')}: Expected double-quoted property name$`),
    /not valid JSON/,
  );
  // V8 quotes the surrounding text for this one; the report must not.
  expectProblem(
    'bare-word.json',
    new RegExp(`invalid JSON at line 2, column ${column('bare-word.json', SECRET)}: unexpected character$`),
    /not valid JSON/,
  );
  expectProblem('truncated.json', /invalid JSON at line 3, column 1: /, /not valid JSON/);

  writeFileSync(join(dir, 'array.json'), '[]');
  t.same(
    problemsOf(() => loadConfig(join(dir, 'array.json'), {})),
    [{ path: '$', message: 'must be object' }],
  );
});

t.test('something other than a socket at admin.socket is a problem: the daemon would have to delete it', async (t) => {
  const dir = t.testdir({ data: { 'pleevi-edge.db': 'precious bytes', 'admin.sock': { 'nested.txt': 'a folder' } }, 'target.txt': 'precious too' });
  const database = join(dir, 'data', 'pleevi-edge.db');
  t.same(
    problemsOf(() => parseConfig({ ...minimal, dataDir: 'data', admin: { socket: 'data/pleevi-edge.db' } }, { baseDir: dir, env: {} })),
    [{ path: '$.admin.socket', message: `${database} is a regular file, not a unix socket; the daemon will not delete it to listen there: set admin.socket to a free path` }],
    'admin.socket pointed at the database',
  );
  t.same(
    problemsOf(() => parseConfig({ ...minimal, dataDir: 'data' }, { baseDir: dir, env: {} })),
    [{ path: '$.admin.socket', message: `${join(dir, 'data', 'admin.sock')} (the default admin.socket) is a folder, not a unix socket; the daemon will not delete it to listen there: set admin.socket to a free path` }],
    'the default path, in dataDir',
  );
  symlinkSync(join(dir, 'target.txt'), join(dir, 'link.sock'));
  t.match(
    problemsOf(() => parseConfig({ ...minimal, admin: { socket: 'link.sock' } }, { baseDir: dir, env: {} })),
    [{ path: '$.admin.socket', message: /link\.sock is a symbolic link, not a unix socket/ }],
    'a symlink is not followed',
  );
  t.equal(parseConfig({ ...minimal, admin: { socket: 'free.sock' } }, { baseDir: dir, env: {} }).admin.socket, join(dir, 'free.sock'), 'a free path is fine');

  const configPath = join(dir, 'config.json');
  writeFileSync(configPath, JSON.stringify({ ...minimal, dataDir: 'data', admin: { socket: 'data/pleevi-edge.db' } }));
  const check = captureIo();
  t.equal(await configCheckCommand(['--config', configPath], check.io), 2, 'config check exits 2');
  t.match(check.stderr(), `\n  $.admin.socket: ${database} is a regular file, not a unix socket`);
  t.equal(readFileSync(database, 'utf8'), 'precious bytes');
});

t.test('config check warns loudly when the file holds secrets and others can read it', async (t) => {
  const dir = t.testdir();
  const write = (name: string, document: unknown, mode: number): string => {
    const path = join(dir, name);
    writeFileSync(path, JSON.stringify(document));
    chmodSync(path, mode);
    return path;
  };
  const hash = await hashPassword(SECRET);
  const withSecrets = {
    ...minimal,
    stations: { list: [{ id: 'CP-1', password: SECRET }, { id: 'CP-2', passwordHash: hash, upstream: { username: 'CP-2', password: UPSTREAM_SECRET } }] },
    mqtt: { url: 'mqtts://broker.example.com', tls: { cert: server.cert, key: server.key } },
  };
  const check = async (path: string): Promise<{ code: number; stdout: string; stderr: string }> => {
    const io = captureIo();
    const code = await configCheckCommand(['--config', path], io.io);
    return { code, stdout: io.stdout(), stderr: io.stderr() };
  };

  const open = await check(write('open.json', withSecrets, 0o644));
  t.equal(open.code, 0, 'a warning, not a failure: the config is valid');
  t.match(open.stdout, /config OK/);
  t.equal(
    open.stderr,
    `WARNING: ${join(dir, 'open.json')} holds secrets and is readable by every user on this machine (mode 0644):\n` +
      '  $.stations.list[0].password\n  $.stations.list[1].upstream.password\n  $.mqtt.tls.key\n' +
      `  fix: sudo chown root:pleevi-edge ${join(dir, 'open.json')} && sudo chmod 640 ${join(dir, 'open.json')} (or chmod 600 when the gateway's own user owns the file)\n`,
  );
  t.notMatch(open.stderr, SECRET, 'names the keys, never the values');
  t.notMatch(open.stderr, UPSTREAM_SECRET);

  t.equal((await check(write('private.json', withSecrets, 0o600))).stderr, '', 'owner only: no warning');
  t.equal((await check(write('no-secrets.json', { ...minimal, stations: { list: [{ id: 'CP-2', passwordHash: hash }] } }, 0o644))).stderr, '', 'a hash is not the password: no warning');
  if (process.getgid?.() === 0) {
    // Root's group is not the gateway's: group-readable by it is too wide.
    t.match((await check(write('group.json', withSecrets, 0o640))).stderr, /readable by every member of group 0 \(mode 0640\)/);
  }
});

t.test('config check in-process', async (t) => {
  const dir = t.testdir({
    'ok.json': JSON.stringify({ gatewayId: 'gw-check', listen: { port: 9000 }, ...minimal, stations: { list: [{ id: 'A' }, { id: 'B' }] } }),
    'bad.json': JSON.stringify({ upstream: { url: 'wss://x' }, listen: { port: 'eighty' } }),
  });
  const ok = captureIo();
  t.equal(await configCheckCommand(['--config', join(dir, 'ok.json')], ok.io), 0);
  t.match(ok.stdout(), `config OK: ${join(dir, 'ok.json')}\n`);
  t.match(ok.stdout(), /gatewayId: +gw-check/);
  t.match(ok.stdout(), /listen: +ws:\/\/0\.0\.0\.0:9000\/ocpp\/<stationId>/);
  t.match(ok.stdout(), /upstream: +wss:\/\/cpms\.example\.com\/ocpp\/<stationId>/);
  t.match(ok.stdout(), /stations: +2 listed/);
  t.equal(ok.stderr(), '');

  const viaEnv = captureIo({ PLEEVI_EDGE_CONFIG: join(dir, 'bad.json') });
  t.equal(await configCheckCommand([], viaEnv.io), 2);
  t.match(viaEnv.stderr(), `config invalid: ${join(dir, 'bad.json')}`);
  t.match(viaEnv.stderr(), '\n  $.listen.port: must be integer\n');
  t.equal(viaEnv.stdout(), '');

  const usage = captureIo();
  t.equal(await configCheckCommand(['--confg', 'x'], usage.io), 2);
  t.match(usage.stderr(), /Unknown option '--confg'/);
  t.match(usage.stderr(), /Usage: pleevi-edge config check/);
  t.equal(await configCheckCommand(['stray'], captureIo().io), 2, 'no positionals');
});

t.test('pleevi-edge config check as a process', async (t) => {
  const dir = t.testdir({
    'good.json': JSON.stringify({
      gatewayId: 'gw-proc',
      listen: { tls: { cert: 'server.crt', key: 'server.key' } },
      upstream: { url: 'wss://cpms.example.com/ocpp' },
      stations: { list: [{ id: 'CP-001', password: SECRET }] },
    }),
    'broken.json': JSON.stringify(
      {
        listen: { port: 99_999, hots: '0.0.0.0', tls: { cert: 'gone.crt', key: 'server.key' } },
        upstream: { url: 'wss://cpms.example.com/ocpp' },
        stations: { list: [{ id: 'CP-001', password: SECRET, passwordHash: 'scrypt$16384$8$1$AAAA$BBBB' }] },
      },
      null,
      2,
    ),
    'server.crt': server.cert,
    'server.key': server.key,
  });

  const good = await runCli(['config', 'check', '--config', join(dir, 'good.json')], { env: {} });
  t.equal(good.code, 0, good.stderr);
  t.match(good.stdout, `config OK: ${join(dir, 'good.json')}`);
  t.match(good.stdout, /wss:\/\/0\.0\.0\.0:8443\/ocpp\/<stationId>/);
  t.notMatch(good.stdout + good.stderr, SECRET);

  const broken = await runCli(['config', 'check'], { env: { PLEEVI_EDGE_CONFIG: join(dir, 'broken.json') } });
  t.equal(broken.code, 2);
  t.equal(broken.stdout, '');
  for (const path of [
    '$.listen.port: must be <= 65535',
    '$.listen.hots: unknown key',
    '$.listen.tls.cert: cannot read',
    '$.stations.list[0]: set either password or passwordHash, not both',
  ]) {
    t.match(broken.stderr, `\n  ${path}`, path);
  }
  t.notMatch(broken.stderr, SECRET, 'the password is never printed');

  const usage = await runCli(['config', 'check', '--verbose'], { env: {} });
  t.equal(usage.code, 2);
  t.match(usage.stderr, /Usage: pleevi-edge config check/);
});

t.test('issue 8.5: a listed station id the listener would refuse is a config problem', async (t) => {
  for (const id of ['.', '..', 'CP/1', 'CP 1', 'é', 'a\u0000b']) {
    const error = t.throws(() => parseConfig({ ...minimal, stations: { list: [{ id }] } }, { baseDir: '/', env: {} })) as ConfigError;
    t.match(error.problems, [{ path: '$.stations.list[0].id', message: /not only dots/ }], `${JSON.stringify(id)} is refused`);
  }
  t.doesNotThrow(() => parseConfig({ ...minimal, stations: { list: [{ id: 'EVB-P2047116.2' }, { id: 'a*b|c@d=e+f' }] } }, { baseDir: '/', env: {} }), 'real ids pass');
});
