// What a rotated log file is called. The kubelet names it `<log>.<now formatted as 20060102-150405>`
// (UTC), so that sorting the names bytewise sorts them by age: pruning keeps the newest by name alone.

import { Name } from "./types";
import { compareBytes, compareJoined, concatBytes, hasSuffix, sliceBytes, asciiBytes } from "./bytes";

/** 0001-01-01 is far before the epoch; we only name files from 1970-01-01T00:00:00Z ... */
const MIN_SECONDS: i64 = 0;
/** ... to 9999-12-31T23:59:59Z, the last second a four-digit year can show. */
const MAX_SECONDS: i64 = 253402300799;

const SECONDS_PER_DAY: i64 = 86400;

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

  const out = new Uint8Array(15);
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

const GZ: Uint8Array = asciiBytes(".gz");
const TMP: Uint8Array = asciiBytes(".tmp");
const ONE: Uint8Array = asciiBytes("1");

/**
 * The name to rename the live log to: `<logName>.<stamp>`, as the kubelet does, when that sorts strictly
 * after every rotated file that will exist when the rename happens (`rotatedNames`: every regular file
 * named `<logName>.` + anything, with compressions already counted as `X.gz`).
 *
 * The kubelet stamps with one-second resolution and never checks: two rotations in the same second, or a
 * clock that went back, would rename over an existing rotated file (losing it) or produce a name that sorts
 * before older files (so pruning would delete the newest logs first). Instead we take the greatest existing
 * name M, strip a trailing ".gz" or ".tmp" to get its stem, and append "1". Because '1' (0x31) > '.'
 * (0x2e), stem+"1" sorts after stem, stem+".gz" and stem+".tmp", hence after every existing name, so it
 * overwrites nothing and is still the newest by name; and since stamps only differ in digits, it still
 * sorts before the next second's plain stamp (`...-150405` + "1" < `...-150406`). A repeat collision
 * yields stem+"11", and so on.
 */
export function rotatedName(logName: Name, rotatedNames: Name[], now: i64): Uint8Array {
  let greatest: Name | null = null;
  for (let i = 0, n = rotatedNames.length; i < n; i++) {
    const name = unchecked(rotatedNames[i]);
    if (greatest === null || compareBytes(name, greatest) > 0) greatest = name;
  }
  return rotatedNameAfter(logName, formatTimestamp(now), greatest, false);
}

/**
 * rotatedName when the caller already knows the greatest rotated name: `greatest`, or `greatest` + ".gz"
 * when `gz` (a file about to be compressed), or null when there is none. `stamp` is formatTimestamp(now)
 * (the same for a whole batch).
 */
export function rotatedNameAfter(logName: Name, stamp: Uint8Array, greatest: Name | null, gz: bool): Uint8Array {
  const n = logName.length;
  const candidate = new Uint8Array(n + 1 + stamp.length);
  candidate.set(logName, 0);
  unchecked((candidate[n] = 0x2e)); // '.'
  candidate.set(stamp, n + 1);
  if (greatest === null) return candidate;
  const m = changetype<Name>(greatest);
  if (compareJoined(candidate, EMPTY, m, gz ? GZ : EMPTY) > 0) return candidate;
  // The stem of m + ".gz" is m.
  let stem = m;
  if (!gz) {
    if (hasSuffix(m, GZ)) stem = sliceBytes(m, 0, m.length - GZ.length);
    else if (hasSuffix(m, TMP)) stem = sliceBytes(m, 0, m.length - TMP.length);
  }
  return concatBytes(stem, ONE);
}

const EMPTY = new Uint8Array(0);

/**
 * The length of the live log name a rotated name was made from: `name` is `<live>.<YYYYMMDD-HHMMSS>`
 * followed by zero or more "1" (rotatedNameAfter's collision suffix), `<live>` not empty; -1 for any other
 * name (a `.gz` or `.tmp` twin included). The Fluent Bit filter uses it to find where a rotated file was
 * read before in_tail noticed the rename.
 */
export function liveNameLength(name: Uint8Array): i32 {
  const n = name.length;
  const STAMP = 16; // ".20060102-150405"
  for (let ones = 0; n - STAMP - ones >= 1; ones++) {
    if (ones > 0 && unchecked(name[n - ones]) != 0x31) return -1; // the tail must be all "1"
    const p = n - STAMP - ones;
    if (unchecked(name[p]) != 0x2e || unchecked(name[p + 9]) != 0x2d) continue;
    let digits = true;
    for (let i = 1; i < STAMP; i++) {
      if (i == 9) continue;
      const c = unchecked(name[p + i]);
      if (c < 0x30 || c > 0x39) {
        digits = false;
        break;
      }
    }
    if (digits) return p;
  }
  return -1;
}
