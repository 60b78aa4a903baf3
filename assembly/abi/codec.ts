// The wire encoding (docs/abi.md): a bounds-checked little-endian reader over a request in linear
// memory, and a growable writer for responses. Nothing here traps on bad input: the reader records the
// first failure (sticky) and returns zero values from then on, so decoders stay straight-line.
import { Status, MAX_NAME_BYTES } from "./status";

/** True when [ptr, ptr+len) lies inside linear memory (computed in u64 so it cannot wrap). */
export function inMemory(ptr: usize, len: usize): bool {
  const end = <u64>ptr + <u64>len;
  return end <= (<u64>memory.size() << 16);
}

export class Reader {
  private pos: usize;
  private end: usize;
  status: Status = Status.Ok;
  message: string = "";

  constructor(ptr: usize, len: usize) {
    this.pos = ptr;
    this.end = ptr + len;
  }

  get ok(): bool {
    return this.status == Status.Ok;
  }

  get remaining(): usize {
    return this.end - this.pos;
  }

  fail(status: Status, message: string): void {
    if (this.status == Status.Ok) {
      this.status = status;
      this.message = message;
    }
  }

  private need(n: usize, what: string): bool {
    if (!this.ok) return false;
    if (this.end - this.pos < n) {
      this.fail(Status.Truncated, "request ends inside " + what);
      return false;
    }
    return true;
  }

  u8(what: string): u8 {
    if (!this.need(1, what)) return 0;
    const v = load<u8>(this.pos);
    this.pos += 1;
    return v;
  }

  u32(what: string): u32 {
    if (!this.need(4, what)) return 0;
    const v = load<u32>(this.pos);
    this.pos += 4;
    return v;
  }

  i32(what: string): i32 {
    return <i32>this.u32(what);
  }

  i64(what: string): i64 {
    if (!this.need(8, what)) return 0;
    const v = load<i64>(this.pos);
    this.pos += 8;
    return v;
  }

  /** A length-prefixed byte string, copied out of the request. */
  bytes(what: string, maxLen: u32 = MAX_NAME_BYTES): Uint8Array {
    const len = this.u32(what + " length");
    if (!this.ok) return new Uint8Array(0);
    if (len > maxLen) {
      this.fail(Status.TooLarge, what + " is " + len.toString() + " bytes, the limit is " + maxLen.toString());
      return new Uint8Array(0);
    }
    if (!this.need(<usize>len, what)) return new Uint8Array(0);
    const out = new Uint8Array(<i32>len);
    memory.copy(out.dataStart, this.pos, <usize>len);
    this.pos += <usize>len;
    return out;
  }

  /** A count of items each at least `minItemBytes` long: refuses counts the remaining bytes cannot hold. */
  count(what: string, max: u32, minItemBytes: u32): u32 {
    const n = this.u32(what);
    if (!this.ok) return 0;
    if (n > max) {
      this.fail(Status.TooLarge, what + " is " + n.toString() + ", the limit is " + max.toString());
      return 0;
    }
    if (<u64>n * <u64>minItemBytes > <u64>this.remaining) {
      this.fail(Status.Truncated, what + " is " + n.toString() + " but the request is too short to hold them");
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

export class Writer {
  private buf: Uint8Array = new Uint8Array(256);
  private len: i32 = 0;

  private reserve(n: i32): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length << 1;
    while (cap < this.len + n) cap <<= 1;
    const next = new Uint8Array(cap);
    memory.copy(next.dataStart, this.buf.dataStart, <usize>this.len);
    this.buf = next;
  }

  u8(v: u8): void {
    this.reserve(1);
    store<u8>(this.buf.dataStart + <usize>this.len, v);
    this.len += 1;
  }

  u32(v: u32): void {
    this.reserve(4);
    store<u32>(this.buf.dataStart + <usize>this.len, v);
    this.len += 4;
  }

  i64(v: i64): void {
    this.reserve(8);
    store<i64>(this.buf.dataStart + <usize>this.len, v);
    this.len += 8;
  }

  raw(src: usize, n: i32): void {
    this.reserve(n);
    memory.copy(this.buf.dataStart + <usize>this.len, src, <usize>n);
    this.len += n;
  }

  bytes(v: Uint8Array): void {
    this.u32(<u32>v.length);
    this.raw(v.dataStart, v.length);
  }

  text(s: string): void {
    const utf8 = String.UTF8.encode(s);
    this.u32(<u32>utf8.byteLength);
    this.raw(changetype<usize>(utf8), utf8.byteLength);
  }

  /** The response: header (status, payload length) + payload, pinned for the host to read and __unpin. */
  finish(status: Status): usize {
    const out = new ArrayBuffer(8 + this.len);
    const p = changetype<usize>(out);
    store<u32>(p, <u32>status);
    store<u32>(p + 4, <u32>this.len);
    memory.copy(p + 8, this.buf.dataStart, <usize>this.len);
    return __pin(p);
  }
}

/** An error response whose payload is the UTF-8 message. */
export function respondError(status: Status, message: string): usize {
  const w = new Writer();
  const utf8 = String.UTF8.encode(message);
  w.raw(changetype<usize>(utf8), utf8.byteLength);
  return w.finish(status);
}

/** A name is non-empty, not "." or "..", and holds no '/' or NUL (docs/abi.md). */
export function nameProblem(name: Uint8Array): string | null {
  const n = name.length;
  if (n == 0) return "is empty";
  if (n == 1 && name[0] == 0x2e) return 'is "."';
  if (n == 2 && name[0] == 0x2e && name[1] == 0x2e) return 'is ".."';
  for (let i = 0; i < n; i++) {
    const c = name[i];
    if (c == 0x2f) return "holds '/' at byte " + i.toString();
    if (c == 0) return "holds NUL at byte " + i.toString();
  }
  return null;
}
