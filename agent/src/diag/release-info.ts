import { readFileSync } from 'node:fs';

/**
 * The release's own description, for the support bundle: `release.json` at
 * the top of an installed release (name, version, arch, nodeAbi, commit,
 * builtAt) and `dist/build-info.json` of the build. From the compiled
 * dist/agent/src/diag/ the release folder is four levels up; from the
 * source tree three. Absent files are undefined (a checkout has no
 * release.json).
 */
export function releaseJson(): unknown {
  return readFirstJson(['../../../../release.json', '../../../release.json']);
}

export function buildInfo(): unknown {
  return readFirstJson(['../../../build-info.json', '../../../dist/build-info.json']);
}

function readFirstJson(candidates: readonly string[]): unknown {
  for (const relative of candidates) {
    try {
      return JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as unknown;
    } catch {
      // the next candidate
    }
  }
  return undefined;
}
