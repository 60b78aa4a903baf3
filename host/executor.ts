// The only code that removes, compresses or renames log files. Each step decides from what is on disk
// when it acts, not from the listing the plan was made from: a second rotator (another instance, the
// kubelet during a hand-over) may have renamed, compressed or removed files since. So every step
// re-checks what it is about to touch (a regular file, the inode the plan saw), never replaces a name
// someone else holds, and creates its files exclusively. A refusal is an error or a skip, never a guess.
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import type { Clock } from "./clock.js";
import type { Cri } from "./cri/types.js";
import { ExecError } from "./errors.js";
import { isExists, joinPath, type DirEntry, type FileInfo, type Fs } from "./fs.js";
import { showPath } from "./paths.js";
import type { Action, FileEntry } from "./plugin/types.js";

export interface Target {
  id: string;
  dir: Buffer;
  logName: Buffer;
}

export type Outcome =
  | { kind: "remove"; action: Action; path: Buffer; size: number }
  | { kind: "compress"; action: Action; path: Buffer; bytesIn: number; bytesOut: number; gzInode: number }
  | { kind: "rotate"; action: Action; path: Buffer; rotatedPath: Buffer; inode: number; size: number; atMs: number }
  | { kind: "recover"; action: Action; path: Buffer }
  /** The step found the disk no longer as planned (someone else acted first): nothing done, looked at again later. */
  | { kind: "skip"; action: Action; path: Buffer; why: string };

export interface ExecutorOptions {
  fs: Fs;
  cri: Pick<Cri, "reopenContainerLog">;
  clock: Clock;
  /**
   * The rotated name for the live log when renamed now, given the directory as it is now (the rules'
   * crl_rotated_name). Asked right before each rename, never from the plan's listing.
   */
  rotatedName(logName: Buffer, entries: FileEntry[], nowSec: number): Buffer;
}

export const TMP_SUFFIX = ".tmp";
export const GZ_SUFFIX = ".gz";

/** Names to try when another rotator takes the chosen one between our look and our claim. */
const NAME_ATTEMPTS = 5;

/** What a step expects to find: the inode (and size) the plan saw. */
export interface Expected {
  inode?: number;
  size?: number;
}

/** What the rules are told of one directory entry (its lstat): mtime in whole seconds, as they compare it. */
export function toFileEntry(name: Buffer, info: FileInfo): FileEntry {
  return { name, kind: info.kind, size: info.size, mtime: Math.floor(info.mtimeMs / 1000), inode: info.inode };
}

export function toFileEntries(entries: DirEntry[]): FileEntry[] {
  return entries.map((e) => toFileEntry(e.name, e));
}

export class Executor {
  constructor(private readonly opts: ExecutorOptions) {}

  /** Removes a regular file that is still the one planned; refuses anything else. */
  async remove(t: Target, a: Action, expected: Expected = {}): Promise<Outcome> {
    const { fs } = this.opts;
    const path = joinPath(t.dir, a.name);
    const info = await fs.lstat(path);
    if (info === null) return { kind: "skip", action: a, path, why: "already gone" };
    if (info.kind !== "file") throw new ExecError("EXEC_REFUSED", `refusing to remove ${showPath(path)}: it is a ${info.kind}, not a regular file`);
    if (expected.inode !== undefined && expected.inode !== 0 && info.inode !== expected.inode) {
      return { kind: "skip", action: a, path, why: `it is another file now (inode ${info.inode}, planned ${expected.inode})` };
    }
    try {
      await fs.remove(path, true);
    } catch (cause) {
      throw new ExecError("EXEC_REMOVE_FAILED", `failed to remove log ${showPath(path)}`, { cause });
    }
    return { kind: "remove", action: a, path, size: info.size };
  }

  /**
   * gzip `name` to `name.tmp` (created exclusively, with the source's mode), fsync, link it to `name.gz`
   * (never replacing one), remove the temp name, then remove `name` if it is still the file compressed — the
   * kubelet's sequence, made safe against a second compressor: a crash leaves a `.tmp` (unused, removed
   * next time) or `X` beside `X.gz` (removed once X.gz's trailer shows it holds X), never a half-written
   * `.gz`. `signal` stops it (the temp file is removed).
   */
  async compress(t: Target, a: Action, level: number, expected: Expected = {}, signal?: AbortSignal): Promise<Outcome> {
    const { fs } = this.opts;
    const src = joinPath(t.dir, a.name);
    const tmp = joinPath(t.dir, Buffer.concat([a.name, Buffer.from(TMP_SUFFIX)]));
    const dst = joinPath(t.dir, Buffer.concat([a.name, Buffer.from(GZ_SUFFIX)]));
    if ((await fs.lstat(dst)) !== null) return { kind: "skip", action: a, path: src, why: `${showPath(dst)} exists` };
    let input;
    try {
      input = await fs.openRead(src);
    } catch (cause) {
      if ((cause as NodeJS.ErrnoException).code === "ENOENT") return { kind: "skip", action: a, path: src, why: "already gone" };
      throw new ExecError("EXEC_COMPRESS_FAILED", `failed to compress log ${showPath(src)}: cannot open it`, { cause });
    }
    if (expected.inode !== undefined && expected.inode !== 0 && input.info.inode !== expected.inode) {
      input.stream.destroy();
      return { kind: "skip", action: a, path: src, why: `it is another file now (inode ${input.info.inode}, planned ${expected.inode})` };
    }
    let out;
    try {
      out = await fs.createExclusive(tmp, input.info.mode);
    } catch (cause) {
      input.stream.destroy();
      // Someone else's compression of the same file is writing it (or died leaving it: the rules remove
      // an unused .tmp and this is planned again).
      if (isExists(cause)) return { kind: "skip", action: a, path: src, why: `${showPath(tmp)} exists` };
      throw new ExecError("EXEC_COMPRESS_FAILED", `failed to create temporary log ${showPath(tmp)}`, { cause });
    }
    let bytesOut = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, cb) {
        bytesOut += chunk.length;
        cb(null, chunk);
      },
    });
    try {
      // 256 KiB output chunks (default 16 KiB): fewer trips through the stream machinery per MiB.
      await pipeline(input.stream, createGzip({ level, chunkSize: 256 * 1024 }), counter, out.stream, { signal });
      await out.sync();
      await out.close();
      await fs.link(tmp, dst);
    } catch (cause) {
      await out.close().catch(() => {});
      await fs.remove(tmp, true).catch(() => {});
      if (isExists(cause)) return { kind: "skip", action: a, path: src, why: `${showPath(dst)} appeared meanwhile` };
      if (signal?.aborted) return { kind: "skip", action: a, path: src, why: "cancelled" };
      throw new ExecError("EXEC_COMPRESS_FAILED", `failed to compress log ${showPath(src)}`, { cause });
    }
    let gzInode = 0;
    try {
      gzInode = (await fs.lstat(dst))?.inode ?? 0;
      await fs.remove(tmp, true);
      const now = await fs.lstat(src);
      if (now !== null && now.inode === input.info.inode) await fs.remove(src, true);
      await fs.syncDir(t.dir);
    } catch (cause) {
      // X beside X.gz is verified and removed by a later look.
      throw new ExecError("EXEC_COMPRESS_FAILED", `failed to remove log ${showPath(src)} after compress`, { cause });
    }
    return { kind: "compress", action: a, path: src, bytesIn: input.info.size, bytesOut, gzInode };
  }

  /**
   * Renames the live log and asks the runtime to reopen it; renames it back if the reopen fails (the
   * kubelet's rotateLatestLog). The name is chosen now, from the directory as it is now (and `alsoTaken`,
   * the names the plan removed just before), and claimed by
   * creating it exclusively (EEXIST if another rotator took it meanwhile: choose again); the rename then
   * replaces only that empty placeholder of ours, looked at just before (the kubelet renames with rename(2)
   * and claims nothing: a file of its found there is left alone, and we choose again), and a failed rename
   * removes the placeholder only while it still is ours. It must be a rename, not a link and an unlink: a
   * shipper reading the file learns its new name from its open descriptor (/proc/self/fd), which follows a
   * rename but shows the old name "(deleted)" after an unlink — Fluent Bit's in_tail would lose track of
   * the file. A crash between the claim and the rename leaves an empty rotated file: harmless, pruned in
   * its turn.
   */
  async rotate(t: Target, a: Action, alsoTaken: Buffer[] = []): Promise<Outcome> {
    const { fs, cri, clock } = this.opts;
    const live = joinPath(t.dir, t.logName);
    const info = await fs.lstat(live);
    if (info === null || info.kind !== "file") {
      throw new ExecError("EXEC_REFUSED", `refusing to rotate ${showPath(live)}: it is ${info === null ? "missing" : `a ${info.kind}`}`);
    }
    let rotated: Buffer | undefined;
    let claimedInode = -1;
    let atMs = 0;
    for (let attempt = 0; attempt < NAME_ATTEMPTS && rotated === undefined; attempt++) {
      atMs = clock.now();
      // The names this plan just removed count as taken: rotated names only ever grow, never reused.
      const entries = toFileEntries(await fs.listDir(t.dir)).concat(alsoTaken.map((name) => ({ name, kind: "file" as const, size: 0, mtime: 0 })));
      const name = this.opts.rotatedName(t.logName, entries, Math.floor(atMs / 1000));
      const candidate = joinPath(t.dir, name);
      let placeholder: number;
      try {
        await (await fs.createExclusive(candidate, 0o600)).close();
        placeholder = (await fs.lstat(candidate))?.inode ?? -1;
      } catch (cause) {
        if (isExists(cause)) continue; // taken between our listing and our claim: look again
        throw new ExecError("EXEC_ROTATE_FAILED", `failed to rotate log ${showPath(live)} to ${showPath(candidate)}`, { cause });
      }
      // Another rotator that does not claim (the kubelet renames with rename(2)) may have renamed its log onto
      // our placeholder since: that file is its, never replaced and never removed. Choose again.
      if (await this.isPlaceholder(candidate, placeholder)) [rotated, claimedInode] = [candidate, placeholder];
    }
    if (rotated === undefined) throw new ExecError("EXEC_ROTATE_FAILED", `failed to rotate log ${showPath(live)}: every rotated name chosen was taken by the time it was used (another rotator is busy here)`);
    try {
      await fs.rename(live, rotated);
    } catch (cause) {
      // Our placeholder goes; a file someone renamed onto it meanwhile stays.
      if (await this.isPlaceholder(rotated, claimedInode).catch(() => false)) await fs.remove(rotated, true).catch(() => {});
      throw new ExecError("EXEC_ROTATE_FAILED", `failed to rotate log ${showPath(live)} to ${showPath(rotated)}`, { cause });
    }
    const renamed = await fs.lstat(rotated);
    try {
      await cri.reopenContainerLog(t.id);
    } catch (cause) {
      // Rename back so the next look retries, as the kubelet does — unless the runtime did create a new
      // file after all: then the rotated file keeps its name and nothing is replaced.
      let restored = "renamed back";
      try {
        if ((await fs.lstat(live)) === null) await fs.rename(rotated, live);
        else restored = `not renamed back: ${showPath(live)} exists again`;
      } catch (err) {
        restored = `and renaming it back failed (${(err as Error).message}); its lines are in ${showPath(rotated)}`;
      }
      throw new ExecError("EXEC_REOPEN_FAILED", `failed to reopen container log "${t.id}" after rotating ${showPath(live)} (${restored})`, { cause });
    }
    await fs.syncDir(t.dir).catch(() => {});
    return { kind: "rotate", action: a, path: live, rotatedPath: rotated, inode: renamed?.inode ?? info.inode, size: renamed?.size ?? info.size, atMs };
  }

  /** `path` is still the empty file we created exclusively (inode `inode`), not someone's rotated log. */
  private async isPlaceholder(path: Buffer, inode: number): Promise<boolean> {
    const now = await this.opts.fs.lstat(path);
    return now !== null && now.kind === "file" && now.inode === inode && now.size === 0;
  }

  /** The live log is missing (e.g. lost after a failed rotation): ask the runtime to reopen it. */
  async recover(t: Target, a: Action): Promise<Outcome> {
    const { fs, cri } = this.opts;
    const live = joinPath(t.dir, t.logName);
    try {
      await cri.reopenContainerLog(t.id);
    } catch (cause) {
      throw new ExecError("EXEC_RECOVER_FAILED", `container log ${showPath(live)} doesn't exist, reopen container log "${t.id}" failed`, { cause });
    }
    if ((await fs.lstat(live)) === null) throw new ExecError("EXEC_RECOVER_FAILED", `failed to stat container log ${showPath(live)} after reopen`);
    return { kind: "recover", action: a, path: live };
  }
}
