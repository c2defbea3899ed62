/**
 * The reconnect storm alone (phase 7 of `npm run bench`), for measuring it
 * again without the other phases: `node dist/scripts/bench/storm-main.js
 * [--storm-stations N] [--storm-bound N] [--no-nginx] [--quick]` after
 * `npm run build`. The same processes, the same figures, the same cleanup.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeBenchCerts } from './bench-certs.js';
import { BenchUsageError, parseBenchOptions, USAGE } from './bench-options.js';
import { Cleanup } from './cleanup.js';
import { NGINX_PATH } from './nginx-proxy.js';
import { formatPeerReport, peerTargets } from './peer-report.js';
import { runStormPhase } from './peer-phases.js';

const HERE = fileURLToPath(new URL('.', import.meta.url));
/** Two storms of at most 2,000 stations, each bounded by the station timeout (30 s) plus process starts. */
const TIME_LIMIT_MS = 180_000;

async function main(): Promise<number> {
  let options;
  try {
    options = parseBenchOptions(process.argv.slice(2));
  } catch (error: unknown) {
    if (!(error instanceof BenchUsageError)) throw error;
    process.stderr.write(`storm: ${error.message}\n\n${USAGE}\n`);
    return 2;
  }
  const cleanup = new Cleanup();
  cleanup.install();
  const watchdog = setTimeout(() => {
    process.stderr.write('storm: overran its time limit; stopping\n');
    cleanup.runNow();
    process.exit(3);
  }, TIME_LIMIT_MS);
  watchdog.unref();
  const workDir = mkdtempSync(join(tmpdir(), 'pleevi-storm-'));
  cleanup.trackDir(workDir);
  try {
    const context = {
      options,
      cleanup,
      workDir,
      benchDir: HERE,
      nginx: options.nginx && existsSync(NGINX_PATH),
      cpmsUrl: '',
      cpmsPort: 0,
      progress: (line: string) => process.stderr.write(`storm: ${line}\n`),
    };
    const storm = await runStormPhase(context, writeBenchCerts(join(workDir, 'certs')));
    const results = { peers: { storm }, latency: [], throughput: [] } as const;
    process.stdout.write(formatPeerReport(results));
    for (const verdict of peerTargets({ storm }, results)) {
      process.stdout.write(`${verdict.pass === undefined ? 'n/a ' : verdict.pass ? 'PASS' : 'MISS'}  ${verdict.target}: ${verdict.measured}${verdict.note ? ` (${verdict.note})` : ''}\n`);
    }
    return 0;
  } catch (error: unknown) {
    process.stderr.write(`storm: failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    return 1;
  } finally {
    clearTimeout(watchdog);
    cleanup.runNow();
  }
}

process.exitCode = await main();
