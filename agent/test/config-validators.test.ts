import t from 'tap';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { ValidateFunction } from 'ajv';
import { compileConfigValidator, configValidator, GENERATED_VALIDATORS_FILE, type ConfigValidatorKind } from '../src/config/config-validators.js';
import { ROOT } from './helpers/run-cli.js';

/**
 * The config validators `npm run build` generates (standalone code, what the
 * CLI and the daemon run) answer exactly as the schema compiled at run time
 * (what the tests from the sources run): same verdict, same errors, for valid
 * files and for files with every kind of problem.
 */

const GENERATED = join(ROOT, 'dist', 'agent', 'src', 'config', GENERATED_VALIDATORS_FILE);

const DOCUMENTS: ReadonlyArray<readonly [string, unknown]> = [
  ['minimal', { upstream: { url: 'ws://cpms.example.com/ocpp' } }],
  ['unclaimed (no upstream)', { dataDir: '/var/lib/pleevi-edge', provisioning: { url: 'https://provision.example.com' } }],
  [
    'a full site',
    {
      gatewayId: 'gw-site-1',
      dataDir: '/var/lib/pleevi-edge',
      listen: { host: '0.0.0.0', port: 8080, path: '/ocpp', tls: { cert: 'server.crt', key: 'server.key', clientCa: 'stations-ca.pem' } },
      upstream: { url: 'wss://cpms.example.com/ocpp', tls: { ca: 'ca.pem', cert: 'gw.crt', key: 'gw.key' }, connectTimeoutMs: 10_000 },
      stations: { allowUnknown: false, list: [{ id: 'CP-1', passwordHash: 'scrypt$abc', profile: 3 }, { id: 'CP-2', upstream: { username: 'CP-2', password: 'x' } }] },
      authorization: { mode: 'local' },
      mqtt: { url: 'mqtts://broker.example.com', topicPrefix: 'pleevi/gw-site-1' },
      smartCharging: { stackLevel: 1 },
      log: { level: 'info' },
    },
  ],
  [
    'every kind of problem',
    {
      gatewayId: 'gw/with/slashes',
      listen: { prot: 8080, port: 70_000, path: 'ocpp', tls: { cert: 'missing.crt', key: 'server.key' }, 'odd key': 1 },
      upstream: { url: 'https://cpms.example.com', tls: { cert: 'not-a-cert.pem' }, connectTimeoutMs: 0 },
      stations: { allowUnknown: 'no', list: [{ id: 'CP-1', passwordHash: 'scrypt$nope' }, { id: 'CP:2' }, { id: 'x'.repeat(49) }, { id: 'CP-1', extra: true }, { password: 'p' }] },
      authorization: { mode: 'cloud' },
      mqtt: { url: 'tcp://broker', topicPrefix: 'a/#' },
      smartCharging: { stackLevel: -1, profileIdBase: 1.5 },
      provisioning: { url: 'ftp://x' },
      log: { level: 'verbose' },
      extra: {},
    },
  ],
  ['not an object', [1, 2, 3]],
  ['null', null],
  ['wrong types everywhere', { upstream: 'ws://x', listen: [], stations: { list: {} }, mqtt: 7, vpn: { wireguard: { peer: {} } } }],
];

t.test('the generated validators answer as the compiled schema', { skip: existsSync(GENERATED) ? false : `${GENERATED} is missing: run npm run build` }, async (t) => {
  const generated = createRequire(import.meta.url)(GENERATED) as Record<ConfigValidatorKind, ValidateFunction>;
  for (const kind of ['claimed', 'device'] as const) {
    const compiled = compileConfigValidator(kind);
    for (const [name, document] of DOCUMENTS) {
      const verdict = generated[kind](document);
      t.equal(verdict, compiled(document), `${kind}, ${name}: the same verdict`);
      t.same(generated[kind].errors ?? null, compiled.errors ?? null, `${kind}, ${name}: the same errors`);
    }
  }
  t.notOk(generated.claimed(DOCUMENTS[1]?.[1]), 'a claimed gateway needs upstream');
  t.ok(generated.device(DOCUMENTS[1]?.[1]), 'an unclaimed one does not');
  t.ok(generated.claimed(DOCUMENTS[2]?.[1]), 'the full site is valid');
});

t.test('run from the sources, the schema is compiled once per variant', async (t) => {
  t.equal(configValidator('claimed'), configValidator('claimed'), 'the same function each time');
  t.not(configValidator('claimed'), configValidator('device'));
});
