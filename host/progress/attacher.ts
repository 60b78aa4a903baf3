// Shipper-aware mode's glue: reads the configured progress sources once per pass, remembers the
// rotations this shim did, and attaches (readOffset, lastLineStart) to a container's files through
// match.ts before the rules plan them.
import type { Config } from "../config/index.js";
import type { DirEntry } from "../fs.js";
import type { Logger } from "../log.js";
import type { ProgressAttacher } from "../manager.js";
import type { LogLocation } from "../paths.js";
import type { FileEntry } from "../plugin/types.js";
import type { Outcome } from "../executor.js";
import { FilterFileSource } from "./filter-file.js";
import { InTailDbSource } from "./intail-db.js";
import { LastLineStartCache, matchProgress } from "./match.js";
import type { FileProgressQuery, ProgressReport, ProgressSource, RotationRecord } from "./types.js";

/** Rotations remembered per live path: enough to match generations the filter still reports (it keeps 4). */
const HISTORY_PER_PATH = 8;

export class ShipperProgress implements ProgressAttacher {
  private report: ProgressReport = { db: [], errors: [] };
  private readonly history = new Map<string, RotationRecord[]>();
  private readonly lastLines = new LastLineStartCache();

  constructor(
    private readonly sources: ProgressSource[],
    private readonly logger: Logger,
  ) {}

  async refresh(): Promise<void> {
    const merged: ProgressReport = { db: [], errors: [] };
    for (const source of this.sources) {
      const r = await source.read();
      if (r.filter) merged.filter = r.filter;
      merged.db.push(...r.db);
      merged.errors.push(...r.errors);
    }
    for (const err of merged.errors) this.logger.warn("shipper progress source failed; its files count as unread", { path: err.path, code: err.code, err });
    this.report = merged;
  }

  async attach(_containerId: string, location: LogLocation, entries: DirEntry[]): Promise<FileEntry[]> {
    const logName = location.logName;
    const rotatedPrefix = Buffer.concat([logName, Buffer.from(".")]);
    const out: FileEntry[] = entries.map((e) => ({ name: e.name, kind: e.kind, size: e.size, mtime: Math.floor(e.mtimeMs / 1000) }));
    const queries: FileProgressQuery[] = [];
    const indexes: number[] = [];
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i]!;
      if (e.kind !== "file") continue;
      const live = e.name.equals(logName);
      if (!live && !(e.name.length > rotatedPrefix.length && e.name.subarray(0, rotatedPrefix.length).equals(rotatedPrefix))) continue;
      const path = `${location.dir}/${e.name.toString("utf8")}`;
      // A rotated file no longer grows: find where its last line starts once (cached by inode and size).
      const lastLineStart = live ? undefined : await this.lastLines.get(path, e.inode, e.size).catch(() => undefined);
      queries.push({ name: e.name.toString("utf8"), path, inode: e.inode, size: e.size, lastLineStart, live });
      indexes.push(i);
    }
    const history = [...this.history.values()].flat();
    const progress = matchProgress(queries, history, this.report);
    progress.forEach((p, k) => {
      const entry = out[indexes[k]!]!;
      entry.readOffset = p.readOffset;
      entry.lastLineStart = p.lastLineStart;
    });
    return out;
  }

  rotated(_containerId: string, location: LogLocation, outcome: Extract<Outcome, { kind: "rotate" }>, atMs: number): void {
    const livePath = location.logPath;
    const records = this.history.get(livePath) ?? [];
    const previous = records[records.length - 1];
    records.push({
      livePath,
      inode: outcome.inode,
      rotatedPath: outcome.rotatedPath.toString("utf8"),
      rotatedAtSec: Math.floor(atMs / 1000),
      liveSinceSec: previous?.rotatedAtSec,
      rotatedAtMs: atMs,
      liveSinceMs: previous?.rotatedAtMs,
    });
    while (records.length > HISTORY_PER_PATH) records.shift();
    this.history.set(livePath, records);
  }
}

/** The attacher for the configured sources, or undefined (the kubelet's behaviour) when none is set. */
export function createProgressAttacher(config: Config, logger: Logger): ShipperProgress | undefined {
  const sources: ProgressSource[] = [];
  if (config.progress.fluentBitProgressFile) sources.push(new FilterFileSource(config.progress.fluentBitProgressFile, logger));
  if (config.progress.inTailDb) sources.push(new InTailDbSource(config.progress.inTailDb, { logger }));
  return sources.length > 0 ? new ShipperProgress(sources, logger) : undefined;
}
