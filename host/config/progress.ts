// The `progress` section: where the shipper's read positions come from (shipper-aware mode) and the
// limits on holding unread files.
import { ConfigError } from "../errors.js";
import type { Plugin } from "../plugin/types.js";
import { asAbsolutePath, asDurationMs, asQuantity, type Sourced } from "./values.js";

export interface ProgressConfig {
  /** File written by the Fluent Bit filter_wasm face: how far the agent has read each log. */
  fluentBitProgressFile?: string;
  /** Fluent Bit in_tail SQLite offsets database, a second source of the same fact. */
  inTailDb?: string;
  /** Vector's checkpoints.json (kubernetes_logs / file source); checkpoints.new.json beside it is read first. */
  vectorCheckpoints?: string;
  /** fluentd in_tail's pos_file. */
  fluentdPosFile?: string;
  /** Promtail's positions.yaml. */
  promtailPositions?: string;
  /** A Grafana Alloy loki.source.file component's positions.yml. */
  alloyPositions?: string;
  /** The OpenTelemetry Collector's file_storage file of a filelog receiver (receiver_filelog_<name>). */
  otelFileStorage?: string;
  /** Bytes not yet shipped that one container may hold back before they are dropped anyway. */
  maxUnreadBytesPerContainer?: number;
  /** How long an unread rotated file may be held before it is compressed/removed anyway. */
  holdTimeoutSeconds?: number;
  /** Bytes the whole log root may use before held files are released, oldest first. */
  logRootBudget?: number;
}

/** YAML key under `progress:` → flag. */
export const PROGRESS_KEYS = {
  fluentBitProgressFile: "fluent-bit-progress-file",
  inTailDb: "in-tail-db",
  vectorCheckpoints: "vector-checkpoints",
  fluentdPosFile: "fluentd-pos-file",
  promtailPositions: "promtail-positions",
  alloyPositions: "alloy-positions",
  otelFileStorage: "otel-file-storage",
  maxUnreadBytesPerContainer: "max-unread-bytes-per-container",
  holdTimeout: "hold-timeout",
  logRootBudget: "log-root-budget",
} as const;
export type ProgressKey = keyof typeof PROGRESS_KEYS;

export function readProgressConfig(setting: (key: ProgressKey) => Sourced | undefined, plugin: Plugin): ProgressConfig {
  const progress: ProgressConfig = {};
  const fb = setting("fluentBitProgressFile");
  if (fb) progress.fluentBitProgressFile = asAbsolutePath(fb, "the file the Fluent Bit filter writes");
  const db = setting("inTailDb");
  if (db) progress.inTailDb = asAbsolutePath(db, "Fluent Bit's in_tail DB file");
  const vector = setting("vectorCheckpoints");
  if (vector) progress.vectorCheckpoints = asAbsolutePath(vector, "Vector's checkpoints.json, e.g. /var/lib/vector/kubernetes_logs/checkpoints.json");
  const fluentd = setting("fluentdPosFile");
  if (fluentd) progress.fluentdPosFile = asAbsolutePath(fluentd, "fluentd in_tail's pos_file");
  const promtail = setting("promtailPositions");
  if (promtail) progress.promtailPositions = asAbsolutePath(promtail, "Promtail's positions.yaml");
  const alloy = setting("alloyPositions");
  if (alloy) progress.alloyPositions = asAbsolutePath(alloy, "the positions.yml of an Alloy loki.source.file component");
  const otel = setting("otelFileStorage");
  if (otel) progress.otelFileStorage = asAbsolutePath(otel, "the collector's file_storage file, e.g. /var/lib/otelcol/file_storage/receiver_filelog_");
  const unread = setting("maxUnreadBytesPerContainer");
  if (unread) progress.maxUnreadBytesPerContainer = asQuantity(unread, plugin);
  const hold = setting("holdTimeout");
  if (hold) {
    const d = asDurationMs(hold);
    if (d.ms < 0) throw new ConfigError(`${hold.where} must not be negative, got ${JSON.stringify(d.text)}; leave it unset for no limit`);
    // The rules count whole seconds; round up so a sub-second timeout still holds for a moment.
    progress.holdTimeoutSeconds = Math.ceil(d.ms / 1000);
  }
  const budget = setting("logRootBudget");
  if (budget) progress.logRootBudget = asQuantity(budget, plugin);
  return progress;
}
