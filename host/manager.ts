// The kubelet's container log manager, with every decision made by the rules module: each monitor
// interval, list the RUNNING containers, learn each new container's log path once (ContainerStatus only
// for ids not seen before), look at the files, plan the whole batch in one call into WebAssembly, and run
// the plans with `workers` parallel workers, never two on one container. One container's failure is
// logged and the rest go on; it is retried on the next pass.
import type { Clock } from "./clock.js";
import type { Cri, ContainerSummary } from "./cri/types.js";
import { ExecError, PathError } from "./errors.js";
import { Executor, type Outcome, type Target } from "./executor.js";
import { joinPath, type DirEntry, type Fs } from "./fs.js";
import type { Logger } from "./log.js";
import { checkLogPath, checkNoSymlinks, showPath, type LogLocation } from "./paths.js";
import type { ContainerPlan, ContainerSnapshot, FileEntry, Plugin, Policy } from "./plugin/types.js";

/** What the manager reports as it works; the daemon turns these into Prometheus metrics. */
export interface ManagerObserver {
  passFinished(seconds: number, watched: number): void;
  outcome(o: Outcome): void;
  held(files: number, unreadBytes: number): void;
  error(kind: ErrorKind): void;
  runtimeUp(up: boolean): void;
}

export type ErrorKind = "list" | "status" | "stat" | "path" | "plan" | "rotate" | "reopen" | "compress" | "remove" | "progress";

export const nullObserver: ManagerObserver = { passFinished() {}, outcome() {}, held() {}, error() {}, runtimeUp() {} };

/** Attaches the shipper's read offsets to a container's files before planning (shipper-aware mode). */
export interface ProgressAttacher {
  /** Called once per pass before planning; may read a progress file or DB. */
  refresh(): Promise<void>;
  attach(containerId: string, location: LogLocation, entries: DirEntry[]): Promise<FileEntry[]>;
  /** Told about every rotation the executor did, so progress under the old name can be matched. */
  rotated(containerId: string, location: LogLocation, outcome: Extract<Outcome, { kind: "rotate" }>, atMs: number): void;
}

export interface ManagerOptions {
  cri: Cri;
  plugin: Plugin;
  fs: Fs;
  clock: Clock;
  logger: Logger;
  policy: Policy;
  logRoot: string;
  workers: number;
  intervalMs: number;
  compressionLevel: number;
  observer?: ManagerObserver;
  progress?: ProgressAttacher;
  /**
   * Between passes, re-check live logs predicted (from their growth rate) to reach maxSize before the
   * next pass, and rotate them as soon as they do. Off: the kubelet's timing, one look per interval.
   */
  growthChecks?: boolean;
}

/** The shortest wait between two growth checks: bounds the cost of a log that grows very fast. */
export const MIN_GROWTH_CHECK_MS = 250;

interface Located {
  id: string;
  name: string;
  location: LogLocation;
}

interface Known {
  name?: string;
  location?: LogLocation;
  refused?: string; // a path we will not touch; logged once
  liveNotFile?: boolean; // the live log is a symlink/directory/device: the rules leave it alone; logged once
}

export interface PlannedContainer {
  id: string;
  name: string;
  location: LogLocation;
  actions: ContainerPlan["actions"];
}

export interface PassReport {
  watched: number;
  planned: PlannedContainer[];
  failures: { id: string; error: Error }[];
  outcomes: Outcome[];
}

export class LogManager {
  private readonly known = new Map<string, Known>();
  private readonly busy = new Map<string, Promise<void>>();
  private readonly executor: Executor;
  private readonly observer: ManagerObserver;
  private loop: Promise<void> | undefined;
  private abort: AbortController | undefined;
  private inFlight: Promise<unknown> | undefined;
  /** Last live-log size seen per container, and the growth rate derived from the previous sample. */
  private readonly growth = new Map<string, { size: number; atMs: number; bytesPerMs: number; baseSize: number; baseAtMs: number; measured: boolean }>();

  constructor(private readonly o: ManagerOptions) {
    this.executor = new Executor({ fs: o.fs, cri: o.cri, compressionLevel: o.compressionLevel });
    this.observer = o.observer ?? nullObserver;
  }

  /** Ids whose log path is cached (for tests and the containers-watched gauge). */
  get watched(): number {
    return this.known.size;
  }

  start(): void {
    if (this.loop) return;
    this.abort = new AbortController();
    const signal = this.abort.signal;
    this.o.logger.info("starting container log rotation", { workers: this.o.workers, intervalMs: this.o.intervalMs, policy: this.o.policy });
    this.loop = (async () => {
      while (!signal.aborted) {
        const nextPassAt = this.o.clock.now() + this.o.intervalMs;
        await this.guard(this.runOnce());
        // The kubelet looks once per interval, so a log written at 50 MB/s overshoots a 10Mi limit many
        // times over. In between, look again only at the logs predicted to reach the limit before the next
        // pass, and rotate those the moment they do.
        for (let due = this.nextGrowthCheck(nextPassAt); due && !signal.aborted; due = this.nextGrowthCheck(nextPassAt)) {
          await this.o.clock.sleep(Math.max(MIN_GROWTH_CHECK_MS, due.atMs - this.o.clock.now()), signal);
          if (!signal.aborted) await this.guard(this.checkGrowth(due.ids));
        }
        const wait = nextPassAt - this.o.clock.now();
        if (!signal.aborted && wait > 0) await this.o.clock.sleep(wait, signal);
      }
    })();
  }

  private async guard(work: Promise<unknown>): Promise<void> {
    this.inFlight = work.catch((err) => this.o.logger.error("rotation pass failed", { err }));
    await this.inFlight;
    this.inFlight = undefined;
  }

  /**
   * Records a live log's size. The rate is measured against a base sample at least MIN_GROWTH_CHECK_MS
   * old: two looks a millisecond apart (a check, then the plan's own stat) would otherwise read as "not
   * growing" and switch the checks off.
   */
  private sampleGrowth(id: string, size: number): void {
    const now = this.o.clock.now();
    const g = this.growth.get(id);
    if (!g) {
      this.growth.set(id, { size, atMs: now, bytesPerMs: 0, baseSize: size, baseAtMs: now, measured: false });
      return;
    }
    g.size = size;
    g.atMs = now;
    if (size < g.baseSize) {
      // A new file (rotated by someone else, or recreated): it grew from 0 since the base.
      g.baseSize = 0;
    }
    if (now - g.baseAtMs >= MIN_GROWTH_CHECK_MS) {
      g.bytesPerMs = (size - g.baseSize) / (now - g.baseAtMs);
      g.measured = true;
      g.baseSize = size;
      g.baseAtMs = now;
    }
  }

  /** After a rotation the live log starts again from 0; the rate carries over. */
  private restartGrowth(id: string): void {
    const g = this.growth.get(id);
    if (!g) return;
    const now = this.o.clock.now();
    Object.assign(g, { size: 0, atMs: now, baseSize: 0, baseAtMs: now });
  }

  /** The earliest moment before `nextPassAt` a live log is predicted to reach maxSize, and which ones. */
  nextGrowthCheck(nextPassAt: number): { atMs: number; ids: string[] } | null {
    const maxSize = this.o.policy.maxSize;
    if (!this.o.growthChecks || maxSize < 0) return null;
    const earliest = this.o.clock.now() + MIN_GROWTH_CHECK_MS;
    const predicted: { id: string; at: number }[] = [];
    for (const [id, g] of this.growth) {
      if (!this.known.get(id)?.location) continue;
      let at: number;
      if (!g.measured) at = g.baseAtMs + MIN_GROWTH_CHECK_MS; // a new container: one early look learns its rate
      else if (g.bytesPerMs <= 0) continue;
      else at = g.size >= maxSize ? earliest : g.atMs + (maxSize - g.size) / g.bytesPerMs;
      // Compare the time the check would really run (never before `earliest`): a prediction left in the past
      // (its live log deleted or replaced, so no new sample moves it) would otherwise be due forever, and the
      // loop in start() would check it every MIN_GROWTH_CHECK_MS and never get to the next pass.
      const when = Math.max(at, earliest);
      if (when < nextPassAt - MIN_GROWTH_CHECK_MS) predicted.push({ id, at: when });
    }
    if (predicted.length === 0) return null;
    const atMs = Math.min(...predicted.map((p) => p.at));
    return { atMs, ids: predicted.filter((p) => p.at <= atMs + MIN_GROWTH_CHECK_MS).map((p) => p.id) };
  }

  /** lstat the given live logs; rotate those that reached maxSize now, without waiting for the pass. */
  async checkGrowth(ids: string[]): Promise<PassReport> {
    const report: PassReport = { watched: this.known.size, planned: [], failures: [], outcomes: [] };
    const due: Located[] = [];
    for (const id of ids) {
      const k = this.known.get(id);
      if (!k?.location) continue;
      const live = await this.o.fs.lstat(joinPath(k.location.dir, k.location.logName)).catch(() => null);
      if (live === null || live.kind !== "file") continue;
      this.sampleGrowth(id, live.size);
      if (live.size >= this.o.policy.maxSize) due.push({ id, name: k.name ?? "", location: k.location });
    }
    if (due.length === 0) return report;
    const planned = await this.planLocated(due);
    if (planned !== null) await this.executePlans(planned, report);
    return report;
  }

  /** Stops the ticker and waits for the pass in flight (a rotation is never cut in half). */
  async stop(): Promise<void> {
    this.abort?.abort();
    await this.loop;
    this.loop = undefined;
  }

  /** One pass: discover, look, plan, act. */
  async runOnce(): Promise<PassReport> {
    const started = this.o.clock.now();
    const report: PassReport = { watched: 0, planned: [], failures: [], outcomes: [] };
    const planned = await this.planPass(report);
    if (planned === null) return report;
    await this.executePlans(planned, report);
    this.observer.passFinished((this.o.clock.now() - started) / 1000, report.watched);
    return report;
  }

  private async executePlans(planned: PlannedContainer[], report: PassReport): Promise<void> {
    report.planned = planned;
    let heldFiles = 0;
    let heldBytes = 0;
    for (const p of planned) {
      for (const a of p.actions) {
        if (a.kind === "hold") {
          heldFiles++;
          heldBytes += a.unreadBytes;
        }
      }
    }
    this.observer.held(heldFiles, heldBytes);

    const work = planned.filter((p) => p.actions.some((a) => a.kind !== "hold"));
    await runPool(work, this.o.workers, (p) => this.exclusive(p.id, () => this.execute(p, report)));
  }

  /** The dry run: what a pass would do and why. Calls the runtime, touches no file. */
  async plan(): Promise<PlannedContainer[]> {
    const report: PassReport = { watched: 0, planned: [], failures: [], outcomes: [] };
    return (await this.planPass(report)) ?? [];
  }

  private async planPass(report: PassReport): Promise<PlannedContainer[] | null> {
    const { cri, logger } = this.o;
    let containers: ContainerSummary[];
    try {
      containers = await cri.listContainers();
      this.observer.runtimeUp(true);
    } catch (err) {
      this.observer.runtimeUp(false);
      this.observer.error("list");
      logger.error("failed to list containers", { err });
      return null;
    }
    // Only running containers produce output (the kubelet filters client-side the same way).
    const running = containers.filter((c) => c.state === "CONTAINER_RUNNING");
    const runningIds = new Set(running.map((c) => c.id));
    for (const id of [...this.known.keys()]) if (!runningIds.has(id)) this.known.delete(id);

    const fresh = running.filter((c) => !this.known.has(c.id));
    await runPool(fresh, Math.max(this.o.workers, 4), (c) => this.discover(c));
    report.watched = this.known.size;

    for (const c of running) {
      const k = this.known.get(c.id);
      if (k) k.name = c.name;
    }
    for (const id of [...this.growth.keys()]) if (!this.known.get(id)?.location) this.growth.delete(id);
    const located: Located[] = [];
    for (const c of running) {
      const k = this.known.get(c.id);
      if (k?.location) located.push({ id: c.id, name: c.name, location: k.location });
    }
    return this.planLocated(located);
  }

  /** Looks at the given containers' files and plans them in one batch. */
  private async planLocated(located: Located[]): Promise<PlannedContainer[] | null> {
    const { logger } = this.o;
    if (this.o.progress) {
      try {
        await this.o.progress.refresh();
      } catch (err) {
        this.observer.error("progress");
        logger.warn("failed to read the shipper's progress; holding files as unread", { err });
      }
    }
    const snapshots: ContainerSnapshot[] = [];
    const order: Located[] = [];
    const listed = new Map<string, DirEntry[]>(); // one listing per directory per pass
    for (const item of located) {
      try {
        const entries = await this.look(item.id, item.location, listed);
        this.warnIfLiveNotFile(item.id, item.location, entries);
        snapshots.push({ id: item.id, logName: item.location.logName, entries });
        order.push(item);
      } catch (err) {
        this.observer.error("stat");
        logger.error("failed to stat container log", { containerId: item.id, path: item.location.logPath, err });
      }
    }
    let plans: ContainerPlan[];
    try {
      plans = this.o.plugin.planRotation(snapshots, Math.floor(this.o.clock.now() / 1000), this.o.policy);
    } catch (err) {
      this.observer.error("plan");
      logger.error("failed to plan rotation", { err, containers: snapshots.length });
      return null;
    }
    return plans.map((p, i) => ({ id: p.id, name: order[i]!.name, location: order[i]!.location, actions: p.actions }));
  }

  /**
   * A live log that is not a regular file (say, a symlink to a file outside the root) was put there by someone
   * else; the rules plan nothing for it. Say so once per container, or the refusal would be silent.
   */
  private warnIfLiveNotFile(id: string, location: LogLocation, entries: FileEntry[]): void {
    const known = this.known.get(id);
    const live = entries.find((e) => e.name.equals(location.logName));
    if (!known || known.liveNotFile || !live || live.kind === "file") return;
    known.liveNotFile = true;
    this.observer.error("path");
    this.o.logger.warn("refusing container log path", {
      containerId: id,
      path: location.logPath,
      reason: `the live log is a ${live.kind}, not a regular file`,
    });
  }

  /** ContainerStatus once per container: its log path never changes while it exists. */
  private async discover(c: ContainerSummary): Promise<void> {
    const { cri, logger, fs, logRoot } = this.o;
    let logPath: string;
    try {
      logPath = (await cri.containerStatus(c.id)).logPath;
    } catch (err) {
      this.observer.error("status");
      logger.error("failed to get container status", { containerId: c.id, err });
      return; // not cached: asked again next pass
    }
    try {
      const location = checkLogPath(logPath, logRoot);
      await checkNoSymlinks(fs, location.dir, logRoot);
      this.known.set(c.id, { location });
    } catch (err) {
      if (!(err instanceof PathError)) {
        // An I/O error (EACCES, EIO) is about this container only; rethrowing would fail the whole pass.
        // Not cached: checked again next pass.
        this.observer.error("stat");
        logger.error("failed to check container log path", { containerId: c.id, path: logPath, err });
        return;
      }
      if (err.transient) {
        // The runtime may report a container before its log directory exists; look again next pass.
        logger.debug("container log directory not there yet", { containerId: c.id, path: logPath, reason: err.message });
        return;
      }
      this.observer.error("path");
      logger.warn("refusing container log path", { containerId: c.id, path: logPath, reason: err.message });
      this.known.set(c.id, { refused: err.message });
    }
  }

  /**
   * The files the rules need to see. Reading a whole directory costs a stat per file, so in the kubelet's
   * mode a container whose live log is a regular file below the limit is described by that one file: the
   * rules plan nothing for it either way. Shipper-aware mode always lists (held files may be released).
   */
  private async look(id: string, location: LogLocation, listed: Map<string, DirEntry[]>): Promise<FileEntry[]> {
    const { fs, policy } = this.o;
    let entries = listed.get(location.dir);
    if (!entries) {
      const live = await fs.lstat(joinPath(location.dir, location.logName));
      if (live?.kind === "file") this.sampleGrowth(id, live.size);
      const quiet = !policy.shipperAware && live !== null && live.kind === "file" && (policy.maxSize < 0 || live.size < policy.maxSize);
      if (quiet) return [toFileEntry({ name: location.logName, ...live })];
      entries = await fs.listDir(location.dir);
      listed.set(location.dir, entries);
    } else {
      const live = entries.find((e) => e.kind === "file" && e.name.equals(location.logName));
      if (live) this.sampleGrowth(id, live.size);
    }
    if (this.o.progress) return this.o.progress.attach(id, location, entries);
    return entries.map(toFileEntry);
  }

  private async execute(p: PlannedContainer, report: PassReport): Promise<void> {
    const { logger, fs, logRoot } = this.o;
    const log = logger.child({ containerId: p.id, path: p.location.logPath });
    const target: Target = { id: p.id, dir: p.location.dir, logName: p.location.logName };
    try {
      // The directory was checked when the container was discovered; check again right before acting.
      await checkNoSymlinks(fs, p.location.dir, logRoot);
      await this.executor.run(target, p.actions, (o) => {
        report.outcomes.push(o);
        this.observer.outcome(o);
        this.logOutcome(log, o);
        if (o.kind === "rotate") {
          this.o.progress?.rotated(p.id, p.location, o, this.o.clock.now());
          this.restartGrowth(p.id);
        }
      });
    } catch (err) {
      const error = err as Error;
      report.failures.push({ id: p.id, error });
      this.observer.error(errorKind(error));
      log.error("failed to rotate log for container", { err: error });
    }
  }

  private logOutcome(log: Logger, o: Outcome): void {
    const fields: Record<string, unknown> = { file: showPath(o.path), reason: o.action.reason, detail: o.action.detail };
    if (o.kind === "rotate") log.info("rotated container log", { ...fields, rotatedTo: showPath(o.rotatedPath), size: o.size });
    else if (o.kind === "compress") log.info("compressed rotated log", { ...fields, bytesIn: o.bytesIn, bytesOut: o.bytesOut });
    else if (o.kind === "remove") log.info("removed log file", { ...fields, size: o.size });
    else if (o.kind === "recover") log.info("recovered missing container log", fields);
    if ((o.kind === "remove" || o.kind === "compress") && o.action.unreadBytes > 0) {
      log.warn("gave up unread log bytes to a limit", { ...fields, unreadBytes: o.action.unreadBytes });
    }
  }

  /** Runs `fn` when no other work holds the container (passes and clean never overlap on one container). */
  private async exclusive<T>(id: string, fn: () => Promise<T>): Promise<T> {
    for (;;) {
      const prior = this.busy.get(id);
      if (!prior) break;
      await prior;
    }
    let release!: () => void;
    this.busy.set(id, new Promise<void>((r) => (release = r)));
    try {
      return await fn();
    } finally {
      this.busy.delete(id);
      release();
    }
  }

  private async locate(containerId: string): Promise<LogLocation> {
    const status = await this.o.cri.containerStatus(containerId);
    const location = checkLogPath(status.logPath, this.o.logRoot);
    await checkNoSymlinks(this.o.fs, location.dir, this.o.logRoot);
    return location;
  }

  /**
   * Removes every log of a container — live, rotated, `.gz`, `.tmp` (the kubelet's `<log>*`) — in any
   * state. Refuses an empty or out-of-root path; only regular files are removed. Returns what was removed.
   */
  async clean(containerId: string): Promise<{ removed: Buffer[]; skipped: Buffer[] }> {
    return this.exclusive(containerId, async () => {
      const location = await this.locate(containerId);
      const removed: Buffer[] = [];
      const skipped: Buffer[] = [];
      for (const e of await this.o.fs.listDir(location.dir)) {
        if (!startsWith(e.name, location.logName)) continue;
        const path = joinPath(location.dir, e.name);
        if (e.kind !== "file") {
          skipped.push(path);
          continue;
        }
        await this.o.fs.remove(path, true);
        removed.push(path);
      }
      this.o.logger.info("cleaned container logs", { containerId, path: location.logPath, removed: removed.length, skipped: skipped.map(showPath) });
      return { removed, skipped };
    });
  }

  /** The kubelet's GetAllLogs: in-use rotated files oldest first, the live log last. */
  async getAllLogs(containerId: string): Promise<Buffer[]> {
    const location = await this.locate(containerId);
    const entries = await this.o.fs.listDir(location.dir);
    return this.o.plugin.listLogs(location.logName, entries.map((e) => ({ name: e.name, kind: e.kind }))).map((n) => joinPath(location.dir, n));
  }
}

function toFileEntry(e: { name: Buffer; kind: FileEntry["kind"]; size: number; mtimeMs: number }): FileEntry {
  return { name: e.name, kind: e.kind, size: e.size, mtime: Math.floor(e.mtimeMs / 1000) };
}

function startsWith(name: Buffer, prefix: Buffer): boolean {
  return name.length >= prefix.length && name.subarray(0, prefix.length).equals(prefix);
}

function errorKind(err: Error): ErrorKind {
  if (err instanceof PathError) return "path";
  if (err instanceof ExecError) {
    switch (err.code) {
      case "EXEC_REFUSED":
        return "path";
      case "EXEC_REMOVE_FAILED":
        return "remove";
      case "EXEC_COMPRESS_FAILED":
        return "compress";
      case "EXEC_ROTATE_FAILED":
        return "rotate";
      case "EXEC_REOPEN_FAILED":
      case "EXEC_RECOVER_FAILED":
        return "reopen";
    }
  }
  return "rotate";
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function runPool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const item = items[next++]!;
      await fn(item);
    }
  });
  await Promise.all(workers);
}
