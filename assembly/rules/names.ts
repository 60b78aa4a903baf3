// What a rotated log file is called. The kubelet names it `<log>.<now formatted as 20060102-150405>`
// (UTC), so that sorting the names bytewise sorts them by age: pruning keeps the newest by name alone. We
// stamp the second before the rename (rotatedName says why).
//
// A rotated file of the live log L is EXACTLY
//     L "." STAMP [ "_" COUNTER ] [ ".gz" | ".tmp" ]
// STAMP is 8 digits, "-", 6 digits (the kubelet's format; not checked as a calendar date: the kubelet's
// own tests use 00000000-000001). COUNTER is 6 digits, our collision suffix (below). Nothing else is a
// rotated file of L — not "L.1", not "L.2": another container may have chosen that name for its live
// log (the CRI lets a client choose any log_path), and a looser match once compressed and deleted it.

import { Name } from "./types";
import { compareBytes, hasPrefix } from "./bytes";

/** 0001-01-01 is far before the epoch; we only name files from 1970-01-01T00:00:00Z ... */
const MIN_SECONDS: i64 = 0;
/** ... to 9999-12-31T23:59:59Z, the last second a four-digit year can show. */
const MAX_SECONDS: i64 = 253402300799;

const SECONDS_PER_DAY: i64 = 86400;

const STAMP_LENGTH: i32 = 15; // 20060102-150405
const COUNTER_DIGITS: i32 = 6;
const MAX_COUNTER: i32 = 999999;
/** The longest file name Linux allows. */
export const MAX_NAME_LENGTH: i32 = 255;
/** "." + stamp + "_" + counter + ".tmp": what a rotated name (and its temp file) adds to the live log's. */
const LONGEST_ADDITION: i32 = 1 + STAMP_LENGTH + 1 + COUNTER_DIGITS + 4;

export const enum Ext {
  None = 0,
  Gz = 1,
  Tmp = 2,
}

/**
 * Go's `t.UTC().Format("20060102-150405")` for a unix time in seconds. Times before 1970 are clamped to
 * the epoch and times after 9999 to its last second: a clock that is that wrong still gets a well-formed
 * name (and rotatedName keeps it unique), and nothing here can trap.
 */
export function formatTimestamp(unixSeconds: i64): Uint8Array {
  let t = unixSeconds;
  if (t < MIN_SECONDS) t = MIN_SECONDS;
  if (t > MAX_SECONDS) t = MAX_SECONDS;
  const days = t / SECONDS_PER_DAY; // t >= 0, so truncation is floor
  const secs = <i32>(t % SECONDS_PER_DAY);

  // Civil date from days since 1970-01-01 (Howard Hinnant's days_from_civil inverse): count in 400-year
  // eras starting on 0000-03-01, so the leap day is the last day of each "year" and needs no special case.
  const z = days + 719468;
  const era = z / 146097; // z >= 0 here
  const doe = <i32>(z - era * 146097); // [0, 146096]
  const yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; // [0, 399]
  let year = <i32>era * 400 + yoe;
  const doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365]
  const mp = (5 * doy + 2) / 153; // [0, 11], March = 0
  const day = doy - (153 * mp + 2) / 5 + 1; // [1, 31]
  const month = mp < 10 ? mp + 3 : mp - 9; // [1, 12]
  if (month <= 2) year += 1;

  const out = new Uint8Array(STAMP_LENGTH);
  putDigits(out, 0, year, 4);
  putDigits(out, 4, month, 2);
  putDigits(out, 6, day, 2);
  out[8] = 0x2d; // '-'
  putDigits(out, 9, secs / 3600, 2);
  putDigits(out, 11, (secs / 60) % 60, 2);
  putDigits(out, 13, secs % 60, 2);
  return out;
}

/** Writes the low `width` decimal digits of v (v >= 0) at out[at..at+width), zero-padded. */
function putDigits(out: Uint8Array, at: i32, v: i32, width: i32): void {
  for (let i = width - 1; i >= 0; i--) {
    out[at + i] = <u8>(0x30 + (v % 10));
    v /= 10;
  }
}

function isDigit(c: u8): bool {
  return c >= 0x30 && c <= 0x39;
}

/** name[at, at+n) are all decimal digits (the caller checked the bounds). */
function digitsAt(name: Name, at: i32, n: i32): bool {
  for (let i = 0; i < n; i++) if (!isDigit(unchecked(name[at + i]))) return false;
  return true;
}

/** name[at..] is exactly `s` (ASCII). */
function restIs(name: Name, at: i32, s: string): bool {
  const n = s.length;
  if (name.length - at != n) return false;
  for (let i = 0; i < n; i++) if (unchecked(name[at + i]) != <u8>s.charCodeAt(i)) return false;
  return true;
}

/**
 * The length of the stem `L.STAMP[_COUNTER]` when `name` is a rotated file of `logName` (see the grammar
 * at the top), else -1. Full names compare bytewise in (stamp, counter, extension) order:
 * `L.S` < `L.S.gz` < `L.S.tmp` < `L.S_000001` < … < `L.S'` for the next second S' — because '.' (0x2e) sorts
 * before '_' (0x5f) and a proper prefix sorts first.
 */
export function rotatedStem(logName: Name, name: Name): i32 {
  const n = logName.length;
  const len = name.length;
  if (len < n + 1 + STAMP_LENGTH || !hasPrefix(name, logName) || unchecked(name[n]) != 0x2e) return -1;
  const s = n + 1;
  if (!digitsAt(name, s, 8) || unchecked(name[s + 8]) != 0x2d || !digitsAt(name, s + 9, 6)) return -1;
  let stem = s + STAMP_LENGTH;
  if (stem + 1 + COUNTER_DIGITS <= len && unchecked(name[stem]) == 0x5f) {
    if (!digitsAt(name, stem + 1, COUNTER_DIGITS)) return -1;
    stem += 1 + COUNTER_DIGITS;
  }
  if (stem == len || restIs(name, stem, ".gz") || restIs(name, stem, ".tmp")) return stem;
  return -1;
}

export function isRotatedOf(logName: Name, name: Name): bool {
  return rotatedStem(logName, name) >= 0;
}

/** The extension after the stem of a rotated name. */
export function extensionOf(name: Name, stem: i32): Ext {
  if (stem == name.length) return Ext.None;
  return unchecked(name[stem + 1]) == 0x67 ? Ext.Gz : Ext.Tmp; // ".gz" or ".tmp"
}

/** `name` + ".gz" (or + ".tmp"): the name compressing it would use. */
export function withSuffix(name: Name, suffix: string): Name {
  const n = name.length;
  const out = new Uint8Array(n + suffix.length);
  out.set(name, 0);
  for (let i = 0; i < suffix.length; i++) unchecked((out[n + i] = <u8>suffix.charCodeAt(i)));
  return out;
}

/**
 * The name to rename the live log to when it is renamed at `now`, given the names of every entry in its
 * directory (of any kind: a planted symlink holds its name too), or null when `logName` is too long for
 * any rotated name to fit in 255 bytes.
 *
 * The kubelet stamps with one-second resolution and never checks: two rotations in one second, or a clock
 * that went back, rename over an existing rotated file (losing it) or produce a name that sorts before
 * older files (so pruning deletes the newest logs first). Here the name is `<log>.<stamp>` when that sorts
 * after every rotated name present; otherwise it continues the greatest one G: G's stamp with the counter
 * after G's (`_000001` after a plain stamp). So it is always the newest by name, never an existing name,
 * and bounded in length: a clock that once ran ahead (a file stamped 2099) gives `…-235959_000001`,
 * `_000002`, … until the clock passes it, instead of a longer name each time. Only after 999,999
 * rotations under one stamp does it give up order (size safety first) and take the first free counter
 * under the current stamp.
 *
 * The stamp is that of the second BEFORE `now`, not of `now` (the kubelet's): during a hand-over the
 * kubelet still rotates the same files, names its file after the second it renames in and replaces
 * whatever has that name — a file of ours stamped with the current second could be overwritten by the
 * kubelet's rename later in that second (its lines lost). A second that is over is one the kubelet will not
 * stamp again, and counter names are never the kubelet's, so the kubelet cannot replace a file we name;
 * our name still sorts after every rotated file present and before any the kubelet makes later.
 */
export function rotatedName(logName: Name, names: Name[], now: i64): Name | null {
  if (logName.length > MAX_NAME_LENGTH - LONGEST_ADDITION) return null;
  const stamp = formatTimestamp(now - 1);
  const fresh = stemOf(logName, stamp, 0);
  // The greatest stem among the rotated names present.
  let greatest: Name | null = null;
  let greatestLen = 0;
  for (let i = 0, k = names.length; i < k; i++) {
    const name = unchecked(names[i]);
    const stem = rotatedStem(logName, name);
    if (stem < 0) continue;
    if (greatest === null || compareStems(name, stem, changetype<Name>(greatest), greatestLen) > 0) {
      greatest = name;
      greatestLen = stem;
    }
  }
  if (greatest === null) return fresh;
  const g = changetype<Name>(greatest);
  if (compareStems(fresh, fresh.length, g, greatestLen) > 0) return fresh;
  const counter = counterOf(logName, g, greatestLen);
  if (counter < MAX_COUNTER) return stemOf(logName, g.subarray(logName.length + 1, logName.length + 1 + STAMP_LENGTH), counter + 1);
  // Out of counters under G's stamp: the first counter free under the current stamp.
  for (let c = 1; c <= MAX_COUNTER; c++) {
    const candidate = stemOf(logName, stamp, c);
    if (!stemTaken(logName, names, candidate)) return candidate;
  }
  return fresh; // unreachable in practice: a million names under one stamp
}

/** Bytewise comparison of two stems (name[0, len)). */
function compareStems(a: Name, aLen: i32, b: Name, bLen: i32): i32 {
  return compareBytes(a.subarray(0, aLen), b.subarray(0, bLen));
}

/** The counter of a stem (0 when it has none). */
function counterOf(logName: Name, name: Name, stem: i32): i32 {
  const plain = logName.length + 1 + STAMP_LENGTH;
  if (stem == plain) return 0;
  let v = 0;
  for (let i = plain + 1; i < stem; i++) v = v * 10 + <i32>(unchecked(name[i]) - 0x30);
  return v;
}

/** `logName.stamp` or `logName.stamp_counter` (counter > 0). */
function stemOf(logName: Name, stamp: Uint8Array, counter: i32): Name {
  const n = logName.length;
  const out = new Uint8Array(n + 1 + STAMP_LENGTH + (counter > 0 ? 1 + COUNTER_DIGITS : 0));
  out.set(logName, 0);
  unchecked((out[n] = 0x2e));
  out.set(stamp, n + 1);
  if (counter > 0) {
    unchecked((out[n + 1 + STAMP_LENGTH] = 0x5f));
    putDigits(out, n + 2 + STAMP_LENGTH, counter, COUNTER_DIGITS);
  }
  return out;
}

/** Some name present has `stem` as its stem. */
function stemTaken(logName: Name, names: Name[], stem: Name): bool {
  for (let i = 0, k = names.length; i < k; i++) {
    const name = unchecked(names[i]);
    const s = rotatedStem(logName, name);
    if (s == stem.length && compareStems(name, s, stem, s) == 0) return true;
  }
  return false;
}

/**
 * The length of the live log name a rotated name was made from, when the live name is not known: `name`
 * is `<live>.<STAMP>[_<COUNTER>]` (the grammar at the top, without an extension: a `.gz` or `.tmp` twin is
 * not a file a shipper follows), `<live>` not empty; else -1. The Fluent Bit filter uses it to find where
 * a rotated file was read before in_tail noticed the rename.
 */
export function liveNameLength(name: Name): i32 {
  let end = name.length;
  if (end >= 1 + COUNTER_DIGITS && unchecked(name[end - 1 - COUNTER_DIGITS]) == 0x5f && digitsAt(name, end - COUNTER_DIGITS, COUNTER_DIGITS)) {
    end -= 1 + COUNTER_DIGITS;
  }
  const s = end - STAMP_LENGTH; // the stamp's first digit
  if (s < 2 || unchecked(name[s - 1]) != 0x2e) return -1;
  if (!digitsAt(name, s, 8) || unchecked(name[s + 8]) != 0x2d || !digitsAt(name, s + 9, 6)) return -1;
  return s - 1;
}
