// The wire encoding (docs/abi.md): a bounds-checked little-endian reader over a request in linear
// memory, and a growable writer for responses. Nothing here traps on bad input: the reader records the
// first failure (sticky) and returns zero values from then on, so decoders stay straight-line.
import { Status, ABI_VERSION, MAX_NAME_BYTES, MAX_REQUEST_BYTES } from "./status";
import { bytesToDisplay, isPlainName } from "../rules/bytes";
import { Detail } from "../rules/types";

/** True when [ptr, ptr+len) lies inside linear memory (computed in u64 so it cannot wrap). */
export function inMemory(ptr: usize, len: usize): bool {
  const end = <u64>ptr + <u64>len;
  return end <= (<u64>memory.size() << 16);
}

/**
 * The checks every entry makes before reading: 0 when [ptr, ptr+len) lies in memory and within the size
 * limit, else the error response to return.
 */
export function requestProblem(ptr: usize, len: usize): usize {
  if (!inMemory(ptr, len)) return respondError(Status.BadPointer, "request [" + ptr.toString() + ", +" + len.toString() + ") is outside linear memory");
  if (len > MAX_REQUEST_BYTES) return respondError(Status.TooLarge, "request is " + len.toString() + " bytes, the limit is " + MAX_REQUEST_BYTES.toString());
  return 0;
}

/** Reads the magic and ABI version every framed request starts with, failing the reader on a mismatch. */
export function readHeader(r: Reader, magic: u32, entry: string): void {
  const m = r.u32("magic");
  if (r.ok && m != magic) r.fail(Status.BadMagic, entry + ": request does not start with this entry's magic");
  const v = r.i32("abi version");
  if (r.ok && v != ABI_VERSION) r.fail(Status.BadVersion, entry + ": request is ABI version " + v.toString() + ", this module speaks " + ABI_VERSION.toString());
}

export class Reader {
  private base: usize;
  private pos: usize;
  private end: usize;
  status: Status = Status.Ok;
  message: string = "";
  /**
   * Where the reader is, for messages only ("container 3 entry 2 name"); -1 = not inside one. Field names
   * are passed as constant strings and the full label is built only when something fails, so decoding a
   * valid request allocates nothing for its messages.
   */
  container: i32 = -1;
  entry: i32 = -1;

  constructor(ptr: usize, len: usize) {
    this.base = ptr;
    this.pos = ptr;
    this.end = ptr + len;
  }

  get ok(): bool {
    return this.status == Status.Ok;
  }

  get remaining(): usize {
    return this.end - this.pos;
  }

  /** Bytes read so far (the offset of the next field from the start of the request). */
  get offset(): u32 {
    return <u32>(this.pos - this.base);
  }

  /** Moves back (or forward) to `offset` bytes from the start of the request, clamped to its end. */
  seek(offset: u32): void {
    const at = this.base + <usize>offset;
    this.pos = at < this.end ? at : this.end;
  }

  /** The field's name with the container/entry it belongs to, e.g. "container 3 entry 2 name". */
  label(what: string): string {
    let s = "";
    if (this.container >= 0) s = "container " + this.container.toString() + " ";
    if (this.entry >= 0) s += "entry " + this.entry.toString() + " ";
    return s + what;
  }

  fail(status: Status, message: string): void {
    if (this.status == Status.Ok) {
      this.status = status;
      this.message = message;
    }
  }

  // @ts-ignore: decorator
  @inline
  private need(n: usize, what: string, suffix: string = ""): bool {
    if (!this.ok) return false;
    if (this.end - this.pos < n) {
      this.fail(Status.Truncated, "request ends inside " + this.label(what) + suffix);
      return false;
    }
    return true;
  }

  // @ts-ignore: decorator
  @inline
  u8(what: string): u8 {
    if (!this.need(1, what)) return 0;
    const v = load<u8>(this.pos);
    this.pos += 1;
    return v;
  }

  // @ts-ignore: decorator
  @inline
  u32(what: string): u32 {
    if (!this.need(4, what)) return 0;
    const v = load<u32>(this.pos);
    this.pos += 4;
    return v;
  }

  i32(what: string): i32 {
    return <i32>this.u32(what);
  }

  // @ts-ignore: decorator
  @inline
  i64(what: string): i64 {
    if (!this.need(8, what)) return 0;
    const v = load<i64>(this.pos);
    this.pos += 8;
    return v;
  }

  /**
   * Skips a length-prefixed byte string and returns its length; its bytes start at `offset - length`.
   * Returns 0 once the reader has failed.
   */
  span(what: string, maxLen: u32 = MAX_NAME_BYTES): u32 {
    if (!this.need(4, what, " length")) return 0;
    const len = load<u32>(this.pos);
    this.pos += 4;
    if (len > maxLen) {
      this.fail(Status.TooLarge, this.label(what) + " is " + len.toString() + " bytes, the limit is " + maxLen.toString());
      return 0;
    }
    if (!this.need(<usize>len, what)) return 0;
    this.pos += <usize>len;
    return len;
  }

  /**
   * span() without a length limit: for fields whose limit applies to one container only (the caller
   * rejects that container and reads on). Fails only when the request ends first.
   */
  spanAny(what: string): u32 {
    if (!this.need(4, what, " length")) return 0;
    const len = load<u32>(this.pos);
    this.pos += 4;
    if (!this.need(<usize>len, what)) return 0;
    this.pos += <usize>len;
    return len;
  }

  /** A length-prefixed byte string, copied out of the request. */
  bytes(what: string, maxLen: u32 = MAX_NAME_BYTES): Uint8Array {
    const len = this.span(what, maxLen);
    if (!this.ok) return new Uint8Array(0);
    const out = new Uint8Array(<i32>len);
    memory.copy(out.dataStart, this.pos - <usize>len, <usize>len);
    return out;
  }

  /** A count of items each at least `minItemBytes` long: refuses counts the remaining bytes cannot hold. */
  count(what: string, max: u32, minItemBytes: u32): u32 {
    const n = this.u32(what);
    if (!this.ok) return 0;
    if (n > max) {
      this.fail(Status.TooLarge, this.label(what) + " is " + n.toString() + ", the limit is " + max.toString());
      return 0;
    }
    if (<u64>n * <u64>minItemBytes > <u64>this.remaining) {
      this.fail(Status.Truncated, this.label(what) + " is " + n.toString() + " but the request is too short to hold them");
      return 0;
    }
    return n;
  }

  expectEnd(): void {
    if (this.ok && this.pos != this.end) {
      this.fail(Status.TrailingBytes, (this.end - this.pos).toString() + " bytes after the last field");
    }
  }
}

/**
 * An ArrayBuffer whose bytes are not zeroed: for buffers that are written before they are read (a
 * response of megabytes would otherwise be filled twice).
 */
export function uninitialized(size: i32): ArrayBuffer {
  return changetype<ArrayBuffer>(__new(<usize>size, idof<ArrayBuffer>()));
}

export class Writer {
  private buf: ArrayBuffer;
  private len: i32 = 0;

  /** `capacity`: the expected payload size; the buffer grows by doubling past it. */
  constructor(capacity: i32 = 256) {
    this.buf = uninitialized(8 + (capacity > 0 ? capacity : 0));
  }

  /** Makes room for n more payload bytes; returns where they go. */
  private reserve(n: i32): usize {
    const cap = this.buf.byteLength - 8;
    if (this.len + n > cap) {
      let next = cap << 1;
      if (next < 256) next = 256;
      while (next < this.len + n) next <<= 1;
      const grown = uninitialized(8 + next);
      memory.copy(changetype<usize>(grown) + 8, changetype<usize>(this.buf) + 8, <usize>this.len);
      this.buf = grown;
    }
    return changetype<usize>(this.buf) + 8 + <usize>this.len;
  }

  u8(v: u8): void {
    store<u8>(this.reserve(1), v);
    this.len += 1;
  }

  u32(v: u32): void {
    store<u32>(this.reserve(4), v);
    this.len += 4;
  }

  i64(v: i64): void {
    store<i64>(this.reserve(8), v);
    this.len += 8;
  }

  raw(src: usize, n: i32): void {
    memory.copy(this.reserve(n), src, <usize>n);
    this.len += n;
  }

  bytes(v: Uint8Array): void {
    const n = v.length;
    const at = this.reserve(4 + n);
    store<u32>(at, <u32>n);
    copyBytes(at + 4, v.dataStart, <usize>n);
    this.len += 4 + n;
  }

  /**
   * A Detail as `bytes` of UTF-8: its text, the quoted name (bytesToDisplay), its tail. The common case —
   * ASCII text around a plain name — is written straight into the buffer without building the sentence.
   */
  detail(d: Detail): void {
    const name = d.name;
    if (name === null) {
      if (isAscii(d.tail)) {
        this.text(d.text + d.tail);
        return;
      }
    } else if (isAscii(d.text) && isAscii(d.tail) && isPlainName(changetype<Uint8Array>(name))) {
      const nm = changetype<Uint8Array>(name);
      const lt = d.text.length;
      const ln = nm.length;
      const total = lt + ln + 2 + d.tail.length;
      const at = this.reserve(4 + total);
      store<u32>(at, <u32>total);
      let dst = at + 4;
      writeAscii(dst, d.text);
      dst += <usize>lt;
      store<u8>(dst, 0x22);
      copyBytes(dst + 1, nm.dataStart, <usize>ln);
      store<u8>(dst + 1 + <usize>ln, 0x22);
      writeAscii(dst + 2 + <usize>ln, d.tail);
      this.len += 4 + total;
      return;
    }
    this.text(d.text + (name === null ? "" : bytesToDisplay(changetype<Uint8Array>(name))) + d.tail);
  }

  /** A string as `bytes` of UTF-8, encoded straight into the buffer. */
  text(s: string): void {
    // Details are ASCII but for the odd file name: copy code units as bytes in one pass, and fall back
    // to the encoder at the first one that is not ASCII (UTF-8 never has fewer bytes than code units,
    // so the room reserved here is within what the full encoding needs).
    const n = s.length;
    const at = this.reserve(4 + n);
    const src = changetype<usize>(s);
    for (let i = 0; i < n; i++) {
      const c = load<u16>(src + (<usize>i << 1));
      if (c >= 0x80) {
        this.u32(<u32>String.UTF8.byteLength(s));
        this.utf8(s);
        return;
      }
      store<u8>(at + 4 + <usize>i, <u8>c);
    }
    store<u32>(at, <u32>n);
    this.len += 4 + n;
  }

  /** A string's UTF-8 bytes, without a length. */
  utf8(s: string): void {
    const n = String.UTF8.byteLength(s);
    String.UTF8.encodeUnsafe(changetype<usize>(s), s.length, this.reserve(n));
    this.len += n;
  }

  /**
   * The response: header (status, payload length) + payload, pinned for the host to read and __unpin.
   * The header sits in front of the payload in the same buffer, so nothing is copied; the buffer may be
   * larger than 8 + length (the host reads the length).
   */
  finish(status: Status): usize {
    const p = changetype<usize>(this.buf);
    store<u32>(p, <u32>status);
    store<u32>(p + 4, <u32>this.len);
    return __pin(p);
  }
}

/** Every code unit of s is ASCII. */
function isAscii(s: string): bool {
  const p = changetype<usize>(s);
  for (let i = 0, n = s.length; i < n; i++) if (load<u16>(p + (<usize>i << 1)) >= 0x80) return false;
  return true;
}

/** The ASCII string s as bytes at dst (the caller checked isAscii and reserved the room). */
function writeAscii(dst: usize, s: string): void {
  const p = changetype<usize>(s);
  for (let i = 0, n = s.length; i < n; i++) store<u8>(dst + <usize>i, <u8>load<u16>(p + (<usize>i << 1)));
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

/** An error response whose payload is the UTF-8 message. */
export function respondError(status: Status, message: string): usize {
  const w = new Writer(String.UTF8.byteLength(message));
  w.utf8(message);
  return w.finish(status);
}

/** A name is non-empty, not "." or "..", and holds no '/' or NUL (docs/abi.md). */
export function nameProblem(name: Uint8Array): string | null {
  return nameProblemAt(name.dataStart, name.length);
}

/** nameProblem for the n bytes at ptr (a name still inside the request). */
export function nameProblemAt(ptr: usize, n: i32): string | null {
  if (n == 0) return "is empty";
  const first = load<u8>(ptr);
  if (n == 1 && first == 0x2e) return 'is "."';
  if (n == 2 && first == 0x2e && load<u8>(ptr + 1) == 0x2e) return 'is ".."';
  // Eight bytes at a time for the common case, a clean name; the byte loop below finds the position.
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const w = load<u64>(ptr + <usize>i);
    if (hasZeroByte(w) || hasZeroByte(w ^ 0x2f2f2f2f2f2f2f2f)) break;
  }
  for (; i < n; i++) {
    const c = load<u8>(ptr + <usize>i);
    if (c == 0x2f) return "holds '/' at byte " + i.toString();
    if (c == 0) return "holds NUL at byte " + i.toString();
  }
  return null;
}

/** Some byte of w is 0 (the classic bit trick: exact, no false positives for "some"). */
// @ts-ignore: decorator
@inline function hasZeroByte(w: u64): bool {
  return ((w - 0x0101010101010101) & ~w & 0x8080808080808080) != 0;
}
