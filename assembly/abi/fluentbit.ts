// The Fluent Bit face: the export filter_wasm calls once per record (json event format), following
// src/wasm/flb_wasm.c to the letter (docs/abi.md, "Fluent Bit face"):
//   char *crl_fluentbit_filter(char *tag, int tag_len, uint32_t sec, uint32_t nsec, char *rec, int rec_len)
// The host copies tag and record NUL-terminated into our memory (through __new/__pin), calls, strdup()s
// the NUL-terminated JSON we return, then frees its two copies; it never frees what we return, so the
// result lives in a global buffer reused by the next call. A NULL or "" result, or a trap, drops the
// record, so this function returns every record unchanged, counts whatever went wrong, and never traps.
import { RecordFields, RecordStatus, OffsetKind, scanRecord } from "../fluentbit/record";
import { ProgressTable, ByteSink } from "../fluentbit/progress";
import { FilterConfig, loadConfig } from "../fluentbit/config";
import { ERRNO_SUCCESS, firstPreopenDir, replaceFile } from "../fluentbit/files";

type ptr<T> = usize;

/** The returned record: grown to the largest record seen, never shrunk, never freed by the host. */
let output = new ArrayBuffer(4096);
/** Returned when the host's pointers are unusable: an object is the one output that never drops. */
const EMPTY_OBJECT: usize = memory.data<u8>([0x7b, 0x7d, 0x00]);

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
let lastStatus: i64 = 0; // the last RecordStatus other than Ok, or 100 + errno of the last failed write

// Flush throttling, in record time (the sec argument), not wall time: the module has no clock import.
let pending: i64 = 0; // tracked records since the last flush attempt
let lastFlushSec: i64 = 0;
let flushedOnce = false;

/**
 * crl_fluentbit_stats() points here: eleven little-endian i64, rewritten after every filter call.
 *   0 recordsSeen  8 recordsTracked  16 recordErrors  24 ioErrors  32 configErrors  40 flushes
 *   48 paths  56 evictions  64 lastStatus  72 configReadErrno  80 outputCapacity
 */
const STATS: usize = memory.data(88, 8);

function setup(): void {
  const dir = firstPreopenDir();
  config = loadConfig(dir);
  table = new ProgressTable();
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

function flush(sec: i64): void {
  const cfg = config!;
  const t = table!;
  pending = 0;
  lastFlushSec = sec;
  flushedOnce = true;
  t.serialize(sink, recordsSeen, totalErrors(), sec);
  const err = replaceFile(firstPreopenDir(), cfg.progressFile, cfg.progressTmp, changetype<usize>(sink.buf), <usize>sink.len);
  if (err == ERRNO_SUCCESS) flushes++;
  else {
    ioErrors++;
    lastStatus = 100 + <i64>err;
  }
}

function totalErrors(): i64 {
  const cfgErrors: i64 = config == null ? 0 : <i64>config!.errors;
  return recordErrors + ioErrors + cfgErrors;
}

/** Credits the record to its path and flushes when due. */
function track(record: usize, recordLen: i32, sec: i64): void {
  const cfg = config!;
  const status = scanRecord(record, recordLen, cfg.pathKey.dataStart, cfg.pathKey.length, cfg.offsetKey.dataStart, cfg.offsetKey.length, fields);
  if (status != RecordStatus.Ok) {
    recordErrors++;
    lastStatus = <i64>status;
    return;
  }
  if (fields.offsetKind == OffsetKind.NotInteger || fields.offsetKind == OffsetKind.OutOfRange) {
    recordErrors++;
    lastStatus = 10 + <i64>fields.offsetKind;
    return;
  }
  // Records without a path or an offset (other inputs, in_tail without Path_Key/Offset_Key) are
  // passed on and not counted as errors.
  if (!fields.hasPath || fields.offsetKind != OffsetKind.Valid) return;
  if (!table!.record(record + <usize>fields.pathStart, fields.pathLen, fields.offset, sec)) {
    recordErrors++;
    lastStatus = 20;
    return;
  }
  recordsTracked++;
  pending++;
  if (!flushedOnce || pending >= cfg.flushRecords || sec - lastFlushSec >= cfg.flushSeconds) flush(sec);
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
  store<i64>(STATS, lastStatus, 64);
  store<i64>(STATS, config == null ? 0 : <i64>config!.readErrno, 72);
  store<i64>(STATS, <i64>output.byteLength, 80);
}

export function crl_fluentbit_filter(tag: ptr<u8>, tagLen: i32, sec: u32, nsec: u32, record: ptr<u8>, recordLen: i32): ptr<u8> {
  __collect(); // the minimal runtime never collects by itself: this keeps memory flat
  recordsSeen++;
  if (recordLen <= 0 || !inMemory(record, recordLen)) {
    // Nothing we could copy back. "{}" keeps the event (its time and metadata stay with the host);
    // NULL or "" would drop it.
    recordErrors++;
    lastStatus = recordLen == 0 ? 31 : 30;
    writeStats();
    return EMPTY_OBJECT;
  }
  const out = echo(record, recordLen);
  if (config == null) setup();
  track(record, recordLen, <i64>sec);
  writeStats();
  return out;
}

/** A pointer to the stats block above (eleven i64). For tests and debugging; no side effect. */
export function crl_fluentbit_stats(): ptr<i64> {
  writeStats();
  return STATS;
}
