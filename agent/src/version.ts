import { readFileSync } from 'node:fs';

/** The package version, read once from package.json (two levels above dist/agent/src or agent/src). */
function readVersion(): string {
  for (const relative of ['../../package.json', '../../../package.json']) {
    try {
      const parsed: unknown = JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8'));
      if (parsed && typeof parsed === 'object' && 'name' in parsed && parsed.name === 'pleevi-edge' && 'version' in parsed) {
        return String(parsed.version);
      }
    } catch {
      // try the next candidate
    }
  }
  return '0.0.0-unknown';
}

export const GATEWAY_VERSION = readVersion();
