// Shipper-aware mode's glue. Once per pass it reads every configured progress source (refresh); for each
// container it gathers the facts the rules need about its files through Fs and asks the rules module which
// claims credit which file (attach, crl_credit_progress); and it remembers the rotations this shim did
// (rotated), which is how claims keyed by a path are told apart. This is the one place that decides what
// a source failure logs: each distinct failure once, again every REPEAT_WARNING_MS while it lasts, and a
// line when the source recovers.
import type { Config } from "../config/index.js";
import { joinPath, realFs, type DirEntry, type Fs } from "../fs.js";
import type { Logger } from "../log.js";
import type { ProgressAttacher } from "../manager/index.js";
import type { LogLocation } from "../paths.js";
import type { CreditFile, CreditRotation, FileCredit, FileEntry, Plugin } from "../plugin/types.js";
import type { Outcome } from "../executor.js";
import { FileFacts } from "./facts.js";
import { FilterFileSource } from "./filter-file.js";
import { InTailDbSource } from "./intail-db.js";
import { FluentdPosFileSource } from "./fluentd-pos-file.js";
import { PositionsYamlSource } from "./positions-yaml.js";
import { VectorCheckpointsSource } from "./vector-checkpoints.js";
import { OtelFileStorageSource } from "./otel-file-storage.js";
import { ProgressSourceError } from "../errors.js";
import type { ProgressClaim, ProgressSource } from "./types.js";

/** Rotations remembered per live path: enough to match generations the filter still reports (it keeps 4). */
const HISTORY_PER_PATH = 8;
/** Path observations remembered per (shipper, path), and paths remembered at all. */
const OBSERVATIONS_PER_PATH = 16;
const OBSERVED_PATHS = 65536;
/** How often a failure that persists is logged again. */
export const REPEAT_WARNING_MS = 10 * 60 * 1000;

type PathClaim = Extract<ProgressClaim, { kind: "path" }>;

export interface ShipperProgressOptions {
  sources: ProgressSource[];
  plugin: Pick<Plugin, "creditProgress">;
  logger: Logger;
  fs?: Fs;
  /** Wall clock in ms, for spacing repeated warnings. */
  now?: () => number;
}

const toBuffer = (p: string | Buffer): Buffer => (Buffer.isBuffer(p) ? p : Buffer.from(p, "utf8"));
const keyOf = (p: Buffer): string => p.toString("latin1");

/**
 * Claims by the key a file could match them on. Every claim that could ever credit a file shares one of
 * the file's keys (its inode, its checksum, its first bytes, its path or a path of its history), so a
 * container's request carries only the claims about it — the rules still decide which of those count.
 */
class ClaimIndex {
  private readonly byKey = new Map<string, ProgressClaim[]>();
  /** First-bytes claims shorter than the key length: compared with every file. */
  private readonly shortFirstBytes: ProgressClaim[] = [];
  static readonly FIRST_BYTES_KEY = 8;
  needsCrc = false;
  firstBytesWanted = 0;

  constructor(claims: ProgressClaim[]) {
    for (const c of claims) {
      switch (c.kind) {
        case "inode-name":
        case "dev-inode":
          this.add(`i${c.inode}`, c);
          break;
        case "first-line-crc64":
          this.needsCrc = true;
          this.add(`c${c.checksum}`, c);
          break;
        case "first-bytes":
          this.firstBytesWanted = Math.max(this.firstBytesWanted, c.firstBytes.length);
          if (c.firstBytes.length < ClaimIndex.FIRST_BYTES_KEY) this.shortFirstBytes.push(c);
          else this.add(`b${c.firstBytes.subarray(0, ClaimIndex.FIRST_BYTES_KEY).toString("hex")}`, c);
          break;
        case "path":
        case "generation":
          this.add(`p${keyOf(c.path)}`, c);
          break;
      }
    }
  }

  private add(key: string, c: ProgressClaim): void {
    const list = this.byKey.get(key);
    if (list) list.push(c);
    else this.byKey.set(key, [c]);
  }

  /** The claims that share a key with these files or their history, each once, in the sources' order. */
  about(files: CreditFile[], history: CreditRotation[]): ProgressClaim[] {
    const keys = new Set<string>();
    for (const f of files) {
      keys.add(`i${f.inode}`);
      keys.add(`p${keyOf(f.path)}`);
      if (f.firstLineCrc64 !== undefined) keys.add(`c${f.firstLineCrc64}`);
      if (f.firstBytes && f.firstBytes.length >= ClaimIndex.FIRST_BYTES_KEY) keys.add(`b${f.firstBytes.subarray(0, ClaimIndex.FIRST_BYTES_KEY).toString("hex")}`);
    }
    for (const h of history) {
      keys.add(`p${keyOf(h.livePath)}`);
      keys.add(`p${keyOf(h.rotatedPath)}`);
    }
    const seen = new Set<ProgressClaim>();
    const out: ProgressClaim[] = [];
    for (const k of keys) {
      for (const c of this.byKey.get(k) ?? []) {
        if (!seen.has(c)) {
          seen.add(c);
          out.push(c);
        }
      }
    }
    if (files.some((f) => f.firstBytes !== undefined)) out.push(...this.shortFirstBytes);
    return out;
  }
}

export class ShipperProgress implements ProgressAttacher {
  private index = new ClaimIndex([]);
  /** Rotations this shim did, per live path (latin1 of its bytes). */
  private readonly history = new Map<string, CreditRotation[]>();
  /** Path observations (Promtail, Alloy) kept across passes, per shipper and path: see remember(). */
  private readonly observations = new Map<string, PathClaim[]>();
  private readonly facts: FileFacts;
  private readonly fs: Fs;
  private readonly now: () => number;
  /** What was logged last per failure key, to log each failure once (then every REPEAT_WARNING_MS). */
  private readonly failing = new Map<string, { what: string; loggedAtMs: number }>();
  /** Failures since the last takeFailures(), logged or not. */
  private failures = 0;

  constructor(private readonly o: ShipperProgressOptions) {
    this.fs = o.fs ?? realFs;
    this.facts = new FileFacts(this.fs);
    this.now = o.now ?? Date.now;
  }

  async refresh(): Promise<void> {
    const claims: ProgressClaim[] = [];
    for (const source of this.o.sources) {
      let errors: ProgressSourceError[];
      try {
        const r = await source.read();
        for (const c of r.claims) {
          if (c.kind === "path") this.remember(c);
          else claims.push(c);
        }
        errors = r.errors;
      } catch (cause) {
        // A source is meant to report, not throw; if one does, its files count as unread all the same.
        errors = [new ProgressSourceError("PROGRESS_SOURCE_FAILED", source.name, `shipper progress source ${source.name} failed`, { cause })];
      }
      this.report(`source ${source.name}`, errors[0], { source: source.name, path: errors[0]?.path, code: errors[0]?.code, err: errors[0], more: errors.length - 1 });
    }
    for (const list of this.observations.values()) claims.push(...list);
    this.index = new ClaimIndex(claims);
  }

  /**
   * Keeps a path observation across passes: the rules tell which file a path's offset was about by the
   * runs of observations (an offset going down is the reader moving to a new file). Of a run, only what
   * the rules can use is kept: its first observation, the last one before each rotation of the path this
   * shim did, and the latest; the others prove nothing those do not.
   */
  private remember(c: PathClaim): void {
    const key = `${c.shipper}\0${keyOf(c.path)}`;
    let list = this.observations.get(key);
    if (!list) {
      if (this.observations.size >= OBSERVED_PATHS) this.observations.delete(this.observations.keys().next().value as string);
      list = [];
      this.observations.set(key, list);
    }
    const last = list[list.length - 1];
    if (last && c.takenAtMs <= last.takenAtMs) return; // the same snapshot again (or an older one)
    const beforeLast = list[list.length - 2];
    const lastStartsRun = !beforeLast || last!.offset < beforeLast.offset;
    const rotatedBetween = last !== undefined && (this.history.get(keyOf(c.path)) ?? []).some((h) => h.rotatedAtMs > last.takenAtMs && h.rotatedAtMs <= c.takenAtMs);
    if (last && c.offset >= last.offset && !lastStartsRun && !rotatedBetween) list[list.length - 1] = c;
    else list.push(c);
    while (list.length > OBSERVATIONS_PER_PATH) list.shift();
  }

  async attach(containerId: string, location: LogLocation, entries: DirEntry[]): Promise<FileEntry[]> {
    const logName = location.logName;
    const rotatedPrefix = Buffer.concat([logName, Buffer.from(".")]);
    const out: FileEntry[] = entries.map((e) => ({ name: e.name, kind: e.kind, size: e.size, mtime: Math.floor(e.mtimeMs / 1000) }));
    const files: CreditFile[] = [];
    const indexes: number[] = [];
    const want = { crc: this.index.needsCrc, firstBytes: this.index.firstBytesWanted };
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (e.kind !== "file") continue;
      const live = e.name.equals(logName);
      if (!live && !(e.name.length > rotatedPrefix.length && e.name.subarray(0, rotatedPrefix.length).equals(rotatedPrefix))) continue;
      if (!Number.isSafeInteger(e.inode)) continue; // not exactly known as a number: credit nothing rather than a neighbour
      const path = joinPath(location.dir, e.name);
      const file: CreditFile = { path, live, inode: BigInt(e.inode), size: e.size };
      if (e.dev !== undefined) file.dev = BigInt(e.dev);
      if (e.birthtimeMs !== undefined) file.bornMs = Math.floor(e.birthtimeMs);
      try {
        // A rotated file no longer grows: where its last line starts is read once (cached).
        if (!live) file.lastLineStart = await this.facts.lastLineStart(path, e);
        if ((want.crc || want.firstBytes > 0) && !e.name.subarray(e.name.length - 3).equals(Buffer.from(".gz"))) {
          Object.assign(file, await this.facts.head(path, e, want));
        }
      } catch (err) {
        // The file vanished or cannot be read: what is unknown about it credits less, never more. A
        // file that vanished since the listing is the ordinary race with a rotation: not worth a line.
        if ((err as NodeJS.ErrnoException).code !== "ENOENT") this.report("facts", err as Error, { containerId, path, err });
      }
      files.push(file);
      indexes.push(i);
    }
    if (files.length === 0) return out;
    const history = this.history.get(keyOf(toBuffer(location.logPath))) ?? [];
    let credits: FileCredit[];
    try {
      credits = this.o.plugin.creditProgress({ files, history, claims: this.index.about(files, history) });
    } catch (err) {
      this.report("rules", err as Error, { containerId, path: location.logPath, err });
      return out;
    }
    this.report("rules", undefined, {});
    credits.forEach((c, k) => {
      const entry = out[indexes[k]!]!;
      entry.readOffset = c.readOffset;
      entry.lastLineStart = c.lineStart ? files[k]!.lastLineStart : undefined;
    });
    return out;
  }

  /**
   * A rotation this shim did. `atMs` must be taken after the rename and before the runtime reopens the
   * live path: records written before it are the renamed inode's.
   */
  rotated(_containerId: string, location: LogLocation, outcome: Extract<Outcome, { kind: "rotate" }>, atMs: number): void {
    const livePath = toBuffer(location.logPath);
    const key = keyOf(livePath);
    const records = this.history.get(key) ?? [];
    const previous = records[records.length - 1];
    records.push({
      livePath,
      inode: BigInt(outcome.inode),
      rotatedPath: Buffer.from(outcome.rotatedPath),
      rotatedAtMs: atMs,
      ...(previous ? { liveSinceMs: previous.rotatedAtMs } : {}),
    });
    while (records.length > HISTORY_PER_PATH) records.shift();
    this.history.set(key, records);
  }

  takeFailures(): number {
    const n = this.failures;
    this.failures = 0;
    return n;
  }

  /**
   * Logs a failure under `key` once (again every REPEAT_WARNING_MS), and its recovery; undefined = fine
   * now. Every failure is counted (takeFailures), logged or not.
   */
  private report(key: string, err: Error | undefined, fields: Record<string, unknown>): void {
    const before = this.failing.get(key);
    if (err !== undefined) this.failures++;
    if (err === undefined) {
      if (before) {
        this.failing.delete(key);
        this.o.logger.info("shipper progress readable again", { what: key });
      }
      return;
    }
    const what = `${(err as { code?: string }).code ?? ""} ${err.message}`;
    const now = this.now();
    if (before && before.what === what && now - before.loggedAtMs < REPEAT_WARNING_MS) return;
    this.failing.set(key, { what, loggedAtMs: now });
    this.o.logger.warn(messageFor(key), fields);
  }
}

function messageFor(key: string): string {
  if (key.startsWith("source ")) return "shipper progress source failed; the files it covers count as unread";
  if (key === "facts") return "cannot read a log file's head or last line; its shipper progress counts as unknown";
  return "the rules module failed to credit shipper progress; the container's files count as unread";
}

/** The sources the config names, in a fixed order. */
export function configuredSources(config: Config, fs: Fs = realFs): ProgressSource[] {
  const p = config.progress;
  const sources: ProgressSource[] = [];
  if (p.fluentBitProgressFile) sources.push(new FilterFileSource(p.fluentBitProgressFile));
  if (p.inTailDb) sources.push(new InTailDbSource(p.inTailDb));
  if (p.vectorCheckpoints) sources.push(new VectorCheckpointsSource(p.vectorCheckpoints, fs));
  if (p.fluentdPosFile) sources.push(new FluentdPosFileSource(p.fluentdPosFile, fs));
  if (p.promtailPositions) sources.push(new PositionsYamlSource("promtail", p.promtailPositions, fs));
  if (p.alloyPositions) sources.push(new PositionsYamlSource("alloy", p.alloyPositions, fs));
  // Its claims are first-bytes claims of the shape in ./types.ts (the source declares the same types).
  if (p.otelFileStorage) sources.push(new OtelFileStorageSource({ path: p.otelFileStorage }));
  return sources;
}

/** The attacher for the configured sources, or undefined (the kubelet's behaviour) when none is set. */
export function createProgressAttacher(config: Config, plugin: Pick<Plugin, "creditProgress">, logger: Logger, fs: Fs = realFs): ShipperProgress | undefined {
  const sources = configuredSources(config, fs);
  return sources.length > 0 ? new ShipperProgress({ sources, plugin, logger, fs }) : undefined;
}
