/**
 * Reading the claim QR back from its text drawings with an independent
 * decoder (jsQR): the modules of `pleevi-edge provision qr`'s terminal
 * drawing, and a decoder for a module grid.
 */
import jsQRModule from 'jsqr';

// jsqr is a CommonJS bundle whose types declare an ES default export: under NodeNext the import is the
// module object, which at run time is the function itself and also carries it as `.default`.
const jsQR = jsQRModule.default;

/** Modules (true = dark) to an RGBA image with a white quiet zone, `scale` pixels per module, for jsQR. */
export function decode(modules: boolean[][]): string | undefined {
  const margin = 4;
  const scale = 4;
  const size = Math.max(...modules.map((row) => row.length), modules.length) + 2 * margin;
  const width = size * scale;
  const pixels = new Uint8ClampedArray(width * width * 4).fill(255);
  modules.forEach((row, y) =>
    row.forEach((dark, x) => {
      if (!dark) return;
      for (let dy = 0; dy < scale; dy += 1) {
        for (let dx = 0; dx < scale; dx += 1) {
          const at = (((y + margin) * scale + dy) * width + (x + margin) * scale + dx) * 4;
          pixels[at] = 0;
          pixels[at + 1] = 0;
          pixels[at + 2] = 0;
        }
      }
    }),
  );
  return jsQR(pixels, width, width)?.data;
}

/**
 * The terminal drawing: two module rows per text line (half blocks on a white
 * background). The last line holds only the bottom quiet zone and is left out.
 */
export function modulesFromTerminal(text: string): boolean[][] {
  const lines = text
    // The last line's cells are drawn after a reset in an explicit colour: white on nothing is quiet zone.
    .replaceAll('\x1b[0m\x1b[37m▀', ' ')
    .replaceAll('\x1b[0m\x1b[30m▀', '▀')
    // eslint-disable-next-line no-control-regex
    .replace(/\x1b\[[0-9;]*m/g, '')
    .split('\n')
    .filter((line) => /[█▀▄]/.test(line));
  const rows: boolean[][] = [];
  for (const line of lines) {
    const chars = [...line];
    rows.push(chars.map((c) => c === '█' || c === '▀'));
    rows.push(chars.map((c) => c === '█' || c === '▄'));
  }
  return rows;
}
