// The filter's configuration. filter_wasm hands a module no configuration at all, so the module reads
// an optional file, cri-logrotate-filter.conf, from the first preopened directory (Accessible_Paths)
// at its first call (assembly/abi/fluentbit.ts reads it; this file parses its text). A missing file means
// the defaults; a bad line or value keeps that setting's default and counts an error. Nothing here traps.
import { asciiBytes } from "../rules/bytes";

export const CONFIG_FILE_NAME = "cri-logrotate-filter.conf";
/** A config file is a handful of lines; anything larger is refused (an error, defaults kept). */
export const MAX_CONFIG_BYTES: i32 = 16384;
/** Key names and progress file names longer than this are refused. */
export const MAX_KEY_BYTES: i32 = 256;
export const MAX_FLUSH_RECORDS: i64 = 1000000000;
export const MAX_FLUSH_SECONDS: i64 = 86400;

export class FilterConfig {
  /** in_tail's Path_Key, as the raw bytes a record carries between quotes. */
  pathKey: Uint8Array = asciiBytes("path");
  /** in_tail's Offset_Key. */
  offsetKey: Uint8Array = asciiBytes("offset");
  /** The progress file's name inside the preopened directory, and the temporary name beside it. */
  progressFile: Uint8Array = asciiBytes("cri-logrotate-progress");
  progressTmp: Uint8Array = asciiBytes("cri-logrotate-progress.tmp");
  flushRecords: i64 = 1000;
  flushSeconds: i64 = 5;
  /**
   * Records with this tag wake the filter up and are dropped: a heartbeat input routed through the same
   * filter makes it write its progress file when no log line arrives (the module has no timer).
   */
  heartbeatTag: Uint8Array = asciiBytes("cri-logrotate.heartbeat");
  /** Drop records this instance already passed once (a file in_tail reads again from its head). */
  dropDuplicates: bool = true;
  /** Lines or values rejected (each kept its default). */
  errors: i32 = 0;
  /** WASI errno of reading the file: 0 read, 44 (NOENT) absent, anything else an error. */
  readErrno: u16 = 0;
}

function isConfigSpace(c: u8): bool {
  return c == 0x20 || c == 0x09 || c == 0x0d;
}

/** A JSON key we can compare raw: printable ASCII without '"' or '\' (those would arrive escaped). */
function isPlainKey(v: Uint8Array): bool {
  const n = v.length;
  if (n == 0 || n > MAX_KEY_BYTES) return false;
  for (let i = 0; i < n; i++) {
    const c = unchecked(v[i]);
    if (c < 0x20 || c > 0x7e || c == 0x22 || c == 0x5c) return false;
  }
  return true;
}

/** A file name in the preopened directory: no '/', no NUL, no control bytes, not "." or "..". */
function isPlainFileName(v: Uint8Array): bool {
  const n = v.length;
  if (n == 0 || n > MAX_KEY_BYTES) return false;
  if (n == 1 && v[0] == 0x2e) return false;
  if (n == 2 && v[0] == 0x2e && v[1] == 0x2e) return false;
  for (let i = 0; i < n; i++) {
    const c = unchecked(v[i]);
    if (c < 0x20 || c == 0x2f || c == 0x7f) return false;
  }
  return true;
}

/** A Fluent Bit tag we can compare raw: printable ASCII without spaces. */
function isPlainTag(v: Uint8Array): bool {
  const n = v.length;
  if (n == 0 || n > MAX_KEY_BYTES) return false;
  for (let i = 0; i < n; i++) {
    const c = unchecked(v[i]);
    if (c <= 0x20 || c > 0x7e) return false;
  }
  return true;
}

/** "true"/"on" → 1, "false"/"off" → 0, anything else -1. */
function parseSwitch(v: Uint8Array): i32 {
  if (keyIs(v, "true") || keyIs(v, "on")) return 1;
  if (keyIs(v, "false") || keyIs(v, "off")) return 0;
  return -1;
}

/** A decimal integer in [min, max], or -1 when the text is anything else. */
function parseBounded(v: Uint8Array, min: i64, max: i64): i64 {
  const n = v.length;
  if (n == 0 || n > 18) return -1;
  let x: i64 = 0;
  for (let i = 0; i < n; i++) {
    const c = unchecked(v[i]);
    if (c < 0x30 || c > 0x39) return -1;
    x = x * 10 + <i64>(c - 0x30);
  }
  return x >= min && x <= max ? x : -1;
}

function keyIs(k: Uint8Array, name: string): bool {
  const n = name.length;
  if (k.length != n) return false;
  for (let i = 0; i < n; i++) {
    if (<i32>unchecked(k[i]) != name.charCodeAt(i)) return false;
  }
  return true;
}

function withSuffix(a: Uint8Array, suffix: string): Uint8Array {
  const out = new Uint8Array(a.length + suffix.length);
  out.set(a, 0);
  for (let i = 0; i < suffix.length; i++) out[a.length + i] = <u8>suffix.charCodeAt(i);
  return out;
}

/** Applies one `key=value` line (already trimmed, not blank, not a comment). */
function applyLine(cfg: FilterConfig, line: Uint8Array): void {
  const eq = line.indexOf(0x3d);
  if (eq <= 0) {
    cfg.errors++;
    return;
  }
  const key = trim(line.subarray(0, eq));
  const value = trim(line.subarray(eq + 1));
  if (keyIs(key, "path_key")) {
    if (isPlainKey(value)) cfg.pathKey = value.slice();
    else cfg.errors++;
  } else if (keyIs(key, "offset_key")) {
    if (isPlainKey(value)) cfg.offsetKey = value.slice();
    else cfg.errors++;
  } else if (keyIs(key, "progress_file")) {
    if (isPlainFileName(value)) {
      cfg.progressFile = value.slice();
      cfg.progressTmp = withSuffix(value, ".tmp");
    } else cfg.errors++;
  } else if (keyIs(key, "flush_records")) {
    const v = parseBounded(value, 1, MAX_FLUSH_RECORDS);
    if (v > 0) cfg.flushRecords = v;
    else cfg.errors++;
  } else if (keyIs(key, "flush_seconds")) {
    const v = parseBounded(value, 0, MAX_FLUSH_SECONDS);
    if (v >= 0) cfg.flushSeconds = v;
    else cfg.errors++;
  } else if (keyIs(key, "heartbeat_tag")) {
    if (isPlainTag(value)) cfg.heartbeatTag = value.slice();
    else cfg.errors++;
  } else if (keyIs(key, "drop_duplicates")) {
    const v = parseSwitch(value);
    if (v >= 0) cfg.dropDuplicates = v == 1;
    else cfg.errors++;
  } else {
    cfg.errors++; // an unknown key is most likely a typo: say so through the counter
  }
}

function trim(v: Uint8Array): Uint8Array {
  let a = 0;
  let b = v.length;
  while (a < b && isConfigSpace(unchecked(v[a]))) a++;
  while (b > a && isConfigSpace(unchecked(v[b - 1]))) b--;
  return v.subarray(a, b);
}

/** Parses the text of a config file into cfg (defaults stay for whatever is absent or bad). */
export function parseConfig(cfg: FilterConfig, text: Uint8Array): void {
  const n = text.length;
  let start = 0;
  while (start <= n) {
    let end = start;
    while (end < n && unchecked(text[end]) != 0x0a) end++;
    const line = trim(text.subarray(start, end));
    if (line.length > 0 && line[0] != 0x23) applyLine(cfg, line);
    start = end + 1;
  }
  // The two keys must differ, or no record could carry both: keep the defaults for both.
  if (cfg.pathKey.length == cfg.offsetKey.length && cfg.pathKey.length > 0) {
    let same = true;
    for (let i = 0; i < cfg.pathKey.length; i++) if (cfg.pathKey[i] != cfg.offsetKey[i]) same = false;
    if (same) {
      cfg.errors++;
      cfg.pathKey = asciiBytes("path");
      cfg.offsetKey = asciiBytes("offset");
    }
  }
}
