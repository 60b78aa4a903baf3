// The facts the rules ask for before they call X beside X.gz "unused" (a VERIFY action): what X.gz's gzip
// trailer records (CRC-32 and size mod 2^32 of the data it holds) and, when the sizes agree, X's own CRC-32.
// Read through Fs, cached by file identity: a rotated file no longer changes.
import { crc32 } from "node:zlib";
import { joinPath, type Fs } from "../fs.js";
import { DIGEST_UNAVAILABLE, type FileEntry } from "../plugin/types.js";

const TRAILER_BYTES = 8;
const CACHE_ENTRIES = 4096;

interface Digest {
  crc32: number;
  isize?: number;
}

export class DigestCache {
  private readonly cache = new Map<string, Digest>();

  constructor(private readonly fs: Fs) {}

  /** Copies what is known into the entries (by identity: inode, size, mtime). */
  apply(entries: FileEntry[]): void {
    for (const e of entries) {
      const d = this.cache.get(identity(e));
      if (!d) continue;
      e.crc32 = d.crc32;
      if (d.isize !== undefined) e.isize = d.isize;
    }
  }

  /** Reads the digests of plain `name` and of its .gz twin among `entries`; unreadable ones are UNAVAILABLE. */
  async gather(dir: Buffer, name: Buffer, entries: FileEntry[]): Promise<void> {
    const plain = entries.find((e) => e.name.equals(name));
    const gzName = Buffer.concat([name, Buffer.from(".gz")]);
    const gz = entries.find((e) => e.name.equals(gzName));
    if (!plain || !gz) return;
    const trailer = await this.trailer(joinPath(dir, gzName), gz);
    if (trailer.isize === undefined || trailer.isize !== plain.size % 2 ** 32) return; // sizes differ: no CRC needed
    await this.contentCrc(joinPath(dir, name), plain);
  }

  private async trailer(path: Buffer, gz: FileEntry): Promise<Digest> {
    const key = identity(gz);
    const known = this.cache.get(key);
    if (known) return known;
    let d: Digest;
    try {
      const t = gz.size >= 18 ? (await this.fs.readRange(path, gz.size - TRAILER_BYTES, TRAILER_BYTES)).bytes : Buffer.alloc(0);
      d = t.length === TRAILER_BYTES ? { crc32: t.readUInt32LE(0), isize: t.readUInt32LE(4) } : { crc32: DIGEST_UNAVAILABLE, isize: DIGEST_UNAVAILABLE };
    } catch {
      d = { crc32: DIGEST_UNAVAILABLE, isize: DIGEST_UNAVAILABLE };
    }
    this.put(key, d);
    return d;
  }

  private async contentCrc(path: Buffer, plain: FileEntry): Promise<void> {
    const key = identity(plain);
    if (this.cache.has(key)) return;
    let value = DIGEST_UNAVAILABLE;
    try {
      const { stream, info } = await this.fs.openRead(path);
      if (info.inode === plain.inode || !plain.inode) {
        let c = 0;
        for await (const chunk of stream) c = crc32(chunk as Buffer, c);
        value = c;
      } else stream.destroy();
    } catch {
      value = DIGEST_UNAVAILABLE;
    }
    this.put(key, { crc32: value });
  }

  private put(key: string, d: Digest): void {
    if (this.cache.size >= CACHE_ENTRIES) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(key, d);
  }
}

function identity(e: FileEntry): string {
  return `${e.inode ?? 0}:${e.size}:${e.mtime}:${e.name.toString("latin1")}`;
}
