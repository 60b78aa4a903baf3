// The project's Prometheus metrics (docs/operations.md, "Metrics"), on a prom-client registry of their own.
// The HTTP server that exposes them is metrics-server.ts.
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";
import { ERROR_KINDS, type ErrorKind } from "./manager/observer.js";
import type { ReasonName } from "./plugin/types.js";

/** Values of errors_total{kind}: which step failed. Every one has a series from the start. */
export { ERROR_KINDS, type ErrorKind };

/** The plan's reasons for removing a file (assembly/rules/plan.ts). */
export const REMOVAL_REASONS = [
  "unused-tmp",
  "unused-compressed-twin",
  "excess",
  "limit-unread-bytes",
  "limit-hold-timeout",
  "limit-root-budget",
] as const satisfies readonly ReasonName[];

/** The limits that may force out bytes the shipper has not read (shipper-aware mode). */
export const DROP_REASONS = ["limit-unread-bytes", "limit-hold-timeout", "limit-root-budget"] as const satisfies readonly ReasonName[];

/** Seconds; a pass spans CRI calls and gzip of up to containerLogMaxSize per container. */
export const PASS_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const;

export interface MetricsOptions {
  /**
   * Also collect prom-client's process and Node.js runtime metrics (CPU, memory, open fds, event-loop
   * lag, GC) on this registry. For the daemon: they start an event-loop monitor that runs for the life of
   * the process.
   */
  processMetrics?: boolean;
}

export function createMetrics(options: MetricsOptions = {}) {
  const registry = new Registry();
  const registers = [registry];
  const counter = <L extends string = never>(name: string, help: string, labelNames: readonly L[] = []) =>
    new Counter<L>({ name, help, labelNames, registers });
  const gauge = (name: string, help: string) => new Gauge({ name, help, registers });

  const m = {
    registry,
    rotations: counter("cri_logrotate_rotations_total", "Live logs renamed to a rotated name and reopened by the runtime."),
    compressions: counter("cri_logrotate_compressions_total", "Rotated logs compressed."),
    compressedBytesIn: counter("cri_logrotate_compressed_bytes_in_total", "Bytes read by compression."),
    compressedBytesOut: counter("cri_logrotate_compressed_bytes_out_total", "Bytes written by compression."),
    removals: counter("cri_logrotate_removals_total", "Log files removed, by the plan's reason.", ["reason"]),
    recoveries: counter("cri_logrotate_recoveries_total", "Missing live logs recovered with ReopenContainerLog."),
    errors: counter("cri_logrotate_errors_total", "Failures by step; one container's failure never stops the others.", ["kind"]),
    passDuration: new Histogram({
      name: "cri_logrotate_pass_duration_seconds",
      help: "Duration of one rotation pass over all containers.",
      buckets: [...PASS_DURATION_BUCKETS],
      registers,
    }),
    containersWatched: gauge("cri_logrotate_containers_watched", "Running containers whose logs are managed."),
    heldFiles: gauge("cri_logrotate_held_files", "Rotated files kept uncompressed because the shipper has not read them to the end."),
    heldUnreadBytes: gauge("cri_logrotate_held_unread_bytes", "Bytes in held files the shipper has not read yet."),
    unreadBytesDropped: counter(
      "cri_logrotate_unread_bytes_dropped_total",
      "Bytes compressed or removed before the shipper read them, forced by a limit (reason).",
      ["reason"],
    ),
    runtimeUp: gauge("cri_logrotate_runtime_up", "1 if the last CRI call succeeded, 0 otherwise."),
    compressionBacklogFiles: gauge("cri_logrotate_compression_backlog_files", "Rotated logs waiting for or in background compression."),
    compressionBacklogBytes: gauge("cri_logrotate_compression_backlog_bytes", "Bytes of the rotated logs waiting for or in background compression."),
    compressionsDropped: counter(
      "cri_logrotate_compressions_dropped_total",
      "Rotated logs removed as excess before their compression ran (compression could not keep up).",
    ),
    /** Shorthand for errors.inc({ kind }). */
    error(kind: ErrorKind): void {
      m.errors.inc({ kind });
    },
  };
  // A series that appears only with its first event is invisible to increase()/rate() at that event:
  // every label value we know of is shown at 0 from the start.
  for (const kind of ERROR_KINDS) m.errors.inc({ kind }, 0);
  for (const reason of REMOVAL_REASONS) m.removals.inc({ reason }, 0);
  for (const reason of DROP_REASONS) m.unreadBytesDropped.inc({ reason }, 0);
  if (options.processMetrics) collectDefaultMetrics({ register: registry });
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;

/** The current value of one series of a counter or gauge (0 when it has none yet): /healthz and tests. */
export async function currentValue(metric: Counter<string> | Gauge<string>, labels: Record<string, string> = {}): Promise<number> {
  const { values } = await metric.get();
  const wanted = Object.entries(labels);
  const series = values.find((v) => {
    const have = Object.entries(v.labels);
    return have.length === wanted.length && wanted.every(([k, x]) => v.labels[k] === x);
  });
  return series?.value ?? 0;
}
