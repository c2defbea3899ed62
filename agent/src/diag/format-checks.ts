import type { CheckResult, CheckStatus } from './check-result.js';

const LABEL: Readonly<Record<CheckStatus, string>> = { pass: 'PASS', warn: 'WARN', fail: 'FAIL', skip: 'SKIP' };

/**
 * The text form of `diag check`: one line per check, the fix indented under
 * a warning or a failure, and a closing count. The caller makes the text
 * terminal-safe (details may quote what a peer sent).
 */
export function formatChecks(results: readonly CheckResult[]): string {
  const width = Math.max(...results.map((result) => result.title.length), 10);
  const lines: string[] = [];
  for (const result of results) {
    lines.push(`${LABEL[result.status]}  ${result.title.padEnd(width)}  ${result.detail}`);
    if (result.fix !== undefined && (result.status === 'warn' || result.status === 'fail')) lines.push(`      ${''.padEnd(width)}  fix: ${result.fix}`);
  }
  const count = (status: CheckStatus): number => results.filter((result) => result.status === status).length;
  lines.push('', `${count('pass')} passed, ${count('warn')} warnings, ${count('fail')} failed, ${count('skip')} skipped`);
  return `${lines.join('\n')}\n`;
}
