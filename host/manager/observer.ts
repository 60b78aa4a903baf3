// What the manager reports as it works; the daemon turns these into Prometheus metrics (host/metrics.ts).
import type { Outcome } from "../executor.js";

/** The step that failed: the `kind` label of cri_logrotate_errors_total. */
export const ERROR_KINDS = ["list", "status", "stat", "path", "plan", "rotate", "reopen", "compress", "remove", "progress"] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

export interface ManagerObserver {
  passFinished(seconds: number, watched: number): void;
  outcome(o: Outcome): void;
  held(files: number, unreadBytes: number): void;
  error(kind: ErrorKind): void;
  runtimeUp(up: boolean): void;
  /** Rotated files waiting for (or in) compression, and their bytes. */
  compressionBacklog(files: number, bytes: number): void;
  /** A compression skipped because the file went as excess first (the backlog policy). */
  compressionDropped(files: number): void;
}

export const nullObserver: ManagerObserver = {
  passFinished() {},
  outcome() {},
  held() {},
  error() {},
  runtimeUp() {},
  compressionBacklog() {},
  compressionDropped() {},
};
