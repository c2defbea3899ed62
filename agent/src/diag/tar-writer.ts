import { gzipSync } from 'node:zlib';

/**
 * A tar.gz of plain files, written in memory: POSIX ustar headers (names up
 * to 255 bytes through the prefix field), file mode 0600, then gzip. The
 * support bundle needs nothing more, and no production dependency of the
 * gateway writes tar (`tar -xzf` and every archive tool read ustar).
 */
export interface TarEntry {
  /** Path inside the archive, `/`-separated, no leading `/`. */
  readonly name: string;
  readonly content: Buffer | string;
}

const BLOCK = 512;

export function tarGz(entries: readonly TarEntry[], mtime: Date = new Date()): Buffer {
  const parts: Buffer[] = [];
  const seconds = Math.floor(mtime.getTime() / 1000);
  const folders = new Set<string>();
  for (const entry of entries) {
    // Folders first, so that extraction gives them a sane mode (0700) instead of the umask's guess.
    const segments = entry.name.split('/').slice(0, -1);
    for (let depth = 1; depth <= segments.length; depth++) {
      const folder = `${segments.slice(0, depth).join('/')}/`;
      if (folders.has(folder)) continue;
      folders.add(folder);
      parts.push(header(folder, 0, 0o700, seconds, '5'));
    }
    const content = typeof entry.content === 'string' ? Buffer.from(entry.content, 'utf8') : entry.content;
    parts.push(header(entry.name, content.length, 0o600, seconds, '0'), content);
    const padding = (BLOCK - (content.length % BLOCK)) % BLOCK;
    if (padding > 0) parts.push(Buffer.alloc(padding));
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return gzipSync(Buffer.concat(parts));
}

function header(name: string, size: number, mode: number, mtime: number, type: '0' | '5'): Buffer {
  const block = Buffer.alloc(BLOCK);
  const { prefix, base } = splitName(name);
  block.write(base, 0, 100, 'utf8');
  octal(block, 100, 8, mode);
  octal(block, 108, 8, 0); // uid
  octal(block, 116, 8, 0); // gid
  octal(block, 124, 12, size);
  octal(block, 136, 12, mtime);
  block.fill(' ', 148, 156); // the checksum counts itself as spaces
  block.write(type, 156, 1, 'ascii');
  block.write('ustar\u000000', 257, 8, 'ascii');
  block.write('root', 265, 32, 'ascii');
  block.write('root', 297, 32, 'ascii');
  block.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\u0000 `, 148, 8, 'ascii');
  return block;
}

function octal(block: Buffer, offset: number, length: number, value: number): void {
  block.write(`${value.toString(8).padStart(length - 1, '0')}\u0000`, offset, length, 'ascii');
}

/** ustar: a name over 100 bytes is split at a `/` into prefix (155) and name (100). */
function splitName(name: string): { prefix: string; base: string } {
  if (Buffer.byteLength(name) <= 100) return { prefix: '', base: name };
  for (let cut = name.indexOf('/'); cut > 0; cut = name.indexOf('/', cut + 1)) {
    const prefix = name.slice(0, cut);
    const base = name.slice(cut + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(base) <= 100) return { prefix, base };
  }
  throw new Error(`name too long for a tar archive: ${name}`);
}
