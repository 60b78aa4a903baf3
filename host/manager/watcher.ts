// Watching the log tree so that growth and new containers are seen as they happen, not at the next pass:
// the log root (new pod directories), pod directories (new container directories) and the directories of
// the containers being tracked (their live log changed). inotify through Fs.watch; a directory the kernel
// will not watch (out of watches, or gone) is reported and left to polling by the manager.
import { joinPath, type DirWatch, type Fs } from "../fs.js";
import type { Logger } from "../log.js";

export interface TreeEvents {
  /** Something in a watched container directory changed (`name` when the kernel says which entry). */
  containerDirChanged(dir: Buffer, name: Buffer | null): void;
  /** A pod or container directory appeared or went: the runtime may have a new container. */
  treeChanged(): void;
}

export interface TreeWatcherOptions {
  fs: Fs;
  logRoot: string;
  logger: Logger;
  events: TreeEvents;
}

/**
 * Map key of a directory. A container's directory Buffer lives as long as the container and is asked
 * about on every pass and poll: its key is made once, not a new string each time.
 */
const keys = new WeakMap<Buffer, string>();
function keyOf(dir: Buffer): string {
  let key = keys.get(dir);
  if (key === undefined) {
    key = dir.toString("latin1");
    keys.set(dir, key);
  }
  return key;
}

type DirKind = "root" | "pod" | "container";

export class TreeWatcher {
  private readonly watches = new Map<string, DirWatch>();
  private readonly containerDirs = new Set<string>();
  /** Directories the kernel refused to watch: polled by the manager. */
  readonly unwatched = new Set<string>();
  private closed = false;

  constructor(private readonly o: TreeWatcherOptions) {}

  /** Watches the log root, every pod directory in it and every container directory in those. */
  async start(): Promise<void> {
    const root = Buffer.from(this.o.logRoot);
    this.add(root, "root");
    for (const pod of await this.o.fs.listDir(root).catch(() => [])) {
      if (pod.kind !== "directory") continue;
      const podDir = joinPath(root, pod.name);
      this.add(podDir, "pod");
      for (const c of await this.o.fs.listDir(podDir).catch(() => [])) if (c.kind === "directory") this.watchContainerDir(joinPath(podDir, c.name));
    }
  }

  /** Watches a container's directory (idempotent); a new log in it is a new container for the manager. */
  watchContainerDir(dir: Buffer): void {
    const key = keyOf(dir);
    if (this.containerDirs.has(key)) return;
    this.containerDirs.add(key);
    this.add(dir, "container");
  }

  /** Stops watching a container's directory (its log is hot, or it is gone). */
  unwatchContainerDir(dir: Buffer): void {
    const key = keyOf(dir);
    if (!this.containerDirs.delete(key)) return;
    this.unwatched.delete(key);
    this.drop(key);
  }

  isWatched(dir: Buffer): boolean {
    return this.watches.has(keyOf(dir));
  }

  close(): void {
    this.closed = true;
    for (const w of this.watches.values()) w.close();
    this.watches.clear();
  }

  /**
   * Two closures per watched directory (its events, its error), sharing only the key: a watch keeps no
   * Buffer of its own (a small Buffer would pin an 8 KiB slab of Node's pool), the bytes are rebuilt from
   * the key when an event comes.
   */
  private add(dir: Buffer, kind: DirKind): void {
    const key = keyOf(dir);
    if (this.closed || this.watches.has(key)) return;
    try {
      const w = this.o.fs.watch(dir, (event, name) => this.onEvent(key, kind, event, name), () => this.drop(key));
      this.watches.set(key, w);
      this.unwatched.delete(key);
    } catch (err) {
      this.unwatched.add(key);
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOENT") this.o.logger.warn("cannot watch a log directory; it is polled instead", { path: dir, err });
    }
  }

  private onEvent(key: string, kind: DirKind, event: "rename" | "change", name: Buffer | null): void {
    const dir = Buffer.from(key, "latin1");
    if (kind === "container") this.o.events.containerDirChanged(dir, name);
    else this.onParentEvent(dir, kind, event, name);
  }

  /** A directory appeared (or went) in the root or a pod directory: watch it, and say the tree changed. */
  private onParentEvent(parent: Buffer, kind: "root" | "pod", event: string, name: Buffer | null): void {
    if (event !== "rename") return;
    if (name) {
      const dir = joinPath(parent, name);
      void this.o.fs.lstat(dir).then((info) => {
        if (info?.kind !== "directory") this.drop(keyOf(dir));
        else if (kind === "root") this.add(dir, "pod");
        else this.watchContainerDir(dir);
      }, () => {});
    }
    this.o.events.treeChanged();
  }

  private drop(key: string): void {
    this.watches.get(key)?.close();
    this.watches.delete(key);
  }
}
