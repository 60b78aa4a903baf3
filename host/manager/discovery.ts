// Which containers there are and where their logs live. The runtime is asked for the list on every pass
// (one ListContainers), and for a container's log path once (ContainerStatus): it never changes while the
// container exists. Only running containers are rotated, but every listed container's path is learned:
// an exited container's live log (`kubectl logs --previous` reads it) may be named like a neighbour's
// rotated file, and must never be taken as one. A path is checked before it is trusted (host/paths.ts); a
// directory that does not exist yet keeps its place and is looked at with an lstat, not another
// ContainerStatus, until it does.
import type { Cri, ContainerSummary } from "../cri/types.js";
import { PathError } from "../errors.js";
import type { Fs } from "../fs.js";
import type { Logger } from "../log.js";
import { checkLogPath, checkNoSymlinks, type LogLocation } from "../paths.js";
import type { ManagerObserver } from "./observer.js";
import { runPool } from "./pool.js";

/** How often a log directory that stays missing is warned about again. */
const MISSING_WARN_EVERY_MS = 10 * 60 * 1000;
/** ContainerStatus calls in flight while learning new containers. */
const STATUS_CONCURRENCY = 4;

export interface Container {
  id: string;
  name: string;
  running: boolean;
  location: LogLocation;
}

interface Known {
  name: string;
  running: boolean;
  location?: LogLocation;
  /** The path is refused for good (logged once, when the container runs). */
  refused?: string;
  /** The path as the runtime gave it, for the refusal's log line. */
  refusedPath?: Buffer;
  /** The refusal was logged and returned (a container learned before it ran is refused when it runs). */
  refusalReported?: boolean;
  /** The directory chain was checked and is there (a container learned before it ran is checked when it runs). */
  dirChecked?: boolean;
  /** The directory does not exist (yet): checked with lstat each pass, warned about rate-limited. */
  missing?: { warnedAtMs: number };
  /** What refresh last returned for it: the same object while nothing changes, not a new one each pass. */
  container?: Container;
}

export interface DiscoveryOptions {
  cri: Cri;
  fs: Fs;
  logRoot: string;
  logger: Logger;
  observer: ManagerObserver;
  now(): number;
}

export interface Discovered {
  /** Running containers whose log directory is there and checked. */
  running: Container[];
  /** What went wrong this time (each already logged and counted). */
  failures: { id: string; error: Error }[];
  /** Containers the runtime lists as created but not running yet. */
  starting: number;
}

export class Discovery {
  private readonly known = new Map<string, Known>();
  /** A refresh has succeeded at least once. */
  refreshed = false;

  constructor(private readonly o: DiscoveryOptions) {}

  /** Containers whose log path is known (the containers-watched gauge). */
  get size(): number {
    let n = 0;
    for (const k of this.known.values()) if (k.running && k.location && k.dirChecked && !k.missing) n++;
    return n;
  }

  /**
   * One look at the runtime: ListContainers (the kubelet's empty filter), ContainerStatus for the ids not
   * seen before, path checks. Throws when the runtime cannot be listed or the log root is missing (the
   * whole pass is off); a single container's failure is returned and the others go on.
   */
  async refresh(signal?: AbortSignal): Promise<Discovered> {
    const { cri, fs, logRoot, observer } = this.o;
    const root = await fs.lstat(logRoot);
    if (root === null || root.kind !== "directory") {
      throw new PathError(root === null ? "PATH_MISSING" : "PATH_UNSAFE", `log root ${JSON.stringify(logRoot)} ${root === null ? "does not exist" : `is a ${root.kind}, not a directory`}`);
    }
    let listed: ContainerSummary[];
    try {
      listed = await cri.listContainers({ signal });
      observer.runtimeUp(true);
    } catch (err) {
      observer.runtimeUp(false);
      observer.error("list");
      throw err;
    }
    const failures: { id: string; error: Error }[] = [];
    const seen = new Set<string>();
    const fresh: ContainerSummary[] = [];
    for (const c of listed) {
      if (c.id === "" || c.id.includes("\0")) {
        const error = new Error(`the runtime listed a container with ${c.id === "" ? "an empty id" : "a NUL byte in its id"}: skipped`);
        failures.push({ id: c.id, error });
        observer.error("status");
        this.o.logger.error("skipping a container the runtime listed", { containerId: c.id, name: c.name, err: error });
        continue;
      }
      seen.add(c.id);
      const k = this.known.get(c.id);
      if (k) {
        k.name = c.name;
        k.running = c.state === "CONTAINER_RUNNING";
      } else fresh.push(c);
    }
    for (const id of [...this.known.keys()]) if (!seen.has(id)) this.known.delete(id);

    // ContainerStatus once for every container listed, not only the running ones as the kubelet asks: the
    // kubelet never meets two containers whose log names are prefixes of each other, we may (the CRI lets a
    // client choose any log_path), and an exited container's log keeps its name until it is removed.
    await runPool(fresh, STATUS_CONCURRENCY, async (c) => {
      const error = await this.learn(c, signal);
      if (error && c.state === "CONTAINER_RUNNING") failures.push({ id: c.id, error });
    });
    const learnedNow = new Set(fresh.map((c) => c.id));
    for (const [id, k] of this.known) {
      if (!k.running || learnedNow.has(id)) continue;
      if (k.refused) {
        // Learned before it ran: refused now that it runs, once.
        if (!k.refusalReported) failures.push({ id, error: this.reportRefusal(id, k) });
        continue;
      }
      // Directories that were missing (an lstat each pass, never another ContainerStatus), and those of
      // containers learned before they ran.
      if (!k.location || (k.dirChecked && !k.missing)) continue;
      const error = await this.checkDirectory(id, k, k.location);
      if (error) failures.push({ id, error });
    }
    this.refreshed = true;
    const starting = listed.filter((c) => c.state === "CONTAINER_CREATED").length;
    const running: Container[] = [];
    for (const c of listed) {
      const k = this.known.get(c.id);
      if (!k || !k.running || !k.location || !k.dirChecked || k.missing || k.refused) continue;
      if (k.container?.name !== k.name || k.container.location !== k.location) k.container = { id: c.id, name: k.name, running: true, location: k.location };
      running.push(k.container);
    }
    return { running, failures, starting };
  }

  /** ContainerStatus for a container seen for the first time; its failure is returned (not cached: asked again). */
  private async learn(c: ContainerSummary, signal?: AbortSignal): Promise<Error | undefined> {
    const { cri, logger, observer, logRoot } = this.o;
    const running = c.state === "CONTAINER_RUNNING";
    let logPath: Buffer;
    try {
      logPath = (await cri.containerStatus(c.id, { signal })).logPath;
    } catch (err) {
      // Given up because we are stopping: nothing to report. Not running: nothing of it is rotated, so it
      // fails nothing (often it was just removed).
      if (signal?.aborted) return err as Error;
      if (!running) logger.debug("failed to get the status of a container that is not running; asked again next pass", { containerId: c.id, err });
      else {
        observer.error("status");
        logger.error("failed to get container status", { containerId: c.id, err });
      }
      return err as Error;
    }
    const k: Known = { name: c.name, running };
    try {
      k.location = checkLogPath(logPath, logRoot);
    } catch (err) {
      // Refused for good: logged once (when it runs), never asked again while the container exists.
      k.refused = (err as Error).message;
      k.refusedPath = logPath;
      this.known.set(c.id, k);
      return k.running ? this.reportRefusal(c.id, k, err as Error) : undefined;
    }
    this.known.set(c.id, k);
    // Its directory is checked when it runs (the loop in refresh).
    if (!k.running) return undefined;
    const error = await this.checkDirectory(c.id, k, k.location);
    // An I/O error (EACCES, EIO) is not cached: the container is learned again next pass.
    if (error && !k.refused) this.known.delete(c.id);
    return error;
  }

  /** The directory chain of a location: there (clears `missing`), missing (warned, rate-limited), or refused. */
  private async checkDirectory(id: string, k: Known, location: LogLocation): Promise<Error | undefined> {
    const { fs, logRoot, logger, observer } = this.o;
    try {
      await checkNoSymlinks(fs, location.dir, logRoot);
      k.missing = undefined;
      k.dirChecked = true;
      return undefined;
    } catch (err) {
      if (err instanceof PathError && err.transient) {
        const now = this.o.now();
        if (!k.missing) k.missing = { warnedAtMs: -Infinity };
        if (now - k.missing.warnedAtMs >= MISSING_WARN_EVERY_MS) {
          k.missing.warnedAtMs = now;
          logger.warn("container log directory does not exist; its log grows unrotated until it does", { containerId: id, path: location.logPath, reason: err.message });
        }
        return undefined;
      }
      if (err instanceof PathError) {
        k.refused = err.message;
        k.refusedPath = location.logPath;
        return this.reportRefusal(id, k, err);
      }
      // An I/O error (EACCES, EIO) is about this container only: checked again next pass.
      observer.error("stat");
      logger.error("failed to check container log path", { containerId: id, path: location.logPath, err });
      return err as Error;
    }
  }

  /** Logs and counts a running container's refused path; the error to return as its failure. */
  private reportRefusal(id: string, k: Known, err?: Error): Error {
    k.refusalReported = true;
    this.o.observer.error("path");
    this.o.logger.warn("refusing container log path", { containerId: id, path: k.refusedPath, reason: k.refused });
    return err ?? new PathError("PATH_UNSAFE", k.refused!);
  }

  /** The live log names of every known container in `dir` but `exceptId`: names that are never ours. */
  foreignNames(dir: Buffer, exceptId: string): Buffer[] {
    const out: Buffer[] = [];
    for (const [id, k] of this.known) {
      if (id !== exceptId && k.location && k.location.dir.equals(dir)) out.push(k.location.logName);
    }
    return out;
  }

  /** The location the runtime gave for `id`, asking for it when not known yet (clean, logs). */
  async locate(id: string, signal?: AbortSignal): Promise<LogLocation> {
    const k = this.known.get(id);
    if (k?.location && !k.refused) return k.location;
    const status = await this.o.cri.containerStatus(id, { signal });
    return checkLogPath(status.logPath, this.o.logRoot);
  }
}
