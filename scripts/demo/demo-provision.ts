/**
 * `npm run demo -- --provision`: the installer's flow (docs/provisioning.md)
 * in one command, with the same programs as production:
 *
 * 1. the reference enrollment service, `pleevi-provision` (provisioning/), on
 *    a data folder in a temp folder: a CA, an installer token, and a site
 *    `demo-site` whose configuration points at the demo CPMS and the demo
 *    MQTT broker;
 * 2. an unclaimed gateway: the real daemon, `pleevi-edge run`, on a
 *    configuration that has only `provisioning` and no upstream, and its
 *    claim QR (`pleevi-edge provision qr`);
 * 3. the installer's claim (POST /v1/claims), after a short pause;
 * 4. the gateway enrolls and starts relaying in the same process, and the
 *    usual demo stations run through it to the demo CPMS, while the demo cloud
 *    sees what the gateway publishes on the broker.
 *
 * The site's configuration carries plain ws:// and mqtt:// addresses on
 * 127.0.0.1: the gateway fills in its enrolled client certificate only for
 * wss:// and mqtts://, so nothing here needs TLS beyond the enrollment
 * service's own HTTPS (production uses wss:// and mqtts:// with that
 * certificate).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { parseDriverCsvText } from '../../agent/src/drivers/driver-csv.js';
import { importDrivers } from '../../agent/src/drivers/driver-list-store.js';
import { openStore } from '../../agent/src/store/gateway-store.js';
import { startDemoBroker, type DemoBroker } from './demo-broker.js';
import { startDemoCloud, type DemoCloud } from './demo-cloud.js';
import { startDemoCpms, type DemoCpms } from './demo-cpms.js';
import { runStation16, runStation201, type DemoStation } from './demo-stations.js';

export interface ProvisionDemoOptions {
  /** Exit after one round with a summary, instead of running until Ctrl-C. */
  readonly once: boolean;
  /** The gateway's station port; 0 takes a free one. */
  readonly port: number;
  /** Print every log line of the gateway and the service, not only the status lines. */
  readonly verbose: boolean;
}

/** This file runs from dist/scripts/demo/: the checkout is three folders up. */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const EDGE_CLI = join(ROOT, 'agent/bin/pleevi-edge.js');
const PROVISION_CLI = join(ROOT, 'provisioning/bin/pleevi-provision.js');

const GATEWAY_ID = 'gw-demo';
const SITE_ID = 'demo-site';
/** Every wait of the demo (a step that does not happen in this time is a failure). */
const WAIT_MS = 20_000;

interface Proc {
  readonly child: ChildProcess;
  readonly lines: string[];
  /** Resolves with the first line (seen so far or later) that `match` accepts; rejects on timeout or exit. */
  waitForLine(what: string, match: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  readonly exited: Promise<number | null>;
  stop(): Promise<number | null>;
}

const children = new Set<ChildProcess>();

/** A long-running program whose stdout and stderr lines are kept, and shown through `show`. */
function startProc(args: readonly string[], show: (line: string) => void): Proc {
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  const lines: string[] = [];
  const waiters = new Set<() => void>();
  const take = (line: string): void => {
    lines.push(line);
    show(line);
    for (const waiter of [...waiters]) waiter();
  };
  if (child.stdout) createInterface({ input: child.stdout }).on('line', take);
  if (child.stderr) createInterface({ input: child.stderr }).on('line', take);
  let code: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.once('close', (exitCode) => {
      code = exitCode;
      children.delete(child);
      for (const waiter of [...waiters]) waiter();
      resolve(exitCode);
    }),
  );
  const waitForLine = (what: string, match: (line: string) => boolean, timeoutMs = WAIT_MS): Promise<string> =>
    new Promise((resolve, reject) => {
      let checked = 0;
      const check = (): void => {
        for (; checked < lines.length; checked += 1) {
          const line = lines[checked] as string;
          if (match(line)) return finish(() => resolve(line));
        }
        if (code !== undefined) finish(() => reject(new Error(`${what}: the process exited (${code}) first`)));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`))), timeoutMs);
      const finish = (settle: () => void): void => {
        clearTimeout(timer);
        waiters.delete(check);
        settle();
      };
      waiters.add(check);
      check();
    });
  return {
    child,
    lines,
    waitForLine,
    exited,
    stop: () => {
      if (code === undefined) child.kill('SIGTERM');
      return exited;
    },
  };
}

interface ToolRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run a command to its end. */
function runTool(args: readonly string[]): Promise<ToolRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      children.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}

async function provision(args: readonly string[], data: string, shown = args.join(' ')): Promise<string> {
  console.log(`$ pleevi-provision ${shown}`);
  const result = await runTool([PROVISION_CLI, ...args, '--data', data]);
  if (result.code !== 0) throw new Error(`pleevi-provision ${args[0] ?? ''} exited ${result.code}: ${result.stderr.trim()}`);
  return result.stdout;
}

type LogRecord = Record<string, unknown>;

function parseLog(line: string): LogRecord | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const parsed: unknown = JSON.parse(line);
    return parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as LogRecord) : undefined;
  } catch {
    return undefined;
  }
}

const str = (value: unknown): string => (typeof value === 'string' || typeof value === 'number' ? String(value) : '-');
const message = (line: string): string => str(parseLog(line)?.msg);

/** The gateway's status lines, from its log (JSON on stdout): the ones that tell where it stands. */
function gatewayStatusLine(line: string, verbose: boolean): string | undefined {
  const record = parseLog(line);
  if (!record) return `  gateway   ${line}`;
  const msg = str(record.msg);
  const level = str(record.level);
  if (msg.startsWith('waiting to be claimed')) return `  gateway   waiting to be claimed: stations get 503; its LAN page shows the claim QR on http://127.0.0.1:${str(record.port)}/`;
  if (msg === 'waiting for the gateway to be claimed') return '  gateway   enrollment: waiting for claim (the service answers 202 until the gateway is claimed)';
  if (msg === 'enrolled: certificate and configuration stored') return `  gateway   enrolled: client certificate ${str(record.serialNumber)} (until ${str(record.notAfter)}) and the site's configuration stored`;
  if (msg.startsWith('enrolled: starting to relay')) return `  gateway   enrolled: starting to relay on the enrolled configuration (upstream ${str(record.upstream)}, MQTT ${str(record.mqtt)})`;
  if (msg === 'gateway started') return `  gateway   relaying on port ${str(record.port)} to ${str(record.upstream)}`;
  if (level === 'warn' || level === 'error' || level === 'fatal') return `  gateway   ${level}: ${msg}${record.err === undefined ? '' : ` (${JSON.stringify(record.err)})`}`;
  return verbose ? `  gateway   ${line}` : undefined;
}

/** The service's request log (method, path, status; never a query string or body): the API calls only. */
function serviceStatusLine(line: string, verbose: boolean): string | undefined {
  const record = parseLog(line);
  if (record?.msg === 'request' && str(record.path).startsWith('/v1/')) return `  service   ${str(record.method)} ${str(record.path)} -> ${str(record.status)}`;
  return verbose ? `  service   ${line}` : undefined;
}

function postJson(url: URL, caPem: string, token: string, body: unknown): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: 'POST', ca: caPem, agent: false, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } },
      (res) => {
        let text = '';
        res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A station the way a real one behaves: it tries again until the gateway lets it in. */
async function whenAdmitted(connect: () => Promise<DemoStation>): Promise<DemoStation> {
  const deadline = Date.now() + WAIT_MS;
  for (;;) {
    try {
      return await connect();
    } catch (error: unknown) {
      if (Date.now() > deadline) throw error;
      await pause(200);
    }
  }
}

export async function runProvisionDemo(options: ProvisionDemoOptions): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'pleevi-edge-demo-provision-'));
  // Whatever happens, no program of the demo outlives it, and its temp folder goes.
  process.on('exit', () => {
    for (const child of children) child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  let cpms: DemoCpms | undefined;
  let broker: DemoBroker | undefined;
  let cloud: DemoCloud | undefined;
  let service: Proc | undefined;
  let gateway: Proc | undefined;
  const stations: DemoStation[] = [];
  let stopping = false;
  const stop = async (code: number): Promise<void> => {
    if (stopping) return;
    stopping = true;
    // The cloud stops listening first: the stations' goodbyes are not news after the summary.
    await cloud?.close();
    for (const station of stations) await station.close().catch(() => undefined);
    const gatewayExit = await gateway?.stop();
    await service?.stop();
    await cpms?.close();
    await broker?.close();
    rmSync(dir, { recursive: true, force: true });
    process.exit(code !== 0 ? code : gatewayExit === 0 || gatewayExit === undefined ? 0 : 1);
  };
  process.once('SIGINT', () => void stop(0));
  process.once('SIGTERM', () => void stop(0));

  try {
    cpms = await startDemoCpms({ onCall: (stationId, method) => console.log(`  CPMS      received ${method.padEnd(18)} from ${stationId} (relayed by the enrolled gateway)`) });
    broker = await startDemoBroker();
    cloud = await startDemoCloud(broker.url, GATEWAY_ID);
    console.log(`pleevi-edge demo --provision: the installer's flow. Demo CPMS on ${cpms.url}, MQTT broker (in-process) on ${broker.url}; everything in ${dir}, removed at exit.`);

    // 1. The enrollment service, as an operator sets it up (docs/provisioning-service.md "Quick start").
    console.log('\n== 1. the enrollment service: pleevi-provision (provisioning/) ==');
    const data = join(dir, 'provision');
    const siteFile = join(dir, 'demo-site.json');
    const site = { upstream: { url: cpms.url, outageGraceMs: 5000 }, mqtt: { url: broker.url, protocolVersion: 4 }, smartCharging: { callTimeoutMs: 5000 } };
    writeFileSync(siteFile, `${JSON.stringify(site, null, 2)}\n`);
    await provision(['ca', 'init', '--cn', 'pleevi demo CA'], data, 'ca init --cn "pleevi demo CA"');
    await provision(['sites', 'add', SITE_ID, '--config', siteFile], data);
    console.log(`  the site's configuration, what its gateways receive at enrollment: ${JSON.stringify(site)}`);
    console.log('  (plain ws:// and mqtt:// on 127.0.0.1 for the demo: the gateway fills in its enrolled client certificate only for wss:// and mqtts://, which production uses)');
    const installerToken = (await provision(['tokens', 'add', '--role', 'installer', '--label', 'demo installer app'], data, 'tokens add --role installer --label "demo installer app"')).trim();
    console.log('  (the installer token is printed once; the demo keeps it for the installer app)');
    const caPath = join(data, 'ca.crt');
    const caPem = readFileSync(caPath, 'utf8');
    console.log('$ pleevi-provision serve --port 0 --retry-after-s 1');
    service = startProc([PROVISION_CLI, 'serve', '--port', '0', '--retry-after-s', '1', '--data', data], (line) => {
      const shown = line.startsWith('listening on ') ? `  service   ${line}` : serviceStatusLine(line, options.verbose);
      if (shown !== undefined) console.log(shown);
    });
    const listening = await service.waitForLine('the enrollment service to listen', (line) => line.startsWith('listening on https://'));
    const serviceUrl = listening.slice('listening on '.length).trim();

    // 2. The gateway, fresh out of the box: only where to enroll, no upstream.
    console.log('\n== 2. an unclaimed gateway: pleevi-edge run ==');
    const gatewayDir = join(dir, 'gateway');
    mkdirSync(gatewayDir);
    const configPath = join(gatewayDir, 'config.json');
    const gatewayConfig = {
      gatewayId: GATEWAY_ID,
      dataDir: join(gatewayDir, 'data'),
      listen: { host: '127.0.0.1', port: options.port },
      provisioning: { url: serviceUrl, claimBaseUrl: serviceUrl, ca: caPath },
      admin: { socket: join(gatewayDir, 'admin.sock') },
      log: { level: 'info' },
    };
    writeFileSync(configPath, `${JSON.stringify(gatewayConfig, null, 2)}\n`);
    // The site's driver list (what `pleevi-edge drivers import FILE` loads): BADGE-0002 is left off on purpose.
    const seed = openStore(gatewayConfig.dataDir);
    importDrivers(seed, parseDriverCsvText('email;badge_ids\nana@example.com;BADGE-0001\nchris@example.com;"badge-0003, BADGE-0033"\n').rows, { mode: 'replace', source: 'demo' });
    seed.close();
    console.log(`  its configuration has only provisioning, no upstream: ${JSON.stringify({ gatewayId: GATEWAY_ID, provisioning: gatewayConfig.provisioning })}`);
    console.log('$ pleevi-edge run --config gateway/config.json');
    const daemon = startProc([EDGE_CLI, 'run', '--config', configPath], (line) => {
      const shown = gatewayStatusLine(line, options.verbose);
      if (shown !== undefined) console.log(shown);
    });
    gateway = daemon;
    const waitingLine = await daemon.waitForLine('the gateway to wait for its claim', (line) => message(line).startsWith('waiting to be claimed'));
    const port = Number(parseLog(waitingLine)?.port);

    console.log('$ pleevi-edge provision qr --config gateway/config.json');
    const qr = await runTool([EDGE_CLI, 'provision', 'qr', '--config', configPath]);
    if (qr.code !== 0) throw new Error(`provision qr exited ${qr.code}: ${qr.stderr.trim()}`);
    process.stdout.write(qr.stdout);
    const claimCode = /^claim code\s+(\S+)$/m.exec(qr.stdout)?.[1];
    if (claimCode === undefined) throw new Error('provision qr printed no claim code');
    await daemon.waitForLine("the gateway's first enrollment attempt", (line) => message(line) === 'waiting for the gateway to be claimed');

    // 3. The installer on site: the app reads the QR (gateway id and code) and claims the gateway.
    await pause(options.once ? 2000 : 5000);
    console.log(`\n== 3. the claim ==\ninstaller scans the QR and claims the gateway for site ${SITE_ID}`);
    console.log(`  POST ${serviceUrl}/v1/claims  Authorization: Bearer <installer token>  {"gatewayId":"${GATEWAY_ID}","claimCode":"<the code from the QR>","siteId":"${SITE_ID}"}`);
    const claimedAt = Date.now();
    const claim = await postJson(new URL('/v1/claims', serviceUrl), caPem, installerToken, { gatewayId: GATEWAY_ID, claimCode, siteId: SITE_ID });
    console.log(`  -> ${claim.status} ${claim.text.replaceAll(claimCode, '[claim code]').trim()}`);
    if (claim.status !== 201) throw new Error(`the claim was refused: ${claim.status}`);
    await daemon.waitForLine('the gateway to enroll and relay', (line) => message(line) === 'gateway started');

    // 4. The stations, through the enrolled gateway, to the CPMS of the site's configuration.
    console.log(`\n== 4. stations through the enrolled gateway (ws://127.0.0.1:${port}/ocpp/<stationId>) ==`);
    const endpoint = `ws://127.0.0.1:${port}/ocpp`;
    stations.push(await whenAdmitted(() => runStation16(endpoint, 'CP-DEMO-1', 'BADGE-0001')));
    const firstRelayS = (Date.now() - claimedAt) / 1000;
    stations.push(await whenAdmitted(() => runStation16(endpoint, 'CP-DEMO-2', 'BADGE-0002')));
    stations.push(await whenAdmitted(() => runStation201(endpoint, 'CS-DEMO-3', 'BADGE-0003')));
    const answer = await cpms.call('CP-DEMO-1', 'GetConfiguration', { key: ['HeartbeatInterval'] });
    console.log(`  CPMS      asked CP-DEMO-1 GetConfiguration through the gateway, answer: ${JSON.stringify(answer)}`);

    // What the gateway published with the site's MQTT settings: its enrolled event and the sessions.
    const demoCloud = cloud;
    const seen = (suffix: string, event: string): boolean => demoCloud.messages().some((m) => m.suffix === suffix && m.body.event === event);
    try {
      await demoCloud.waitFor('the enrolled event and the sessions on the broker', () => seen('events/gateway', 'enrolled') && seen('events/session', 'ended'), WAIT_MS);
    } catch (error: unknown) {
      if (options.once) throw error;
      console.log(`warning: ${(error as Error).message}`);
    }
    console.log(`\n== the demo cloud (MQTT ${cloud.prefix}/#) ==`);
    cloud.showLive();

    const statusRun = await runTool([EDGE_CLI, 'status', '--json', '--config', configPath]);
    if (statusRun.code !== 0) throw new Error(`status exited ${statusRun.code}: ${statusRun.stderr.trim()}`);
    const status = JSON.parse(statusRun.stdout) as {
      counters: { framesFromStations: number; framesFromCpms: number };
      stations: Array<{ stationId: string; protocol: string }>;
      provisioning?: { claim: string; certificate?: { serialNumber?: string; notAfter?: string; state?: string } };
    };
    const certificate = status.provisioning?.certificate;
    const events = (suffix: string): number => demoCloud.messages().filter((m) => m.suffix === suffix).length;
    console.log('\n== summary ==');
    console.log(`gateway ${GATEWAY_ID}: ${status.provisioning?.claim ?? '?'} for ${SITE_ID} and enrolled; certificate ${certificate?.serialNumber ?? '?'} until ${certificate?.notAfter ?? '?'} (renewal ${certificate?.state ?? '?'})`);
    console.log(`claim to the first station relayed: ${firstRelayS.toFixed(1)} s, without a restart (the gateway polls the service every 1 s here)`);
    console.log(`frames seen: ${status.counters.framesFromStations} from stations, ${status.counters.framesFromCpms} from the CPMS; stations: ${status.stations.map((s) => `${s.stationId} (${s.protocol})`).join(', ')}`);
    console.log(`the demo CPMS received ${cpms.receivedCalls()} calls from stations, all through the enrolled gateway`);
    console.log(`the demo cloud received ${events('events/gateway')} gateway, ${events('events/session')} session and ${events('events/station')} station events`);

    if (options.once) {
      await stop(0);
      return;
    }
    console.log(`\nRunning: stations send meter values every 10 s; the cloud lines arrive live. Point your own station at ${endpoint}/<id>. Ctrl-C stops.`);
    setInterval(() => {
      for (const station of stations) void station.meterTick().catch(() => undefined);
    }, 10_000);
  } catch (error: unknown) {
    console.error(`demo failed: ${error instanceof Error ? error.message : String(error)}`);
    if (gateway) console.error(`the gateway's last log lines:\n${gateway.lines.slice(-10).join('\n')}`);
    await stop(1);
  }
}
