// Byte-string helpers for the rules. Names and quantities stay raw bytes (Uint8Array) end to end: a file
// name may hold any byte but '/' and NUL, so it is never decoded as UTF-16 text. Every loop is bounded
// by the lengths of its inputs; nothing here traps on any input, and nothing here touches raw memory
// (that is the encoder's business, in assembly/abi/).

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
  if (isPlainName(a)) return '"' + asciiText(a, 0, n) + '"';
  let out = '"';
  let runStart = 0;
  // Printable runs are copied in one go; only escapes are appended byte by byte.
  for (let i = 0; i < n; i++) {
    const c = unchecked(a[i]);
    if (c >= 0x20 && c < 0x7f && c != 0x22 && c != 0x5c) continue;
    if (i > runStart) out += asciiText(a, runStart, i);
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
  if (n > runStart) out += asciiText(a, runStart, n);
  return out + '"';
}

/** Every byte is printable ASCII other than `"` and `\`: shown as it is, between quotes. */
export function isPlainName(a: Uint8Array): bool {
  for (let i = 0, n = a.length; i < n; i++) {
    const c = unchecked(a[i]);
    if (c < 0x20 || c >= 0x7f || c == 0x22 || c == 0x5c) return false;
  }
  return true;
}

/** The printable ASCII bytes a[start:end] as a string (the caller checked them). */
function asciiText(a: Uint8Array, start: i32, end: i32): string {
  return String.UTF8.decode(a.slice(start, end).buffer);
}
