import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { resolveDataDir } from '../config/config-paths.js';
import { field, isRecord, stationEntries } from '../config/config-values.js';
import { CLAIM_FILE, IDENTITY_DIR, KEY_FILE } from '../provisioning/device-identity.js';
import { ENROLLED_CONFIG_FILE } from '../provisioning/enrolled-identity.js';
import type { DiagContext } from './diag-context.js';
import { Redactor, secretValuesIn } from './redaction.js';

/**
 * The literal secrets the support bundle must not contain anywhere, as the
 * gateway knows them: every value under a secret key of the local config
 * file and of the enrolled configuration, the claim code, and the text of
 * every private key (the identity's, key files the configuration names,
 * inline keys). Read from the files themselves, so that a configuration
 * that does not load still has its passwords scrubbed.
 */
export function knownSecrets(context: DiagContext, localDocument: unknown): string[] {
  const secrets = [...secretValuesIn(localDocument), ...urlPasswordsIn(localDocument)];
  const configDir = dirname(resolve(context.configPath));
  for (const path of keyPathsIn(localDocument)) {
    const text = readOptional(path.includes('-----BEGIN ') ? undefined : resolve(configDir, path));
    if (text !== undefined) secrets.push(text);
  }
  const config = context.loaded?.config;
  const dataDir = config?.dataDir ?? dataDirOf(localDocument, configDir, context.env);
  const identity = join(dataDir, IDENTITY_DIR);
  const enrolled = readOptional(join(identity, ENROLLED_CONFIG_FILE));
  if (enrolled !== undefined) secrets.push(...secretValuesIn(parseOrUndefined(enrolled)));
  const claim = parseOrUndefined(readOptional(join(identity, CLAIM_FILE)));
  const code = field(claim, 'claimCode');
  if (typeof code === 'string') secrets.push(code);
  for (const name of listOptional(identity)) {
    // gateway.key, and any other key a future version leaves there.
    if (name === KEY_FILE || name.endsWith('.key')) {
      const key = readOptional(join(identity, name));
      if (key !== undefined) secrets.push(key);
    }
  }
  if (context.loaded?.kind === 'ready') {
    const ready = context.loaded.config;
    for (const key of [ready.listen.tls?.key, ready.upstream.tls.key, ready.mqtt?.tls.key, ...ready.stations.list.map((station) => station.upstream?.key)]) {
      if (key !== undefined) secrets.push(key);
    }
    for (const station of ready.stations.list) {
      if (station.password !== undefined) secrets.push(station.password);
      if (station.upstream?.password !== undefined) secrets.push(station.upstream.password);
    }
  } else if (config?.listen.tls?.key !== undefined) {
    secrets.push(config.listen.tls.key);
  }
  return secrets;
}

/** The Redactor for everything diag prints or writes: the secrets of the configuration file at `context.configPath` and of the identity. */
export function redactorFor(context: DiagContext): { redactor: Redactor; localText: string | undefined; localDocument: unknown } {
  const localText = readOptional(context.configPath);
  const localDocument = parseOrUndefined(localText);
  return { redactor: new Redactor(knownSecrets(context, localDocument)), localText, localDocument };
}

/** Passwords written into URLs (`wss://user:password@host`): refused by the configuration rules, but the file may still hold one. */
function urlPasswordsIn(value: unknown, found: string[] = []): string[] {
  if (typeof value === 'string' && /^[a-z][a-z0-9+.-]*:\/\/[^/@\s]*:[^/@\s]*@/i.test(value)) {
    try {
      const password = new URL(value).password;
      if (password !== '') found.push(password, decodeURIComponent(password));
    } catch {
      // not a URL after all
    }
  } else if (Array.isArray(value)) {
    for (const item of value) urlPasswordsIn(item, found);
  } else if (isRecord(value)) {
    for (const inner of Object.values(value)) urlPasswordsIn(inner, found);
  }
  return found;
}

/** The `key` values of every TLS block of a config document: file names or inline PEM. */
function keyPathsIn(document: unknown): string[] {
  const blocks = [field(field(document, 'listen'), 'tls'), field(field(document, 'upstream'), 'tls'), field(field(document, 'mqtt'), 'tls'), ...stationEntries(document).map(({ station }) => station['upstream'])];
  return blocks.flatMap((block) => {
    const key = isRecord(block) ? block['key'] : undefined;
    return typeof key === 'string' && key !== '' ? [key] : [];
  });
}

/** dataDir as `run` resolves it (the file's value, else $STATE_DIRECTORY, else ./var), for a file that does not load. */
export function dataDirOf(document: unknown, configDir: string, env: NodeJS.ProcessEnv): string {
  const value = field(document, 'dataDir');
  return resolveDataDir(typeof value === 'string' && value !== '' ? value : undefined, configDir, env);
}

function readOptional(path: string | undefined): string | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function listOptional(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

export function parseOrUndefined(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
