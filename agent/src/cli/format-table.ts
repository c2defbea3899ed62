import { terminalSafe } from './terminal-safe.js';

/**
 * Plain left-aligned columns for terminal listings. Every cell goes through
 * `terminalSafe` (cells hold station-chosen text), and the widths are found
 * with a loop: `Math.max(...column)` passes every row as a call argument and
 * overflows the stack past about 120,000 rows (a large driver list, `sessions
 * --limit 0`).
 */
export function formatTable(headers: readonly string[], rows: readonly (readonly string[])[]): string {
  const safeHeaders = headers.map(terminalSafe);
  const safeRows = rows.map((row) => safeHeaders.map((_, column) => terminalSafe(row[column] ?? '')));
  const widths = safeHeaders.map((header) => header.length);
  for (const row of safeRows) {
    row.forEach((cell, column) => {
      if (cell.length > (widths[column] ?? 0)) widths[column] = cell.length;
    });
  }
  const line = (cells: readonly string[]): string =>
    cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ').trimEnd();
  const lines = [line(safeHeaders)];
  for (const row of safeRows) lines.push(line(row));
  return `${lines.join('\n')}\n`;
}
