// The kubelet's container log manager, with every decision made by the rules module. Each monitor
// interval (a pass): list the containers, learn each new container's log path once, show the rules every
// running container's live log, list the directories they ask for, plan the whole node in one batch, and
// carry the plans out with `workers` workers, never two on one container. Between passes, the log tree is
// watched: a new pod's log is seen at once, and a growing live log is sampled as it grows and rotated the
// moment the rules say so — without waiting for compression, which runs in the background.
import type { Clock } from "../clock.js";
import type { Cri } from "../cri/types.js";
import { CriError } from "../errors.js";
import { Executor, toFileEntries, type Outcome } from "../executor.js";
import { joinPath, type Fs } from "../fs.js";
import type { Logger } from "../log.js";
import { checkNoSymlinks, type LogLocation } from "../paths.js";
import type { ContainerSnapshot, FileEntry, Plugin, Policy } from "../plugin/types.js";
import { Compressor } from "./compressor.js";
import { DigestCache } from "./digests.js";
import { Discovery, type Container } from "./discovery.js";
import { GrowthTracker } from "./growth.js";
import { nullObserver, type ManagerObserver } from "./observer.js";
import { KeyedLock, runPool } from "./pool.js";
import type { ProgressAttacher } from "./progress.js";
import { Snapshots } from "./snapshot.js";
import { TreeWatcher } from "./watcher.js";
import { Worker, type PassReport, type PlannedContainer } from "./worker.js";

export type { ManagerObserver, ErrorKind } from "./observer.js";
export { nullObserver, ERROR_KINDS } from "./observer.js";
export type { PassReport, PlannedContainer } from "./worker.js";
export type { ProgressAttacher } from "./progress.js";
export { runPool } from "./pool.js";

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
   * Watch the log tree and rotate a live log the moment the rules say it is due. Off: the kubelet's
   * timing, one look per interval.
   */
  growthChecks?: boolean;
}

/** A directory event is followed by an lstat at most this often per container (a cold log's writes). */
const EVENT_SAMPLE_GAP_MS = 20;
/** The longest the rules may ask the host to wait between two looks at a growing log. */
const MAX_GROWTH_WAIT_MS = 1000;
/** Containers in directories that cannot be watched are sampled this often. */
const POLL_MS = 250;
/** A change in the tree is acted on after this pause, so one new pod costs one ListContainers. */
const TREE_SETTLE_MS = 50;
/** Looks at the runtime again (every TREE_SETTLE_MS) while it lists containers not running yet. */
const STARTING_RETRIES = 40;
/** Node's timers hold at most 2^31-1 ms; longer intervals are slept in pieces. */
const MAX_SLEEP_MS = 2 ** 31 - 1;

export class LogManager {
  private readonly discovery: Discovery;
  private readonly executor: Executor;
  private readonly compressor: Compressor;
  private readonly digests: DigestCache;
  private readonly snapshots: Snapshots;
  private readonly growth: GrowthTracker;
  private readonly worker: Worker;
  private readonly observer: ManagerObserver;
  private readonly lock = new KeyedLock();
  /** Running containers by id, as of the last look at the runtime. */
  private containers = new Map<string, Container>();
  private watcher: TreeWatcher | undefined;
  private abort: AbortController | undefined;
  private loops: Promise<void>[] = [];
  private wake: (() => void) | undefined;
  private treeDirty = false;

  constructor(private readonly o: ManagerOptions) {
    this.observer = o.observer ?? nullObserver;
    this.discovery = new Discovery({ cri: o.cri, fs: o.fs, logRoot: o.logRoot, logger: o.logger, observer: this.observer, now: () => o.clock.now() });
    this.executor = new Executor({ fs: o.fs, cri: o.cri, clock: o.clock, rotatedName: (logName, entries, now) => o.plugin.rotatedName(logName, entries, now) });
    this.compressor = new Compressor({
      executor: this.executor,
      workers: o.workers,
      level: o.compressionLevel,
      logger: o.logger,
      observer: this.observer,
      now: () => o.clock.now(),
      onOutcome: (job, outcome) => {
        const c = this.containers.get(job.target.id);
        if (!outcome || outcome.kind === "skip" || !c) return;
        const sink: PassReport = { watched: 0, planned: [], failures: [], outcomes: [] };
        this.worker.emit(outcome, c, sink, o.logger.child({ containerId: c.id, path: c.location.logPath }));
        for (const collect of this.compressionCollectors) collect.push(outcome);
      },
    });
    this.digests = new DigestCache(o.fs);
    this.snapshots = new Snapshots({ fs: o.fs, discovery: this.discovery, compressor: this.compressor, digests: this.digests, progress: o.progress });
    this.growth = new GrowthTracker({ plugin: o.plugin, maxSize: o.policy.maxSize, maxWaitMs: MAX_GROWTH_WAIT_MS });
    this.worker = new Worker({ ...o, observer: this.observer, executor: this.executor, compressor: this.compressor, digests: this.digests, snapshots: this.snapshots, growth: this.growth });
  }

  /** Passes waiting for their compressions collect the outcomes here. */
  private readonly compressionCollectors = new Set<Outcome[]>();

  /** Containers whose log path is known (the containers-watched gauge). */
  get watched(): number {
    return this.discovery.size;
  }

  start(): void {
    if (this.abort) return;
    this.abort = new AbortController();
    const signal = this.abort.signal;
    const { logger, workers, intervalMs, policy } = this.o;
    logger.info("starting container log rotation", { workers, intervalMs, policy, growthChecks: this.o.growthChecks ?? false });
    this.loops.push(this.passLoop(signal));
    if (this.o.growthChecks) this.loops.push(this.growthLoop(signal));
  }

  /** Stops the loops and waits for the work in flight: a rotation is never cut in half, a compression in flight finishes. */
  async stop(): Promise<void> {
    this.abort?.abort();
    this.wake?.();
    this.watcher?.close();
    await Promise.all(this.loops);
    this.loops = [];
    await this.compressor.stop();
    this.abort = undefined;
  }

  /** Waits until no compression is queued or running (tests, `once`). */
  async compressionsDone(): Promise<void> {
    await this.compressor.idle();
  }

  private async passLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      const nextPassAt = this.o.clock.now() + this.o.intervalMs;
      // The daemon does not wait for the pass's compressions: they run in the background. Stopping gives up
      // the CRI reads in flight (a hung runtime must not hold SIGTERM until its deadline); a rotation under
      // way still finishes.
      await this.guard(this.runOnce({ waitForCompression: false, signal }));
      for (let wait = nextPassAt - this.o.clock.now(); wait > 0 && !signal.aborted; wait = nextPassAt - this.o.clock.now()) {
        await this.o.clock.sleep(Math.min(wait, MAX_SLEEP_MS), signal);
      }
    }
  }

  private async guard(work: Promise<unknown>): Promise<void> {
    await work.catch((err) => this.o.logger.error("rotation pass failed", { err }));
  }

  /**
   * One pass: discover, look, plan, act. By default it returns once the compressions it queued are done
   * too (`once`, tests); the daemon's loop leaves them to the background.
   */
  async runOnce(options: { signal?: AbortSignal; waitForCompression?: boolean } = {}): Promise<PassReport> {
    const { signal, waitForCompression = true } = options;
    const compressed: Outcome[] = [];
    if (waitForCompression) this.compressionCollectors.add(compressed);
    try {
      return await this.pass(signal, waitForCompression, compressed);
    } finally {
      this.compressionCollectors.delete(compressed);
    }
  }

  private async pass(signal: AbortSignal | undefined, waitForCompression: boolean, compressed: Outcome[]): Promise<PassReport> {
    const started = this.o.clock.now();
    const report: PassReport = { watched: 0, planned: [], failures: [], outcomes: [] };
    const planned = await this.planPass(report, signal);
    if (planned === null) return report;
    report.planned = planned;
    for (const id of this.holds.keys()) if (!this.containers.has(id)) this.noteHolds(id, []);
    for (const p of planned) this.noteHolds(p.id, p.actions);
    this.observer.held(this.heldTotal.files, this.heldTotal.bytes);
    const work = planned.filter((p) => p.actions.some((a) => a.kind !== "hold"));
    await runPool(work, this.o.workers, (p) => {
      const c = this.containers.get(p.id);
      // Stopping: no container is started on; one under way finishes.
      if (!c || signal?.aborted) return Promise.resolve();
      return this.lock.run(p.id, async () => {
        // A growth check acted on this container since the look: the plan is stale, look again.
        const fresh = this.acted.get(p.id) === p.version ? p : await this.freshPlan(c);
        if (fresh) await this.act(fresh, c, report);
      });
    });
    if (waitForCompression) {
      await this.compressor.idle();
      report.outcomes.push(...compressed);
    }
    this.countProgressFailures();
    this.observer.passFinished((this.o.clock.now() - started) / 1000, report.watched);
    return report;
  }

  /** errors_total{progress}: the failures the attacher met since it was last asked (it logged them). */
  private countProgressFailures(): void {
    const n = this.o.progress?.takeFailures() ?? 0;
    for (let i = 0; i < n; i++) this.observer.error("progress");
  }

  /** The dry run: what a pass would do and why. Calls the runtime, touches no file. */
  async plan(signal?: AbortSignal): Promise<PlannedContainer[]> {
    const report: PassReport = { watched: 0, planned: [], failures: [], outcomes: [] };
    return (await this.planPass(report, signal)) ?? [];
  }

  private async planPass(report: PassReport, signal?: AbortSignal): Promise<PlannedContainer[] | null> {
    const { logger } = this.o;
    let running: Container[];
    try {
      const discovered = await this.discovery.refresh(signal);
      running = discovered.running;
      report.failures.push(...discovered.failures);
    } catch (err) {
      report.failures.push({ id: "", error: err as Error });
      // Given up because we are stopping: not the runtime's failure.
      if (!signal?.aborted) logger.error("failed to list containers", { err });
      return null;
    }
    this.containers = new Map();
    for (const c of running) this.containers.set(c.id, c);
    report.watched = this.discovery.size;
    this.growth.keep(this.containers);
    if (this.watcher) for (const c of running) if (!this.growth.isHot(c.id)) this.watcher.watchContainerDir(c.location.dir);

    if (this.o.progress) {
      try {
        await this.o.progress.refresh();
      } catch (err) {
        this.observer.error("progress");
        logger.warn("failed to read the shipper's progress; holding files as unread", { err });
      }
      this.countProgressFailures();
    }
    // Show the rules the live logs; list the directories they ask for. Under a logRootBudget every file of
    // every container counts, so every directory is listed up front.
    const budget = this.o.policy.shipperAware && this.o.policy.logRootBudget !== undefined;
    const looked = await this.look(running, budget ? "full" : "live", report);
    const firstPlans = this.planBatch(looked, report);
    if (firstPlans === null) return null;
    if (!budget) {
      const sizes: { id: string; size: number }[] = [];
      for (const s of looked) if (s.entries[0]?.kind === "file") sizes.push({ id: s.id, size: s.entries[0].size });
      if (this.o.growthChecks) this.growth.sample(sizes, this.o.clock.now());
    }
    const wanted = running.filter((c) => firstPlans.get(c.id)?.outcome === "needs-listing");
    if (wanted.length > 0) {
      const full = await this.look(wanted, "full", report);
      const second = this.planBatch(full, report);
      if (second === null) return null;
      for (const [id, p] of second) firstPlans.set(id, p);
    }
    const out: PlannedContainer[] = [];
    for (const c of running) {
      const p = firstPlans.get(c.id);
      if (!p) continue;
      if (p.outcome === "rejected") {
        report.failures.push({ id: c.id, error: p.error! });
        out.push({ id: c.id, name: c.name, location: c.location, actions: [], error: p.error });
        continue;
      }
      out.push({ id: c.id, name: c.name, location: c.location, actions: p.actions, snapshot: p.snapshot, version: this.lookedAt.get(c.id) });
    }
    return out;
  }

  private async look(cs: Container[], how: "live" | "full", report: PassReport): Promise<ContainerSnapshot[]> {
    for (const c of cs) this.lookedAt.set(c.id, this.acted.get(c.id));
    const out: ContainerSnapshot[] = [];
    await runPool(cs, 16, async (c) => {
      try {
        out.push(how === "live" ? await this.snapshots.live(c) : await this.snapshots.full(c));
      } catch (err) {
        this.observer.error("stat");
        report.failures.push({ id: c.id, error: err as Error });
        this.o.logger.error("failed to stat container log", { containerId: c.id, err });
      }
    });
    return out;
  }

  private planBatch(snapshots: ContainerSnapshot[], report: PassReport): Map<string, { outcome: string; actions: PlannedContainer["actions"]; error?: Error; snapshot: ContainerSnapshot }> | null {
    try {
      const plans = this.o.plugin.planRotation(snapshots, Math.floor(this.o.clock.now() / 1000), this.o.policy);
      return new Map(plans.map((p, i) => [p.id, { outcome: p.outcome, actions: p.actions, error: p.error, snapshot: snapshots[i]! }]));
    } catch (err) {
      this.observer.error("plan");
      report.failures.push({ id: "", error: err as Error });
      this.o.logger.error("failed to plan rotation", { err, containers: snapshots.length });
      return null;
    }
  }

  // ---- growth: see size as it happens -------------------------------------------------------------

  private async growthLoop(signal: AbortSignal): Promise<void> {
    this.watcher = new TreeWatcher({
      fs: this.o.fs,
      logRoot: this.o.logRoot,
      logger: this.o.logger,
      events: {
        containerDirChanged: (dir, name) => this.onContainerDirChanged(dir, name),
        treeChanged: () => {
          this.treeDirty = true;
          this.wake?.();
        },
      },
    });
    await this.watcher.start();
    let lastPoll = 0;
    while (!signal.aborted) {
      const now = this.o.clock.now();
      if (this.treeDirty) {
        this.treeDirty = false;
        await this.o.clock.sleep(TREE_SETTLE_MS, signal);
        await this.guard(this.discoverNew(signal));
      }
      const due = this.growth.due(this.o.clock.now());
      if (now - lastPoll >= POLL_MS) {
        lastPoll = now;
        for (const c of this.containers.values()) if (this.watcher && !this.watcher.isWatched(c.location.dir) && !due.includes(c.id)) due.push(c.id);
      }
      if (due.length > 0 || this.pendingEvents.size > 0) await this.guard(this.sampleAndRotate(due));
      const next = this.growth.nextAt();
      const until = Math.min(next ?? Infinity, lastPoll + POLL_MS);
      const wait = Math.max(1, Math.min(until - this.o.clock.now(), MAX_GROWTH_WAIT_MS));
      await this.sleepUnlessWoken(wait, signal);
    }
  }

  private sleepUnlessWoken(ms: number, signal: AbortSignal): Promise<void> {
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    signal.addEventListener("abort", onAbort, { once: true });
    this.wake = () => stop.abort();
    return this.o.clock.sleep(ms, stop.signal).finally(() => {
      signal.removeEventListener("abort", onAbort);
      this.wake = undefined;
    });
  }

  /**
   * A watched container directory changed: sample the live log(s) there, at most every EVENT_SAMPLE_GAP_MS.
   * A directory no running container is known in may hold a container just started: look at the runtime.
   */
  private onContainerDirChanged(dir: Buffer, name: Buffer | null): void {
    const now = this.o.clock.now();
    let any = false;
    let known = false;
    for (const c of this.containers.values()) {
      if (c.location.dir.equals(dir)) known = true;
      if (!c.location.dir.equals(dir) || (name !== null && !name.equals(c.location.logName))) continue;
      const last = this.growth.lastSampleAt(c.id);
      if (last === undefined || now - last >= EVENT_SAMPLE_GAP_MS) {
        this.pendingEvents.add(c.id);
        any = true;
      }
    }
    if (!known) this.treeDirty = true;
    if (any || !known) this.wake?.();
  }

  private readonly pendingEvents = new Set<string>();

  /**
   * A change in the tree: a new pod or container may be there. Learn it now, not at the next pass. The
   * kubelet makes the directories before the runtime starts the container, so while the runtime lists
   * containers that are not running yet, look again shortly (a few times).
   */
  private async discoverNew(signal: AbortSignal): Promise<void> {
    let found: Awaited<ReturnType<Discovery["refresh"]>>;
    try {
      found = await this.discovery.refresh(signal);
    } catch (err) {
      // The runtime is down or slow: the next pass asks it again and is the one that reports it ("failed to
      // list containers", runtime_up 0); a change in the tree is no reason to report it once more.
      if (err instanceof CriError) {
        if (!signal.aborted) this.o.logger.debug("could not ask the runtime about a change in the log tree; the next pass asks again", { err });
        return;
      }
      throw err;
    }
    const { running, starting } = found;
    for (const c of running) {
      if (!this.containers.has(c.id)) {
        this.containers.set(c.id, c);
        this.watcher?.watchContainerDir(c.location.dir);
        this.pendingEvents.add(c.id);
      }
    }
    if (starting > 0 && this.startingRetries < STARTING_RETRIES) {
      this.startingRetries++;
      this.treeDirty = true;
    } else this.startingRetries = 0;
  }

  private startingRetries = 0;
  /** The `acted` count of each container when the pass looked at it. */
  private readonly lookedAt = new Map<string, number | undefined>();

  /** lstat the given live logs (and those with pending events); rotate those the rules say are due now. */
  private async sampleAndRotate(ids: string[]): Promise<void> {
    for (const id of this.pendingEvents) if (!ids.includes(id)) ids.push(id);
    this.pendingEvents.clear();
    const samples: { id: string; size: number }[] = [];
    await runPool(ids, 16, async (id) => {
      const c = this.containers.get(id);
      if (!c) return;
      const live = await this.o.fs.lstat(c.location.logPath).catch(() => null);
      if (live?.kind === "file") samples.push({ id, size: live.size });
    });
    const due = this.growth.sample(samples, this.o.clock.now());
    // Hot logs are followed on the rules' schedule; cold ones by their directory's events.
    if (this.watcher) {
      for (const { id } of samples) {
        const c = this.containers.get(id);
        if (!c) continue;
        if (this.growth.isHot(id)) this.watcher.unwatchContainerDir(c.location.dir);
        else this.watcher.watchContainerDir(c.location.dir);
      }
    }
    await runPool(due, this.o.workers, (id) => this.rotateNow(id));
  }

  /** A fresh look at one container and its plan, carried out now (it is due). */
  private async rotateNow(id: string): Promise<void> {
    const c = this.containers.get(id);
    if (!c || this.lock.isHeld(id)) return; // a pass is on it right now
    await this.lock.run(id, async () => {
      const plan = await this.freshPlan(c);
      if (plan) await this.act(plan, c, { watched: 0, planned: [], failures: [], outcomes: [] });
    });
  }

  /** Times a container's plan was carried out: a plan from an older look is stale. */
  private readonly acted = new Map<string, number>();
  /**
   * What each container's latest plan holds for the shipper, and their sum (the held gauges): a plan made
   * between passes (a growth check's rotation makes an older file compressible, and held) counts at once.
   */
  private readonly holds = new Map<string, { files: number; bytes: number }>();
  private readonly heldTotal = { files: 0, bytes: 0 };

  private noteHolds(id: string, actions: readonly { kind: string; unreadBytes: number }[]): void {
    let files = 0;
    let bytes = 0;
    for (const a of actions) {
      if (a.kind !== "hold") continue;
      files++;
      bytes += a.unreadBytes;
    }
    const before = this.holds.get(id);
    this.heldTotal.files += files - (before?.files ?? 0);
    this.heldTotal.bytes += bytes - (before?.bytes ?? 0);
    if (files === 0) this.holds.delete(id);
    else if (before) Object.assign(before, { files, bytes });
    else this.holds.set(id, { files, bytes });
  }

  private async act(p: PlannedContainer, c: Container, report: PassReport): Promise<void> {
    this.noteHolds(c.id, p.actions);
    this.observer.held(this.heldTotal.files, this.heldTotal.bytes);
    try {
      await this.worker.run(p, c, report);
    } finally {
      // Counted when the act is over, not when it starts: a look taken while it runs (a pass does not
      // take the container's lock to look) saw the directory half-way and must count as older.
      this.acted.set(c.id, (this.acted.get(c.id) ?? 0) + 1);
    }
  }

  /** One container looked at and planned on its own (under its lock): what the rules say now. */
  private async freshPlan(c: Container): Promise<PlannedContainer | undefined> {
    const snapshot = await this.snapshots.full(c);
    const [plan] = this.o.plugin.planRotation([snapshot], Math.floor(this.o.clock.now() / 1000), this.o.policy);
    if (!plan || plan.outcome !== "planned") return undefined;
    return { id: c.id, name: c.name, location: c.location, actions: plan.actions, snapshot, version: this.acted.get(c.id) };
  }

  // ---- one-off commands ---------------------------------------------------------------------------

  /** clean and logs need every container's log name (never ours: another's); learn them once. */
  private async ensureDiscovered(signal?: AbortSignal): Promise<void> {
    if (this.discovery.refreshed) return;
    await this.discovery.refresh(signal);
  }

  private async locate(containerId: string, signal?: AbortSignal): Promise<LogLocation> {
    await this.ensureDiscovered(signal);
    const location = await this.discovery.locate(containerId, signal);
    await checkNoSymlinks(this.o.fs, location.dir, this.o.logRoot);
    return location;
  }

  /**
   * Removes every log of a container — live, rotated, `.gz`, `.tmp` (the kubelet's Clean, `<log>*`), but
   * never another container's file whose name merely starts like ours — in any state. Refuses an empty or
   * out-of-root path; only regular files are removed. Returns what was removed and what was skipped.
   * `signal` gives up the CRI reads (nothing is removed before they are done).
   */
  async clean(containerId: string, signal?: AbortSignal): Promise<{ removed: Buffer[]; skipped: Buffer[] }> {
    return this.lock.run(containerId, async () => {
      const location = await this.locate(containerId, signal);
      // Our own compressions there stop first, so that the listing below is what stays on disk.
      await this.compressor.cancelDir(location.dir);
      const entries = await this.directoryEntries(location, containerId);
      const removed: Buffer[] = [];
      const skipped: Buffer[] = [];
      for (const name of this.o.plugin.containerEntries(location.logName, entries)) {
        const path = joinPath(location.dir, name);
        const entry = entries.find((e) => e.name.equals(name))!;
        if (entry.kind !== "file") {
          skipped.push(path);
          continue;
        }
        await this.o.fs.remove(path, true);
        removed.push(path);
      }
      this.o.logger.info("cleaned container logs", { containerId, path: location.logPath, removed: removed.length, skipped: skipped.map((p) => p.toString("utf8")) });
      return { removed, skipped };
    });
  }

  /** The kubelet's GetAllLogs: in-use rotated files oldest first, the live log last. */
  async getAllLogs(containerId: string, signal?: AbortSignal): Promise<Buffer[]> {
    const location = await this.locate(containerId, signal);
    const entries = await this.directoryEntries(location, containerId);
    return this.o.plugin.listLogs(location.logName, entries).map((n) => joinPath(location.dir, n));
  }

  /** Every entry of the container's directory, other containers' live logs marked FOREIGN. */
  private async directoryEntries(location: LogLocation, containerId: string): Promise<FileEntry[]> {
    const foreign = this.discovery.foreignNames(location.dir, containerId);
    return toFileEntries(await this.o.fs.listDir(location.dir)).map((e) => ({ ...e, foreign: foreign.some((n) => n.equals(e.name)) }));
  }
}
