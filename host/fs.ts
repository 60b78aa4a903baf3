// Every filesystem effect of the shim goes through `Fs`, so tests can inject faults
// (test/support/faulty-fs.ts). Paths are Buffers (or strings): file names may hold bytes that are not UTF-8,
// so directory entries are read as Buffers and joined as Buffers, never decoded. Everything that opens a
// file opens it without following a symlink and without blocking (a FIFO planted where a log was expected
// must not hang the daemon), then checks on the descriptor that it is a regular file.
import * as fsp from "node:fs/promises";
import { constants, lstat as fsLstat, watch as fsWatch, type ReadStream, type WriteStream } from "node:fs";
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

export interface ReadHandle {
  stream: ReadStream;
  /** fstat of the descriptor the stream reads: the file actually opened. */
  info: FileInfo;
}

export interface WriteHandle {
  stream: WriteStream;
  sync(): Promise<void>;
  close(): Promise<void>;
}

/** A directory being watched; events say something in it changed (name, when the kernel gives one). */
export interface DirWatch {
  close(): void;
}

export type WatchListener = (event: "rename" | "change", name: Buffer | null) => void;

export interface Fs {
  /** lstat; null when the path does not exist. Never follows a final symlink. */
  lstat(path: FsPath): Promise<FileInfo | null>;
  /** Every entry of a directory with its lstat, names as raw bytes. Entries that vanish meanwhile are skipped. */
  listDir(dir: FsPath): Promise<DirEntry[]>;
  /** A second name for a file; fails with EEXIST (never replaces) when `to` exists. */
  link(from: FsPath, to: FsPath): Promise<void>;
  /** rename(2): replaces `to` if it exists — callers only ever replace a placeholder of their own. */
  rename(from: FsPath, to: FsPath): Promise<void>;
  /** Unlinks a file; ENOENT is an error unless `missingOk`. */
  remove(path: FsPath, missingOk?: boolean): Promise<void>;
  /** Opens a regular file for reading (no symlink followed, never blocks on a FIFO). */
  openRead(path: FsPath): Promise<ReadHandle>;
  /** Creates a new file with `mode` (fails with EEXIST if it exists; never through a symlink). */
  createExclusive(path: FsPath, mode: number): Promise<WriteHandle>;
  /** fsync a directory so a rename or link in it survives a crash. */
  syncDir(dir: FsPath): Promise<void>;
  readFile(path: FsPath): Promise<Buffer>;
  /**
   * Up to `length` bytes at `position` of a regular file (fewer at its end), with the descriptor's fstat.
   * Opened as openRead does (no symlink followed, never blocks; not a regular file: code ENOTREG). For
   * gzip trailers and files other programs own (shipper position files).
   */
  readRange(path: FsPath, position: number, length: number): Promise<{ bytes: Buffer; stat: FileStat }>;
  /** Watches one directory (inotify); throws when the kernel refuses (e.g. out of watches). */
  watch(dir: FsPath, listener: WatchListener, onError: (err: Error) => void): DirWatch;
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

const SLASH = Buffer.from("/");

export function joinPath(dir: FsPath, name: FsPath): Buffer {
  const d = Buffer.isBuffer(dir) ? dir : Buffer.from(dir);
  const n = Buffer.isBuffer(name) ? name : Buffer.from(name);
  return Buffer.concat([d, SLASH, n], d.length + 1 + n.length);
}

export function isNotFound(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === "ENOENT";
}

export function isExists(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === "EEXIST";
}

/** Opens a regular file read-only without following a symlink and without blocking; checks it on the fd. */
async function openRegular(path: FsPath): Promise<{ handle: fsp.FileHandle; st: import("node:fs").BigIntStats }> {
  const handle = await fsp.open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const st = await handle.stat({ bigint: true });
    if (!st.isFile()) throw Object.assign(new Error(`${String(path)} is not a regular file`), { code: "ENOTREG" });
    return { handle, st };
  } catch (err) {
    await handle.close();
    throw err;
  }
}

function fileStatOf(st: import("node:fs").BigIntStats): FileStat {
  const stat: FileStat = { size: Number(st.size), mtimeMs: Number(st.mtimeNs / 1_000_000n), dev: st.dev, ino: st.ino };
  if (st.birthtimeNs > 0n) stat.birthtimeMs = Number(st.birthtimeNs / 1_000_000n);
  return stat;
}

/** lstat, null when missing. The callback form: fs/promises allocates a stats array per call, and every pass lstats every live log. */
function lstatInfo(path: FsPath): Promise<FileInfo | null> {
  return new Promise((resolve, reject) => {
    fsLstat(path, (err, st) => {
      if (err === null) resolve(infoOf(st));
      else if (isNotFound(err)) resolve(null);
      else reject(err);
    });
  });
}

export const realFs: Fs = {
  lstat: lstatInfo,

  async listDir(dir) {
    const names = await fsp.readdir(dir, { encoding: "buffer" });
    const out: DirEntry[] = [];
    for (const name of names) {
      const info = await lstatInfo(joinPath(dir, name));
      if (info !== null) out.push({ name, ...info });
    }
    return out;
  },

  link: (from, to) => fsp.link(from, to),

  rename: (from, to) => fsp.rename(from, to),

  async remove(path, missingOk = false) {
    try {
      await fsp.unlink(path);
    } catch (err) {
      if (!(missingOk && isNotFound(err))) throw err;
    }
  },

  async openRead(path) {
    const { handle, st } = await openRegular(path);
    const info: FileInfo = { kind: "file", size: Number(st.size), mtimeMs: Number(st.mtimeNs) / 1e6, mode: Number(st.mode) & 0o7777, inode: Number(st.ino), dev: Number(st.dev) };
    if (st.birthtimeNs > 0n) info.birthtimeMs = Number(st.birthtimeNs) / 1e6;
    // 1 MiB reads: gzip is fed in big slices (the 64 KiB default costs ~30% in stream overhead).
    return { stream: handle.createReadStream({ autoClose: true, highWaterMark: READ_CHUNK }), info };
  },

  async createExclusive(path, mode) {
    const handle = await fsp.open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
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
    const { handle, st } = await openRegular(path);
    try {
      const bytes = Buffer.allocUnsafe(Math.max(0, length));
      let got = 0;
      while (got < bytes.length) {
        const { bytesRead } = await handle.read(bytes, got, bytes.length - got, position + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return { bytes: bytes.subarray(0, got), stat: fileStatOf(st) };
    } finally {
      await handle.close();
    }
  },

  watch(dir, listener, onError) {
    // The FSWatcher itself is the DirWatch: no wrapper object or closure per watched directory (the tree
    // watch holds two per container). Node calls the listener with ("rename" | "change", Buffer | null).
    const w = fsWatch(dir, { encoding: "buffer", persistent: false }, listener as (event: string, name: Buffer | null) => void);
    w.on("error", onError);
    return w;
  },
};
