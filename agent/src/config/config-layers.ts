import { isRecord } from './config-values.js';

/**
 * Where a configuration value comes from (docs/provisioning.md "The enrolled
 * configuration"): built-in defaults < the enrolled configuration < the
 * gateway's enrolled identity (certificate files filled in where nothing
 * names one) < the local file, a technician's override.
 */
export type ValueSource = 'enrolled' | 'identity' | 'file';

/** JSON path of every value a layer set (`$.upstream.url`), with the layer that won. */
export type ValueSources = ReadonlyMap<string, ValueSource>;

/**
 * Objects merge key by key; anything else (strings, numbers, arrays such as
 * `stations.list`) is replaced whole by the later layer, so a station list in
 * the file is the station list, not a mix of two.
 */
export function mergeLayer(base: unknown, over: unknown): unknown {
  if (!isRecord(base) || !isRecord(over)) return over === undefined ? base : over;
  const merged: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) merged[key] = key in base ? mergeLayer(base[key], value) : value;
  return merged;
}

/** Record `source` for every leaf of `layer` (arrays are leaves), overwriting earlier layers. */
export function recordSources(layer: unknown, source: ValueSource, into: Map<string, ValueSource>, path = '$'): void {
  if (!isRecord(layer)) {
    if (layer !== undefined) {
      // A later layer that replaces a whole object replaces every value under it.
      for (const known of [...into.keys()]) if (known.startsWith(`${path}.`)) into.delete(known);
      into.set(path, source);
    }
    return;
  }
  for (const [key, value] of Object.entries(layer)) recordSources(value, source, into, `${path}.${key}`);
}
