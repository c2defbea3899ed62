/**
 * The `pleevi-edge` CLI run in this process (its `main` with captured
 * output): the same code as the binary, without a process spawn per fuzz
 * iteration, and without needing `dist/`.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../../src/cli/main.js';

export interface CliResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export async function cli(args: readonly string[]): Promise<CliResult> {
  let stdout = '';
  let stderr = '';
  const code = await main(args, {
    stdout: { write: (text: string) => (stdout += text) },
    stderr: { write: (text: string) => (stderr += text) },
    env: { PATH: process.env.PATH ?? '' },
  });
  return { code, stdout, stderr };
}

/** A config file for the CLI next to `dir`, pointing at `dataDir`. */
export function writeCliConfig(dir: string, dataDir: string): string {
  const path = join(dir, 'cli-config.json');
  writeFileSync(path, JSON.stringify({ dataDir, upstream: { url: 'ws://127.0.0.1:9/ocpp' }, admin: { socket: join(dir, 'admin.sock') } }));
  return path;
}

/** Control characters other than line breaks and tabs: a hostile id in a listing could drive the terminal. */
export function controlCharacters(text: string): string[] {
  return [...new Set(text.match(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g) ?? [])].map((c) => `U+${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Does `text` parse as JSON? The parse error otherwise. */
export function jsonProblem(text: string): string | undefined {
  try {
    JSON.parse(text);
    return undefined;
  } catch (error: unknown) {
    return error instanceof Error ? error.message : String(error);
  }
}
