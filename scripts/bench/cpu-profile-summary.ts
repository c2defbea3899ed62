import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { ProfileHotspot } from './bench-results.js';

/**
 * Self time from a V8 `.cpuprofile` (what `node --cpu-prof` writes): which
 * functions and which files the gateway's CPU went to, idle time left out.
 */
interface ProfileNode {
  readonly id: number;
  readonly hitCount?: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
}

function isCpuProfile(value: unknown): value is CpuProfile {
  return typeof value === 'object' && value !== null && Array.isArray((value as { nodes?: unknown }).nodes);
}

export function newestProfile(dir: string): string | undefined {
  let newest: { path: string; at: number } | undefined;
  for (const name of readdirSync(dir)) {
    if (!name.endsWith('.cpuprofile')) continue;
    const path = join(dir, name);
    const at = statSync(path).mtimeMs;
    if (!newest || at > newest.at) newest = { path, at };
  }
  return newest?.path;
}

function where(url: string, line: number, root: string): string {
  if (!url) return '';
  const path = url.startsWith('file://') ? relative(root, new URL(url).pathname) : url;
  return line >= 0 ? `${path}:${line + 1}` : path;
}

export function summarizeProfile(file: string, root: string, top = 15): { hotspots: ProfileHotspot[]; byFile: ProfileHotspot[] } {
  const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
  if (!isCpuProfile(parsed)) throw new Error(`${file} is not a V8 CPU profile`);
  const byFunction = new Map<string, { hits: number; functionName: string; location: string }>();
  const byFile = new Map<string, number>();
  let total = 0;
  for (const node of parsed.nodes) {
    const hits = node.hitCount ?? 0;
    const { functionName, url, lineNumber } = node.callFrame;
    if (hits === 0 || functionName === '(idle)') continue;
    total += hits;
    const location = where(url, lineNumber, root);
    const name = functionName || '(anonymous)';
    const key = `${name}@${location}`;
    const entry = byFunction.get(key) ?? { hits: 0, functionName: name, location };
    entry.hits += hits;
    byFunction.set(key, entry);
    const fileKey = url ? where(url, -1, root) : name;
    byFile.set(fileKey, (byFile.get(fileKey) ?? 0) + hits);
  }
  const percent = (hits: number): number => (total > 0 ? (100 * hits) / total : 0);
  return {
    hotspots: [...byFunction.values()]
      .sort((a, b) => b.hits - a.hits)
      .slice(0, top)
      .map((entry) => ({ selfPercent: percent(entry.hits), functionName: entry.functionName, location: entry.location })),
    byFile: [...byFile.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([location, hits]) => ({ selfPercent: percent(hits), functionName: '', location })),
  };
}
