/** Guarded reads of the raw config value: it may be anything until validated. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function field(value: unknown, key: string): unknown {
  return isRecord(value) ? value[key] : undefined;
}

export function stationEntries(document: unknown): Array<{ station: Record<string, unknown>; path: string }> {
  const list = field(field(document, 'stations'), 'list');
  if (!Array.isArray(list)) return [];
  const entries: Array<{ station: Record<string, unknown>; path: string }> = [];
  list.forEach((station: unknown, index) => {
    if (isRecord(station)) entries.push({ station, path: `$.stations.list[${index}]` });
  });
  return entries;
}
