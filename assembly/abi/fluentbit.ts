// The Fluent Bit face: the export filter_wasm calls once per record (json event format), following
// src/wasm/flb_wasm.c to the letter (docs/abi.md, "Fluent Bit face"):
//   char *crl_fluentbit_filter(char *tag, int tag_len, uint32_t sec, uint32_t nsec, char *rec, int rec_len)
// The host copies tag and record NUL-terminated into our memory (through __new/__pin), calls, strdup()s
// the NUL-terminated JSON we return, then frees its two copies; it never frees what we return, so the
// result lives in a global buffer reused by the next call. A NULL or "" result, or a trap, drops the
// record. This function returns every record unchanged except two kinds it drops on purpose by returning
// "": a record this instance already passed once (a file in_tail reads again, assembly/fluentbit/progress.ts)
// and a heartbeat (the configured tag). Whatever else goes wrong is counted, and the record still passes.
// It never traps.
import { RecordFields, RecordStatus, OffsetKind, scanRecord, recordFingerprint } from "./fluentbit-record";
import { FilterStatus } from "./status";
import { ByteSink, Restored, RestoreStatus, MAX_PROGRESS_BYTES, restoreProgressFile, writeProgressFile } from "./progress-file";
import { ERRNO_NOENT, ERRNO_SUCCESS, firstPreopenDir, readSmallFile, replaceFile } from "./wasi";
import { EMPTY, ProgressTable } from "../fluentbit/progress";
import { CONFIG_FILE_NAME, FilterConfig, MAX_CONFIG_BYTES, parseConfig } from "../fluentbit/config";
import { asciiBytes } from "../rules/bytes";

type ptr<T> = usize;

/** The returned record: grown to the largest record seen, never shrunk, never freed by the host. */
let output = new ArrayBuffer(4096);
/** Returned when the host's pointers are unusable: an object is the one output that never drops. */
const EMPTY_OBJECT: usize = memory.data<u8>([0x7b, 0x7d, 0x00]);
/** Returned to drop a record (Fluent Bit skips a record whose result is ""). */
const DROP: usize = memory.data<u8>([0x00]);

let config: FilterConfig | null = null;
let table: ProgressTable | null = null;
const fields = new RecordFields();
const sink = new ByteSink();

// Counters, mirrored into the stats block after every call.
let recordsSeen: i64 = 0;
let recordsTracked: i64 = 0;
let recordErrors: i64 = 0; // records that are not a JSON object we can scan, or carry a bad offset
let ioErrors: i64 = 0; // failed progress file writes
let flushes: i64 = 0;
let duplicatesDropped: i64 = 0;
let heartbeats: i64 = 0;
let restoredGenerations: i64 = 0;
let restoreStatus: RestoreStatus = RestoreStatus.Absent;
let lastStatus: FilterStatus = FilterStatus.None;
let lastErrno: i64 = 0;

// Flush throttling, in record time (the sec argument; a heartbeat's is the wall clock), not by a clock of
// our own: the module has no clock import.
let pending: i64 = 0; // tracked records since the last flush attempt
let lastFlushSec: i64 = 0;
let flushedOnce = false;

/**
 * crl_fluentbit_stats() points here: fifteen little-endian i64, rewritten after every filter call.
 *   0 recordsSeen  8 recordsTracked  16 recordErrors  24 ioErrors  32 configErrors  40 flushes
 *   48 paths  56 evictions  64 lastStatus  72 configReadErrno  80 outputCapacity
 *   88 duplicatesDropped  96 heartbeats  104 restoredGenerations  112 restoreStatus
 */
const STATS_FIELDS = 15;
const STATS: usize = memory.data(STATS_FIELDS * 8, 8);

function loadConfig(dir: i32): FilterConfig {
  const cfg = new FilterConfig();
  if (dir < 0) return cfg;
  const r = readSmallFile(dir, asciiBytes(CONFIG_FILE_NAME), MAX_CONFIG_BYTES);
  cfg.readErrno = r.errno;
  if (r.errno == ERRNO_NOENT) return cfg;
  if (r.errno != ERRNO_SUCCESS) {
    cfg.errors++;
    return cfg;
  }
  parseConfig(cfg, r.data);
  return cfg;
}

/** What this filter knew before a restart: the generations in its last progress file. */
function loadTable(dir: i32, cfg: FilterConfig): ProgressTable {
  if (dir < 0) return new ProgressTable();
  const r = readSmallFile(dir, cfg.progressFile, MAX_PROGRESS_BYTES);
  if (r.errno != ERRNO_SUCCESS) {
    restoreStatus = r.errno == ERRNO_NOENT ? RestoreStatus.Absent : RestoreStatus.ReadFailed;
    return new ProgressTable();
  }
  const restored: Restored = restoreProgressFile(r.data);
  restoreStatus = restored.status;
  if (restored.table == null) return new ProgressTable();
  restoredGenerations = <i64>restored.generations;
  return restored.table!;
}

function setup(): void {
  const dir = firstPreopenDir();
  const cfg = loadConfig(dir);
  config = cfg;
  table = loadTable(dir, cfg);
}

function inMemory(p: usize, len: i32): bool {
  if (len < 0) return false;
  const end = <u64>p + <u64>len + 1; // the host's trailing NUL is ours to read too
  return end <= (<u64>memory.size() << 16);
}

/** Copies [p, p+len) plus a NUL into the global output buffer and returns its address. */
function echo(p: usize, len: i32): usize {
  const need = len + 1;
  if (output.byteLength < need) {
    let cap = output.byteLength * 2;
    if (cap < need) cap = need;
    output = new ArrayBuffer(cap); // the old buffer is garbage now; the next __collect frees it
  }
  const base = changetype<usize>(output);
  memory.copy(base, p, <usize>len);
  store<u8>(base + <usize>len, 0);
  return base;
}

function flush(sec: i64, ns: i64): void {
  const cfg = config!;
  pending = 0;
  lastFlushSec = sec;
  flushedOnce = true;
  writeProgressFile(sink, table!, recordsSeen, totalErrors(), ns, duplicatesDropped);
  const err = replaceFile(firstPreopenDir(), cfg.progressFile, cfg.progressTmp, changetype<usize>(sink.buf), <usize>sink.len);
  if (err == ERRNO_SUCCESS) flushes++;
  else {
    ioErrors++;
    lastStatus = FilterStatus.WriteFailed;
    lastErrno = <i64>err;
  }
}

function totalErrors(): i64 {
  const cfgErrors: i64 = config == null ? 0 : <i64>config!.errors;
  return recordErrors + ioErrors + cfgErrors;
}

function recordError(status: FilterStatus): void {
  recordErrors++;
  lastStatus = status;
}

/** Credits the record to its path and flushes when due. Returns true when it is to be dropped as a re-read. */
function track(record: usize, recordLen: i32, sec: i64, ns: i64): bool {
  const cfg = config!;
  const status = scanRecord(record, recordLen, cfg.pathKey.dataStart, cfg.pathKey.length, cfg.offsetKey.dataStart, cfg.offsetKey.length, fields);
  if (status != RecordStatus.Ok) {
    recordError(<FilterStatus>status); // 1–5: the same numbers
    return false;
  }
  if (fields.offsetKind == OffsetKind.NotInteger) {
    recordError(FilterStatus.OffsetNotInteger);
    return false;
  }
  if (fields.offsetKind == OffsetKind.OutOfRange) {
    recordError(FilterStatus.OffsetOutOfRange);
    return false;
  }
  // Records without a path or an offset (other inputs, in_tail without Path_Key/Offset_Key) are
  // passed on and not counted as errors.
  if (!fields.hasPath || fields.offsetKind != OffsetKind.Valid) return false;
  const t = table!;
  const slot = t.slotOf(record + <usize>fields.pathStart, fields.pathLen, ns);
  if (slot == EMPTY) {
    recordError(FilterStatus.PathTooLong);
    return false;
  }
  const fingerprint = t.startsGeneration(slot, fields.offset) ? recordFingerprint(record, recordLen, fields.pathStart, fields.pathLen) : 0;
  const duplicate = t.record(slot, fields.offset, ns, fingerprint) && cfg.dropDuplicates;
  recordsTracked++;
  pending++;
  if (duplicate) duplicatesDropped++;
  if (!flushedOnce || pending >= cfg.flushRecords || sec - lastFlushSec >= cfg.flushSeconds) flush(sec, ns);
  return duplicate;
}

/** The tag equals the configured heartbeat tag (raw bytes). */
function isHeartbeat(tag: usize, tagLen: i32): bool {
  const want = config!.heartbeatTag;
  if (tagLen != want.length || !inMemory(tag, tagLen)) return false;
  return memory.compare(tag, want.dataStart, <usize>tagLen) == 0;
}

/** A heartbeat: write what changed since the last flush once flush_seconds have passed (its sec is now). */
function heartbeat(sec: i64, ns: i64): void {
  heartbeats++;
  if (pending > 0 && sec - lastFlushSec >= config!.flushSeconds) flush(sec, ns);
}

function writeStats(): void {
  store<i64>(STATS, recordsSeen);
  store<i64>(STATS, recordsTracked, 8);
  store<i64>(STATS, recordErrors, 16);
  store<i64>(STATS, ioErrors, 24);
  store<i64>(STATS, config == null ? 0 : <i64>config!.errors, 32);
  store<i64>(STATS, flushes, 40);
  store<i64>(STATS, table == null ? 0 : <i64>table!.paths, 48);
  store<i64>(STATS, table == null ? 0 : table!.evictions, 56);
  store<i64>(STATS, lastStatus == FilterStatus.WriteFailed ? <i64>FilterStatus.WriteFailed + lastErrno : <i64>lastStatus, 64);
  store<i64>(STATS, config == null ? 0 : <i64>config!.readErrno, 72);
  store<i64>(STATS, <i64>output.byteLength, 80);
  store<i64>(STATS, duplicatesDropped, 88);
  store<i64>(STATS, heartbeats, 96);
  store<i64>(STATS, restoredGenerations, 104);
  store<i64>(STATS, <i64>restoreStatus, 112);
}

export function crl_fluentbit_filter(tag: ptr<u8>, tagLen: i32, sec: u32, nsec: u32, record: ptr<u8>, recordLen: i32): ptr<u8> {
  __collect(); // the minimal runtime never collects by itself: this keeps memory flat
  recordsSeen++;
  if (config == null) setup();
  const ns = <i64>sec * 1000000000 + <i64>nsec;
  if (isHeartbeat(tag, tagLen)) {
    heartbeat(<i64>sec, ns);
    writeStats();
    return DROP;
  }
  if (recordLen <= 0 || !inMemory(record, recordLen)) {
    // Nothing we could copy back. "{}" keeps the event (its time and metadata stay with the host);
    // NULL or "" would drop it.
    recordError(recordLen == 0 ? FilterStatus.EmptyRecord : FilterStatus.RecordOutsideMemory);
    writeStats();
    return EMPTY_OBJECT;
  }
  const duplicate = track(record, recordLen, <i64>sec, ns);
  const out = duplicate ? DROP : echo(record, recordLen);
  writeStats();
  return out;
}

/** A pointer to the stats block above (fifteen i64). For tests and debugging; no side effect. */
export function crl_fluentbit_stats(): ptr<i64> {
  writeStats();
  return STATS;
}
