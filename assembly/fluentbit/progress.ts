// How far Fluent Bit has read each file, as seen by the filter: per path (the raw JSON string bytes of
// the record's Path_Key, quotes included), the last few "generations" of offsets.
//
// Why generations: in_tail keeps a file's old name on the records it reads between the rename and the
// moment it notices the rotation, and the new file created at that name starts again at offset 0. If
// the filter kept one number per path, the new file would inherit the old file's progress and the host
// would compress or delete it unread. So an offset that does not move forward (lower than, or equal to,
// the highest offset of the current generation: in one file every line starts at a distinct, growing
// offset) opens a new generation, and the host credits a rotated file only from the generation that was
// live when it renamed it (host/progress/match.ts).
//
// Memory is fixed at construction: MAX_PATHS paths × GENERATIONS generations in flat arrays; the keys
// live in one growable arena. A handful of objects in all, whatever the number of paths: the filter runs
// __collect() on every record, and the minimal runtime's collector visits every live object each time.
// When the table is full, the path seen least recently (by record time) is evicted.

/** Paths tracked at once. */
export const MAX_PATHS: i32 = 4096;
/** Generations kept per path (the newest ones). */
export const GENERATIONS: i32 = 4;
/** Longest path string kept (raw JSON bytes, quotes included); longer ones are not tracked. */
export const MAX_PATH_BYTES: i32 = 8192;

// One generation is FIELDS consecutive i64s.
const FIRST_OFFSET = 0;
const MAX_OFFSET = 1;
const RECORDS = 2;
const FIRST_SEC = 3;
const LAST_SEC = 4;
const FIELDS = 5;

const HASH_SLOTS: i32 = 8192; // a power of two, at least twice MAX_PATHS: probes stay short
const EMPTY: i32 = -1;

function hashBytes(ptr: usize, len: i32): u32 {
  let h: u32 = 0x811c9dc5; // FNV-1a
  for (let i = 0; i < len; i++) {
    h ^= <u32>load<u8>(ptr + <usize>i);
    h *= 0x01000193;
  }
  return h;
}


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
}

export class ProgressTable {
  /** Keys: bytes [keyOff, keyOff+keyLen) of the arena; keyLen 0 marks a free slot. */
  arena: ArrayBuffer = new ArrayBuffer(64 * 1024);
  arenaUsed: i32 = 0;
  keyOff: StaticArray<i32> = new StaticArray<i32>(MAX_PATHS);
  keyLen: StaticArray<i32> = new StaticArray<i32>(MAX_PATHS);
  hashes: StaticArray<u32> = new StaticArray<u32>(MAX_PATHS);
  /** Generations ever started per path; the current one's index is genCount - 1. */
  genCount: StaticArray<i64> = new StaticArray<i64>(MAX_PATHS);
  /** Latest record time per path, for eviction. */
  lastSeen: StaticArray<i64> = new StaticArray<i64>(MAX_PATHS);
  gens: StaticArray<i64> = new StaticArray<i64>(MAX_PATHS * GENERATIONS * FIELDS);
  index: StaticArray<i32> = new StaticArray<i32>(HASH_SLOTS);
  used: i32 = 0;
  evictions: i64 = 0;

  constructor() {
    for (let i = 0; i < HASH_SLOTS; i++) unchecked((this.index[i] = EMPTY));
  }

  /** The slot of the path, or EMPTY. */
  find(ptr: usize, len: i32, h: u32): i32 {
    let i = <i32>(h & <u32>(HASH_SLOTS - 1));
    for (let probe = 0; probe < HASH_SLOTS; probe++) {
      const slot = unchecked(this.index[i]);
      if (slot == EMPTY) return EMPTY;
      if (unchecked(this.hashes[slot]) == h && unchecked(this.keyLen[slot]) == len) {
        if (memory.compare(changetype<usize>(this.arena) + <usize>unchecked(this.keyOff[slot]), ptr, <usize>len) == 0) return slot;
      }
      i = (i + 1) & (HASH_SLOTS - 1);
    }
    return EMPTY;
  }

  private link(slot: i32): void {
    let i = <i32>(unchecked(this.hashes[slot]) & <u32>(HASH_SLOTS - 1));
    while (unchecked(this.index[i]) != EMPTY) i = (i + 1) & (HASH_SLOTS - 1);
    unchecked((this.index[i] = slot));
  }

  /** Drops the path seen least recently and rebuilds the index (rare: only with MAX_PATHS live paths). */
  private evictOldest(): i32 {
    let victim = 0;
    let oldest = unchecked(this.lastSeen[0]);
    for (let s = 1; s < this.used; s++) {
      const t = unchecked(this.lastSeen[s]);
      if (t < oldest) {
        oldest = t;
        victim = s;
      }
    }
    unchecked((this.keyLen[victim] = 0)); // its arena bytes are reclaimed by the next compaction
    for (let i = 0; i < HASH_SLOTS; i++) unchecked((this.index[i] = EMPTY));
    for (let s = 0; s < this.used; s++) if (s != victim) this.link(s);
    this.evictions++;
    return victim;
  }

  /**
   * Credits one record: the path's raw JSON string at [ptr, ptr+len), the offset where its line
   * starts, and its time. Returns false when the path is too long to track.
   */
  record(ptr: usize, len: i32, offset: i64, sec: i64): bool {
    if (len <= 0 || len > MAX_PATH_BYTES) return false;
    const h = hashBytes(ptr, len);
    let slot = this.find(ptr, len, h);
    if (slot == EMPTY) {
      slot = this.used < MAX_PATHS ? this.used++ : this.evictOldest();
      this.storeKey(slot, ptr, len);
      unchecked((this.hashes[slot] = h));
      unchecked((this.genCount[slot] = 0));
      unchecked((this.lastSeen[slot] = sec));
      this.link(slot);
    }
    const count = unchecked(this.genCount[slot]);
    let g = this.genBase(slot, count - 1);
    if (count == 0 || offset <= unchecked(this.gens[g + MAX_OFFSET])) {
      // a new generation: the first record at this path, or an offset that did not move forward
      unchecked((this.genCount[slot] = count + 1));
      g = this.genBase(slot, count);
      unchecked((this.gens[g + FIRST_OFFSET] = offset));
      unchecked((this.gens[g + MAX_OFFSET] = offset));
      unchecked((this.gens[g + RECORDS] = 1));
      unchecked((this.gens[g + FIRST_SEC] = sec));
      unchecked((this.gens[g + LAST_SEC] = sec));
    } else {
      unchecked((this.gens[g + MAX_OFFSET] = offset));
      unchecked((this.gens[g + RECORDS] = unchecked(this.gens[g + RECORDS]) + 1));
      if (sec > unchecked(this.gens[g + LAST_SEC])) unchecked((this.gens[g + LAST_SEC] = sec));
    }
    if (sec > unchecked(this.lastSeen[slot])) unchecked((this.lastSeen[slot] = sec));
    return true;
  }

  /**
   * Copies a key into the arena. When it does not fit, the live keys are compacted into a new arena
   * (room for twice what they hold plus this key): evicted keys leave holes until then.
   */
  private storeKey(slot: i32, ptr: usize, len: i32): void {
    if (this.arenaUsed + len > this.arena.byteLength) {
      let live: i32 = len;
      for (let s = 0; s < this.used; s++) live += unchecked(this.keyLen[s]);
      let cap = this.arena.byteLength;
      while (cap < live * 2) cap *= 2;
      const next = new ArrayBuffer(cap);
      const from = changetype<usize>(this.arena);
      const to = changetype<usize>(next);
      let at: i32 = 0;
      for (let s = 0; s < this.used; s++) {
        const n = unchecked(this.keyLen[s]);
        if (n == 0 || s == slot) continue;
        memory.copy(to + <usize>at, from + <usize>unchecked(this.keyOff[s]), <usize>n);
        unchecked((this.keyOff[s] = at));
        at += n;
      }
      this.arena = next; // the old arena is garbage: the next __collect frees it
      this.arenaUsed = at;
    }
    memory.copy(changetype<usize>(this.arena) + <usize>this.arenaUsed, ptr, <usize>len);
    unchecked((this.keyOff[slot] = this.arenaUsed));
    unchecked((this.keyLen[slot] = len));
    this.arenaUsed += len;
  }

  /** Index in `gens` of generation number `gen` of `slot` (a ring of GENERATIONS per path). */
  // @ts-ignore: decorator
  @inline private genBase(slot: i32, gen: i64): i32 {
    const ring = gen < 0 ? 0 : <i32>(gen % GENERATIONS);
    return (slot * GENERATIONS + ring) * FIELDS;
  }

  /** Paths currently tracked. */
  get paths(): i32 {
    return this.used;
  }

  /**
   * The progress file (docs/abi.md, "Progress file"):
   *   cri-logrotate-progress 1 <recordsSeen> <errors> <sec>\n
   *   <pathJSONString> <generationIndex> <firstOffset> <maxOffset> <records> <firstSec> <lastSec>\n ...
   * one line per kept generation, oldest first within a path.
   */
  serialize(out: ByteSink, recordsSeen: i64, errors: i64, sec: i64): void {
    out.reset();
    out.ascii("cri-logrotate-progress 1 ");
    out.decimal(recordsSeen);
    out.byte(0x20);
    out.decimal(errors);
    out.byte(0x20);
    out.decimal(sec);
    out.byte(0x0a);
    for (let s = 0; s < this.used; s++) {
      const keyLen = unchecked(this.keyLen[s]);
      if (keyLen == 0) continue;
      const key = changetype<usize>(this.arena) + <usize>unchecked(this.keyOff[s]);
      const count = unchecked(this.genCount[s]);
      let gen = count - GENERATIONS;
      if (gen < 0) gen = 0;
      for (; gen < count; gen++) {
        const g = this.genBase(s, gen);
        out.bytes(key, keyLen);
        out.byte(0x20);
        out.decimal(gen);
        out.byte(0x20);
        out.decimal(unchecked(this.gens[g + FIRST_OFFSET]));
        out.byte(0x20);
        out.decimal(unchecked(this.gens[g + MAX_OFFSET]));
        out.byte(0x20);
        out.decimal(unchecked(this.gens[g + RECORDS]));
        out.byte(0x20);
        out.decimal(unchecked(this.gens[g + FIRST_SEC]));
        out.byte(0x20);
        out.decimal(unchecked(this.gens[g + LAST_SEC]));
        out.byte(0x0a);
      }
    }
  }
}
