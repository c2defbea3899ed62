/**
 * Fuzz: what reaches the gateway from the cloud and from installers, the
 * other two ways in besides the LAN: cloud commands over MQTT (bad JSON,
 * wrong types, huge payloads, impossible dates, absurd limits, wildcard
 * response topics) and the driver CSV (bad quoting, BOMs, huge fields,
 * control characters, NUL, invalid UTF-8).
 *
 * Invariants:
 * - every command gets exactly one ack on `P/ack`, valid JSON, with the
 *   command's id (null only when none could be read) and name;
 * - a body that breaks the command's rules is refused with `invalid_argument`,
 *   a valid one never is;
 * - a refused `replace-drivers` leaves the driver list as it was;
 * - the cloud link stays connected whatever the commands carry (also with
 *   MQTT 5 response topics the broker refuses);
 * - `drivers import` exits 0 or 2; on 2 it names the problem and the list
 *   is unchanged; `--json` output is always valid JSON; a clean file
 *   becomes exactly the list it describes.
 */
import { connectAsync, type IClientPublishOptions, type MqttClient } from 'mqtt';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { SqliteDriverDirectory } from '../../src/drivers/driver-list-store.js';
import type { Gateway } from '../../src/gateway.js';
import { MOSQUITTO_MISSING, startMosquitto } from '../helpers/mosquitto.js';
import { cli, controlCharacters, jsonProblem, writeCliConfig } from './lib/cli-in-process.js';
import { startDemoBroker } from '../../../scripts/demo/demo-broker.js';
import { startCloudGateway } from './lib/cloud-gateway.js';
import { fuzzBudget } from './lib/fuzz-options.js';
import { genCommand, genCsv } from './lib/generators.js';
import { eventually } from './lib/probes.js';


interface Ack {
  readonly id?: unknown;
  readonly command?: unknown;
  readonly ok?: unknown;
  readonly error?: { readonly code?: unknown; readonly message?: unknown };
}

interface CloudSide {
  readonly client: MqttClient;
  /** Raw ack payloads on `P/ack`, in arrival order. */
  readonly acks: Buffer[];
  readonly replies: Array<{ topic: string; payload: Buffer }>;
}

async function cloudSide(url: string, prefix: string, protocolVersion: 4 | 5): Promise<CloudSide> {
  const client = await connectAsync(url, { protocolVersion, clientId: `cloud-${Math.random().toString(36).slice(2)}`, reconnectPeriod: 200 });
  const acks: Buffer[] = [];
  const replies: Array<{ topic: string; payload: Buffer }> = [];
  client.on('message', (topic, payload) => {
    if (topic === `${prefix}/ack`) acks.push(payload);
    else replies.push({ topic, payload });
  });
  await client.subscribeAsync([`${prefix}/ack`, 'cloud/replies/#'], { qos: 1 });
  return { client, acks, replies };
}

/** Publish, but never wait more than `ms` for the PUBACK (a broker may drop the publisher for what it sent). */
async function publish(client: MqttClient, topic: string, payload: string | Buffer, options: IClientPublishOptions, ms = 3000): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const done = client.publishAsync(topic, payload, options).then(
    () => true,
    () => false,
  );
  const result = await Promise.race([done, timeout]);
  clearTimeout(timer);
  return result;
}

function readAck(payload: Buffer | undefined): Ack | string {
  if (payload === undefined) return 'no ack';
  try {
    const parsed: unknown = JSON.parse(payload.toString('utf8'));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Ack) : `ack is not an object: ${payload.toString('utf8').slice(0, 80)}`;
  } catch {
    return `ack is not JSON: ${payload.toString('utf8').slice(0, 80)}`;
  }
}

/** Ping until acked: the gateway's subscription is in place. */
async function warmUp(cloud: CloudSide, prefix: string): Promise<boolean> {
  for (let i = 0; i < 50; i += 1) {
    await publish(cloud.client, `${prefix}/cmd/ping`, JSON.stringify({ id: `warm-${i}` }), { qos: 1 });
    if (await eventually(() => cloud.acks.length > 0, 200)) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      cloud.acks.length = 0;
      return true;
    }
  }
  return false;
}

function driverList(gateway: Gateway): string {
  return JSON.stringify(new SqliteDriverDirectory(gateway.store).list());
}

t.test('random cloud commands over MQTT 3.1.1 (aedes)', async (t) => {
  const budget = fuzzBudget(t, import.meta.url, 'mqtt commands', 50, 3000);
  const { rng } = budget;
  // The in-process aedes broker (MQTT 3.1.1) the demo runs.
  const broker = await startDemoBroker();
  t.teardown(() => broker.close());
  const gatewayId = 'gw-fuzz-cloud';
  const prefix = `pleevi/v1/gw/${gatewayId}`;
  const gateway = await startCloudGateway(t, broker.url, 4, gatewayId);
  const cloud = await cloudSide(broker.url, prefix, 4);
  t.teardown(() => cloud.client.endAsync(true));
  t.ok(await warmUp(cloud, prefix), 'the gateway answers a ping');
  const link = gateway.cloud?.link;
  const connectsBefore = link?.status().connects ?? 0;

  const problems: string[] = [];
  const known14: string[] = [];
  const kinds = new Map<string, number>();
  let sent = 0;
  for (; sent < budget.iterations && budget.more(); sent += 1) {
    const command = genCommand(rng, rng.pick(['CP-NEVER-SEEN', 'CP-1']));
    kinds.set(command.kind, (kinds.get(command.kind) ?? 0) + 1);
    const listBefore = driverList(gateway);
    const before = cloud.acks.length;
    if (!(await publish(cloud.client, `${prefix}/cmd/${command.name}`, command.payload, { qos: 1 }))) problems.push(`${command.kind}: the broker did not take the command`);
    const arrived = await eventually(() => cloud.acks.length > before, 5000, 5);
    await new Promise((resolve) => setImmediate(resolve));
    const label = `${command.kind} (${command.name})`;
    if (!arrived) {
      problems.push(`${label}: no ack within 5 s`);
      continue;
    }
    if (cloud.acks.length > before + 1) problems.push(`${label}: ${cloud.acks.length - before} acks`);
    const ack = readAck(cloud.acks[before]);
    if (typeof ack === 'string') {
      problems.push(`${label}: ${ack}`);
      continue;
    }
    if (ack.id !== command.ackId) problems.push(`${label}: ack id ${JSON.stringify(ack.id)}, expected ${JSON.stringify(command.ackId)}`);
    if (ack.command !== command.name) problems.push(`${label}: ack command ${JSON.stringify(ack.command)}`);
    const code = ack.ok === false ? ack.error?.code : undefined;
    if (command.mustFail !== undefined && code !== command.mustFail) {
      const message = `${label}: accepted (${ack.ok === true ? 'ok' : String(code)}), expected ${command.mustFail}: ${command.payload.toString().slice(0, 160)}`;
      if (command.knownDefect === 14) known14.push(message);
      else problems.push(message);
    }
    if (command.mustFail === undefined && command.name === 'set-schedule' && command.kind === 'valid set-schedule' && code === 'invalid_argument') {
      problems.push(`${label}: a valid body was refused: ${String(ack.error?.message)}`);
    }
    if (command.name === 'replace-drivers' && ack.ok !== true && driverList(gateway) !== listBefore) problems.push(`${label}: refused, but the driver list changed`);
    if (!link?.connected) problems.push(`${label}: the cloud link is ${link?.status().state ?? 'missing'}`);
  }
  t.comment(`${sent} commands: ${JSON.stringify(Object.fromEntries(kinds))}`);
  t.same(problems, [], 'one valid ack per command, rules enforced, a refused list changes nothing, the link stays up');
  t.equal(link?.status().connects, connectsBefore, 'the cloud link never reconnected');
  t.same(known14, [], 'set-schedule refuses impossible dates (2030-02-31) and absurd limits (1e300, 2^53)');
});

t.test('MQTT 5 response topics the broker refuses do not cost the cloud link', { skip: MOSQUITTO_MISSING }, async (t) => {
  const budget = fuzzBudget(t, import.meta.url, 'mqtt5 response topics', 2, 100);
  const { rng } = budget;
  const broker = await startMosquitto(t);
  const gatewayId = 'gw-fuzz-mqtt5';
  const prefix = `pleevi/v1/gw/${gatewayId}`;
  const gateway = await startCloudGateway(t, broker.url, 5, gatewayId);
  const cloud = await cloudSide(broker.url, prefix, 5);
  t.teardown(() => cloud.client.endAsync(true));
  await eventually(() => gateway.cloud?.link.connected === true, 5000);
  t.ok(await warmUp(cloud, prefix), 'the gateway answers a ping');
  const link = gateway.cloud?.link;
  const connectsBefore = link?.status().connects ?? 0;
  const lost: string[] = [];
  const missing: string[] = [];
  for (let i = 0; i < budget.iterations && budget.more(); i += 1) {
    // No NUL here: mosquitto refuses such a publish itself (it never reaches the gateway) and drops the
    // publisher, whose client then resends the same QoS 1 message after every reconnect. The gateway's
    // own NUL check is tested in cloud-commands.test.ts.
    const hostile = rng.pick(['evil/#', 'evil/+/x', '#', '+', `${prefix}/cmd/+`, 'a/#/b', 'x'.repeat(rng.pick([100, 60_000])), '$SYS/evil']);
    const topic = rng.bool(0.7) ? hostile : `cloud/replies/${rng.string(6, 'abcdef0123')}`;
    const id = `rt-${i}`;
    const options: IClientPublishOptions = { qos: 1, properties: { responseTopic: topic, correlationData: rng.bytes(rng.range(1, 16)) } };
    const before = cloud.acks.length;
    await publish(cloud.client, `${prefix}/cmd/ping`, JSON.stringify({ id }), options);
    // The broker may drop the cloud client itself for what it sent; the probe goes once it is back.
    await eventually(() => cloud.client.connected, 5000);
    // A new session of the cloud client has no subscription until it is made again: make sure before the probe.
    await cloud.client.subscribeAsync(`${prefix}/ack`, { qos: 1 }).catch(() => undefined);
    // The next command with no response topic must be acked: the link is still there.
    const probe = `probe-${i}`;
    await publish(cloud.client, `${prefix}/cmd/ping`, JSON.stringify({ id: probe }), { qos: 1 });
    const acked = await eventually(() => cloud.acks.slice(before).some((ack) => ack.toString().includes(`"${probe}"`)), 2000);
    if (!acked) missing.push(`no ack for the ping after response topic ${JSON.stringify(topic.slice(0, 40))}`);
    if ((link?.status().connects ?? 0) !== connectsBefore || !link?.connected) lost.push(`the cloud link dropped after response topic ${JSON.stringify(topic.slice(0, 40))}`);
    if (lost.length > 0) await eventually(() => link?.connected === true, 5000);
  }
  t.same([...new Set(lost)], [], 'the cloud link never dropped');
  t.same([...new Set(missing)], [], 'every following command was acked');
});

t.test('driver CSV import: succeeds, or fails clearly and changes nothing', async (t) => {
  const budget = fuzzBudget(t, import.meta.url, 'driver csv', 60, 2000);
  const { rng } = budget;
  const dir = t.testdir();
  const config = writeCliConfig(dir, join(dir, 'data'));
  const list = async (): Promise<string> => {
    const listed = await cli(['drivers', 'list', '--json', '--config', config]);
    if (listed.code !== 0 || jsonProblem(listed.stdout) !== undefined) throw new Error(`drivers list --json failed: ${listed.code} ${listed.stderr} ${listed.stdout.slice(0, 200)}`);
    return JSON.stringify((JSON.parse(listed.stdout) as { drivers: unknown }).drivers);
  };
  const first = await cli(['drivers', 'import', writeCsv(dir, 'first.csv', Buffer.from('email,badge_ids\nkeep@example.com,KEEP1\n')), '--config', config]);
  t.equal(first.code, 0, `a first list imports ${first.stderr}`);
  const problems: string[] = [];
  const terminal: string[] = [];
  const kinds = new Map<string, number>();
  for (let i = 0; i < budget.iterations && budget.more(); i += 1) {
    const csv = genCsv(rng);
    kinds.set(csv.kind, (kinds.get(csv.kind) ?? 0) + 1);
    const file = writeCsv(dir, `fuzz-${i}.csv`, csv.text);
    const mode = rng.pick(['replace', 'merge', 'dry-run'] as const);
    const json = rng.bool(0.6);
    const before = await list();
    const args = ['drivers', 'import', file, ...(mode === 'merge' ? ['--merge'] : mode === 'dry-run' ? ['--dry-run'] : []), ...(json ? ['--json'] : []), '--config', config];
    let run;
    try {
      run = await cli(args);
    } catch (error: unknown) {
      problems.push(`${csv.kind}: the CLI threw ${String(error)}`);
      continue;
    }
    const after = await list();
    const label = `${csv.kind} (${mode}${json ? ', --json' : ''}, line 1 ${JSON.stringify(csv.text.subarray(0, 40).toString('latin1'))})`;
    if (run.code !== 0 && run.code !== 2) problems.push(`${label}: exit ${run.code}: ${run.stderr.slice(0, 200)}`);
    if (json && jsonProblem(run.stdout) !== undefined) problems.push(`${label}: --json output is not JSON: ${run.stdout.slice(0, 120)}`);
    if (run.code === 2) {
      if (!/^line \d+: /m.test(run.stderr) && !/^pleevi-edge drivers import: .+/m.test(run.stderr)) problems.push(`${label}: refused without naming the problem: ${run.stderr.slice(0, 200)}`);
      if (after !== before) problems.push(`${label}: refused, but the list changed`);
    }
    if (run.code === 0 && mode === 'dry-run' && after !== before) problems.push(`${label}: a dry run changed the list`);
    if (run.code === 0 && mode === 'replace' && csv.expected) {
      const want = JSON.stringify([...csv.expected.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([email, badgeIds]) => ({ email, badgeIds })));
      const got = JSON.stringify((JSON.parse(after) as Array<{ email: string; badgeIds: string[] }>).map((d) => ({ email: d.email, badgeIds: [...d.badgeIds].sort() })));
      if (want !== got) problems.push(`${label}: the clean file became ${got.slice(0, 200)}, expected ${want.slice(0, 200)}`);
    }
    if (csv.expected && run.code !== 0) problems.push(`${label}: a clean file was refused: ${run.stderr.slice(0, 300)} ${run.stdout.slice(0, 600)}`);
    if (!json) {
      const shown = controlCharacters(run.stdout + run.stderr);
      if (shown.length > 0) terminal.push(`${label}: ${shown.join(' ')}`);
    }
  }
  const text = await cli(['drivers', 'list', '--config', config]);
  const listed = controlCharacters(text.stdout);
  if (listed.length > 0) terminal.push(`drivers list: ${listed.join(' ')}`);
  t.comment(`CSV kinds: ${JSON.stringify(Object.fromEntries(kinds))}`);
  t.same(problems, [], 'every import succeeded, or failed with exit 2 naming the problem and the list unchanged; JSON output valid');
  const stored = (JSON.parse(await list()) as Array<{ email: string; badgeIds: string[] }>).filter((driver) => controlCharacters(driver.email + driver.badgeIds.join('')).length > 0);
  t.same(stored.slice(0, 5), [], 'no stored email or badge holds a control character');
  t.same(terminal.slice(0, 5), [], 'no control characters from the file reach the terminal');
});

function writeCsv(dir: string, name: string, content: Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}
