/**
 * Flags of `npm run bench`. Every figure is bounded: station counts are capped
 * at the 2,000, phases at a minute, so a run always ends by itself.
 */
export interface BenchOptions {
  /** Stations in the latency and throughput phases. */
  readonly stations: number;
  /** Aggregate open-loop rate of the latency phase, calls/s over all stations. */
  readonly rate: number;
  readonly latencySeconds: number;
  readonly throughputSeconds: number;
  readonly warmupSeconds: number;
  /** Measured time split in this many rounds, the paths taking turns. */
  readonly rounds: number;
  /** Stations held connected to the gateway in the memory phase. */
  readonly memoryStations: number;
  /** Run the nginx columns when nginx is installed. */
  readonly nginx: boolean;
  /** Drivers in the list of the driver lookup phase (0: skip it). */
  readonly drivers: number;
  /** Also run the bare Node byte relay (node-relay-process.ts): the floor any Node relay starts from. */
  readonly nodeRelay: boolean;
  /** Let the bench CPMS accept the permessage-deflate the gateway offers upstream. */
  readonly cpmsDeflate: boolean;
  /** Write a V8 CPU profile of the gateway process during latency and throughput. */
  readonly cpuProfile: boolean;
  /** Wait up to this long for other work on the machine to stop before starting. */
  readonly waitIdleSeconds: number;
  readonly quick: boolean;
  readonly help: boolean;
  /** Which phases run (`--only`): the relay phases (latency, throughput, memory, drivers), site-day, mix. */
  readonly phases: ReadonlySet<BenchPhase>;
  /** Stations and real seconds of the site day (issue 10 target 1). */
  readonly siteDayStations: number;
  readonly siteDaySeconds: number;
  /** Stations and measured seconds per kind of the mix phase (issue 10 target 2). */
  readonly mixStations: number;
  readonly mixSeconds: number;
  readonly mixMeterValues: number;
  /** Also put the same mix through the peers' shape (the ws relay): how much of the ratio the frames themselves cost. */
  readonly mixWsRelay: boolean;
  /** Issue 10 targets 3-5 (peer-phases.ts): the TLS phase, the storm, the ws relay beside the gateway. */
  readonly tls: boolean;
  readonly stormStations: number;
  readonly stormHandshakeBound?: number;
  readonly wsRelay: boolean;
  readonly wsRelayParse: boolean;
}

/** `relay`: latency, throughput, memory and (unless --drivers 0) the driver list phase. */
export const BENCH_PHASES = ['relay', 'site-day', 'mix'] as const;
export type BenchPhase = (typeof BENCH_PHASES)[number];

export const MAX_STATIONS = 2_000;
const MAX_DRIVERS = 1_000_000;
const MAX_SECONDS = 60;
const MAX_RATE = 50_000;

export const USAGE = `Usage: npm run bench -- [flags]

Stations send OCPP 1.6 Heartbeat CALLs to a local CPMS straight, through nginx
(one worker) and through the gateway, then the gateway's figures are compared
with nginx's against the issue's targets.

  --stations N           stations in the latency and throughput phases (default 200, max ${MAX_STATIONS})
  --rate R               open-loop calls/s over all stations in the latency phase (default 1000)
  --seconds S            measured seconds of the latency phase, per path (default 10)
  --throughput-seconds S measured seconds of the closed-loop throughput phase, per path (default 5)
  --warmup-seconds S     unmeasured load before the first round of each phase (default 1)
  --rounds R             split each phase in R rounds, the paths taking turns (default 5)
  --memory-stations M    stations held open to measure gateway memory (default 2000, max ${MAX_STATIONS})
  --drivers N            drivers imported and looked up in the driver lookup phase (default 100000, 0 skips it)
  --no-nginx             skip the nginx columns
  --node-relay           also measure a bare Node byte relay (no ws, no inspection): the floor under the gateway
  --cpms-deflate         the bench CPMS accepts permessage-deflate (the gateway offers it)
  --wait-idle S          first wait up to S seconds for the machine to be idle (default 0)
  --cpu-prof             V8 CPU profile of the gateway into bench-results/profiles/, summarised at the end
                         (the mix phase's gateway too, summarised when the phase ends)
  --site-day-seconds S   real seconds of the site day (default 60, x120 time compression; 0 skips it)
  --mix-seconds S        measured seconds per kind (Heartbeat, mix) of the mix phase (default 10; 0 skips it)
  --mix-meter-values N   MeterValues per session in the mix (default 60: an hour at one a minute)
  --mix-ws-relay         also run the mix through the bare ws relay (the peers' shape): the ratio the frames alone cost
  --only LIST            only these phases, comma separated: ${BENCH_PHASES.join(', ')}
  --no-tls               skip the phase with a wss:// CPMS requiring a client certificate
  --storm-stations N     stations reconnecting at once in the storm phase (default ${MAX_STATIONS}, 0 skips it)
  --storm-bound N        the gateway's upstream.maxConcurrentHandshakes in the storm (default 64, as shipped)
  --no-ws-relay          skip the peers' shape (a ws server and a ws client per station) beside the gateway
  --ws-relay-parse       the ws relay JSON.parses every frame, as some peers do
  --quick                smoke run (under a minute): 50 stations, 1.5 s latency and throughput phases, 200 memory stations,
                         100 storm stations, 10000 drivers, 10 s site day, 2 s mix
  --help                 this text

Figures go to stdout and to bench-results/latest.json.`;

export class BenchUsageError extends Error {
  override readonly name = 'BenchUsageError';
}

export function parseBenchOptions(argv: readonly string[]): BenchOptions {
  const quick = argv.includes('--quick');
  const values = {
    stations: quick ? 50 : 200,
    rate: 1_000,
    latencySeconds: quick ? 1.5 : 10,
    throughputSeconds: quick ? 1.5 : 5,
    warmupSeconds: quick ? 0.5 : 1,
    rounds: quick ? 2 : 5,
    memoryStations: quick ? 200 : MAX_STATIONS,
    drivers: quick ? 10_000 : 100_000,
    nginx: true,
    nodeRelay: false,
    cpmsDeflate: false,
    cpuProfile: false,
    waitIdleSeconds: 0,
    quick,
    help: false,
    phases: new Set<BenchPhase>(BENCH_PHASES),
    siteDayStations: 200,
    siteDaySeconds: quick ? 10 : 60,
    mixStations: quick ? 50 : 200,
    mixSeconds: quick ? 2 : 10,
    mixMeterValues: 60,
    mixWsRelay: false,
    tls: true,
    stormStations: quick ? 100 : MAX_STATIONS,
    stormHandshakeBound: undefined as number | undefined,
    wsRelay: true,
    wsRelayParse: false,
  };
  for (let index = 0; index < argv.length; index += 1) {
    const flag = argv[index] ?? '';
    const next = (): string => {
      const value = argv[index + 1];
      if (value === undefined || value.startsWith('--')) throw new BenchUsageError(`${flag} needs a value`);
      index += 1;
      return value;
    };
    switch (flag) {
      case '--stations':
        values.stations = integerIn(flag, next(), 1, MAX_STATIONS);
        break;
      case '--rate':
        values.rate = integerIn(flag, next(), 1, MAX_RATE);
        break;
      case '--seconds':
        values.latencySeconds = secondsIn(flag, next(), 0.5);
        break;
      case '--throughput-seconds':
        values.throughputSeconds = secondsIn(flag, next(), 0.5);
        break;
      case '--warmup-seconds':
        values.warmupSeconds = secondsIn(flag, next(), 0);
        break;
      case '--rounds':
        values.rounds = integerIn(flag, next(), 1, 20);
        break;
      case '--memory-stations':
        values.memoryStations = integerIn(flag, next(), 1, MAX_STATIONS);
        break;
      case '--drivers':
        values.drivers = integerIn(flag, next(), 0, MAX_DRIVERS);
        break;
      case '--no-nginx':
        values.nginx = false;
        break;
      case '--node-relay':
        values.nodeRelay = true;
        break;
      case '--cpms-deflate':
        values.cpmsDeflate = true;
        break;
      case '--wait-idle':
        values.waitIdleSeconds = integerIn(flag, next(), 0, 3_600);
        break;
      case '--cpu-prof':
        values.cpuProfile = true;
        break;
      case '--site-day-seconds':
        values.siteDaySeconds = secondsIn(flag, next(), 0);
        break;
      case '--mix-seconds':
        values.mixSeconds = secondsIn(flag, next(), 0);
        break;
      case '--mix-meter-values':
        values.mixMeterValues = integerIn(flag, next(), 1, 1000);
        break;
      case '--mix-ws-relay':
        values.mixWsRelay = true;
        break;
      case '--only':
        values.phases = phasesIn(flag, next());
        break;
      case '--no-tls':
        values.tls = false;
        break;
      case '--storm-stations':
        values.stormStations = integerIn(flag, next(), 0, MAX_STATIONS);
        break;
      case '--storm-bound':
        values.stormHandshakeBound = integerIn(flag, next(), 1, 10_000);
        break;
      case '--no-ws-relay':
        values.wsRelay = false;
        break;
      case '--ws-relay-parse':
        values.wsRelayParse = true;
        break;
      case '--quick':
        break;
      case '--help':
      case '-h':
        values.help = true;
        break;
      default:
        throw new BenchUsageError(`unknown flag ${flag}`);
    }
  }
  const phases = new Set(values.phases);
  if (values.siteDaySeconds === 0) phases.delete('site-day');
  if (values.mixSeconds === 0) phases.delete('mix');
  return { ...values, phases };
}

function phasesIn(flag: string, text: string): Set<BenchPhase> {
  const phases = new Set<BenchPhase>();
  for (const name of text.split(',')) {
    const phase = BENCH_PHASES.find((known) => known === name.trim());
    if (phase === undefined) throw new BenchUsageError(`${flag}: unknown phase '${name}' (known: ${BENCH_PHASES.join(', ')})`);
    phases.add(phase);
  }
  return phases;
}

function integerIn(flag: string, text: string, minimum: number, maximum: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < minimum || value > maximum) {
    throw new BenchUsageError(`${flag} must be a whole number from ${minimum} to ${maximum}, got ${text}`);
  }
  return value;
}

function secondsIn(flag: string, text: string, minimum: number): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < minimum || value > MAX_SECONDS) {
    throw new BenchUsageError(`${flag} must be from ${minimum} to ${MAX_SECONDS} seconds, got ${text}`);
  }
  return value;
}
