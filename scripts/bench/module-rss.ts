/**
 * Where the gateway's idle RSS goes (issue 10 target 5): `node
 * dist/scripts/bench/module-rss.js` (after `npm run build`).
 *
 * 1. Each top-level dependency imported alone in a fresh Node process: RSS,
 *    V8 heap and external memory after two full GCs, minus those of an empty
 *    process. Median of three processes each.
 * 2. The gateway's own module graph imported without starting it.
 * 3. The bench's gateway process started (gateway-process.ts, production
 *    defaults, nothing connected): process.memoryUsage(), V8's heap spaces,
 *    and which packages are loaded (CommonJS packages, found in
 *    require.cache; ESM-only packages do not show there).
 *
 * It measures; it changes nothing. Figures vary by a few MB from run to run.
 */
import { execFileSync, fork } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { formatTable } from '../../agent/src/cli/format-table.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
const PROJECT_ROOT = join(HERE, '..', '..', '..');
const REPEATS = 3;
const DUMP_AFTER_READY_MS = 1_500;
const START_TIMEOUT_MS = 15_000;

/** What the gateway depends on at run time (package.json dependencies), and how a first use loads it. */
const MODULES: ReadonlyArray<{ readonly name: string; readonly code: string }> = [
  { name: 'ws', code: "await import('ws');" },
  { name: 'ajv', code: "const { default: Ajv } = await import('ajv'); new Ajv();" },
  { name: 'pino', code: "const { default: pino } = await import('pino'); pino({ level: 'silent' });" },
  { name: 'better-sqlite3 (import)', code: "await import('better-sqlite3');" },
  { name: 'better-sqlite3 (open :memory:)', code: "const { default: Database } = await import('better-sqlite3'); new Database(':memory:').prepare('select 1').get();" },
  { name: 'mqtt', code: "await import('mqtt');" },
  { name: 'node-forge', code: "await import('node-forge');" },
  { name: 'qrcode', code: "await import('qrcode');" },
  { name: 'ocpp-rpc', code: "await import('ocpp-rpc');" },
  { name: 'systemd-notify', code: "await import('systemd-notify');" },
];

/** The same, one on top of the other in a fresh process each: what each adds once the earlier ones (and the Node internals they share) are loaded. */
const CUMULATIVE = ['ws', 'pino', 'better-sqlite3 (open :memory:)', 'ajv', 'mqtt'] as const;

interface Reading {
  readonly rss: number;
  readonly heapUsed: number;
  readonly external: number;
}

const MEASURE = `
globalThis.gc(); await new Promise((r) => setTimeout(r, 50)); globalThis.gc();
const m = process.memoryUsage();
process.stdout.write(JSON.stringify({ rss: m.rss, heapUsed: m.heapUsed, external: m.external }));`;

function measure(code: string): Reading {
  const readings: Reading[] = [];
  for (let index = 0; index < REPEATS; index += 1) {
    const out = execFileSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', `${code}\n${MEASURE}`], { cwd: PROJECT_ROOT, encoding: 'utf8' });
    readings.push(JSON.parse(out) as Reading);
  }
  const median = (pick: (reading: Reading) => number): number => readings.map(pick).sort((a, b) => a - b)[Math.floor(REPEATS / 2)] ?? Number.NaN;
  return { rss: median((r) => r.rss), heapUsed: median((r) => r.heapUsed), external: median((r) => r.external) };
}

const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);
const signedMb = (bytes: number): string => `${bytes < 0 ? '' : '+'}${mb(bytes)}`;

interface GatewayDump {
  readonly memory: NodeJS.MemoryUsage;
  readonly spaces: ReadonlyArray<{ readonly space_name: string; readonly space_used_size: number; readonly physical_space_size: number }>;
  readonly packages: readonly string[];
}

/** A CommonJS preload that writes the started gateway's memory and loaded packages to a file, on request. */
const DUMP_PRELOAD = `
const { writeFileSync } = require('node:fs');
const v8 = require('node:v8');
process.on('message', (message) => {
  if (!message || message.kind !== 'module-rss-dump') return;
  globalThis.gc?.();
  const packages = new Set();
  for (const key of Object.keys(require.cache)) {
    const match = /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(key.split('node_modules/').length > 2 ? key.slice(key.lastIndexOf('node_modules/')) : key);
    if (match) packages.add(match[1]);
  }
  writeFileSync(message.file, JSON.stringify({ memory: process.memoryUsage(), spaces: v8.getHeapSpaceStatistics(), packages: [...packages].sort() }));
  process.send({ kind: 'module-rss-dumped' });
});`;

async function startedGateway(dir: string, flags: readonly string[] = []): Promise<GatewayDump> {
  const preload = join(dir, 'dump.cjs');
  const file = join(dir, 'dump.json');
  writeFileSync(preload, DUMP_PRELOAD);
  const dataDir = join(dir, 'data');
  // Nothing is dialled before a station connects, so the upstream need not exist.
  const child = fork(join(HERE, 'gateway-process.js'), ['ws://127.0.0.1:9/ocpp', dataDir], { execArgv: ['--expose-gc', ...flags, '--require', preload], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the gateway did not start')), START_TIMEOUT_MS);
      child.on('message', (message: unknown) => {
        const kind = (message as { kind?: unknown } | null)?.kind;
        if (kind === 'ready') setTimeout(() => child.send({ kind: 'module-rss-dump', file }), DUMP_AFTER_READY_MS);
        if (kind === 'failed') reject(new Error('the gateway failed to start'));
        if (kind === 'module-rss-dumped') {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once('exit', (code) => reject(new Error(`the gateway exited (${code})`)));
    });
    return JSON.parse(readFileSync(file, 'utf8')) as GatewayDump;
  } finally {
    child.kill('SIGKILL');
  }
}

async function main(): Promise<void> {
  const empty = measure('');
  const rows = [['empty node process', mb(empty.rss), '', mb(empty.heapUsed), mb(empty.external)]];
  const row = (name: string, reading: Reading): string[] => [name, mb(reading.rss), signedMb(reading.rss - empty.rss), signedMb(reading.heapUsed - empty.heapUsed), signedMb(reading.external - empty.external)];
  for (const module of MODULES) rows.push(row(module.name, measure(module.code)));
  const gatewayUrl = pathToFileURL(join(PROJECT_ROOT, 'dist', 'agent', 'src', 'gateway.js')).href;
  rows.push(row('gateway.js module graph (imported, not started)', measure(`await import(${JSON.stringify(gatewayUrl)});`)));
  process.stdout.write(`Each in a fresh process after two full GCs, median of ${REPEATS} (MB; + is beyond an empty process)\n`);
  process.stdout.write(`${formatTable(['imported', 'RSS', 'RSS added', 'heap used added', 'external added'], rows).trimEnd()}\n\n`);

  const stacked: string[][] = [];
  let previous = empty;
  let code = '';
  for (const name of CUMULATIVE) {
    code += `${MODULES.find((module) => module.name === name)?.code ?? ''}\n`;
    const reading = measure(code);
    stacked.push([`+ ${name}`, mb(reading.rss), signedMb(reading.rss - previous.rss), signedMb(reading.heapUsed - previous.heapUsed)]);
    previous = reading;
  }
  const graph = measure(`${code}await import(${JSON.stringify(gatewayUrl)});`);
  stacked.push(['+ the rest of gateway.js module graph', mb(graph.rss), signedMb(graph.rss - previous.rss), signedMb(graph.heapUsed - previous.heapUsed)]);
  process.stdout.write(`Stacked in the order above, a fresh process per row (MB; added = beyond the row before)\n`);
  process.stdout.write(`${formatTable(['imported', 'RSS', 'RSS added', 'heap used added'], stacked).trimEnd()}\n\n`);

  const dir = mkdtempSync(join(tmpdir(), 'pleevi-module-rss-'));
  try {
    const dump = await startedGateway(dir);
    const { memory } = dump;
    process.stdout.write(
      `Gateway started (gateway-process.js, production defaults, nothing connected), after a full GC, MB:\n` +
        `  rss ${mb(memory.rss)}  heapTotal ${mb(memory.heapTotal)}  heapUsed ${mb(memory.heapUsed)}  external ${mb(memory.external)}  arrayBuffers ${mb(memory.arrayBuffers)}\n` +
        `  rss outside the V8 heap (code, Node and libuv, native modules, allocator): ${mb(memory.rss - memory.heapTotal)}\n`,
    );
    process.stdout.write(`${formatTable(['V8 heap space', 'used MB', 'resident MB'], dump.spaces.map((space) => [space.space_name, mb(space.space_used_size), mb(space.physical_space_size)])).trimEnd()}\n`);
    process.stdout.write(`CommonJS packages loaded at start: ${dump.packages.join(', ')}\n`);
    // A runtime flag, not a code change: how much of the RSS is the young generation's reserve.
    const small = await startedGateway(dir, ['--max-semi-space-size=1']);
    process.stdout.write(`The same with node --max-semi-space-size=1: rss ${mb(small.memory.rss)}, heapTotal ${mb(small.memory.heapTotal)}\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
