/**
 * `release.json` at the top of a release tree (docs/appliance.md "Release
 * tree"): what a bundle says it is, checked before anything is unpacked.
 */
export interface ReleaseManifest {
  readonly name: 'pleevi-edge';
  readonly version: string;
  /** Node's `process.arch` the native modules were built for (`x64`, `arm64`). */
  readonly arch: string;
  readonly nodeAbi?: string;
  readonly commit?: string;
  readonly builtAt?: string;
}

/**
 * A version becomes a folder name (`releases/<version>`) and part of file
 * names: letters, digits and `. + _ -`, starting with a letter or digit.
 */
const VERSION_PATTERN = /^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$/;

export function isReleaseVersion(value: unknown): value is string {
  return typeof value === 'string' && VERSION_PATTERN.test(value);
}

/** The manifest, or a sentence saying what is wrong with it. */
export function parseReleaseManifest(text: string): ReleaseManifest | string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return 'release.json is not valid JSON';
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'release.json is not a JSON object';
  const fields = value as Record<string, unknown>;
  if (fields.name !== 'pleevi-edge') return 'release.json: "name" is not "pleevi-edge"';
  if (!isReleaseVersion(fields.version)) return 'release.json: "version" is missing or not a usable version (letters, digits, . + _ -)';
  if (typeof fields.arch !== 'string' || fields.arch === '') return 'release.json: "arch" is missing';
  const optional = (key: string): Record<string, string> => (typeof fields[key] === 'string' ? { [key]: fields[key] } : {});
  return {
    name: 'pleevi-edge',
    version: fields.version,
    arch: fields.arch,
    ...optional('nodeAbi'),
    ...optional('commit'),
    ...optional('builtAt'),
  };
}
