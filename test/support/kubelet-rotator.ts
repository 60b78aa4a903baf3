// The kubelet's container log manager (kubernetes pkg/kubelet/logs/container_log_manager.go), ported step for
// step so tests and benchmarks can run it as the peer we compare against and as the hostile neighbour that
// rotates the same files beside us (a hand-over: the kubelet's own loop keeps running). Its weak spots are
// the kubelet's, on purpose — do not fix them here:
//   - the rotated name has 1-second resolution and rename(2) replaces whatever has that name already;
//   - compression creates `X.tmp` with O_TRUNC and no O_EXCL, and the deferred best-effort remove of
//     `X.tmp` runs even after a successful rename, taking whatever file has that name by then;
//   - `X` beside `X.gz` is "unused" and removed, whatever X holds;
//   - it compresses every older rotated file before it rotates the live log (rotation waits for gzip);
//   - a new or fast container is seen only at the next tick of the monitoring period;
//   - paths are followed (stat, open) as Go's os package does.
// What it does on purpose differently: the kubelet's filepath.Glob(log + ".*") is a readdir of the log's
// directory keeping the names that start with `<log name>.` bytewise (sorted, as Glob sorts) — the same
// files for any name without glob metacharacters.
//
//   const k = new KubeletRotator({ cri, maxSize: 10 * 1024 * 1024, maxFiles: 5, intervalMs: 10_000, workers: 1 });
//   k.start(); …; await k.stop();
//   // or, on a fake clock: await k.runOnce();   (one rotateLogs tick, then the queue drained)
import * as fsp from "node:fs/promises";
import { constants, existsSync, renameSync } from "node:fs";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { systemClock, type Clock } from "../../host/clock.js";
import type { Cri } from "../../host/cri/types.js";

export const TIMESTAMP_FORMAT = "20060102-150405";
const COMPRESS_SUFFIX = Buffer.from(".gz");
const TMP_SUFFIX = Buffer.from(".tmp");
const SLASH = 0x2f;

/** The kubelet's OSInterface subset the log manager uses (Go's os semantics: paths are followed). */
export interface KubeletOs {
  /** os.Stat: follows symlinks; ENOENT as a thrown error with code "ENOENT". */
  stat(path: Buffer): Promise<{ size: number; mode: number }>;
  /** os.Open for reading. */
  open(path: Buffer): Promise<fsp.FileHandle>;
  /** os.OpenFile(path, O_WRONLY|O_CREATE|O_TRUNC, mode). */
  createTruncate(path: Buffer, mode: number): Promise<fsp.FileHandle>;
  /** os.Rename: rename(2), replacing an existing target. */
  rename(from: Buffer, to: Buffer): Promise<void>;
  /** os.Remove: unlink, or rmdir for an empty directory. */
  remove(path: Buffer): Promise<void>;
  /** The names in a directory (what filepath.Glob reads), as raw bytes. */
  readdir(dir: Buffer): Promise<Buffer[]>;
}

export const realKubeletOs: KubeletOs = {
  async stat(path) {
    const st = await fsp.stat(path);
    return { size: st.size, mode: st.mode & 0o7777 };
  },
  open: (path) => fsp.open(path, constants.O_RDONLY),
  createTruncate: (path, mode) => fsp.open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC, mode),
  // rename(2) at once, as Go's os.Rename does: through the thread pool it could wait behind other file work,
  // and the gap between the kubelet's clock.Now() and its rename would be far wider here than in the kubelet.
  rename: async (from, to) => renameSync(from, to),
  async remove(path) {
    try {
      await fsp.unlink(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "EISDIR" && code !== "EPERM") throw err;
      await fsp.rmdir(path); // Go's os.Remove tries rmdir when unlink fails
    }
  },
  readdir: (dir) => fsp.readdir(dir, { encoding: "buffer" }),
};

/** What the rotator did, for tests and benchmarks (the kubelet's klog lines, as data). */
export type KubeletEvent =
  // `replaced`/`tmpExisted`: what a look just before the step saw (for diagnostics; the kubelet does not look).
  | { kind: "rotated"; containerId: string; from: Buffer; to: Buffer; size: number; replaced: boolean }
  | { kind: "compressed"; containerId: string; path: Buffer; to: Buffer; tmpExisted: boolean }
  | { kind: "removed"; containerId: string; path: Buffer; reason: "unused" | "excess" }
  | { kind: "reopened"; containerId: string; path: Buffer } // a missing live log recovered
  | { kind: "error"; containerId?: string; msg: string; err: Error };

export interface KubeletRotatorOptions {
  cri: Pick<Cri, "listContainers" | "containerStatus" | "reopenContainerLog">;
  /** containerLogMaxSize in bytes; the kubelet runs no rotation at all when it is negative. */
  maxSize: number;
  /** containerLogMaxFiles, > 1. */
  maxFiles: number;
  /** containerLogMonitorInterval; the kubelet's validation wants >= 3 s, the port takes any positive value. */
  intervalMs: number;
  /** containerLogMaxWorkers, >= 1. */
  workers: number;
  /** Names rotated files; with a fake clock drive it by runOnce(), not start() (its sleep returns at once). */
  clock?: Clock;
  os?: KubeletOs;
  /** Aborting it stops the rotator as stop() does. */
  signal?: AbortSignal;
  /** Every step and failure, as the kubelet would log it. */
  onEvent?: (e: KubeletEvent) => void;
}

export class KubeletRotatorError extends Error {
  readonly code = "KUBELET_ROTATOR_INVALID";
  constructor(message: string) {
    super(message);
    this.name = "KubeletRotatorError";
  }
}

/** Go's t.UTC().Format("20060102-150405"). */
export function kubeletTimestamp(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2026-01-02T03:04:05.000Z
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}-${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}`;
}

function toBytes(p: string | Buffer): Buffer {
  return typeof p === "string" ? Buffer.from(p) : p;
}

function endsWith(b: Buffer, suffix: Buffer): boolean {
  return b.length >= suffix.length && b.subarray(b.length - suffix.length).equals(suffix);
}

function errnoOf(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

function wrap(message: string, cause: unknown): Error {
  return new Error(`${message}: ${(cause as Error)?.message ?? String(cause)}`, { cause });
}

/** For the events only: whether a name exists (lstat), outside the kubelet's own steps. */
function exists(p: Buffer): Promise<boolean> {
  return fsp.lstat(p).then(() => true, () => false);
}

function show(p: Buffer): string {
  return JSON.stringify(p.toString("utf8"));
}

/** isInUse: `*.tmp` is unused, `*.gz` in use, `X` unused when `X.gz` is in the list too. */
export function isInUse(log: Buffer, logs: Buffer[]): boolean {
  if (endsWith(log, TMP_SUFFIX)) return false;
  if (endsWith(log, COMPRESS_SUFFIX)) return true;
  const compressed = Buffer.concat([log, COMPRESS_SUFFIX]);
  return !logs.some((other) => other.equals(compressed));
}

/** filterUnusedLogs: [in use, unused], each in input order. */
export function filterUnusedLogs(logs: Buffer[]): { inuse: Buffer[]; unused: Buffer[] } {
  const inuse: Buffer[] = [];
  const unused: Buffer[] = [];
  for (const l of logs) (isInUse(l, logs) ? inuse : unused).push(l);
  return { inuse, unused };
}

/** The client-go work queue the kubelet uses: an id queued twice is queued once; one re-added while in work runs again after. */
class WorkQueue {
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private waiters: ((id: string | undefined) => void)[] = [];
  private idleWaiters: (() => void)[] = [];
  private shuttingDown = false;

  add(id: string): void {
    if (this.shuttingDown || this.dirty.has(id)) return;
    this.dirty.add(id);
    if (this.processing.has(id)) return; // queued again by done()
    const waiter = this.waiters.shift();
    if (waiter) {
      this.dirty.delete(id);
      this.processing.add(id);
      waiter(id);
    } else this.queue.push(id);
  }

  /** The next id, or undefined once shut down. */
  get(): Promise<string | undefined> {
    const id = this.take();
    if (id !== undefined || this.shuttingDown) return Promise.resolve(id);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** The next id without waiting, or undefined when nothing is queued. */
  take(): string | undefined {
    if (this.shuttingDown) return undefined;
    const id = this.queue.shift();
    if (id === undefined) return undefined;
    this.dirty.delete(id);
    this.processing.add(id);
    return id;
  }

  done(id: string): void {
    this.processing.delete(id);
    if (this.dirty.has(id)) {
      this.dirty.delete(id);
      this.add(id);
    }
    if (this.queue.length === 0 && this.processing.size === 0) {
      const idle = this.idleWaiters;
      this.idleWaiters = [];
      for (const w of idle) w();
    }
  }

  /** Resolves once nothing is queued or in work. */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  shutDown(): void {
    this.shuttingDown = true;
    this.queue.length = 0;
    this.dirty.clear();
    for (const w of this.waiters) w(undefined);
    this.waiters = [];
    if (this.processing.size === 0) {
      for (const w of this.idleWaiters) w();
      this.idleWaiters = [];
    }
  }
}

export class KubeletRotator {
  private readonly cri: KubeletRotatorOptions["cri"];
  private readonly clock: Clock;
  private readonly os: KubeletOs;
  private readonly onEvent: (e: KubeletEvent) => void;
  private readonly queue = new WorkQueue();
  private readonly abort = new AbortController();
  private loops: Promise<void>[] = [];
  private listing = Promise.resolve(); // c.mutex: one rotateLogs at a time
  readonly maxSize: number;
  readonly maxFiles: number;
  readonly intervalMs: number;
  readonly workers: number;
  /** Counts of what happened since construction. */
  readonly stats = { ticks: 0, rotations: 0, compressions: 0, removals: 0, reopens: 0, errors: 0 };

  constructor(options: KubeletRotatorOptions) {
    if (!Number.isInteger(options.maxFiles) || options.maxFiles <= 1) throw new KubeletRotatorError(`invalid MaxFiles ${options.maxFiles}, must be > 1`);
    if (!Number.isInteger(options.workers) || options.workers < 1) {
      throw new KubeletRotatorError(`invalid configuration: containerLogMaxWorkers must be greater than or equal to 1, got ${options.workers}`);
    }
    if (!(options.intervalMs > 0)) throw new KubeletRotatorError(`the monitoring period must be > 0 ms, got ${options.intervalMs}`);
    if (!Number.isSafeInteger(options.maxSize)) throw new KubeletRotatorError(`invalid max log size ${options.maxSize}`);
    this.cri = options.cri;
    this.maxSize = options.maxSize;
    this.maxFiles = options.maxFiles;
    this.intervalMs = options.intervalMs;
    this.workers = options.workers;
    this.clock = options.clock ?? systemClock;
    this.os = options.os ?? realKubeletOs;
    this.onEvent = options.onEvent ?? (() => undefined);
    options.signal?.addEventListener("abort", () => void this.stop(), { once: true });
  }

  /**
   * Start(): `workers` goroutines draining the queue, and wait.Forever(rotateLogs, period) — one tick at
   * once, then one per period after the previous tick returned. A negative maxSize is the kubelet's stub
   * manager: nothing runs.
   */
  start(): void {
    if (this.loops.length > 0 || this.abort.signal.aborted) return;
    if (this.maxSize < 0) return;
    for (let i = 0; i < this.workers; i++) this.loops.push(this.processQueueItems());
    this.loops.push(this.forever());
  }

  /** Stops the ticker and the workers; resolves when the containers in work are finished. */
  async stop(): Promise<void> {
    this.abort.abort();
    this.queue.shutDown();
    await Promise.all(this.loops);
  }

  /** One tick and the queue drained with `workers` workers: the upstream tests' procedure. */
  async runOnce(): Promise<void> {
    if (this.maxSize < 0) return;
    await this.rotateLogs();
    if (this.loops.length > 0) return this.queue.idle();
    const drain = async (): Promise<void> => {
      for (let id = this.queue.take(); id !== undefined; id = this.queue.take()) await this.processOne(id);
    };
    await Promise.all(Array.from({ length: this.workers }, drain));
  }

  private async forever(): Promise<void> {
    const signal = this.abort.signal;
    while (!signal.aborted) {
      await this.rotateLogs();
      await this.clock.sleep(this.intervalMs, signal);
    }
  }

  private async processQueueItems(): Promise<void> {
    for (;;) {
      const id = await this.queue.get();
      if (id === undefined) return;
      await this.processOne(id);
    }
  }

  private async processOne(id: string): Promise<void> {
    try {
      await this.processContainer(id);
    } finally {
      this.queue.done(id); // Done + Forget: no retry before the next tick
    }
  }

  /** rotateLogs: ListContainers with an empty filter, the RUNNING ones queued. */
  async rotateLogs(): Promise<void> {
    const run = this.listing.then(async () => {
      this.stats.ticks++;
      try {
        const containers = await this.cri.listContainers();
        for (const c of containers) if (c.state === "CONTAINER_RUNNING") this.queue.add(c.id);
      } catch (err) {
        this.fail(undefined, "Failed to rotate container logs", wrap("failed to list containers", err));
      }
    });
    this.listing = run;
    return run;
  }

  /** processContainer: status → stat → (reopen a missing log) → rotate when size >= MaxSize. */
  private async processContainer(id: string): Promise<void> {
    let logPath: Buffer;
    try {
      const status = await this.cri.containerStatus(id);
      logPath = toBytes(status.logPath);
    } catch (err) {
      return this.fail(id, "Failed to get container status", err as Error);
    }
    let size: number;
    try {
      size = (await this.os.stat(logPath)).size;
    } catch (err) {
      if (errnoOf(err) !== "ENOENT") return this.fail(id, "Failed to stat container log", err as Error);
      // The log is lost after a failed rotation (or removed by someone): ask the runtime for a new one.
      try {
        await this.cri.reopenContainerLog(id);
      } catch (reopenErr) {
        return this.fail(id, "Container log doesn't exist, reopen container log failed", reopenErr as Error);
      }
      this.stats.reopens++;
      this.onEvent({ kind: "reopened", containerId: id, path: logPath });
      try {
        size = (await this.os.stat(logPath)).size;
      } catch (statErr) {
        return this.fail(id, "Failed to stat container log after reopen", statErr as Error);
      }
    }
    if (size < this.maxSize) return; // V(7) "Container log doesn't need rotation"
    try {
      await this.rotateLog(id, logPath);
    } catch (err) {
      this.fail(id, "Failed to rotate log for container", err as Error);
    }
  }

  /** rotateLog: list `<log>.*`, clean up unused, remove excess, compress the rest, rotate the live log. */
  async rotateLog(id: string, log: string | Buffer): Promise<void> {
    const logPath = toBytes(log);
    let logs: Buffer[];
    try {
      logs = await this.glob(logPath);
    } catch (err) {
      throw wrap(`failed to list all log files with pattern ${show(Buffer.concat([logPath, Buffer.from(".*")]))}`, err);
    }
    try {
      logs = await this.cleanupUnusedLogs(logs, id);
    } catch (err) {
      throw wrap("failed to cleanup logs", err);
    }
    try {
      logs = await this.removeExcessLogs(logs, id);
    } catch (err) {
      throw wrap("failed to remove excess logs", err);
    }
    for (const l of logs) {
      if (endsWith(l, COMPRESS_SUFFIX)) continue;
      try {
        await this.compressLog(l, id);
      } catch (err) {
        throw wrap(`failed to compress log ${show(l)}`, err);
      }
    }
    try {
      await this.rotateLatestLog(id, logPath);
    } catch (err) {
      throw wrap(`failed to rotate log ${show(logPath)}`, err);
    }
  }

  /** filepath.Glob(log + ".*"): the directory's names starting with `<name>.`, sorted, as full paths. */
  private async glob(log: Buffer): Promise<Buffer[]> {
    const slash = log.lastIndexOf(SLASH);
    const dir = slash < 0 ? Buffer.from(".") : slash === 0 ? Buffer.from("/") : log.subarray(0, slash);
    const prefix = Buffer.concat([log.subarray(slash + 1), Buffer.from(".")]);
    let names: Buffer[];
    try {
      names = await this.os.readdir(dir);
    } catch {
      return []; // Glob ignores I/O errors reading the directory
    }
    const base = slash < 0 ? Buffer.alloc(0) : log.subarray(0, slash + 1);
    return names
      .filter((n) => n.length >= prefix.length && n.subarray(0, prefix.length).equals(prefix))
      .sort(Buffer.compare)
      .map((n) => Buffer.concat([base, n]));
  }

  /** cleanupUnusedLogs: removes the unused files (any failure is fatal) and returns the ones in use. */
  async cleanupUnusedLogs(logs: (string | Buffer)[], containerId = ""): Promise<Buffer[]> {
    const { inuse, unused } = filterUnusedLogs(logs.map(toBytes));
    for (const l of unused) {
      try {
        await this.os.remove(l);
      } catch (err) {
        throw wrap(`failed to remove unused log ${show(l)}`, err);
      }
      this.stats.removals++;
      this.onEvent({ kind: "removed", containerId, path: l, reason: "unused" });
    }
    return inuse;
  }

  /**
   * removeExcessLogs: sorted oldest to newest by name, at most MaxFiles-2 kept — the container writes a new
   * live log and the latest one is rotated, so with those two there are MaxFiles. Removed oldest first, "so as
   * not to break ongoing kubectl logs".
   */
  async removeExcessLogs(logs: (string | Buffer)[], containerId = ""): Promise<Buffer[]> {
    const sorted = logs.map(toBytes).sort(Buffer.compare);
    const maxRotated = Math.max(0, this.maxFiles - 2);
    let i = 0;
    for (; i < sorted.length - maxRotated; i++) {
      try {
        await this.os.remove(sorted[i]!);
      } catch (err) {
        throw wrap(`failed to remove old log ${show(sorted[i]!)}`, err);
      }
      this.stats.removals++;
      this.onEvent({ kind: "removed", containerId, path: sorted[i]!, reason: "excess" });
    }
    return sorted.slice(i);
  }

  /**
   * compressLog: X → X.tmp (created with X's mode, O_TRUNC, no O_EXCL) gzipped, closed, renamed over X.gz,
   * X removed. The deferred best-effort remove of X.tmp runs on every return, success included.
   */
  async compressLog(log: string | Buffer, containerId = ""): Promise<void> {
    const logPath = toBytes(log);
    const tmpLog = Buffer.concat([logPath, TMP_SUFFIX]);
    const tmpExisted = await exists(tmpLog);
    let mode: number;
    try {
      mode = (await this.os.stat(logPath)).mode;
    } catch (err) {
      throw wrap(`failed to stat log file ${show(logPath)}`, err);
    }
    let r: fsp.FileHandle;
    try {
      r = await this.os.open(logPath);
    } catch (err) {
      throw wrap(`failed to open log ${show(logPath)}`, err);
    }
    try {
      let f: fsp.FileHandle;
      try {
        f = await this.os.createTruncate(tmpLog, mode);
      } catch (err) {
        throw wrap(`failed to create temporary log ${show(tmpLog)}`, err);
      }
      try {
        try {
          // Go's gzip.NewWriter: DefaultCompression, level 6, as zlib's default.
          // The write stream closes f when it finishes: the archive and the file are closed before the
          // rename (Windows needs it). The read stream closes r at its end, where the kubelet closes it after
          // the rename; nothing reads r in between.
          await pipeline(r.createReadStream(), createGzip(), f.createWriteStream());
        } catch (err) {
          throw wrap(`failed to compress ${show(logPath)} to ${show(tmpLog)}`, err);
        }
        const compressedLog = Buffer.concat([logPath, COMPRESS_SUFFIX]);
        try {
          await this.os.rename(tmpLog, compressedLog);
        } catch (err) {
          throw wrap(`failed to rename ${show(tmpLog)} to ${show(compressedLog)}`, err);
        }
        try {
          await this.os.remove(logPath);
        } catch (err) {
          throw wrap(`failed to remove log ${show(logPath)} after compress`, err);
        }
        this.stats.compressions++;
        this.onEvent({ kind: "compressed", containerId, path: logPath, to: compressedLog, tmpExisted });
      } finally {
        await f.close().catch(() => undefined);
        await this.os.remove(tmpLog).catch(() => undefined); // "Best effort cleanup of tmpLog."
      }
    } finally {
      await r.close().catch(() => undefined);
    }
  }

  /**
   * rotateLatestLog: rename the live log to `<log>.<now>` — replacing a file of that name — and ask the
   * runtime to reopen. It stays uncompressed "so that container can still write and fluentd can finish
   * reading". When the reopen fails it is renamed back so the next tick retries.
   */
  async rotateLatestLog(id: string, log: string | Buffer): Promise<void> {
    const logPath = toBytes(log);
    // The diagnostics are read around the kubelet's code, not inside it: its name is stamped right before
    // the rename (nothing asynchronous in between), so the port's window is no wider than the kubelet's.
    const size = await fsp.lstat(logPath).then((st) => st.size, () => 0);
    const rotated = Buffer.concat([logPath, Buffer.from(`.${kubeletTimestamp(this.clock.now())}`)]);
    const replaced = existsSync(rotated);
    try {
      await this.os.rename(logPath, rotated);
    } catch (err) {
      throw wrap(`failed to rotate log ${show(logPath)} to ${show(rotated)}`, err);
    }
    try {
      await this.cri.reopenContainerLog(id);
    } catch (err) {
      try {
        await this.os.rename(rotated, logPath);
      } catch (renameErr) {
        // "This shouldn't happen": the original log is lost.
        this.fail(id, "Failed to rename rotated log", renameErr as Error);
      }
      throw wrap(`failed to reopen container log ${JSON.stringify(id)}`, err);
    }
    this.stats.rotations++;
    this.onEvent({ kind: "rotated", containerId: id, from: logPath, to: rotated, size, replaced });
  }

  private fail(containerId: string | undefined, msg: string, err: Error): void {
    this.stats.errors++;
    this.onEvent({ kind: "error", containerId, msg, err });
  }
}
