// Compression in the background, so that rotation never waits for it: a container's live log is renamed
// at once, and its older rotated files are gzipped by a bounded pool of jobs here (zlib does the work on
// libuv's threads; the event loop only moves buffers). The files on disk follow the kubelet's rules after
// every step either way: the newest rotated file stays plain, and a compression only ever replaces X by
// X.gz.
//
// When compression cannot keep up with the write rate it must not fall behind without bound. The policy:
//   - a job that starts while others are waiting uses gzip level 1 (several times faster than 6);
//   - a file that becomes excess before it is compressed is removed as it is (the rules plan its removal;
//     a job in flight on it is cancelled first, a queued one dropped) — counted in
//     cri_logrotate_compressions_dropped_total;
// so the backlog is bounded by what containerLogMaxFiles keeps. It is reported as
// cri_logrotate_compression_backlog_files / _bytes.
import type { Executor, Expected, Outcome, Target } from "../executor.js";
import { GZ_SUFFIX, TMP_SUFFIX } from "../executor.js";
import { joinPath } from "../fs.js";
import type { Logger } from "../log.js";
import type { Action } from "../plugin/types.js";
import type { ErrorKind, ManagerObserver } from "./observer.js";

/** The gzip level of a job that starts while others wait (see the top of the file). */
export const BACKLOG_LEVEL = 1;
/** A file whose compression keeps failing is warned about again after this long (retried each time it is planned). */
const WARN_AGAIN_AFTER_MS = 10 * 60 * 1000;
/** Job starts remembered for busyDuring: far more than can start during one directory listing. */
const RECENT_STARTS = 256;

interface Job {
  key: string;
  target: Target;
  action: Action;
  expected: Expected;
  size: number;
  abort?: AbortController;
  done?: Promise<void>;
}

export interface CompressorOptions {
  executor: Executor;
  /** Jobs at once (containerLogMaxWorkers). */
  workers: number;
  /** gzip level of a job that does not start behind others. */
  level: number;
  logger: Logger;
  observer: ManagerObserver;
  now(): number;
  /** Told about every finished job (compressed, skipped or failed). */
  onOutcome(job: { target: Target }, outcome: Outcome | undefined, error: Error | undefined): void;
}

function keyOf(dir: Buffer, name: Buffer): string {
  return `${dir.toString("latin1")}\0${name.toString("latin1")}`;
}

export class Compressor {
  private readonly queue: Job[] = [];
  private readonly running = new Map<string, Job>();
  private readonly failedAt = new Map<string, number>();
  /** Recently compressed files → the inode of the .gz made from them (see compressedTo). */
  private readonly done = new Map<string, number>();
  private stopped = false;
  /** Jobs started so far, and the last few of them (see busyDuring). */
  private started = 0;
  private readonly recentStarts: { seq: number; dir: Buffer; name: Buffer }[] = [];

  constructor(private readonly o: CompressorOptions) {}

  /** Queues `action` (a COMPRESS of the plan); a file already queued, running or recently failed is ignored. */
  enqueue(target: Target, action: Action, expected: Expected, size: number): void {
    if (this.stopped) return;
    const key = keyOf(target.dir, action.name);
    if (this.running.has(key) || this.queue.some((j) => j.key === key)) return;
    this.queue.push({ key, target, action, expected, size });
    this.report();
    this.pump();
  }

  /**
   * Runs `look` (a listing of `dir`) and returns with it the file names a job of ours used at any moment of
   * it — its source, .tmp and .gz: flagged busy to the rules. Jobs running before, jobs that started during
   * it (even if they finished) and jobs running after all count, so no name the listing saw half-way
   * through a compression (X with X.tmp, X beside a fresh X.gz) is taken for a leftover.
   */
  async busyDuring<T>(dir: Buffer, look: () => Promise<T>): Promise<{ result: T; busy: Buffer[] }> {
    const names: Buffer[] = [];
    const add = (name: Buffer) => names.push(name, Buffer.concat([name, Buffer.from(TMP_SUFFIX)]), Buffer.concat([name, Buffer.from(GZ_SUFFIX)]));
    for (const job of this.running.values()) if (job.target.dir.equals(dir)) add(job.action.name);
    const since = this.started;
    const result = await look();
    for (const job of this.running.values()) if (job.target.dir.equals(dir)) add(job.action.name);
    for (const s of this.recentStarts) if (s.seq >= since && s.dir.equals(dir)) add(s.name);
    return { result, busy: names };
  }

  /**
   * Gives up compressing `name` in `dir` (it is about to be removed as excess): a queued job is dropped, a
   * running one cancelled and waited for (its temp file removed). True when there was one.
   */
  async cancel(dir: Buffer, name: Buffer): Promise<boolean> {
    const key = keyOf(dir, name);
    const at = this.queue.findIndex((j) => j.key === key);
    if (at >= 0) {
      this.queue.splice(at, 1);
      this.o.observer.compressionDropped(1);
      this.report();
      return true;
    }
    const job = this.running.get(key);
    if (!job) return false;
    job.abort?.abort();
    await job.done;
    this.o.observer.compressionDropped(1);
    return true;
  }

  /** Gives up every compression of files in `dir` (clean): queued ones dropped, running ones cancelled and waited for. */
  async cancelDir(dir: Buffer): Promise<void> {
    const names = [...this.queue, ...this.running.values()].filter((j) => j.target.dir.equals(dir)).map((j) => j.action.name);
    for (const name of names) await this.cancel(dir, name);
  }

  /**
   * The inode of the .gz this compressor made from `name` in `dir` lately, if any: a plan made before that
   * compression finished names X; its data is X.gz now.
   */
  compressedTo(dir: Buffer, name: Buffer): number | undefined {
    return this.done.get(keyOf(dir, name));
  }

  get backlog(): { files: number; bytes: number } {
    let bytes = 0;
    for (const j of this.queue) bytes += j.size;
    for (const j of this.running.values()) bytes += j.size;
    return { files: this.queue.length + this.running.size, bytes };
  }

  /**
   * Stops taking jobs and drops the queued ones (the next start plans them again); the running ones finish
   * (a compression is at most containerLogMaxSize of gzip: seconds), unless `cancel` says to give them up.
   */
  async stop(cancel = false): Promise<void> {
    this.stopped = true;
    this.queue.length = 0;
    if (cancel) for (const job of this.running.values()) job.abort?.abort();
    await Promise.all([...this.running.values()].map((j) => j.done));
    this.report();
  }

  /** Resolves when nothing is queued or running (tests, `once`). */
  async idle(): Promise<void> {
    while (this.running.size > 0 || this.queue.length > 0) {
      await Promise.race([...this.running.values()].map((j) => j.done));
    }
  }

  private pump(): void {
    while (!this.stopped && this.running.size < Math.max(1, this.o.workers) && this.queue.length > 0) {
      const job = this.queue.shift()!;
      const level = this.queue.length > 0 ? BACKLOG_LEVEL : this.o.level;
      job.abort = new AbortController();
      this.running.set(job.key, job);
      this.recentStarts.push({ seq: this.started++, dir: job.target.dir, name: job.action.name });
      if (this.recentStarts.length > RECENT_STARTS) this.recentStarts.shift();
      job.done = this.run(job, level).finally(() => {
        this.running.delete(job.key);
        this.report();
        this.pump();
      });
    }
  }

  private async run(job: Job, level: number): Promise<void> {
    let outcome: Outcome | undefined;
    let error: Error | undefined;
    try {
      outcome = await this.o.executor.compress(job.target, job.action, level, job.expected, job.abort!.signal);
      this.failedAt.delete(job.key);
      if (outcome.kind === "compress") {
        this.done.set(job.key, outcome.gzInode);
        if (this.done.size > 4096) this.done.delete(this.done.keys().next().value as string);
      }
    } catch (err) {
      error = err as Error;
      // Never blocks a rotation: the file stays plain (tried again when next planned) and goes as excess in
      // its turn. Counted every time, warned about once (again after a while if it lasts).
      this.o.observer.error("compress" satisfies ErrorKind);
      const warned = this.failedAt.get(job.key);
      if (warned === undefined || this.o.now() - warned >= WARN_AGAIN_AFTER_MS) {
        this.failedAt.set(job.key, this.o.now());
        this.o.logger.warn("failed to compress a rotated log; it stays uncompressed (rotation goes on)", {
          containerId: job.target.id,
          path: joinPath(job.target.dir, job.action.name),
          err: error,
        });
      }
      if (this.failedAt.size > 4096) this.failedAt.delete(this.failedAt.keys().next().value as string);
    }
    this.o.onOutcome(job, outcome, error);
  }

  private report(): void {
    const b = this.backlog;
    this.o.observer.compressionBacklog(b.files, b.bytes);
  }
}
