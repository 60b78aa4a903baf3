// The shipper's read offsets, as the manager needs them (shipper-aware mode). host/progress/ implements it.
import type { DirEntry } from "../fs.js";
import type { Outcome } from "../executor.js";
import type { LogLocation } from "../paths.js";
import type { FileEntry } from "../plugin/types.js";

/** Attaches the shipper's read offsets to a container's files before planning. */
export interface ProgressAttacher {
  /** Called once per pass before planning; may read a progress file or DB. */
  refresh(): Promise<void>;
  attach(containerId: string, location: LogLocation, entries: DirEntry[]): Promise<FileEntry[]>;
  /** Told about every rotation the executor did, so progress under the old name can be matched. */
  rotated(containerId: string, location: LogLocation, outcome: Extract<Outcome, { kind: "rotate" }>, atMs: number): void;
  /**
   * How many failures (a source unreadable, a file's head unreadable, the rules refusing a request) there
   * were since the last call. The attacher logs them (once per distinct failure); the manager counts each
   * in cri_logrotate_errors_total{kind="progress"}.
   */
  takeFailures(): number;
}
