// The progress file the Fluent Bit filter writes for the shim (docs/abi.md, "Progress file"): the guest
// side of that wire format. The host side is host/plugin/progress-file.ts; change both and the doc
// together. Format 2 (written now):
//   cri-logrotate-progress 2 <recordsSeen> <errors> <flushNs> <duplicatesDropped>\n
//   <pathJSONString> <generationIndex> <firstOffset> <maxOffset> <records> <firstNs> <lastNs>\n ...
// Format 1 (written by earlier modules, still read by the host) had whole seconds and a 5-field header.
// The filter also reads format 2 back at start-up, so what it knew before a restart is not forgotten.
import { ProgressTable, FIRST_OFFSET, MAX_OFFSET, RECORDS, FIRST_NS, LAST_NS } from "../fluentbit/progress";

export const PROGRESS_FORMAT = 2;
/** The largest progress file read back at start-up (4,096 paths × 4 generations fit easily). */
export const MAX_PROGRESS_BYTES: i32 = 16 << 20;

const MAGIC = "cri-logrotate-progress";

/** A growable byte buffer for the serialized progress file. Kept and reused across flushes. */
export class ByteSink {
  buf: ArrayBuffer = new ArrayBuffer(4096);
  len: i32 = 0;

  reset(): void {
    this.len = 0;
  }

  ensure(extra: i32): void {
    const need = this.len + extra;
    const cap = this.buf.byteLength;
    if (need <= cap) return;
    let next = cap * 2;
    if (next < need) next = need;
    const grown = new ArrayBuffer(next);
    memory.copy(changetype<usize>(grown), changetype<usize>(this.buf), <usize>this.len);
    this.buf = grown;
  }

  byte(b: u8): void {
    this.ensure(1);
    store<u8>(changetype<usize>(this.buf) + <usize>this.len, b);
    this.len++;
  }

  bytes(ptr: usize, n: i32): void {
    this.ensure(n);
    memory.copy(changetype<usize>(this.buf) + <usize>this.len, ptr, <usize>n);
    this.len += n;
  }

  ascii(s: string): void {
    const n = s.length;
    this.ensure(n);
    const base = changetype<usize>(this.buf) + <usize>this.len;
    for (let i = 0; i < n; i++) store<u8>(base + <usize>i, <u8>s.charCodeAt(i));
    this.len += n;
  }

  /** A decimal integer, without allocating a string. */
  decimal(v: i64): void {
    this.ensure(20);
    if (v < 0) {
      this.byte(0x2d);
      // i64.MIN_VALUE cannot be negated; nothing here produces it, but never loop forever on it
      v = v == i64.MIN_VALUE ? i64.MAX_VALUE : -v;
    }
    const base = changetype<usize>(this.buf) + <usize>this.len;
    let n: i32 = 0;
    do {
      store<u8>(base + <usize>n, <u8>(0x30 + <i32>(v % 10)));
      v /= 10;
      n++;
    } while (v > 0);
    // digits were written least significant first: reverse them in place
    for (let i = 0, j = n - 1; i < j; i++, j--) {
      const a = load<u8>(base + <usize>i);
      store<u8>(base + <usize>i, load<u8>(base + <usize>j));
      store<u8>(base + <usize>j, a);
    }
    this.len += n;
  }

  space(): void {
    this.byte(0x20);
  }
}

/** Serializes the table into `out`: the newest reported generations of every path, oldest first. */
export function writeProgressFile(out: ByteSink, table: ProgressTable, recordsSeen: i64, errors: i64, flushNs: i64, duplicatesDropped: i64): void {
  out.reset();
  out.ascii(MAGIC);
  out.space();
  out.decimal(PROGRESS_FORMAT);
  out.space();
  out.decimal(recordsSeen);
  out.space();
  out.decimal(errors);
  out.space();
  out.decimal(flushNs);
  out.space();
  out.decimal(duplicatesDropped);
  out.byte(0x0a);
  for (let s = 0; s < table.paths; s++) {
    const keyLen = table.keyLength(s);
    if (keyLen == 0) continue;
    const key = table.keyPtr(s);
    const count = table.generationCount(s);
    for (let gen = table.firstReported(s); gen < count; gen++) {
      out.bytes(key, keyLen);
      out.space();
      out.decimal(gen);
      out.space();
      out.decimal(table.field(s, gen, FIRST_OFFSET));
      out.space();
      out.decimal(table.field(s, gen, MAX_OFFSET));
      out.space();
      out.decimal(table.field(s, gen, RECORDS));
      out.space();
      out.decimal(table.field(s, gen, FIRST_NS));
      out.space();
      out.decimal(table.field(s, gen, LAST_NS));
      out.byte(0x0a);
    }
  }
}

/** Why a progress file was not read back (crl_fluentbit_stats' restoreStatus). */
export const enum RestoreStatus {
  Restored = 0,
  /** The file does not exist (first start): nothing to restore. */
  Absent = 1,
  /** Not format 2 (an older module's file): started empty. */
  OtherFormat = 2,
  /** Does not parse, or its generations are out of order: started empty. */
  Corrupt = 3,
  /** Could not be read (a WASI error other than "absent", or larger than MAX_PROGRESS_BYTES). */
  ReadFailed = 4,
}

/** A cursor over the file's bytes; every read is bounds-checked, nothing traps. */
class Parser {
  pos: i32 = 0;
  constructor(public data: Uint8Array) {}

  get done(): bool {
    return this.pos >= this.data.length;
  }

  peek(): i32 {
    return this.pos < this.data.length ? <i32>unchecked(this.data[this.pos]) : -1;
  }

  expect(c: i32): bool {
    if (this.peek() != c) return false;
    this.pos++;
    return true;
  }

  /** A decimal integer without sign or leading zeros, below 2^63; -1 if there is none. */
  decimal(): i64 {
    const start = this.pos;
    let v: i64 = 0;
    while (true) {
      const c = this.peek();
      if (c < 0x30 || c > 0x39) break;
      if (v > (i64.MAX_VALUE - <i64>(c - 0x30)) / 10) return -1;
      v = v * 10 + <i64>(c - 0x30);
      this.pos++;
    }
    const n = this.pos - start;
    if (n == 0 || (n > 1 && unchecked(this.data[start]) == 0x30)) return -1;
    return v;
  }

  /** A JSON string (quotes included) as the filter wrote it; returns its length, or -1. */
  jsonString(): i32 {
    const start = this.pos;
    if (!this.expect(0x22)) return -1;
    while (true) {
      const c = this.peek();
      if (c < 0 || c == 0x0a) return -1;
      this.pos++;
      if (c == 0x5c) {
        if (this.peek() < 0) return -1;
        this.pos++;
      } else if (c == 0x22) {
        return this.pos - start;
      }
    }
  }
}

export class Restored {
  status: RestoreStatus = RestoreStatus.Absent;
  /** The table read back (only when status is Restored). */
  table: ProgressTable | null = null;
  generations: i32 = 0;
}

function failed(status: RestoreStatus): Restored {
  const r = new Restored();
  r.status = status;
  return r;
}

/**
 * Reads a progress file of this format back into a new table, its generations marked restored. The table
 * is built only from a file that parses whole; anything wrong gives no table and says why.
 */
export function restoreProgressFile(data: Uint8Array): Restored {
  const p = new Parser(data);
  for (let i = 0; i < MAGIC.length; i++) if (!p.expect(MAGIC.charCodeAt(i))) return failed(RestoreStatus.Corrupt);
  if (!p.expect(0x20)) return failed(RestoreStatus.Corrupt);
  const format = p.decimal();
  if (format != PROGRESS_FORMAT) return failed(format < 0 ? RestoreStatus.Corrupt : RestoreStatus.OtherFormat);
  for (let i = 0; i < 4; i++) if (!p.expect(0x20) || p.decimal() < 0) return failed(RestoreStatus.Corrupt);
  if (!p.expect(0x0a)) return failed(RestoreStatus.Corrupt);
  // Parse everything first: the table is filled only from a file that parses whole.
  const lines = new Array<i64>(); // per line: path start, path length, then 6 numbers
  while (!p.done) {
    const start = p.pos;
    const n = p.jsonString();
    if (n < 0) return failed(RestoreStatus.Corrupt);
    lines.push(<i64>start);
    lines.push(<i64>n);
    for (let i = 0; i < 6; i++) {
      if (!p.expect(0x20)) return failed(RestoreStatus.Corrupt);
      const v = p.decimal();
      if (v < 0) return failed(RestoreStatus.Corrupt);
      lines.push(v);
    }
    if (!p.expect(0x0a)) return failed(RestoreStatus.Corrupt);
  }
  const base = data.dataStart;
  const restored = new ProgressTable();
  for (let i = 0; i < lines.length; i += 8) {
    const ok = restored.restore(
      base + <usize>unchecked(lines[i]), <i32>unchecked(lines[i + 1]),
      unchecked(lines[i + 2]), unchecked(lines[i + 3]), unchecked(lines[i + 4]), unchecked(lines[i + 5]), unchecked(lines[i + 6]), unchecked(lines[i + 7]),
    );
    if (!ok) return failed(RestoreStatus.Corrupt);
  }
  const out = new Restored();
  out.status = RestoreStatus.Restored;
  out.table = restored;
  out.generations = lines.length / 8;
  return out;
}
