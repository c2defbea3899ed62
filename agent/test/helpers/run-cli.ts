import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout; the CLI runs from dist/, so `npm run build` comes first (npm test does it). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const CLI = join(ROOT, 'agent/bin/pleevi-edge.js');

export interface CliRun {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface CliRunOptions {
  /** A clean environment (only PATH plus these); default: this process's environment. */
  readonly env?: NodeJS.ProcessEnv;
  /** Written to the CLI's stdin, which is then closed. */
  readonly input?: string;
}

/** Spawn the real `pleevi-edge` as a process and collect its exit code and output. */
export function runCli(args: readonly string[], options: CliRunOptions = {}): Promise<CliRun> {
  return runNodeScript(CLI, args, options);
}

/** Spawn one of the project's Node programs (pleevi-edge, pleevi-provision) from the checkout and collect its exit code and output. */
export function runNodeScript(script: string, args: readonly string[], options: CliRunOptions = {}): Promise<CliRun> {
  const env = options.env ? { PATH: process.env.PATH ?? '', ...options.env } : process.env;
  return runProgram(process.execPath, [script, ...args], { env, input: options.input ?? '' });
}

export interface ProgramOptions {
  /** Default: the checkout. */
  readonly cwd?: string;
  /** The whole environment; default: this process's. */
  readonly env?: NodeJS.ProcessEnv;
  /** Written to stdin, which is then closed; without it stdin is not connected. */
  readonly input?: string;
}

/** Spawn any program and collect its exit code and output. */
export function runProgram(command: string, args: readonly string[], options: ProgramOptions = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd ?? ROOT, env: options.env ?? process.env, stdio: [options.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}
