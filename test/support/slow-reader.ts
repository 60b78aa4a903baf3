// A slow log shipper modelled on Fluent Bit's in_tail (plugins/in_tail; reference/shippers.md §2) with the
// settings of examples/fluent-bit: Path <root>/*/*/*.log*, Exclude_Path *.gz,*.tmp, Read_From_Head On,
// the cri multiline parser, Path_Key path, Offset_Key offset, Rotate_Wait, Refresh_Interval, DB.
//
//   - discovery: a periodic scan of <root>/<pod>/<container>/ every refreshIntervalMs (in_tail's glob
//     rescan), names containing ".log", not ending in ".gz" or ".tmp";
//   - a file is followed by its fd and known by inode; the scan skips inodes already followed;
//   - every watcherIntervalMs (in_tail's stat watcher / IN_MOVE_SELF check) each followed file is checked:
//     nlink 0 = deleted, dropped at once with whatever was unread (tail_fs_*: "file has been deleted");
//     a different name behind the fd (readlink /proc/self/fd/N, flb_tail_file_name) = rotated: the file
//     takes its new name, the original path is looked at for a new file straight away, and the rotated one
//     keeps being read for rotateWaitMs, then is purged — what is still unread then is lost to the reader;
//   - until it notices a rotation, records of the renamed file carry the OLD path (as in_tail's do);
//   - reading is rate-limited per container directory (bytesPerSecond), oldest file first;
//   - every complete CRI line becomes one record, passed through the real cri-logrotate.wasm filter via the
//     filter_wasm harness (Path_Key = the path it knows the file by, Offset_Key = the line's START); so the
//     module writes the progress file the shim reads. Optionally it keeps an in_tail DB (in_tail_files:
//     name, offset AFTER the last line, inode, rotated), renaming a row on rotation and deleting it when the
//     file is purged or deleted, as in_tail does.
//
// One deliberate difference: in_tail deletes a purged rotated file's DB row, so when its glob (*.log*)
// finds the file again it reads it from the head (duplicates). This reader remembers the offset by inode
// (checked against the name, since inodes are reused) and resumes, so a re-read neither loses nor doubles.
//
// It records every line number it delivered per container directory: written − delivered = lost.
import * as fs from "node:fs";
import { join, basename, dirname } from "node:path";
import Database from "better-sqlite3";
import { inTailRecord, type FluentBitFilter } from "./fluentbit-harness.js";

export const INTAIL_SCHEMA = `CREATE TABLE IF NOT EXISTS in_tail_files (id INTEGER PRIMARY KEY, name TEXT NOT NULL, offset INTEGER,
  inode INTEGER, created INTEGER, rotated INTEGER DEFAULT 0,
  offset_marker INTEGER DEFAULT 0, offset_marker_size INTEGER DEFAULT 0);`;

export interface SlowReaderOptions {
  /** The log root (/var/log/pods): files are <root>/<pod>/<container>/<name>. */
  root: string;
  /** Read rate per container directory, bytes per second (a function: asked on every tick). */
  bytesPerSecond: number | (() => number);
  /** in_tail Rotate_Wait: how long a rotated file is still read after the rotation was noticed. */
  rotateWaitMs: number;
  /** in_tail Refresh_Interval: the glob rescan period. */
  refreshIntervalMs: number;
  /** How often followed files are checked for rename/deletion (in_tail's stat watcher: 250 ms). */
  watcherIntervalMs?: number;
  /** The reader's own tick. */
  tickMs?: number;
  /** The filter_wasm instance records go through (the progress file source). */
  filter?: FluentBitFilter;
  tag?: string;
  /** in_tail DB to maintain (the DB source). */
  dbPath?: string;
}

/** What the reader did for one container directory. */
export interface DirStats {
  delivered: Set<number>;
  duplicates: number;
  records: number;
  bytesRead: number;
  /** Files purged after Rotate_Wait with bytes unread, and those bytes (re-read if found again). */
  purgedUnread: number;
  purgedUnreadBytes: number;
  /** Files dropped because they were deleted, with bytes unread, and those bytes (lost for good). */
  deletedUnread: number;
  deletedUnreadBytes: number;
  resumed: number;
}

interface TailFile {
  seq: number;
  fd: number;
  inode: number;
  dir: string;
  /** The path the reader knows the file by (the live name until it notices a rotation). */
  path: string;
  /** Bytes consumed: the offset after the last complete line. */
  offset: number;
  /** A line read in part (no newline yet). */
  pending: Buffer;
  rotatedAtMs?: number;
  dbId?: number;
  /** First chunk of a CRI partial (P) record: its start offset and content so far. */
  partial?: { offset: number; log: string };
}

const CRI_LINE = /^(\S+) (stdout|stderr) (F|P) (.*)$/s;
const CHUNK = 32 * 1024;

export class SlowReader {
  private readonly files = new Map<number, TailFile>(); // by inode
  private readonly remembered = new Map<number, { path: string; offset: number }>(); // purged, by inode
  private readonly dirs = new Map<string, DirStats & { tokens: number }>();
  private readonly realRoot: string;
  private readonly db: Database.Database | undefined;
  private readonly sql: {
    insert: Database.Statement;
    offset: Database.Statement;
    rotate: Database.Statement;
    remove: Database.Statement;
  } | undefined;
  private timer: NodeJS.Timeout | undefined;
  private seq = 0;
  private lastTick = 0;
  private nextScan = 0;
  private nextWatch = 0;
  /** Last time a record was delivered (ms). */
  lastDeliveryMs = 0;
  readonly errors: Error[] = [];

  constructor(private readonly o: SlowReaderOptions) {
    this.realRoot = fs.realpathSync(o.root);
    if (o.dbPath) {
      this.db = new Database(o.dbPath);
      this.db.pragma("journal_mode = wal"); // in_tail's db.journal_mode default
      this.db.pragma("synchronous = normal"); // db.sync normal
      this.db.exec(INTAIL_SCHEMA);
      this.sql = {
        insert: this.db.prepare("INSERT INTO in_tail_files (name, offset, inode, created, rotated) VALUES (?, ?, ?, ?, 0)"),
        offset: this.db.prepare("UPDATE in_tail_files SET offset = ? WHERE id = ?"),
        rotate: this.db.prepare("UPDATE in_tail_files SET name = ?, rotated = 1 WHERE id = ?"),
        remove: this.db.prepare("DELETE FROM in_tail_files WHERE id = ?"),
      };
    }
  }

  start(): void {
    if (this.timer) return;
    this.lastTick = Date.now();
    this.timer = setInterval(() => {
      try {
        this.tick();
      } catch (err) {
        this.errors.push(err as Error);
      }
    }, this.o.tickMs ?? 20);
  }

  /** Stops reading, closes every fd and the DB. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const f of this.files.values()) fs.closeSync(f.fd);
    this.files.clear();
    this.db?.close();
  }

  /** Per container directory (absolute, as under `root`). */
  stats(dir: string): DirStats {
    return this.dirStats(dir);
  }

  /** Files followed right now. */
  get openFiles(): number {
    return this.files.size;
  }

  /** True when every followed file is read to its end (nothing pending the reader knows of). */
  caughtUp(): boolean {
    for (const f of this.files.values()) {
      const size = fs.fstatSync(f.fd).size;
      if (f.offset + f.pending.length < size) return false;
    }
    return true;
  }

  tick(now = Date.now()): void {
    const dt = Math.max(0, now - this.lastTick);
    this.lastTick = now;
    if (now >= this.nextScan) {
      this.scan();
      this.nextScan = now + this.o.refreshIntervalMs;
    }
    if (now >= this.nextWatch) {
      this.watch(now);
      this.nextWatch = now + (this.o.watcherIntervalMs ?? 250);
    }
    this.purge(now);
    // One DB transaction per tick for the offset updates (in_tail commits per chunk it processed).
    const begin = this.db !== undefined && !this.db.inTransaction;
    if (begin) this.db!.exec("BEGIN");
    try {
      this.read(dt);
    } finally {
      if (begin) this.db!.exec("COMMIT");
    }
  }

  private dirStats(dir: string): DirStats & { tokens: number } {
    let s = this.dirs.get(dir);
    if (!s) {
      s = {
        delivered: new Set(),
        duplicates: 0,
        records: 0,
        bytesRead: 0,
        purgedUnread: 0,
        purgedUnreadBytes: 0,
        deletedUnread: 0,
        deletedUnreadBytes: 0,
        resumed: 0,
        tokens: 0,
      };
      this.dirs.set(dir, s);
    }
    return s;
  }

  /** The glob rescan: <root>/*\/*\/*.log*, minus Exclude_Path *.gz,*.tmp. */
  private scan(): void {
    for (const pod of safeReaddir(this.o.root)) {
      const podDir = join(this.o.root, pod);
      for (const container of safeReaddir(podDir)) {
        const dir = join(podDir, container);
        for (const name of safeReaddir(dir)) {
          if (!name.includes(".log") || name.endsWith(".gz") || name.endsWith(".tmp")) continue;
          this.follow(join(dir, name));
        }
      }
    }
  }

  /** Starts following `path` unless its inode is followed already. Read_From_Head: a new file starts at 0. */
  private follow(path: string): void {
    let st: fs.Stats;
    try {
      st = fs.lstatSync(path);
    } catch {
      return;
    }
    if (!st.isFile() || this.files.has(st.ino)) return;
    let fd: number;
    try {
      fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
    } catch {
      return;
    }
    const inode = fs.fstatSync(fd).ino;
    if (this.files.has(inode)) {
      fs.closeSync(fd);
      return;
    }
    const dir = dirname(path);
    // A purged rotated file found again under the same name: resume where it was left. The name check
    // guards against inode reuse (a rotated name is never given to another file).
    const memo = this.remembered.get(inode);
    this.remembered.delete(inode);
    let offset = 0;
    if (memo && memo.path === path && memo.offset <= st.size) {
      offset = memo.offset;
      this.dirStats(dir).resumed++;
    }
    const f: TailFile = { seq: this.seq++, fd, inode, dir, path, offset, pending: Buffer.alloc(0) };
    if (this.sql) f.dbId = Number(this.sql.insert.run(path, offset, inode, Math.floor(Date.now() / 1000)).lastInsertRowid);
    this.files.set(inode, f);
  }

  /** Rename and deletion checks on every followed file. */
  private watch(now: number): void {
    for (const f of [...this.files.values()]) {
      const st = fs.fstatSync(f.fd);
      if (st.nlink === 0) {
        const unread = st.size - f.offset;
        if (unread > 0) {
          const s = this.dirStats(f.dir);
          s.deletedUnread++;
          s.deletedUnreadBytes += unread;
        }
        this.drop(f);
        continue;
      }
      const current = this.nameOf(f.fd);
      if (current === undefined || current === f.path) continue;
      const original = f.path;
      f.path = current;
      if (f.dbId !== undefined) this.sql!.rotate.run(current, f.dbId);
      if (f.rotatedAtMs === undefined) {
        f.rotatedAtMs = now;
        // flb_tail_file_rotated: if the original name has a new file, follow it right away.
        this.follow(original);
      }
    }
  }

  /** Rotated files past Rotate_Wait are closed: unread bytes are left behind. */
  private purge(now: number): void {
    for (const f of [...this.files.values()]) {
      if (f.rotatedAtMs === undefined || now - f.rotatedAtMs < this.o.rotateWaitMs) continue;
      const size = fs.fstatSync(f.fd).size;
      if (size > f.offset) {
        const s = this.dirStats(f.dir);
        s.purgedUnread++;
        s.purgedUnreadBytes += size - f.offset;
      }
      this.remembered.set(f.inode, { path: f.path, offset: f.offset });
      this.drop(f);
    }
  }

  private drop(f: TailFile): void {
    fs.closeSync(f.fd);
    this.files.delete(f.inode);
    if (f.dbId !== undefined) this.sql!.remove.run(f.dbId);
  }

  /** The file's current path, from the fd (flb_tail_file_name), mapped back under `root`. */
  private nameOf(fd: number): string | undefined {
    let target: string;
    try {
      target = fs.readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
      return undefined;
    }
    if (target.endsWith(" (deleted)")) return undefined;
    if (target.startsWith(this.realRoot + "/")) return this.o.root + target.slice(this.realRoot.length);
    return target;
  }

  private read(dtMs: number): void {
    const byDir = new Map<string, TailFile[]>();
    for (const f of this.files.values()) {
      const list = byDir.get(f.dir) ?? [];
      list.push(f);
      byDir.set(f.dir, list);
    }
    const rate = typeof this.o.bytesPerSecond === "function" ? this.o.bytesPerSecond() : this.o.bytesPerSecond;
    for (const [dir, list] of byDir) {
      const s = this.dirStats(dir);
      // A small bucket: an idle reader does not save up for a burst.
      s.tokens = Math.min(s.tokens + (rate * dtMs) / 1000, rate / 4);
      list.sort((a, b) => oldestFirst(a, b));
      for (const f of list) {
        while (s.tokens >= 1) {
          const want = Math.min(Math.floor(s.tokens), CHUNK);
          const buf = Buffer.allocUnsafe(want);
          const n = fs.readSync(f.fd, buf, 0, want, f.offset + f.pending.length);
          if (n === 0) break;
          s.tokens -= n;
          s.bytesRead += n;
          this.consume(f, buf.subarray(0, n), s);
          if (n < want) break;
        }
        if (s.tokens < 1) break;
      }
    }
  }

  /** Splits complete lines off, parses them (cri), sends each record through the filter. */
  private consume(f: TailFile, chunk: Buffer, s: DirStats): void {
    const data = f.pending.length > 0 ? Buffer.concat([f.pending, chunk]) : chunk;
    let start = 0;
    for (;;) {
      const nl = data.indexOf(0x0a, start);
      if (nl < 0) break;
      this.record(f, f.offset + start, data.toString("utf8", start, nl), s);
      start = nl + 1;
    }
    f.offset += start;
    f.pending = Buffer.from(data.subarray(start));
    if (start > 0 && f.dbId !== undefined) this.sql!.offset.run(f.offset, f.dbId);
  }

  private record(f: TailFile, lineStart: number, line: string, s: DirStats): void {
    const m = CRI_LINE.exec(line);
    if (!m) return; // the cri parser would pass it on unparsed; the writers never produce one
    const [, time, stream, tag, content] = m as unknown as [string, string, "stdout" | "stderr", string, string];
    if (tag === "P") {
      // The cri multiline parser joins P chunks up to the F; the record starts where its first chunk does.
      f.partial = f.partial ? { offset: f.partial.offset, log: f.partial.log + content } : { offset: lineStart, log: content };
      return;
    }
    const log = f.partial ? f.partial.log + content : content;
    const offset = f.partial ? f.partial.offset : lineStart;
    f.partial = undefined;
    if (this.o.filter) {
      const ms = Date.parse(time);
      const sec = Math.floor(ms / 1000);
      const nsec = Number((/\.(\d{1,9})/.exec(time)?.[1] ?? "0").padEnd(9, "0"));
      // A record the filter drops (it passed that line before: a re-read) never reaches the output.
      const kept = this.o.filter.filterOrDrop(this.o.tag ?? "kube.var.log.pods", sec, nsec, inTailRecord({ path: f.path, offset, log, stream, time }));
      if (kept === null) return;
    }
    s.records++;
    const n = Number.parseInt(log, 10);
    if (Number.isInteger(n)) {
      if (s.delivered.has(n)) s.duplicates++;
      else s.delivered.add(n);
    }
    this.lastDeliveryMs = Date.now();
  }
}

/** Rotated names sort by time and the live name comes last; ties by the order the reader found them. */
function oldestFirst(a: TailFile, b: TailFile): number {
  const an = basename(a.path);
  const bn = basename(b.path);
  const aLive = a.rotatedAtMs === undefined && !/\.log\.\d/.test(an);
  const bLive = b.rotatedAtMs === undefined && !/\.log\.\d/.test(bn);
  if (aLive !== bLive) return aLive ? 1 : -1;
  if (an !== bn) return an < bn ? -1 : 1;
  return a.seq - b.seq;
}

function safeReaddir(dir: string): string[] {
  try {
    return fs.readdirSync(dir);
  } catch {
    return [];
  }
}

// ---------------------------------------------------------------------------------------------------
// The shipper-aware proof workload (test/host/shipper-proof.test.ts, bench/shipper.ts): fake containers
// writing fast through the fake runtime (the writer keeps appending to a renamed file until
// ReopenContainerLog, like containerd), the manager looping on the real clock, and the slow reader above
// at a fraction of the write rate. The same reader (filter + DB) runs in every mode; only the shim's rules
// differ: "kubelet" (no progress source), "filter" (ShipperProgress over the filter's progress file),
// "db" (ShipperProgress over the in_tail DB).

export type WorkloadMode = "kubelet" | "filter" | "db";

export interface WorkloadOptions {
  mode: WorkloadMode;
  containers: number;
  /** How long the writers write. */
  writeMs: number;
  /** Longest time the reader is then given to drain. */
  drainMaxMs: number;
  /** Per container: linesPerTick lines of lineBytes every intervalMs. */
  writer: { intervalMs: number; linesPerTick: number; lineBytes: number };
  /** Reader rate as a fraction of the write rate (0.25 = a quarter). */
  readFraction: number;
  rotateWaitMs: number;
  refreshIntervalMs: number;
  maxSize: number;
  maxFiles: number;
  compress: boolean;
  intervalMs: number;
  limits?: { maxUnreadBytesPerContainer?: number; holdTimeoutSeconds?: number; logRootBudget?: number };
}

export interface ContainerOutcome {
  id: string;
  dir: string;
  written: number;
  delivered: number;
  lost: number;
  duplicates: number;
  lostLines: number[];
}

export interface ForcedDrop {
  kind: "remove" | "compress";
  path: string;
  reason: string;
  unreadBytes: number;
}

export interface WorkloadResult {
  mode: WorkloadMode;
  limited: boolean;
  containers: ContainerOutcome[];
  written: number;
  delivered: number;
  lost: number;
  duplicates: number;
  /** Lost lines × line size (every line has the same size). */
  lostBytes: number;
  peakDiskBytes: number;
  finalDiskBytes: number;
  passes: number;
  rotations: number;
  heldPeakFiles: number;
  heldPeakBytes: number;
  forcedDrops: ForcedDrop[];
  /** Sum of unreadBytes of the forced actions (the manager's outcomes). */
  droppedUnreadBytes: number;
  /** cri_logrotate_unread_bytes_dropped_total summed over reasons. */
  droppedMetricBytes: number;
  /** Lost lines that do not lie inside a file whose drop was reported (must be 0). */
  unreportedLostLines: number;
  dropWarnings: number;
  reader: { purgedUnreadFiles: number; purgedUnreadBytes: number; deletedUnreadFiles: number; deletedUnreadBytes: number; resumed: number; errors: number };
  /** Bytes per second per container the writers achieved, and the reader's rate. */
  writeBytesPerSecond: number;
  readBytesPerSecond: number;
  drainMs: number;
  drainTimedOut: boolean;
}

const LIMIT_REASONS = ["limit-unread-bytes", "limit-hold-timeout", "limit-root-budget"] as const;

/** Line numbers of the first and last line of a plain CRI log (reads 512 bytes at each end). */
function lineRange(path: string): { first: number; last: number } | undefined {
  let fd: number;
  try {
    fd = fs.openSync(path, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch {
    return undefined;
  }
  try {
    const size = fs.fstatSync(fd).size;
    if (size === 0) return undefined;
    const head = Buffer.alloc(Math.min(512, size));
    fs.readSync(fd, head, 0, head.length, 0);
    const tail = Buffer.alloc(Math.min(512, size));
    fs.readSync(fd, tail, 0, tail.length, size - tail.length);
    const firstLine = head.toString("utf8").split("\n")[0]!;
    const tailLines = tail.toString("utf8").split("\n");
    const lastLine = tailLines[tailLines.length - 1] === "" ? tailLines[tailLines.length - 2]! : tailLines[tailLines.length - 1]!;
    const num = (l: string) => Number(CRI_LINE.exec(l)?.[4]?.split(" ")[0]);
    const first = num(firstLine);
    const last = num(lastLine);
    return Number.isInteger(first) && Number.isInteger(last) ? { first, last } : undefined;
  } finally {
    fs.closeSync(fd);
  }
}

function diskUsage(root: string): number {
  let total = 0;
  for (const pod of safeReaddir(root)) {
    for (const container of safeReaddir(join(root, pod))) {
      const dir = join(root, pod, container);
      for (const name of safeReaddir(dir)) {
        try {
          const st = fs.lstatSync(join(dir, name));
          if (st.isFile()) total += st.size;
        } catch {
          // vanished between the listing and the stat
        }
      }
    }
  }
  return total;
}

export async function runShipperWorkload(o: WorkloadOptions): Promise<WorkloadResult> {
  // Imported here so the reader above stays usable without the host's manager and plugin.
  const { startHarness, sharedPlugin } = await import("./harness.js");
  const { loadFluentBitFilter } = await import("./fluentbit-harness.js");
  const { systemClock } = await import("../../host/clock.js");
  const { realFs } = await import("../../host/fs.js");
  const { createMetrics, currentValue } = await import("../../host/metrics.js");
  const { metricsObserver } = await import("../../host/daemon.js");
  const { ShipperProgress } = await import("../../host/progress/attacher.js");
  const { FilterFileSource } = await import("../../host/progress/filter-file.js");
  const { InTailDbSource } = await import("../../host/progress/intail-db.js");

  const h = await startHarness();
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const cleanup: (() => unknown)[] = []; // run in reverse on the way out, whatever happened
  try {
    const LOG = "0.log";
    const progressDir = join(h.base, "cri-logrotate"); // Accessible_Paths
    fs.mkdirSync(progressDir);
    // Flush often enough for a 64 KiB rotation size (defaults: 1000 records, 5 s of record time).
    fs.writeFileSync(join(progressDir, "cri-logrotate-filter.conf"), "flush_records=100\nflush_seconds=1\n");
    const dbPath = join(h.base, "tail.db");
    const filter = loadFluentBitFilter({ progressDir });
    const ids = Array.from({ length: o.containers }, (_, i) => `c${i}`);
    const dirs = ids.map((_, i) => join(h.logRoot, `ns_pod-${i}_uid`, "app"));
    // The reader keeps to a fraction of the rate the writers really achieved (timers run late under load),
    // averaged over the writing phase and frozen when the writers stop.
    const nominalRate = (o.writer.linesPerTick * o.writer.lineBytes * 1000) / o.writer.intervalMs;
    let writeStart = 0;
    let writeEnd: number | undefined;
    const writeRate = (): number => {
      const elapsed = (writeEnd ?? Date.now()) - writeStart;
      if (writeStart === 0 || elapsed < 500) return nominalRate;
      const bytes = ids.reduce((a, id) => a + h.runtime.linesWritten(id), 0) * o.writer.lineBytes;
      return (bytes / o.containers / elapsed) * 1000;
    };
    let frozenRate: number | undefined;
    const reader = new SlowReader({
      root: h.logRoot,
      bytesPerSecond: () => (frozenRate ?? writeRate()) * o.readFraction,
      rotateWaitMs: o.rotateWaitMs,
      refreshIntervalMs: o.refreshIntervalMs,
      filter,
      dbPath,
    });

    const metrics = createMetrics();
    const base = metricsObserver(metrics);
    const forcedDrops: ForcedDrop[] = [];
    let passes = 0;
    let rotations = 0;
    let heldPeakFiles = 0;
    let heldPeakBytes = 0;
    const observer = {
      ...base,
      passFinished(seconds: number, watched: number) {
        base.passFinished(seconds, watched);
        passes++;
      },
      held(files: number, bytes: number) {
        base.held(files, bytes);
        heldPeakFiles = Math.max(heldPeakFiles, files);
        heldPeakBytes = Math.max(heldPeakBytes, bytes);
      },
      outcome(out: import("../../host/executor.js").Outcome) {
        base.outcome(out);
        if (out.kind === "rotate") rotations++;
        if ((out.kind === "remove" || out.kind === "compress") && out.action.unreadBytes > 0) {
          forcedDrops.push({ kind: out.kind, path: out.path.toString("utf8"), reason: out.action.reason, unreadBytes: out.action.unreadBytes });
        }
      },
    };
    // Every plain log removed (by a remove, or by a compression removing its source) with its line range,
    // read just before the unlink, so a lost line can be traced to the file it was in.
    const removed: { path: string; first: number; last: number }[] = [];
    const fsWithLedger = {
      ...realFs,
      async remove(path: Buffer | string, missingOk?: boolean) {
        const p = path.toString();
        if (!p.endsWith(".gz") && !p.endsWith(".tmp")) {
          const r = lineRange(p);
          if (r) removed.push({ path: p, ...r });
        }
        return realFs.remove(path, missingOk);
      },
    };
    const progress =
      o.mode === "filter"
        ? new ShipperProgress({ sources: [new FilterFileSource(join(progressDir, "cri-logrotate-progress"))], plugin: sharedPlugin(), logger: h.logger })
        : o.mode === "db"
          ? new ShipperProgress({ sources: [new InTailDbSource(dbPath)], plugin: sharedPlugin(), logger: h.logger })
          : undefined;
    const manager = h.manager({
      clock: systemClock,
      intervalMs: o.intervalMs, // the config's 3 s minimum is the config's check, not the manager's
      workers: 2,
      fs: fsWithLedger,
      observer,
      progress,
      policy: {
        maxSize: o.maxSize,
        maxFiles: o.maxFiles,
        compress: o.compress,
        shipperAware: progress !== undefined,
        ...(progress ? o.limits : {}),
      },
    });

    writeStart = Date.now();
    for (let i = 0; i < o.containers; i++) {
      h.runtime.addContainer({ id: ids[i]!, name: `app-${i}`, state: "CONTAINER_RUNNING", logPath: join(dirs[i]!, LOG), writer: o.writer });
    }
    let peakDiskBytes = 0;
    const sampler = setInterval(() => (peakDiskBytes = Math.max(peakDiskBytes, diskUsage(h.logRoot))), 100);
    cleanup.push(() => clearInterval(sampler));
    reader.start();
    cleanup.push(() => reader.stop());
    manager.start();
    cleanup.push(() => manager.stop());
    await sleep(o.writeMs);
    for (const id of ids) h.runtime.stopWriter(id);
    const written = ids.map((id) => h.runtime.linesWritten(id));
    writeEnd = Date.now();
    frozenRate = writeRate();

    // Drain: until every line is delivered, or the reader has nothing left it can reach (caught up and
    // idle for longer than a rescan plus a Rotate_Wait), or the time is up.
    const drainStart = Date.now();
    const idleLimit = o.refreshIntervalMs + o.rotateWaitMs + 1000;
    let drainTimedOut = false;
    for (;;) {
      await sleep(200);
      const all = dirs.every((d, i) => reader.stats(d).delivered.size >= written[i]!);
      if (all) break;
      if (Date.now() - reader.lastDeliveryMs > idleLimit && reader.caughtUp()) break;
      if (Date.now() - drainStart > o.drainMaxMs) {
        drainTimedOut = true;
        break;
      }
    }
    const drainMs = Date.now() - drainStart;
    while (cleanup.length > 0) await cleanup.pop()!();
    peakDiskBytes = Math.max(peakDiskBytes, diskUsage(h.logRoot));

    const dropped = new Set(forcedDrops.map((d) => d.path));
    const droppedFiles = removed.filter((r) => dropped.has(r.path));
    const containers: ContainerOutcome[] = ids.map((id, i) => {
      const s = reader.stats(dirs[i]!);
      const lostLines: number[] = [];
      for (let n = 0; n < written[i]!; n++) if (!s.delivered.has(n)) lostLines.push(n);
      return { id, dir: dirs[i]!, written: written[i]!, delivered: s.delivered.size, lost: lostLines.length, duplicates: s.duplicates, lostLines };
    });
    let unreportedLostLines = 0;
    for (const c of containers) {
      const files = droppedFiles.filter((f) => f.path.startsWith(c.dir + "/"));
      for (const n of c.lostLines) if (!files.some((f) => n >= f.first && n <= f.last)) unreportedLostLines++;
    }
    const sum = (f: (s: DirStats) => number) => dirs.reduce((a, d) => a + f(reader.stats(d)), 0);
    const lost = containers.reduce((a, c) => a + c.lost, 0);
    const droppedMetricBytes = (await Promise.all(LIMIT_REASONS.map((reason) => currentValue(metrics.unreadBytesDropped, { reason })))).reduce((a, b) => a + b, 0);
    return {
      mode: o.mode,
      limited: progress !== undefined && o.limits !== undefined && Object.values(o.limits).some((v) => v !== undefined),
      containers,
      written: written.reduce((a, b) => a + b, 0),
      delivered: containers.reduce((a, c) => a + c.delivered, 0),
      lost,
      duplicates: containers.reduce((a, c) => a + c.duplicates, 0),
      lostBytes: lost * o.writer.lineBytes,
      peakDiskBytes,
      finalDiskBytes: diskUsage(h.logRoot),
      passes,
      rotations,
      heldPeakFiles,
      heldPeakBytes,
      forcedDrops,
      droppedUnreadBytes: forcedDrops.reduce((a, d) => a + d.unreadBytes, 0),
      droppedMetricBytes,
      unreportedLostLines,
      dropWarnings: h.logger.find({ level: "warn", msg: "gave up unread log bytes" }).length,
      reader: {
        purgedUnreadFiles: sum((s) => s.purgedUnread),
        purgedUnreadBytes: sum((s) => s.purgedUnreadBytes),
        deletedUnreadFiles: sum((s) => s.deletedUnread),
        deletedUnreadBytes: sum((s) => s.deletedUnreadBytes),
        resumed: sum((s) => s.resumed),
        errors: reader.errors.length,
      },
      writeBytesPerSecond: Math.round(frozenRate),
      readBytesPerSecond: Math.round(frozenRate * o.readFraction),
      drainMs,
      drainTimedOut,
    };
  } finally {
    while (cleanup.length > 0) await cleanup.pop()!();
    await h.close();
  }
}
