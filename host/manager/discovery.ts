// Which containers there are and where their logs live. The runtime is asked for the list on every pass
// (one ListContainers), and for a container's log path once (ContainerStatus): it never changes while the
// container exists. A path is checked before it is trusted (host/paths.ts); a directory that does not
// exist yet keeps its place and is looked at with an lstat, not another ContainerStatus, until it does.
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
  /** The path is refused for good (logged once). */
  refused?: string;
  /** The directory does not exist (yet): checked with lstat each pass, warned about rate-limited. */
  missing?: { warnedAtMs: number };
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
    for (const k of this.known.values()) if (k.running && k.location && !k.missing) n++;
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

    // ContainerStatus for running containers only, as the kubelet does. Containers that stop keep the path
    // learned while they ran: their log's name stays another container's, never ours.
    await runPool(fresh.filter((c) => c.state === "CONTAINER_RUNNING"), STATUS_CONCURRENCY, async (c) => {
      const error = await this.learn(c, signal);
      if (error) failures.push({ id: c.id, error });
    });
    // Directories that were missing: an lstat each pass, never another ContainerStatus.
    for (const [id, k] of this.known) {
      if (!k.missing || !k.location || !k.running) continue;
      const error = await this.checkDirectory(id, k, k.location);
      if (error) failures.push({ id, error });
    }
    this.refreshed = true;
    const starting = listed.filter((c) => c.state === "CONTAINER_CREATED").length;
    const running: Container[] = [];
    for (const c of listed) {
      const k = this.known.get(c.id);
      if (k && k.running && k.location && !k.missing && !k.refused) running.push({ id: c.id, name: k.name, running: true, location: k.location });
    }
    return { running, failures, starting };
  }

  /** ContainerStatus for a container seen for the first time; its failure is returned (not cached: asked again). */
  private async learn(c: ContainerSummary, signal?: AbortSignal): Promise<Error | undefined> {
    const { cri, logger, observer, logRoot } = this.o;
    let logPath: Buffer;
    try {
      logPath = (await cri.containerStatus(c.id, { signal })).logPath;
    } catch (err) {
      observer.error("status");
      logger.error("failed to get container status", { containerId: c.id, err });
      return err as Error;
    }
    const k: Known = { name: c.name, running: c.state === "CONTAINER_RUNNING" };
    try {
      k.location = checkLogPath(logPath, logRoot);
    } catch (err) {
      // Refused for good: logged once, never asked again while the container exists.
      k.refused = (err as Error).message;
      this.known.set(c.id, k);
      if (k.running) {
        observer.error("path");
        logger.warn("refusing container log path", { containerId: c.id, path: logPath, reason: k.refused });
      }
      return k.running ? (err as Error) : undefined;
    }
    this.known.set(c.id, k);
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
        observer.error("path");
        logger.warn("refusing container log path", { containerId: id, path: location.logPath, reason: err.message });
        return err;
      }
      // An I/O error (EACCES, EIO) is about this container only: checked again next pass.
      observer.error("stat");
      logger.error("failed to check container log path", { containerId: id, path: location.logPath, err });
      return err as Error;
    }
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
  async locate(id: string): Promise<LogLocation> {
    const k = this.known.get(id);
    if (k?.location && !k.refused) return k.location;
    const status = await this.o.cri.containerStatus(id);
    return checkLogPath(status.logPath, this.o.logRoot);
  }
}
