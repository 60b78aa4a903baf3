// Kubernetes resource quantities ("10Mi", "256Ki", "1G", "1e3") parsed to a number of bytes, the way
// the kubelet reads containerLogMaxSize: k8s.io/apimachinery resource.ParseQuantity followed by
// Quantity.Value(). Exact integer arithmetic only (no f64), and no trap on any input.
//
// Grammar (apimachinery pkg/api/resource/quantity.go):
//   quantity ::= [+-] number suffix
//   number   ::= digits | digits "." | digits "." digits | "." digits
//   suffix   ::= "" | n u m k M G T P E | Ki Mi Gi Ti Pi Ei | (e|E) [+-] digits
// Value() is exact when the quantity is integral; a fraction is rounded up, away from zero
// (negativeScaleInt64 / inf.RoundUp), so "1.1" is 2, "100m" is 1 and "-0.5" is -1.
//
// Deliberate differences, because an invalid size must be an error, never a guess:
//  (a) no digit at all ("Mi", ".", "+", "-") is an error; Kubernetes parses it as 0.
//  (b) a value outside int64 is an error; Kubernetes caps a binary-suffix magnitude at MaxInt64 (so
//      "-8Ei" = -2^63 is an error here too, since Kubernetes would cap it to -(2^63-1)) and Value()
//      wraps a decimal one.
//  (c) an exponent outside int32 is an error; Kubernetes parses it as int64 and truncates to int32.

import { bytesToDisplay, sliceBytes } from "./bytes";

export class QuantityResult {
  constructor(
    public ok: bool,
    public value: i64,
    public error: string,
  ) {}
}

function failure(message: string): QuantityResult {
  return new QuantityResult(false, 0, message);
}

const RANGE_ERROR = "value out of range (must be between -9223372036854775808 and 9223372036854775807)";
const CHAR_0: u8 = 0x30;
const CHAR_9: u8 = 0x39;
const CHAR_DOT: u8 = 0x2e;
const CHAR_PLUS: u8 = 0x2b;
const CHAR_MINUS: u8 = 0x2d;

@inline
function isDigit(c: u8): bool {
  return c >= CHAR_0 && c <= CHAR_9;
}

@inline
function isLetter(c: u8): bool {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/** Bytes that may appear somewhere in a quantity: digits, letters, '.', '+', '-'. */
@inline
function isQuantityByte(c: u8): bool {
  return isDigit(c) || isLetter(c) || c == CHAR_DOT || c == CHAR_PLUS || c == CHAR_MINUS;
}

function charAt(text: Uint8Array, offset: i32): string {
  return bytesToDisplay(sliceBytes(text, offset, offset + 1)) + " at offset " + offset.toString();
}

/** Suffix interpretation: a power of two (binary SI) or a power of ten (decimal SI or exponent). */
class Suffix {
  constructor(
    public ok: bool,
    public binaryShift: i32, // k in 2^k; 0 for decimal suffixes
    public decimalExponent: i32, // e in 10^e; 0 for binary suffixes
    public error: string,
  ) {}
}

/** Looks up text[start:end] as a suffix (quantity.go's suffixer.interpret). */
function interpretSuffix(text: Uint8Array, start: i32, end: i32): Suffix {
  const len = end - start;
  if (len == 0) return new Suffix(true, 0, 0, "");
  const c0 = unchecked(text[start]);
  if (len == 1) {
    switch (c0) {
      case 0x6e: return new Suffix(true, 0, -9, ""); // n
      case 0x75: return new Suffix(true, 0, -6, ""); // u
      case 0x6d: return new Suffix(true, 0, -3, ""); // m
      case 0x6b: return new Suffix(true, 0, 3, ""); // k
      case 0x4d: return new Suffix(true, 0, 6, ""); // M
      case 0x47: return new Suffix(true, 0, 9, ""); // G
      case 0x54: return new Suffix(true, 0, 12, ""); // T
      case 0x50: return new Suffix(true, 0, 15, ""); // P
      case 0x45: return new Suffix(true, 0, 18, ""); // E
    }
  } else if (len == 2 && unchecked(text[start + 1]) == 0x69) {
    // 'i': binary SI
    switch (c0) {
      case 0x4b: return new Suffix(true, 10, 0, ""); // Ki
      case 0x4d: return new Suffix(true, 20, 0, ""); // Mi
      case 0x47: return new Suffix(true, 30, 0, ""); // Gi
      case 0x54: return new Suffix(true, 40, 0, ""); // Ti
      case 0x50: return new Suffix(true, 50, 0, ""); // Pi
      case 0x45: return new Suffix(true, 60, 0, ""); // Ei
    }
  }
  if (!isLetter(c0)) {
    return new Suffix(false, 0, 0, "unexpected character " + charAt(text, start));
  }
  const unknown = "unable to parse quantity's suffix " + bytesToDisplay(sliceBytes(text, start, end));
  if (len > 1 && (c0 == 0x65 || c0 == 0x45)) {
    // e/E followed by a signed integer (strconv.ParseInt in Kubernetes).
    let i = start + 1;
    let negative = false;
    const s = unchecked(text[i]);
    if (s == CHAR_PLUS || s == CHAR_MINUS) {
      negative = s == CHAR_MINUS;
      i++;
    }
    if (i == end) return new Suffix(false, 0, 0, unknown);
    // Accumulate the magnitude up to 2^31; beyond that only keep scanning for a bad byte.
    let magnitude: i64 = 0;
    let tooLarge = false;
    for (let j = i; j < end; j++) {
      const c = unchecked(text[j]);
      if (!isDigit(c)) {
        if (isLetter(c)) return new Suffix(false, 0, 0, unknown);
        return new Suffix(false, 0, 0, "unexpected character " + charAt(text, j));
      }
      if (!tooLarge) {
        magnitude = magnitude * 10 + <i64>(c - CHAR_0);
        if (magnitude > <i64>2147483648) tooLarge = true;
      }
    }
    if (tooLarge || (!negative && magnitude > <i64>i32.MAX_VALUE)) {
      return new Suffix(false, 0, 0, "exponent out of range in suffix " + bytesToDisplay(sliceBytes(text, start, end)));
    }
    return new Suffix(true, 0, <i32>(negative ? -magnitude : magnitude), "");
  }
  return new Suffix(false, 0, 0, unknown);
}

/**
 * The significant digits of the number: the integer digits text[intStart:intEnd] followed by the
 * fraction digits text[fracStart:fracEnd], read through one index without copying.
 */
class Digits {
  constructor(
    public text: Uint8Array,
    public intStart: i32,
    public intLen: i32,
    public fracStart: i32,
  ) {}
  @inline at(i: i32): u64 {
    const offset = i < this.intLen ? this.intStart + i : this.fracStart + (i - this.intLen);
    return <u64>(unchecked(this.text[offset]) - CHAR_0);
  }
}

/** Parses a Kubernetes quantity to bytes (see the file comment for the exact rules). */
export function parseQuantity(text: Uint8Array): QuantityResult {
  const end = text.length;
  if (end == 0) return failure("quantity is empty");
  for (let i = 0; i < end; i++) {
    if (!isQuantityByte(unchecked(text[i]))) return failure("invalid character " + charAt(text, i));
  }

  // Sign and number.
  let pos = 0;
  let negative = false;
  const first = unchecked(text[0]);
  if (first == CHAR_MINUS || first == CHAR_PLUS) {
    negative = first == CHAR_MINUS;
    pos = 1;
  }
  const intStart = pos;
  while (pos < end && isDigit(unchecked(text[pos]))) pos++;
  const intLen = pos - intStart;
  let fracStart = pos;
  let fracLen = 0;
  if (pos < end && unchecked(text[pos]) == CHAR_DOT) {
    pos++;
    fracStart = pos;
    while (pos < end && isDigit(unchecked(text[pos]))) pos++;
    fracLen = pos - fracStart;
  }
  if (intLen + fracLen == 0) {
    // Kubernetes reads these as 0; a size with no number in it is a mistake, not zero.
    if (pos == end) return failure("quantity has no digits");
    if (isLetter(unchecked(text[pos]))) {
      return failure("quantity has no digits before its suffix " + bytesToDisplay(sliceBytes(text, pos, end)));
    }
    return failure("unexpected character " + charAt(text, pos));
  }

  const suffix = interpretSuffix(text, pos, end);
  if (!suffix.ok) return failure(suffix.error);

  // value = S × 10^exp10 × 2^shift, S the significant digits without leading or trailing zeros.
  const digits = new Digits(text, intStart, intLen, fracStart);
  let lo = 0;
  let hi = intLen + fracLen; // digits [lo, hi)
  while (lo < hi && digits.at(lo) == 0) lo++;
  if (lo == hi) return new QuantityResult(true, 0, ""); // zero, whatever the suffix or exponent
  let exp10: i64 = <i64>suffix.decimalExponent - <i64>fracLen;
  while (digits.at(hi - 1) == 0) {
    hi--;
    exp10++;
  }
  const n = hi - lo;
  // Number of integer digits of S × 10^exp10. At 20 or more the value is >= 10^19 > 2^63.
  const intDigits: i64 = <i64>n + exp10;
  if (intDigits >= 20) return failure(RANGE_ERROR);

  // Integer part A (at most 19 digits, fits in u64) and the fraction digits after it.
  let whole: u64 = 0;
  let fracFrom = lo; // first fraction digit of S
  if (intDigits > 0) {
    const take = intDigits < <i64>n ? <i32>intDigits : n;
    for (let i = 0; i < take; i++) whole = whole * 10 + digits.at(lo + i);
    for (let i: i64 = <i64>take; i < intDigits; i++) whole *= 10; // trailing zeros from the exponent
    fracFrom = lo + take;
  }

  // fraction × 2^shift: its integer part (carry) and whether anything is left (inexact). One pass from
  // the last digit: digit × 2^shift + carry < 10 × 2^60 + 2^60 < 2^64, and carry stays below 2^shift.
  const multiplier: u64 = <u64>1 << <u64>suffix.binaryShift;
  let carry: u64 = 0;
  let inexact = false;
  for (let i = hi - 1; i >= fracFrom; i--) {
    const x = digits.at(i) * multiplier + carry;
    if (x % 10 != 0) inexact = true;
    carry = x / 10;
  }
  if (intDigits < 0) {
    // Leading zeros of the fraction (0.000ddd). The carry is below 2^60 < 10^19, so it reaches 0
    // within 19 steps: no need to walk a billion zeros of "1e-999999999".
    let zeros: i64 = -intDigits;
    while (zeros > 0 && carry != 0) {
      if (carry % 10 != 0) inexact = true;
      carry /= 10;
      zeros--;
    }
  }

  // magnitude = whole × 2^shift + carry + (inexact ? 1 : 0), checked against the int64 range.
  // Kubernetes caps binary-suffix magnitudes at MaxInt64 (even for negatives), so -2^63 is only
  // reachable with a decimal suffix.
  const limit: u64 = negative && suffix.binaryShift == 0 ? <u64>1 << 63 : <u64>i64.MAX_VALUE;
  if (whole > limit >> <u64>suffix.binaryShift) return failure(RANGE_ERROR);
  let room = limit - (whole << <u64>suffix.binaryShift);
  if (carry > room) return failure(RANGE_ERROR);
  room -= carry;
  if (inexact && room == 0) return failure(RANGE_ERROR);
  const magnitude: u64 = limit - room + (inexact ? 1 : 0);
  // For magnitude 2^63, 0 - magnitude wraps to exactly i64.MIN_VALUE.
  const value: i64 = negative ? <i64>(<u64>0 - magnitude) : <i64>magnitude;
  return new QuantityResult(true, value, "");
}
