/**
 * The IPC between the bench and the processes it forks (the CPMS, the
 * gateway). Each child measures itself: RSS and CPU time come from the
 * child's own `process`, so the gateway's figures hold the gateway alone.
 */
export interface ProcessUsage {
  readonly rssBytes: number;
  readonly heapUsedBytes: number;
  readonly externalBytes: number;
  readonly arrayBuffersBytes: number;
  readonly cpuUserMicros: number;
  readonly cpuSystemMicros: number;
}

export interface UsageReport {
  readonly usage: ProcessUsage;
  /** The child's own counters (the gateway's RelayMetrics, the CPMS's answered calls). */
  readonly counters: Readonly<Record<string, number>>;
}

export type ChildRequest =
  | { readonly kind: 'usage'; readonly id: number; readonly gc: boolean }
  | { readonly kind: 'stop'; readonly id: number };

export type ChildMessage =
  | { readonly kind: 'ready'; readonly port: number }
  | { readonly kind: 'failed'; readonly message: string }
  | { readonly kind: 'usage'; readonly id: number; readonly report: UsageReport }
  | { readonly kind: 'stopped'; readonly id: number };

export interface ChildService {
  counters(): Record<string, number>;
  stop(): Promise<void>;
}

export function currentUsage(): ProcessUsage {
  const memory = process.memoryUsage();
  const cpu = process.cpuUsage();
  return {
    rssBytes: memory.rss,
    heapUsedBytes: memory.heapUsed,
    externalBytes: memory.external,
    arrayBuffersBytes: memory.arrayBuffers,
    cpuUserMicros: cpu.user,
    cpuSystemMicros: cpu.system,
  };
}

/**
 * Child side: announce the port, answer the bench's requests, and leave when
 * the bench goes away (so a killed bench never strands a child).
 */
export function serveBench(port: number, service: ChildService): void {
  const send = (message: ChildMessage): void => {
    process.send?.(message);
  };
  let stopping: Promise<void> | undefined;
  const stopOnce = (): Promise<void> => {
    stopping ??= service.stop().catch(() => undefined);
    return stopping;
  };
  process.on('message', (raw: unknown) => {
    const request = asChildRequest(raw);
    if (!request) return;
    if (request.kind === 'usage') {
      void collectGarbage(request.gc).then(() => send({ kind: 'usage', id: request.id, report: { usage: currentUsage(), counters: service.counters() } }));
      return;
    }
    void stopOnce().then(() => {
      send({ kind: 'stopped', id: request.id });
      // A normal exit, so --cpu-prof gets to write its profile.
      process.exit(0);
    });
  });
  process.once('disconnect', () => {
    setTimeout(() => process.exit(0), 2_000).unref();
    void stopOnce().then(() => process.exit(0));
  });
  send({ kind: 'ready', port });
}

export function reportStartFailure(error: unknown): void {
  const message = error instanceof Error ? error.message : String(error);
  process.send?.({ kind: 'failed', message } satisfies ChildMessage);
  process.exitCode = 1;
  process.disconnect?.();
}

/** Two full collections a tick apart: the first may leave finalisers for the second. */
async function collectGarbage(requested: boolean): Promise<void> {
  const gc = globalThis.gc;
  if (!requested || !gc) return;
  gc();
  await new Promise((resolve) => setTimeout(resolve, 50));
  gc();
}

function asChildRequest(raw: unknown): ChildRequest | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const { kind, id, gc } = raw as { kind?: unknown; id?: unknown; gc?: unknown };
  if (typeof id !== 'number') return undefined;
  if (kind === 'usage') return { kind, id, gc: gc === true };
  if (kind === 'stop') return { kind, id };
  return undefined;
}

export function asChildMessage(raw: unknown): ChildMessage | undefined {
  if (typeof raw !== 'object' || raw === null) return undefined;
  const message = raw as { kind?: unknown; id?: unknown; port?: unknown; message?: unknown; report?: unknown };
  switch (message.kind) {
    case 'ready':
      return typeof message.port === 'number' ? { kind: 'ready', port: message.port } : undefined;
    case 'failed':
      return { kind: 'failed', message: String(message.message) };
    case 'usage':
      return typeof message.id === 'number' && isUsageReport(message.report) ? { kind: 'usage', id: message.id, report: message.report } : undefined;
    case 'stopped':
      return typeof message.id === 'number' ? { kind: 'stopped', id: message.id } : undefined;
    default:
      return undefined;
  }
}

function isUsageReport(value: unknown): value is UsageReport {
  if (typeof value !== 'object' || value === null) return false;
  const { usage, counters } = value as { usage?: unknown; counters?: unknown };
  return typeof usage === 'object' && usage !== null && typeof counters === 'object' && counters !== null;
}
