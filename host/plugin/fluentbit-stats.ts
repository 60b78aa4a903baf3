// The Fluent Bit filter's stats block (crl_fluentbit_stats, docs/abi.md): fifteen little-endian i64 at
// the pointer the export returns. Layout mirrored from assembly/abi/fluentbit.ts; fields are only ever
// appended.
import { FilterStatus } from "./status.js";

export interface FilterStats {
  recordsSeen: number;
  /** Records credited to a path (duplicates included). */
  recordsTracked: number;
  recordErrors: number;
  ioErrors: number;
  configErrors: number;
  flushes: number;
  paths: number;
  evictions: number;
  /** A FilterStatus value (WRITE_FAILED + errno for a failed write). */
  lastStatus: number;
  configReadErrno: number;
  outputCapacity: number;
  /** Records dropped because this instance had passed them before (a re-read). */
  duplicatesDropped: number;
  /** Heartbeat records seen (and dropped). */
  heartbeats: number;
  /** Generations read back from the progress file at start-up. */
  restoredGenerations: number;
  /** A RestoreStatus value. */
  restoreStatus: number;
}

export const FILTER_STATS_FIELDS: readonly (keyof FilterStats)[] = [
  "recordsSeen", "recordsTracked", "recordErrors", "ioErrors", "configErrors", "flushes",
  "paths", "evictions", "lastStatus", "configReadErrno", "outputCapacity",
  "duplicatesDropped", "heartbeats", "restoredGenerations", "restoreStatus",
];

export const FILTER_STATS_BYTES = FILTER_STATS_FIELDS.length * 8;

/** Decodes the block at `ptr` of the module's memory. */
export function decodeFilterStats(memory: ArrayBuffer, ptr: number): FilterStats {
  const view = new DataView(memory, ptr, FILTER_STATS_BYTES);
  const out = {} as FilterStats;
  FILTER_STATS_FIELDS.forEach((name, i) => (out[name] = Number(view.getBigInt64(i * 8, true))));
  return out;
}

/** The name of a lastStatus value, e.g. "SYNTAX" or "WRITE_FAILED(errno 76)". */
export function filterStatusName(code: number): string {
  if (code >= FilterStatus.WRITE_FAILED) return `WRITE_FAILED(errno ${code - FilterStatus.WRITE_FAILED})`;
  const hit = Object.entries(FilterStatus).find(([, v]) => v === code);
  return hit ? hit[0] : `UNKNOWN_${code}`;
}
