// Byte-string helpers for the rules. Names and quantities stay raw bytes (Uint8Array) end to end: a file
// name may hold any byte but '/' and NUL, so it is never decoded as UTF-16 text. Every loop is bounded
// by the lengths of its inputs; nothing here traps on any input.

/** A Uint8Array holding the given bytes (fixtures and tests). */
export function bytesOf(a: u8[]): Uint8Array {
  const n = a.length;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) unchecked((out[i] = unchecked(a[i])));
  return out;
}

/** The bytes of an ASCII literal. Code units above 0x7F are truncated to their low byte: ASCII only. */
export function asciiBytes(s: string): Uint8Array {
  const n = s.length;
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) unchecked((out[i] = <u8>s.charCodeAt(i)));
  return out;
}

/**
 * Bytewise comparison, like Go's strings.Compare (and so the order sort.Strings gives): -1, 0 or 1.
 * A proper prefix sorts first.
 */
export function compareBytes(a: Uint8Array, b: Uint8Array): i32 {
  const na = a.length;
  const nb = b.length;
  const n = na < nb ? na : nb;
  for (let i = 0; i < n; i++) {
    const x = unchecked(a[i]);
    const y = unchecked(b[i]);
    if (x != y) return x < y ? -1 : 1;
  }
  return na == nb ? 0 : na < nb ? -1 : 1;
}

/** compareBytes(a + sa, b + sb) without building either concatenation. */
export function compareJoined(a: Uint8Array, sa: Uint8Array, b: Uint8Array, sb: Uint8Array): i32 {
  const na = a.length;
  const nb = b.length;
  const la = na + sa.length;
  const lb = nb + sb.length;
  const n = la < lb ? la : lb;
  for (let i = 0; i < n; i++) {
    const x = i < na ? unchecked(a[i]) : unchecked(sa[i - na]);
    const y = i < nb ? unchecked(b[i]) : unchecked(sb[i - nb]);
    if (x != y) return x < y ? -1 : 1;
  }
  return la == lb ? 0 : la < lb ? -1 : 1;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): bool {
  const n = a.length;
  if (n != b.length) return false;
  for (let i = 0; i < n; i++) {
    if (unchecked(a[i]) != unchecked(b[i])) return false;
  }
  return true;
}

export function hasPrefix(a: Uint8Array, prefix: Uint8Array): bool {
  const n = prefix.length;
  if (n > a.length) return false;
  for (let i = 0; i < n; i++) {
    if (unchecked(a[i]) != unchecked(prefix[i])) return false;
  }
  return true;
}

export function hasSuffix(a: Uint8Array, suffix: Uint8Array): bool {
  const n = suffix.length;
  const off = a.length - n;
  if (off < 0) return false;
  for (let i = 0; i < n; i++) {
    if (unchecked(a[off + i]) != unchecked(suffix[i])) return false;
  }
  return true;
}

/** A new array: a followed by b. */
export function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const na = a.length;
  const out = new Uint8Array(na + b.length);
  out.set(a, 0);
  out.set(b, na);
  return out;
}

/**
 * A copy of a[start:end]. Out-of-range bounds are clamped (never a trap): start and end are limited to
 * [0, a.length], and end < start gives an empty array.
 */
export function sliceBytes(a: Uint8Array, start: i32, end: i32): Uint8Array {
  const n = a.length;
  if (start < 0) start = 0;
  if (start > n) start = n;
  if (end > n) end = n;
  if (end < start) end = start;
  return a.slice(start, end);
}

const HEX = "0123456789abcdef";

/**
 * A quoted, printable rendering for messages, like Go's %q on ASCII: printable ASCII as-is, `"` and `\`
 * escaped, \a \b \f \n \r \t \v by name, and every other byte (controls, DEL, any byte >= 0x80) as \xNN.
 * (Go's %q would print valid non-ASCII UTF-8 as runes; bytes are shown instead, since names are bytes.)
 */
export function bytesToDisplay(a: Uint8Array): string {
  const n = a.length;
  if (isPlain(a)) return quotedAscii(a);
  let out = '"';
  let runStart = 0;
  // Printable runs are copied in one go; only escapes are appended byte by byte.
  for (let i = 0; i < n; i++) {
    const c = unchecked(a[i]);
    if (c >= 0x20 && c < 0x7f && c != 0x22 && c != 0x5c) continue;
    if (i > runStart) out += asciiRun(a, runStart, i);
    runStart = i + 1;
    if (c == 0x22) out += '\\"';
    else if (c == 0x5c) out += "\\\\";
    else if (c == 0x07) out += "\\a";
    else if (c == 0x08) out += "\\b";
    else if (c == 0x0c) out += "\\f";
    else if (c == 0x0a) out += "\\n";
    else if (c == 0x0d) out += "\\r";
    else if (c == 0x09) out += "\\t";
    else if (c == 0x0b) out += "\\v";
    else out += "\\x" + HEX.charAt(c >> 4) + HEX.charAt(c & 15);
  }
  if (n > runStart) out += asciiRun(a, runStart, n);
  return out + '"';
}

/** Every byte is printable ASCII other than `"` and `\`: shown as it is, between quotes. */
function isPlain(a: Uint8Array): bool {
  for (let i = 0, n = a.length; i < n; i++) {
    const c = unchecked(a[i]);
    if (c < 0x20 || c >= 0x7f || c == 0x22 || c == 0x5c) return false;
  }
  return true;
}

/** `"` + a + `"` in one allocation (the caller checked a is plain). */
function quotedAscii(a: Uint8Array): string {
  const len = a.length;
  const s = changetype<string>(__new(<usize>(len + 2) << 1, idof<string>()));
  const src = a.dataStart;
  const dst = changetype<usize>(s);
  store<u16>(dst, 0x22);
  for (let i = 0; i < len; i++) {
    store<u16>(dst + (<usize>(i + 1) << 1), load<u8>(src + <usize>i));
  }
  store<u16>(dst + (<usize>(len + 1) << 1), 0x22);
  return s;
}

/**
 * a + b + c + bytesToDisplay(name) + d, in one allocation when the name is plain (details name a file
 * each, and a large batch builds thousands of them).
 */
export function textWithName(a: string, b: string, c: string, name: Uint8Array, d: string): string {
  if (!isPlain(name)) return joinText([a, b, c, bytesToDisplay(name), d]);
  const la = a.length;
  const lb = b.length;
  const lc = c.length;
  const ln = name.length;
  const s = changetype<string>(__new(<usize>(la + lb + lc + ln + 2 + d.length) << 1, idof<string>()));
  let dst = changetype<usize>(s);
  copyBytes(dst, changetype<usize>(a), <usize>la << 1);
  dst += <usize>la << 1;
  copyBytes(dst, changetype<usize>(b), <usize>lb << 1);
  dst += <usize>lb << 1;
  copyBytes(dst, changetype<usize>(c), <usize>lc << 1);
  dst += <usize>lc << 1;
  store<u16>(dst, 0x22);
  const src = name.dataStart;
  for (let i = 0; i < ln; i++) store<u16>(dst + (<usize>(i + 1) << 1), load<u8>(src + <usize>i));
  dst += <usize>(ln + 1) << 1;
  store<u16>(dst, 0x22);
  copyBytes(dst + 2, changetype<usize>(d), <usize>d.length << 1);
  return s;
}

/**
 * memory.copy for the short, non-overlapping runs of names and details: the engine's memory.copy is a
 * call out of the module, which costs more than copying a few dozen bytes eight at a time.
 */
export function copyBytes(dst: usize, src: usize, n: usize): void {
  if (n > 128) {
    memory.copy(dst, src, n);
    return;
  }
  let i: usize = 0;
  for (; i + 8 <= n; i += 8) store<u64>(dst + i, load<u64>(src + i));
  for (; i < n; i++) store<u8>(dst + i, load<u8>(src + i));
}

/** The pieces joined, in one allocation for the result (details are built from several). */
export function joinText(parts: StaticArray<string>): string {
  return parts.join("");
}

/** The ASCII bytes a[start:end] as a string (the caller checked they are printable ASCII). */
function asciiRun(a: Uint8Array, start: i32, end: i32): string {
  const len = end - start;
  const s = changetype<string>(__new(<usize>len << 1, idof<string>()));
  const src = a.dataStart + <usize>start;
  const dst = changetype<usize>(s);
  for (let i = 0; i < len; i++) {
    store<u16>(dst + (<usize>i << 1), load<u8>(src + <usize>i));
  }
  return s;
}

/**
 * Sorts names in place, bytewise ascending (Go's sort.Strings order). Insertion sort for short lists,
 * which is the common case (a log directory holds a handful of files); a merge sort beyond that so a
 * directory with thousands of entries stays O(n log n).
 */
export function sortNames(names: Uint8Array[]): void {
  const n = names.length;
  if (n < 2) return;
  if (n <= 16) {
    insertionSort(names, 0, n);
    return;
  }
  const tmp = new Array<Uint8Array>(n);
  mergeSort(names, tmp, 0, n);
}

function insertionSort(names: Uint8Array[], lo: i32, hi: i32): void {
  for (let i = lo + 1; i < hi; i++) {
    const x = unchecked(names[i]);
    let j = i - 1;
    while (j >= lo && compareBytes(unchecked(names[j]), x) > 0) {
      unchecked((names[j + 1] = unchecked(names[j])));
      j--;
    }
    unchecked((names[j + 1] = x));
  }
}

/** Stable merge sort of names[lo:hi] using tmp as scratch (same length as names). */
function mergeSort(names: Uint8Array[], tmp: Uint8Array[], lo: i32, hi: i32): void {
  if (hi - lo <= 16) {
    insertionSort(names, lo, hi);
    return;
  }
  const mid = lo + ((hi - lo) >> 1);
  mergeSort(names, tmp, lo, mid);
  mergeSort(names, tmp, mid, hi);
  if (compareBytes(unchecked(names[mid - 1]), unchecked(names[mid])) <= 0) return;
  for (let k = lo; k < hi; k++) unchecked((tmp[k] = unchecked(names[k])));
  let i = lo;
  let j = mid;
  for (let k = lo; k < hi; k++) {
    if (i < mid && (j >= hi || compareBytes(unchecked(tmp[i]), unchecked(tmp[j])) <= 0)) {
      unchecked((names[k] = unchecked(tmp[i])));
      i++;
    } else {
      unchecked((names[k] = unchecked(tmp[j])));
      j++;
    }
  }
}
