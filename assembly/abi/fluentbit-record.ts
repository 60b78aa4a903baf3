// Fluent Bit's side of the filter ABI: the record it hands the filter (JSON bytes in linear memory).
// A scanner over one such record. It finds two top-level
// values and nothing else: the string under the path key (kept as its raw, still-escaped JSON bytes,
// quotes included: the host decodes it, the module never turns it into text) and the integer under the
// offset key. It allocates nothing, reads every byte through a bounds check against [ptr, ptr+len),
// never recurses (nesting is tracked in a 64-bit stack) and returns a status instead of trapping.

/** What scanRecord found out about a record. Numbers are reported in the stats (docs/abi.md). */
export const enum RecordStatus {
  Ok = 0,             // a JSON object; see hasPath/hasOffset for what it carried
  NotObject = 1,      // the text does not start with '{'
  Syntax = 2,         // an unexpected byte
  Truncated = 3,      // the text ended inside the object
  TooDeep = 4,        // nesting beyond MAX_DEPTH
  TrailingBytes = 5,  // bytes other than white space after the object
}

/** in_tail's Offset_Key is a byte offset; above 2^53-1 the host could not hold it exactly as a number. */
export const MAX_OFFSET: i64 = 9007199254740991;
/** Nesting levels a record may use below the top-level object. */
export const MAX_DEPTH: i32 = 64;

/** How the offset key's value looked. Only OffsetKind.Valid is credited. */
export const enum OffsetKind {
  Missing = 0,
  Valid = 1,      // an integer in [0, MAX_OFFSET]
  NotInteger = 2, // a string, a fraction, an exponent, true/false/null, an object…
  OutOfRange = 3, // negative or above MAX_OFFSET
}

/** The result of one scan. One instance is reused for every record (no allocation per record). */
export class RecordFields {
  status: RecordStatus = RecordStatus.Ok;
  /** Where the scan stopped (for tests and the stats). */
  position: i32 = 0;
  hasPath: bool = false;
  /** Offset and length, inside the record, of the path's raw JSON string, both quotes included. */
  pathStart: i32 = 0;
  pathLen: i32 = 0;
  offsetKind: OffsetKind = OffsetKind.Missing;
  offset: i64 = 0;

  reset(): void {
    this.status = RecordStatus.Ok;
    this.position = 0;
    this.hasPath = false;
    this.pathStart = 0;
    this.pathLen = 0;
    this.offsetKind = OffsetKind.Missing;
    this.offset = 0;
  }
}

// @ts-ignore: decorator
@inline function isSpace(c: i32): bool {
  return c == 0x20 || c == 0x0a || c == 0x0d || c == 0x09;
}

// @ts-ignore: decorator
@inline function isDigit(c: i32): bool {
  return c >= 0x30 && c <= 0x39;
}

function isHex(c: i32): bool {
  return isDigit(c) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46);
}

/** Bytes [p, p+n) equal the key's bytes [k, k+kn). Keys are compared raw: no unescaping. */
function sameBytes(p: usize, n: i32, k: usize, kn: i32): bool {
  if (n != kn) return false;
  for (let i = 0; i < n; i++) {
    if (load<u8>(p + <usize>i) != load<u8>(k + <usize>i)) return false;
  }
  return true;
}

/**
 * A reusable cursor. Every read goes through byte(), which answers -1 past the end, so no loop here can
 * read outside the record whatever the input.
 */
class Cursor {
  base: usize = 0;
  len: i32 = 0;
  pos: i32 = 0;
  status: RecordStatus = RecordStatus.Ok;

  // @ts-ignore: decorator
  @inline byte(): i32 {
    return this.pos < this.len ? <i32>load<u8>(this.base + <usize>this.pos) : -1;
  }

  fail(s: RecordStatus): bool {
    if (this.status == RecordStatus.Ok) this.status = s;
    return false;
  }

  /** An end of input where more was expected is Truncated; any other byte is a Syntax error. */
  unexpected(): bool {
    return this.fail(this.pos >= this.len ? RecordStatus.Truncated : RecordStatus.Syntax);
  }

  skipSpace(): void {
    while (this.pos < this.len && isSpace(<i32>load<u8>(this.base + <usize>this.pos))) this.pos++;
  }

  /** Skips a string whose opening quote is at pos; leaves pos after the closing quote. */
  skipString(): bool {
    this.pos++; // the opening quote
    while (true) {
      const c = this.byte();
      if (c < 0) return this.unexpected();
      if (c == 0x22) {
        this.pos++;
        return true;
      }
      if (c < 0x20) return this.fail(RecordStatus.Syntax); // raw control bytes are not JSON
      if (c == 0x5c) {
        this.pos++;
        const e = this.byte();
        if (e < 0) return this.unexpected();
        if (e == 0x75) {
          // \uXXXX: exactly four hex digits
          for (let i = 0; i < 4; i++) {
            this.pos++;
            const h = this.byte();
            if (h < 0) return this.unexpected();
            if (!isHex(h)) return this.fail(RecordStatus.Syntax);
          }
        } else if (e != 0x22 && e != 0x5c && e != 0x2f && e != 0x62 && e != 0x66 && e != 0x6e && e != 0x72 && e != 0x74) {
          return this.fail(RecordStatus.Syntax);
        }
      }
      this.pos++;
    }
  }

  /** Skips a number (JSON grammar, checked loosely: the bytes a number may hold). */
  skipNumber(): bool {
    const start = this.pos;
    while (true) {
      const c = this.byte();
      if (isDigit(c) || c == 0x2d || c == 0x2b || c == 0x2e || c == 0x65 || c == 0x45) this.pos++;
      else break;
    }
    return this.pos > start ? true : this.unexpected();
  }

  /** Skips true, false or null. */
  skipLiteral(): bool {
    const c = this.byte();
    let word: string = c == 0x74 ? "true" : c == 0x66 ? "false" : "null";
    if (c != 0x74 && c != 0x66 && c != 0x6e) return this.unexpected();
    const n = word.length;
    for (let i = 0; i < n; i++) {
      const b = this.byte();
      if (b != <i32>word.charCodeAt(i)) return this.unexpected();
      this.pos++;
    }
    return true;
  }

  /**
   * Skips any value. Objects and arrays are walked without recursion: `stack` holds one bit per open
   * container (1 = object, 0 = array), so nesting is limited to MAX_DEPTH levels.
   */
  skipValue(): bool {
    let stack: u64 = 0;
    let depth: i32 = 0;
    while (true) {
      // a value starts here
      this.skipSpace();
      const b = this.byte();
      if (b == 0x7b || b == 0x5b) {
        if (depth >= MAX_DEPTH) return this.fail(RecordStatus.TooDeep);
        const isObject = b == 0x7b;
        stack = (stack << 1) | (isObject ? 1 : 0);
        depth++;
        this.pos++;
        this.skipSpace();
        if (this.byte() == (isObject ? 0x7d : 0x5d)) {
          this.pos++; // empty container: it is a whole value, go on below
          stack >>= 1;
          depth--;
        } else {
          if (isObject && !this.objectKey()) return false;
          continue; // its first member's value
        }
      } else if (b == 0x22) {
        if (!this.skipString()) return false;
      } else if (b == 0x2d || isDigit(b)) {
        if (!this.skipNumber()) return false;
      } else if (!this.skipLiteral()) {
        return false;
      }
      // after a value: a ',' (then, in an object, the next key) or closing brackets
      while (true) {
        if (depth == 0) return true;
        this.skipSpace();
        const c = this.byte();
        const inObject = (stack & 1) == 1;
        if (c == 0x2c) {
          this.pos++;
          if (inObject && !this.objectKey()) return false;
          break;
        }
        if (c == (inObject ? 0x7d : 0x5d)) {
          this.pos++;
          stack >>= 1;
          depth--;
          continue;
        }
        return this.unexpected();
      }
    }
  }

  /** A key string and its ':' (inside a skipped object); leaves pos at the value. */
  objectKey(): bool {
    this.skipSpace();
    if (this.byte() != 0x22) return this.unexpected();
    if (!this.skipString()) return false;
    this.skipSpace();
    if (this.byte() != 0x3a) return this.unexpected();
    this.pos++;
    return true;
  }
}

const cursor = new Cursor();

/**
 * Reads the offset key's value at the cursor. A plain integer (optional '-', digits) is Valid when it
 * lies in [0, MAX_OFFSET]; a fraction or exponent is NotInteger; anything else is skipped as a value.
 */
function readOffset(c: Cursor, out: RecordFields): bool {
  const b = c.byte();
  if (b != 0x2d && !isDigit(b)) {
    out.offsetKind = OffsetKind.NotInteger;
    return c.skipValue();
  }
  const start = c.pos;
  let negative = false;
  if (b == 0x2d) {
    negative = true;
    c.pos++;
  }
  let value: i64 = 0;
  let overflow = false;
  let digits = 0;
  while (isDigit(c.byte())) {
    const d = <i64>(c.byte() - 0x30);
    if (value > (MAX_OFFSET - d) / 10) overflow = true;
    else value = value * 10 + d;
    digits++;
    c.pos++;
  }
  const after = c.byte();
  if (digits == 0 || after == 0x2e || after == 0x65 || after == 0x45) {
    // not a plain integer: let the number skipper decide whether it is JSON at all
    c.pos = start;
    out.offsetKind = OffsetKind.NotInteger;
    return c.skipNumber();
  }
  if (negative || overflow) {
    out.offsetKind = (negative && value == 0 && !overflow) ? OffsetKind.Valid : OffsetKind.OutOfRange; // "-0" is 0
    out.offset = 0;
    return true;
  }
  out.offsetKind = OffsetKind.Valid;
  out.offset = value;
  return true;
}

/**
 * Scans the JSON object at [ptr, ptr+len) for the top-level keys pathKey and offsetKey (raw key bytes
 * at [pathKey, +pathKeyLen) and [offsetKey, +offsetKeyLen)). The last occurrence of a key wins, as in
 * most JSON readers. The caller has checked that the ranges lie in linear memory.
 */
export function scanRecord(ptr: usize, len: i32, pathKey: usize, pathKeyLen: i32, offsetKey: usize, offsetKeyLen: i32, out: RecordFields): RecordStatus {
  out.reset();
  const c = cursor;
  c.base = ptr;
  c.len = len < 0 ? 0 : len;
  c.pos = 0;
  c.status = RecordStatus.Ok;
  c.skipSpace();
  if (c.byte() != 0x7b) {
    out.status = c.pos >= c.len ? RecordStatus.Truncated : RecordStatus.NotObject;
    out.position = c.pos;
    return out.status;
  }
  c.pos++;
  c.skipSpace();
  let ok = true;
  if (c.byte() == 0x7d) {
    c.pos++;
  } else {
    while (true) {
      c.skipSpace();
      if (c.byte() != 0x22) {
        ok = c.unexpected();
        break;
      }
      const keyStart = c.pos + 1;
      if (!c.skipString()) {
        ok = false;
        break;
      }
      const keyLen = c.pos - 1 - keyStart;
      c.skipSpace();
      if (c.byte() != 0x3a) {
        ok = c.unexpected();
        break;
      }
      c.pos++;
      c.skipSpace();
      const keyPtr = ptr + <usize>keyStart;
      const valueStart = c.pos;
      if (sameBytes(keyPtr, keyLen, pathKey, pathKeyLen)) {
        if (c.byte() == 0x22) {
          if (!c.skipString()) {
            ok = false;
            break;
          }
          out.hasPath = true;
          out.pathStart = valueStart;
          out.pathLen = c.pos - valueStart;
        } else {
          out.hasPath = false; // a path that is not a string is no path (last one wins)
          if (!c.skipValue()) {
            ok = false;
            break;
          }
        }
      } else if (sameBytes(keyPtr, keyLen, offsetKey, offsetKeyLen)) {
        out.offset = 0;
        if (!readOffset(c, out)) {
          ok = false;
          break;
        }
      } else if (!c.skipValue()) {
        ok = false;
        break;
      }
      c.skipSpace();
      const sep = c.byte();
      if (sep == 0x2c) {
        c.pos++;
        continue;
      }
      if (sep == 0x7d) {
        c.pos++;
        break;
      }
      ok = c.unexpected();
      break;
    }
  }
  if (ok) {
    c.skipSpace();
    if (c.pos < c.len) c.fail(RecordStatus.TrailingBytes);
  }
  out.status = c.status;
  out.position = c.pos;
  if (out.status != RecordStatus.Ok) {
    out.hasPath = false;
    out.offsetKind = OffsetKind.Missing;
  }
  return out.status;
}

/**
 * A fingerprint of a record for telling a re-read of the same line from a new one: FNV-1a (64 bit) over
 * the record's bytes without [skipStart, skipStart+skipLen) (the path value, which differs when in_tail
 * re-reads a file under its rotated name). The offset, the time string and the content all count.
 */
export function recordFingerprint(ptr: usize, len: i32, skipStart: i32, skipLen: i32): i64 {
  let h: u64 = 0xcbf29ce484222325;
  const skipEnd = skipStart + skipLen;
  for (let i = 0; i < len; i++) {
    if (i == skipStart && skipLen > 0) {
      i = skipEnd - 1;
      continue;
    }
    h ^= <u64>load<u8>(ptr + <usize>i);
    h *= 0x100000001b3;
  }
  return <i64>h;
}
