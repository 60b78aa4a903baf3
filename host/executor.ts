// Runs a container's plan: the only code that removes, compresses or renames log files. Each action
// re-checks what it is about to touch (regular file, no symlink, no overwrite), because the directory may
// have changed since it was listed; a refusal is an error, never a guess.
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import type { Cri } from "./cri/types.js";
import { ExecError } from "./errors.js";
import { joinPath, type Fs } from "./fs.js";
import { showPath } from "./paths.js";
import type { Action } from "./plugin/types.js";


export interface Target {
  id: string;
  dir: string;
  logName: Buffer;
}

export type Outcome =
  | { kind: "remove"; action: Action; path: Buffer; size: number }
  | { kind: "compress"; action: Action; path: Buffer; bytesIn: number; bytesOut: number }
  | { kind: "rotate"; action: Action; path: Buffer; rotatedPath: Buffer; inode: number; size: number }
  | { kind: "recover"; action: Action; path: Buffer }
  | { kind: "hold"; action: Action; path: Buffer };

export interface ExecutorOptions {
  fs: Fs;
  cri: Pick<Cri, "reopenContainerLog">;
  /** gzip level 1..9. */
  compressionLevel: number;
}

export const TMP_SUFFIX = ".tmp";
export const GZ_SUFFIX = ".gz";

export class Executor {
  constructor(private readonly opts: ExecutorOptions) {}

  /**
   * Runs the actions in order and stops at the first failure, as the kubelet's rotateLog does: a later
   * step may depend on an earlier one (the rename must not run before excess files are gone). Returns the
   * outcomes of the actions that ran; on failure throws ExecError with `outcomes` attached.
   */
  async run(target: Target, actions: Action[], onOutcome?: (o: Outcome) => void): Promise<Outcome[]> {
    const outcomes: Outcome[] = [];
    for (const action of actions) {
      const outcome = await this.runOne(target, action);
      outcomes.push(outcome);
      onOutcome?.(outcome);
    }
    return outcomes;
  }

  private async runOne(t: Target, a: Action): Promise<Outcome> {
    const path = joinPath(t.dir, a.name);
    switch (a.kind) {
      case "remove":
        return { kind: "remove", action: a, path, size: await this.remove(path) };
      case "compress":
        return { kind: "compress", action: a, path, ...(await this.compress(t.dir, a.name)) };
      case "rotate":
        return { kind: "rotate", action: a, path: joinPath(t.dir, t.logName), rotatedPath: path, ...(await this.rotate(t, a.name)) };
      case "recover":
        await this.recover(t);
        return { kind: "recover", action: a, path };
      case "hold":
        return { kind: "hold", action: a, path };
    }
  }

  /** Removes a regular file; refuses anything else. Returns the size removed. */
  async remove(path: Buffer): Promise<number> {
    const { fs } = this.opts;
    const info = await fs.lstat(path);
    if (info === null) return 0; // already gone: what the plan wanted
    if (info.kind !== "file") throw new ExecError("EXEC_REFUSED", `refusing to remove ${showPath(path)}: it is a ${info.kind}, not a regular file`);
    try {
      await fs.remove(path, true);
    } catch (cause) {
      throw new ExecError("EXEC_REMOVE_FAILED", `failed to remove log ${showPath(path)}`, { cause });
    }
    return info.size;
  }

  /**
   * gzip `name` to `name.tmp` with the source's mode, fsync, rename to `name.gz`, remove `name` — the
   * kubelet's sequence, so a crash leaves either a `.tmp` (unused, removed next time) or `X` beside `X.gz`
   * (X unused, removed next time), and never a half-written `.gz`.
   */
  async compress(dir: string, name: Buffer): Promise<{ bytesIn: number; bytesOut: number }> {
    const { fs, compressionLevel } = this.opts;
    const src = joinPath(dir, name);
    const tmp = joinPath(dir, Buffer.concat([name, Buffer.from(TMP_SUFFIX)]));
    const dst = joinPath(dir, Buffer.concat([name, Buffer.from(GZ_SUFFIX)]));
    const existing = await fs.lstat(dst);
    if (existing !== null) throw new ExecError("EXEC_REFUSED", `refusing to compress ${showPath(src)}: ${showPath(dst)} already exists`);
    let input;
    try {
      input = await fs.openRead(src);
    } catch (cause) {
      throw new ExecError("EXEC_COMPRESS_FAILED", `failed to compress log ${showPath(src)}: cannot open it`, { cause });
    }
    let out;
    try {
      out = await fs.openWrite(tmp, input.info.mode);
    } catch (cause) {
      input.stream.destroy();
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
      await pipeline(input.stream, createGzip({ level: compressionLevel, chunkSize: 256 * 1024 }), counter, out.stream);
      await out.sync();
      await out.close();
      await fs.rename(tmp, dst);
    } catch (cause) {
      await out.close().catch(() => {});
      await fs.remove(tmp, true).catch(() => {});
      throw new ExecError("EXEC_COMPRESS_FAILED", `failed to compress log ${showPath(src)}`, { cause });
    }
    try {
      await fs.remove(src);
      await fs.syncDir(dir);
    } catch (cause) {
      // X beside X.gz is "unused" to the rules: the next pass removes X.
      throw new ExecError("EXEC_COMPRESS_FAILED", `failed to remove log ${showPath(src)} after compress`, { cause });
    }
    return { bytesIn: input.info.size, bytesOut };
  }

  /** Renames the live log and asks the runtime to reopen it; renames it back if the reopen fails. */
  async rotate(t: Target, newName: Buffer): Promise<{ inode: number; size: number }> {
    const { fs, cri } = this.opts;
    const live = joinPath(t.dir, t.logName);
    const rotated = joinPath(t.dir, newName);
    const info = await fs.lstat(live);
    if (info === null || info.kind !== "file") {
      throw new ExecError("EXEC_REFUSED", `refusing to rotate ${showPath(live)}: it is ${info === null ? "missing" : `a ${info.kind}`}`);
    }
    if ((await fs.lstat(rotated)) !== null) throw new ExecError("EXEC_REFUSED", `refusing to rotate ${showPath(live)}: ${showPath(rotated)} exists and would be overwritten`);
    try {
      await fs.rename(live, rotated);
    } catch (cause) {
      throw new ExecError("EXEC_ROTATE_FAILED", `failed to rotate log ${showPath(live)} to ${showPath(rotated)}`, { cause });
    }
    try {
      await cri.reopenContainerLog(t.id);
    } catch (cause) {
      // Rename back so the next pass retries, as the kubelet does — unless the runtime did create a new
      // file after all: then the rotated file keeps its name and nothing is overwritten.
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
    return { inode: info.inode, size: info.size };
  }

  /** The live log is missing (e.g. lost after a failed rotation): ask the runtime to reopen it. */
  async recover(t: Target): Promise<void> {
    const { fs, cri } = this.opts;
    const live = joinPath(t.dir, t.logName);
    try {
      await cri.reopenContainerLog(t.id);
    } catch (cause) {
      throw new ExecError("EXEC_RECOVER_FAILED", `container log ${showPath(live)} doesn't exist, reopen container log "${t.id}" failed`, { cause });
    }
    if ((await fs.lstat(live)) === null) throw new ExecError("EXEC_RECOVER_FAILED", `failed to stat container log ${showPath(live)} after reopen`);
  }
}
