// How far the log shipper has read each file. Two sources report it:
//   - the filter (cri-logrotate.wasm loaded in Fluent Bit as filter_wasm) writes a progress file: per
//     path as the records carried it, generations of line-START offsets (docs/abi.md, "Progress file");
//   - Fluent Bit's in_tail SQLite DB: per inode and current name, the offset AFTER the last line read.
// The host matches either against the files it is about to plan (match.ts) before asking the rules.

/**
 * One generation the filter saw under a path. A generation ends when an offset fails to move forward,
 * which is what a new file at the same path looks like (progress.ts in assembly/fluentbit explains why).
 */
export interface FilterGeneration {
  /** Monotonic per path: 0 for the first generation ever seen, 1 for the next... (only the last 4 are kept). */
  index: number;
  /** Line-start offset of the generation's first record. */
  firstOffset: number;
  /** Highest line-start offset seen: the line starting there has been read, bytes after it maybe not. */
  maxOffset: number;
  records: number;
  /** Record times (unix seconds, the log line's own timestamp as Fluent Bit parsed it). */
  firstSec: number;
  lastSec: number;
  /** The same in milliseconds: the true time lies in [firstMs, firstMs + precisionMs). */
  firstMs?: number;
  lastMs?: number;
  /** 1 when the progress file carries nanoseconds (format 2), 1000 for whole seconds (format 1). */
  precisionMs?: number;
}

/** The filter's report: path (decoded from the JSON string the records carried) → generations, oldest first. */
export interface FilterProgress {
  file: string;
  recordsSeen: number;
  errors: number;
  /** Record time of the flush that wrote the file. */
  sec: number;
  paths: Map<string, FilterGeneration[]>;
}

/** One row of in_tail_files. */
export interface DbFileProgress {
  id: number;
  /** The name in_tail knows the file by now (renamed by in_tail when it notices a rotation). */
  name: string;
  inode: number;
  /** Offset after the last line read: equals the file size when in_tail has caught up. */
  offset: number;
  created: number;
  rotated: boolean;
}

export interface ProgressReport {
  /** Set when the filter's progress file was read (absent when the file does not exist). */
  filter?: FilterProgress;
  /** Rows of the in_tail DB (empty when the DB or its table does not exist). */
  db: DbFileProgress[];
  /** What went wrong while reading; what could not be read is simply absent above (credit less). */
  errors: ProgressSourceError[];
}

export interface ProgressSource {
  read(): Promise<ProgressReport>;
}

export { ProgressSourceError } from "../errors.js";
import type { ProgressSourceError } from "../errors.js";

/** A file the host is about to plan, and what it needs to know about it. */
export interface FileProgressQuery {
  /** Base name in the container's log directory. */
  name: string;
  /** Full path, as the shipper sees it (the same string in_tail puts in Path_Key and its DB). */
  path: string;
  inode: number;
  size: number;
  /** Start of the file's last complete line (findLastLineStart), for rotated files; undefined = unknown. */
  lastLineStart?: number;
  /** True for the live log (written to now); false for a rotated one. */
  live: boolean;
}

/** One rotation the host did: `livePath` (inode `inode`) was renamed to `rotatedPath` at `rotatedAtSec`. */
export interface RotationRecord {
  livePath: string;
  inode: number;
  rotatedPath: string;
  /** Unix seconds, taken before the rename. */
  rotatedAtSec: number;
  /**
   * Unix seconds from which this inode lived at livePath, if the host knows (the previous rotation of
   * livePath, or the file's birth time). When absent, the previous rotation of the same live path in the
   * history is used; when there is none, live-path progress is not credited at all (see match.ts).
   */
  liveSinceSec?: number;
  /** The same two times in milliseconds, when the host took them so (compared with a format 2 progress file's times). */
  rotatedAtMs?: number;
  liveSinceMs?: number;
}

export type ProgressOrigin = "db-inode" | "db-name" | "filter-rotated-path" | "filter-live-generation" | "filter-live-path" | "none";

/** What match.ts attaches to a file: the two inputs of the rules' isFullyRead. */
export interface FileProgress {
  /** How far the shipper has read; undefined = unknown (nothing credited). */
  readOffset?: number;
  /**
   * Start of the last line, only when readOffset is a line START (the filter source). For the DB source
   * it stays undefined: the DB's offset is already past the line, and readOffset >= lastLineStart would
   * credit an unread last line.
   */
  lastLineStart?: number;
  origin: ProgressOrigin;
  /** Why, in a sentence (dry run, logs). */
  detail: string;
}
