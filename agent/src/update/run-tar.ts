import { spawn } from 'node:child_process';

export interface TarRun {
  readonly code: number | null;
  readonly stdout: Buffer;
  readonly stderr: string;
}

/**
 * The system `tar` with `input` (the bundle's bytes, already verified) on
 * its stdin: what was checked is exactly what is read, never the file again.
 */
export function runTar(args: readonly string[], input: Buffer): Promise<TarRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('tar', [...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    // tar may stop reading early (e.g. a broken archive): that is its exit code's business, not an EPIPE crash.
    child.stdin.on('error', () => undefined);
    child.on('close', (code) => resolve({ code, stdout: Buffer.concat(out), stderr: stderr.trim() }));
    child.stdin.end(input);
  });
}
