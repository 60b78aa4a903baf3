// Carries out one container's plan, in the rules' order: removals, the rotation (checked again against the
// live log as it is now), then compressions handed to the background pool. A VERIFY makes the worker read
// the digests asked for and plan again from a fresh look. A REPORT is logged once. A failed removal does
// not keep the rotation from happening (size safety first); a failed rotation ends this container's plan.
// The other containers go on either way, and the next look tries again.
import type { Clock } from "../clock.js";
import { ExecError, PathError } from "../errors.js";
import type { Executor, Outcome, Target } from "../executor.js";
import { joinPath, type Fs } from "../fs.js";
import type { Logger } from "../log.js";
import { checkNoSymlinks, showPath } from "../paths.js";
import type { Action, ContainerSnapshot, Plugin, Policy } from "../plugin/types.js";
import type { Compressor } from "./compressor.js";
import type { DigestCache } from "./digests.js";
import type { Container } from "./discovery.js";
import type { GrowthTracker } from "./growth.js";
import type { ErrorKind, ManagerObserver } from "./observer.js";
import type { ProgressAttacher } from "./progress.js";
import type { Snapshots } from "./snapshot.js";

/** Fresh looks after a VERIFY before the worker acts on what it has (the twin stays unverified till next time). */
const MAX_REPLANS = 2;
/** REPORT keys remembered, so each odd entry is logged once. */
const MAX_REPORTED = 16384;

export interface PassReport {
  watched: number;
  planned: PlannedContainer[];
  failures: { id: string; error: Error }[];
  outcomes: Outcome[];
}

export interface PlannedContainer {
  id: string;
  name: string;
  location: Container["location"];
  actions: Action[];
  /** The snapshot the plan was made from (the inodes each step expects). */
  snapshot?: ContainerSnapshot;
  /** Why this container could not be planned (its part of the request was refused by the rules). */
  error?: Error;
  /** How many times the container had been acted on when it was looked at (a later act makes it stale). */
  version?: number;
}

export interface WorkerOptions {
  fs: Fs;
  plugin: Plugin;
  policy: Policy;
  clock: Clock;
  logRoot: string;
  logger: Logger;
  observer: ManagerObserver;
  executor: Executor;
  compressor: Compressor;
  digests: DigestCache;
  snapshots: Snapshots;
  growth: GrowthTracker;
  compressionLevel: number;
  progress?: ProgressAttacher;
}

export class Worker {
  private readonly reported = new Set<string>();

  constructor(private readonly o: WorkerOptions) {}

  async run(p: PlannedContainer, c: Container, report: PassReport): Promise<void> {
    const log = this.o.logger.child({ containerId: p.id, path: c.location.logPath });
    const target: Target = { id: p.id, dir: c.location.dir, logName: c.location.logName };
    let actions = p.actions;
    let snapshot = p.snapshot;
    const fail = (err: unknown) => {
      const error = err as Error;
      report.failures.push({ id: p.id, error });
      this.o.observer.error(errorKind(error));
      log.error("failed to rotate log for container", { err: error });
    };
    try {
      // The directory was checked when the container was discovered; check again right before acting.
      await checkNoSymlinks(this.o.fs, c.location.dir, this.o.logRoot);
    } catch (err) {
      return fail(err);
    }
    const removed: Buffer[] = [];
    // A VERIFY means the rules could not yet count X beside X.gz (one file or two?): until they can, the
    // plan holds back its excess removals. Act on none of it: read what they asked, then plan again, so
    // that the rotation never lands beside files that should have gone first (more than MaxFiles on disk).
    for (let round = 0; round < MAX_REPLANS && snapshot && actions.some((a) => a.kind === "verify"); round++) {
      try {
        for (const a of actions) if (a.kind === "verify") await this.o.digests.gather(c.location.dir, a.name, snapshot.entries);
        snapshot = await this.o.snapshots.full(c);
      } catch (err) {
        return fail(err);
      }
      const [plan] = this.o.plugin.planRotation([snapshot], Math.floor(this.o.clock.now() / 1000), this.o.policy);
      if (!plan || plan.outcome !== "planned") return;
      actions = plan.actions;
    }
    for (const a of actions) {
      try {
        if (a.kind === "verify") continue; // still unverified after MAX_REPLANS looks: the rest goes on (size safety first)
        if (a.kind === "report") {
          // A live log that is not a regular file (a FIFO, a directory) cannot be rotated: the container is
          // refused, a failure of the pass that first reports it (once exits 1), as a refused log path is.
          if (this.reportOnce(target, a, log) && a.reason === "live-not-regular") {
            report.failures.push({ id: p.id, error: new PathError("PATH_UNSAFE", `${showPath(c.location.logPath)}: ${a.detail}`) });
          }
          continue;
        }
        const o = await this.step(target, a, snapshot, removed, log);
        if (o?.kind === "remove") removed.push(a.name);
        if (o) this.emit(o, c, report, log);
      } catch (err) {
        fail(err);
        // A removal that failed leaves a file more on disk; the rotation still goes (size safety first).
        if (a.kind !== "remove") return;
      }
    }
  }

  /** One action; undefined when there is nothing to report (queued, held, reported). */
  private async step(t: Target, a: Action, snapshot: ContainerSnapshot | undefined, removed: Buffer[], log: Logger): Promise<Outcome | undefined> {
    const { executor, compressor } = this.o;
    const planned = snapshot?.entries.find((e) => e.name.equals(a.name));
    switch (a.kind) {
      case "rotate": {
        // Decide again from the live log as it is now: another rotator may have renamed it since the look.
        const live = await this.o.fs.lstat(joinPath(t.dir, t.logName));
        const now = this.o.clock.now();
        const due = live?.kind === "file" && this.o.plugin.checkGrowth([{ size: live.size, atMs: now, prevSize: -1, prevAtMs: -1 }], this.o.policy.maxSize, -1)[0]!.rotateNow;
        if (!due) return { kind: "skip", action: a, path: joinPath(t.dir, t.logName), why: "the live log is no longer due (rotated meanwhile?)" };
        return executor.rotate(t, a, removed);
      }
      case "remove": {
        // A compression of this file in flight is given up first (the backlog policy: excess goes as it is).
        await compressor.cancel(t.dir, a.name);
        const o = await executor.remove(t, a, { inode: planned?.inode, size: planned?.size });
        // Compressed by us since the look: its data is X.gz now, and that is what goes.
        const gzInode = o.kind === "skip" ? compressor.compressedTo(t.dir, a.name) : undefined;
        if (gzInode === undefined) return o;
        return executor.remove(t, { ...a, name: Buffer.concat([a.name, Buffer.from(".gz")]) }, { inode: gzInode });
      }
      case "compress":
        compressor.enqueue(t, a, { inode: planned?.inode, size: planned?.size }, planned?.size ?? 0);
        return undefined;
      case "recover":
        return executor.recover(t, a);
      case "report": // logged by run()
      case "hold":
      case "verify":
        return undefined;
    }
  }

  /** Logs a REPORT the first time it is seen; true then. */
  private reportOnce(t: Target, a: Action, log: Logger): boolean {
    const key = `${t.id}\0${a.reason}\0${a.name.toString("latin1")}`;
    if (this.reported.has(key)) return false;
    if (this.reported.size >= MAX_REPORTED) this.reported.clear();
    this.reported.add(key);
    this.o.observer.error("path");
    if (a.reason === "live-not-regular") log.warn("refusing container log path", { reason: a.detail });
    else log.warn("stepping around a file", { file: a.name, reason: a.reason, detail: a.detail });
    return true;
  }

  emit(o: Outcome, c: Container, report: PassReport, log: Logger): void {
    report.outcomes.push(o);
    this.o.observer.outcome(o);
    logOutcome(log, o);
    // A reopen answered: the runtime is up (growth rotations happen between passes' ListContainers).
    if (o.kind === "rotate" || o.kind === "recover") this.o.observer.runtimeUp(true);
    if (o.kind === "rotate") {
      this.o.progress?.rotated(c.id, c.location, o, o.atMs);
      this.o.growth.rotated(c.id, o.atMs);
    }
  }
}

export function logOutcome(log: Logger, o: Outcome): void {
  const fields: Record<string, unknown> = { file: o.path, reason: o.action.reason, detail: o.action.detail };
  if (o.kind === "rotate") log.info("rotated container log", { ...fields, rotatedTo: o.rotatedPath, size: o.size });
  else if (o.kind === "compress") log.info("compressed rotated log", { ...fields, bytesIn: o.bytesIn, bytesOut: o.bytesOut });
  else if (o.kind === "remove") log.info("removed log file", { ...fields, size: o.size });
  else if (o.kind === "recover") log.info("recovered missing container log", fields);
  else if (o.kind === "skip") log.debug("skipped a step: the directory changed since the look", { ...fields, why: o.why });
  if ((o.kind === "remove" || o.kind === "compress") && o.action.unreadBytes > 0) {
    log.warn("gave up unread log bytes to a limit", { ...fields, unreadBytes: o.action.unreadBytes });
  }
}

export function errorKind(err: Error): ErrorKind {
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
