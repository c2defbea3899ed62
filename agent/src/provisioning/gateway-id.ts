/**
 * The gateway id when the configuration sets none: `gw-<hardware serial>`,
 * else (no serial source readable) the earlier default `gw-<hostname>`, so a
 * machine without any serial still gets a stable, valid id.
 */
import { hostname } from 'node:os';
import { DEFAULT_SERIAL_SOURCE_PATHS, readHardwareSerial, type SerialSource, type SerialSourcePaths } from './hardware-serial.js';

export type GatewayIdSource = 'config' | SerialSource | 'hostname';

export interface ResolvedGatewayId {
  readonly gatewayId: string;
  readonly source: GatewayIdSource;
}

/** The config's rule (config-schema.ts `gatewayId`): an MQTT topic level and a file name. */
const GATEWAY_ID_MAX = 64;

/** What `provision status` prints for each source. */
export const GATEWAY_ID_SOURCE_LABELS: Readonly<Record<GatewayIdSource, string>> = {
  config: 'configuration file (gatewayId)',
  'raspberry-pi-serial': 'Raspberry Pi serial (/proc/cpuinfo)',
  'dmi-serial': 'DMI product serial',
  'machine-id': '/etc/machine-id',
  hostname: 'hostname (no hardware serial readable)',
};

export function resolveGatewayId(
  configured: string | undefined,
  paths: SerialSourcePaths = DEFAULT_SERIAL_SOURCE_PATHS,
  host: () => string = hostname,
): ResolvedGatewayId {
  if (configured !== undefined) return { gatewayId: configured, source: 'config' };
  const hardware = readHardwareSerial(paths);
  if (hardware !== undefined) return { gatewayId: toGatewayId(hardware.serial.toLowerCase()), source: hardware.source };
  // Case kept as before, so a gateway that ran with this default keeps its id (its MQTT topics).
  return { gatewayId: toGatewayId(host()), source: 'hostname' };
}

/** `gw-` + the value with every character the config rule refuses replaced by `-`, cut to 64. */
function toGatewayId(value: string): string {
  return `gw-${value.replace(/[^A-Za-z0-9._-]/g, '-')}`.slice(0, GATEWAY_ID_MAX);
}
