// Facts about a container's log files that only their bytes tell: where the last line starts, and the
// fingerprints shippers identify a file by (Vector's first-line checksum, the collector's first bytes).
// Everything is read through Fs.readRange (no symlink followed, a FIFO never blocks), and cached once
// final: a rotated file no longer grows, and a first line never changes once it is complete.
import type { DirEntry, Fs, FsPath } from "../fs.js";
import { crc64Ecma182 } from "./crc64.js";

/** Vector's kubernetes_logs fingerprints the first line up to max_line_bytes, 32 KiB by default. */
export const VECTOR_MAX_LINE_BYTES = 32 * 1024;
const HEAD_BYTES = 4096;
const CHUNK = 64 * 1024;

/**
 * Offset where the last line of the first `size` bytes starts: just past the last '\n' before the final
 * byte, or 0. For a file ending in '\n' that is its last complete line; for one ending in a partial line
 * it is the partial line, which in_tail never emits, so such a file is never credited by a line-start
 * offset (holding it is the safe side). undefined for an empty file. Reads backwards in 64 KiB chunks.
 */
export async function findLastLineStart(fs: Fs, path: FsPath, size: number): Promise<number | undefined> {
  if (size <= 0) return undefined;
  let end = size - 1; // the final byte is the last line's own terminator (or part of it)
  while (end > 0) {
    const start = Math.max(0, end - CHUNK);
    const { bytes } = await fs.readRange(path, start, end - start);
    const nl = bytes.subarray(0, end - start).lastIndexOf(0x0a);
    if (nl >= 0) return start + nl + 1;
    end = start;
  }
  return 0;
}

/**
 * Vector's first_lines_checksum as kubernetes_logs computes it (lines = 1, ignored_header_bytes = 0):
 * the CRC of the first line including its '\n' when it ends within maxLineBytes, else of the first
 * maxLineBytes bytes; undefined while the file holds neither (Vector does not fingerprint such a file).
 */
export function firstLineChecksum(head: Uint8Array, maxLineBytes = VECTOR_MAX_LINE_BYTES): bigint | undefined {
  const window = head.subarray(0, maxLineBytes);
  const nl = window.indexOf(0x0a);
  if (nl >= 0) return crc64Ecma182(window.subarray(0, nl + 1));
  if (window.length >= maxLineBytes) return crc64Ecma182(window);
  return undefined;
}

export interface HeadFacts {
  firstLineCrc64?: bigint;
  firstBytes?: Buffer;
}

interface HeadEntry extends HeadFacts {
  /** Whether more bytes could still change the facts (a short file without a complete first line). */
  final: boolean;
}

/** A bounded map, the oldest entry evicted first. */
class Bounded<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(key: string): V | undefined {
    return this.map.get(key);
  }
  has(key: string): boolean {
    return this.map.has(key);
  }
  set(key: string, value: V): void {
    if (!this.map.has(key) && this.map.size >= this.max) this.map.delete(this.map.keys().next().value as string);
    this.map.set(key, value);
  }
}

/** The same inode as the listing saw, born at the same moment (a reused inode is another file). */
function sameFile(entry: DirEntry, stat: { ino: bigint; birthtimeMs?: number }): boolean {
  if (!Number.isSafeInteger(entry.inode) || BigInt(entry.inode) !== stat.ino) return false;
  if (entry.birthtimeMs !== undefined && stat.birthtimeMs !== undefined && Math.floor(entry.birthtimeMs) !== stat.birthtimeMs) return false;
  return true;
}

/**
 * The facts, cached per file. A file is keyed by inode and birth time, so a reused inode is never
 * mistaken for the file that had it before; where the filesystem records no birth time nothing about a
 * file's head is cached (it is read again on the next pass).
 */
export class FileFacts {
  private readonly lastLines: Bounded<number | undefined>;
  private readonly heads: Bounded<HeadEntry>;

  constructor(
    private readonly fs: Fs,
    maxEntries = 8192,
  ) {
    this.lastLines = new Bounded(maxEntries);
    this.heads = new Bounded(maxEntries);
  }

  /** Where a rotated file's last line starts; read once per (inode, birth, size). */
  async lastLineStart(path: FsPath, entry: DirEntry): Promise<number | undefined> {
    const key = `${entry.inode}:${entry.birthtimeMs ?? "?"}:${entry.size}`;
    if (this.lastLines.has(key)) return this.lastLines.get(key);
    const value = await findLastLineStart(this.fs, path, entry.size);
    this.lastLines.set(key, value);
    return value;
  }

  /**
   * The fingerprints asked for: the first-line checksum when `crc`, the first `firstBytes` bytes when
   * > 0. Empty when the file at `path` is no longer the one listed.
   */
  async head(path: FsPath, entry: DirEntry, want: { crc: boolean; firstBytes: number }): Promise<HeadFacts> {
    const key = entry.birthtimeMs !== undefined ? `${entry.inode}:${entry.birthtimeMs}` : undefined;
    const cached = key !== undefined ? this.heads.get(key) : undefined;
    if (cached?.final && (!want.crc || cached.firstLineCrc64 !== undefined) && (cached.firstBytes?.length ?? 0) >= want.firstBytes) return cached;

    let { bytes, stat } = await this.fs.readRange(path, 0, Math.max(HEAD_BYTES, want.firstBytes));
    if (!sameFile(entry, stat)) return {};
    if (want.crc && bytes.indexOf(0x0a) < 0 && bytes.length >= HEAD_BYTES && stat.size > bytes.length) {
      ({ bytes, stat } = await this.fs.readRange(path, 0, VECTOR_MAX_LINE_BYTES));
      if (!sameFile(entry, stat)) return {};
    }
    const facts: HeadEntry = { final: true };
    if (want.crc) {
      facts.firstLineCrc64 = firstLineChecksum(bytes);
      if (facts.firstLineCrc64 === undefined) facts.final = false;
    }
    if (want.firstBytes > 0) {
      facts.firstBytes = Buffer.from(bytes.subarray(0, want.firstBytes));
      if (facts.firstBytes.length < want.firstBytes) facts.final = false; // the file is still shorter
    }
    if (key !== undefined && facts.final) this.heads.set(key, facts);
    return facts;
  }
}
