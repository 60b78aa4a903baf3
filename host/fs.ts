// Every filesystem effect of the shim goes through `Fs`, so tests can inject faults (test/support/faulty-fs.ts)
// and no code path reaches around it. Paths are strings or Buffers: file names may hold bytes that are not
// UTF-8, so directory entries are read as Buffers and joined as Buffers.
import * as fsp from "node:fs/promises";
import { constants, type ReadStream, type WriteStream } from "node:fs";
import type { EntryKindName } from "./plugin/types.js";

export type FsPath = string | Buffer;

export interface FileInfo {
  kind: EntryKindName;
  size: number;
  mtimeMs: number;
  mode: number; // permission bits
  inode: number;
  /** st_dev (exact as a number: device numbers are far below 2^53). */
  dev?: number;
  /** Birth time where the filesystem records it (statx); undefined elsewhere. */
  birthtimeMs?: number;
}

/** What fstat says about an open file, exactly: st_dev and st_ino as Vector writes them (u64). */
export interface FileStat {
  size: number;
  mtimeMs: number;
  dev: bigint;
  ino: bigint;
  /** Birth time where the filesystem records it (statx); undefined elsewhere. */
  birthtimeMs?: number;
}

export interface DirEntry extends FileInfo {
  name: Buffer;
}

export interface Fs {
  /** lstat; null when the path does not exist. Never follows a final symlink. */
  lstat(path: FsPath): Promise<FileInfo | null>;
  /** Every entry of a directory with its lstat, names as raw bytes. Entries that vanish meanwhile are skipped. */
  listDir(dir: FsPath): Promise<DirEntry[]>;
  rename(from: FsPath, to: FsPath): Promise<void>;
  /** Unlinks a file; ENOENT is an error unless `missingOk`. */
  remove(path: FsPath, missingOk?: boolean): Promise<void>;
  /** Opens a regular file for reading without following a symlink. */
  openRead(path: FsPath): Promise<{ stream: ReadStream; info: FileInfo }>;
  /** Creates (or truncates) a file with `mode`, never through a symlink. */
  openWrite(path: FsPath, mode: number): Promise<{ stream: WriteStream; sync(): Promise<void>; close(): Promise<void> }>;
  /** fsync a directory so a rename in it survives a crash. */
  syncDir(dir: FsPath): Promise<void>;
  readFile(path: FsPath): Promise<Buffer>;
  /**
   * Up to `length` bytes at `position` of a regular file (fewer at its end), with the descriptor's fstat.
   * Never follows a final symlink and never blocks on a FIFO or device: the open is O_NOFOLLOW|O_NONBLOCK
   * and anything fstat does not call a regular file fails with code ENOTREG. For files other programs own
   * (log files, shipper position files), which a misconfiguration could make a FIFO.
   */
  readRange(path: FsPath, position: number, length: number): Promise<{ bytes: Buffer; stat: FileStat }>;
}

function kindOf(st: { isFile(): boolean; isSymbolicLink(): boolean; isDirectory(): boolean }): EntryKindName {
  if (st.isSymbolicLink()) return "symlink";
  if (st.isFile()) return "file";
  if (st.isDirectory()) return "directory";
  return "other";
}

function infoOf(st: import("node:fs").Stats): FileInfo {
  const info: FileInfo = { kind: kindOf(st), size: st.size, mtimeMs: st.mtimeMs, mode: st.mode & 0o7777, inode: st.ino, dev: st.dev };
  if (st.birthtimeMs > 0) info.birthtimeMs = st.birthtimeMs;
  return info;
}

const READ_CHUNK = 1024 * 1024;

export function joinPath(dir: FsPath, name: FsPath): Buffer {
  const d = Buffer.isBuffer(dir) ? dir : Buffer.from(dir);
  const n = Buffer.isBuffer(name) ? name : Buffer.from(name);
  return Buffer.concat([d, Buffer.from("/"), n]);
}

function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === "ENOENT";
}

export const realFs: Fs = {
  async lstat(path) {
    try {
      return infoOf(await fsp.lstat(path));
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  },

  async listDir(dir) {
    const names = await fsp.readdir(dir, { encoding: "buffer" });
    const out: DirEntry[] = [];
    for (const name of names) {
      try {
        out.push({ name, ...infoOf(await fsp.lstat(joinPath(dir, name))) });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    }
    return out;
  },

  rename: (from, to) => fsp.rename(from, to),

  async remove(path, missingOk = false) {
    try {
      await fsp.unlink(path);
    } catch (err) {
      if (!(missingOk && isNotFound(err))) throw err;
    }
  },

  async openRead(path) {
    const handle = await fsp.open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    try {
      const st = await handle.stat();
      if (!st.isFile()) throw Object.assign(new Error(`${String(path)} is not a regular file`), { code: "ENOTREG" });
      // 1 MiB reads: gzip is fed in big slices (the 64 KiB default costs ~30% in stream overhead).
      return { stream: handle.createReadStream({ autoClose: true, highWaterMark: READ_CHUNK }), info: infoOf(st) };
    } catch (err) {
      await handle.close();
      throw err;
    }
  },

  async openWrite(path, mode) {
    const handle = await fsp.open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, mode);
    // The umask must not narrow the source's mode: the kubelet keeps the mode exactly.
    try {
      await handle.chmod(mode);
    } catch (err) {
      await handle.close(); // or the fd leaks until garbage collection
      throw err;
    }
    const stream = handle.createWriteStream({ autoClose: false });
    return {
      stream,
      sync: () => handle.sync(),
      // A stream made from a FileHandle holds a reference on it until the stream is destroyed, and
      // FileHandle.close() waits for every reference: closing the handle directly would never settle.
      close: () =>
        new Promise<void>((resolve, reject) => {
          if (stream.closed) return void handle.close().then(resolve, reject);
          stream.once("error", reject);
          stream.once("close", () => void handle.close().then(resolve, reject));
          stream.destroy();
        }),
    };
  },

  async syncDir(dir) {
    const handle = await fsp.open(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  },

  readFile: (path) => fsp.readFile(path),

  async readRange(path, position, length) {
    const handle = await fsp.open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      const st = await handle.stat({ bigint: true });
      if (!st.isFile()) throw Object.assign(new Error(`${String(path)} is not a regular file`), { code: "ENOTREG" });
      const bytes = Buffer.allocUnsafe(Math.max(0, length));
      let got = 0;
      while (got < bytes.length) {
        const { bytesRead } = await handle.read(bytes, got, bytes.length - got, position + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      const born = st.birthtimeNs > 0n ? Number(st.birthtimeNs / 1_000_000n) : undefined;
      const stat: FileStat = { size: Number(st.size), mtimeMs: Number(st.mtimeNs / 1_000_000n), dev: st.dev, ino: st.ino, ...(born !== undefined ? { birthtimeMs: born } : {}) };
      return { bytes: bytes.subarray(0, got), stat };
    } finally {
      await handle.close();
    }
  },
};
