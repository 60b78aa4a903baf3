// How far Fluent Bit has read each file, as seen by the filter: per path (the raw JSON string bytes of
// the record's Path_Key, quotes included), the last few "generations" of offsets; and which records it has
// already passed once, so that a file in_tail reads a second time is not shipped twice.
//
// Why generations: in_tail keeps a file's old name on the records it reads between the rename and the
// moment it notices the rotation, and the new file created at that name starts again at offset 0. If
// the filter kept one number per path, the new file would inherit the old file's progress and the host
// would compress or delete it unread. So an offset that does not move forward (lower than, or equal to,
// the highest offset of the current generation: in one file every line starts at a distinct, growing
// offset) opens a new generation, and the host credits a rotated file only from the generation(s) that
// belong to it (docs/shipper-aware.md).
//
// Why re-reads: in_tail forgets a rotated file Rotate_Wait seconds after it noticed the rotation, read or
// not, and deletes its DB row; if the file is still there (shipper-aware rotation keeps it until it is
// read) the `*.log*` glob finds it again and in_tail reads it from the head. A new generation whose FIRST
// record is the same line as the first record of a generation this instance already passed — the same
// offset, the same record time to the nanosecond and the same bytes apart from the path — is that file
// read again: its records up to the highest offset already passed for that file are duplicates. Where the
// first one can have been passed:
//   - at the same path (a file re-read under the same name);
//   - for a rotated name `<live>.<YYYYMMDD-HHMMSS>…` (assembly/rules/names.ts), at the live path it was
//     renamed from (in_tail read its head under the old name before it noticed the rotation).
// For a rotated name, every later generation at that same name belongs to the same file too (rotated
// names are unique: no rename replaces an existing file), so its offsets count as passed as well.
// Never a record not seen before: a new file (inode reused or not, same name or not) starts with another
// line; generations restored from the progress file after a restart are never matched (what a previous
// Fluent Bit passed may not have been delivered: its in-flight records are lost on a restart, and a
// re-read is what brings them back).
//
// Memory is fixed at construction: MAX_PATHS paths × GENERATIONS generations in flat arrays; the keys
// live in one growable arena. A handful of objects in all, whatever the number of paths: the filter runs
// __collect() on every record, and the minimal runtime's collector visits every live object each time.
// When the table is full, the path seen least recently (by record time) is evicted.
import { liveNameLength } from "../rules/names";

/** Paths tracked at once. */
export const MAX_PATHS: i32 = 4096;
/** Generations kept per path (the newest ones): enough to recognise a re-read several rotations later. */
export const GENERATIONS: i32 = 8;
/** Generations per path written to the progress file (the newest ones). */
export const REPORTED_GENERATIONS: i32 = 4;
/** Longest path string kept (raw JSON bytes, quotes included); longer ones are not tracked. */
export const MAX_PATH_BYTES: i32 = 8192;

// One generation is FIELDS consecutive i64s.
export const FIRST_OFFSET = 0;
export const MAX_OFFSET = 1;
export const RECORDS = 2;
/** Record times in nanoseconds since the epoch (Fluent Bit's sec * 1e9 + nsec). */
export const FIRST_NS = 3;
/** The highest record time seen. */
export const LAST_NS = 4;
const FIRST_FINGERPRINT = 5;
/** Creation order over the whole table (0 for restored generations). */
const SEQ = 6;
const FLAGS = 7;
/** Records of this generation at or below this offset were passed before (a re-read); -1 none. */
const DUPLICATE_UNTIL = 8;
const FIELDS = 9;

/** Read from the progress file after a restart: reported, never continued, never matched. */
const FLAG_RESTORED: i64 = 1;

const HASH_SLOTS: i32 = 8192; // a power of two, at least twice MAX_PATHS: probes stay short
export const EMPTY: i32 = -1;

function hashBytes(ptr: usize, len: i32): u32 {
  let h: u32 = 0x811c9dc5; // FNV-1a
  for (let i = 0; i < len; i++) {
    h ^= <u32>load<u8>(ptr + <usize>i);
    h *= 0x01000193;
  }
  return h;
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
  /** Index of the oldest generation still held per path. */
  genFirst: StaticArray<i64> = new StaticArray<i64>(MAX_PATHS);
  /** Latest record time per path (ns), for eviction. */
  lastSeen: StaticArray<i64> = new StaticArray<i64>(MAX_PATHS);
  gens: StaticArray<i64> = new StaticArray<i64>(MAX_PATHS * GENERATIONS * FIELDS);
  index: StaticArray<i32> = new StaticArray<i32>(HASH_SLOTS);
  /** Builds the live path's key of a rotated path (quotes included) for a lookup. */
  scratch: Uint8Array = new Uint8Array(MAX_PATH_BYTES);
  used: i32 = 0;
  evictions: i64 = 0;
  private seq: i64 = 0;

  constructor() {
    for (let i = 0; i < HASH_SLOTS; i++) unchecked((this.index[i] = EMPTY));
  }

  /** The slot of the path, or EMPTY. */
  find(ptr: usize, len: i32): i32 {
    const h = hashBytes(ptr, len);
    let i = <i32>(h & <u32>(HASH_SLOTS - 1));
    for (let probe = 0; probe < HASH_SLOTS; probe++) {
      const slot = unchecked(this.index[i]);
      if (slot == EMPTY) return EMPTY;
      if (unchecked(this.hashes[slot]) == h && unchecked(this.keyLen[slot]) == len) {
        if (memory.compare(this.keyPtr(slot), ptr, <usize>len) == 0) return slot;
      }
      i = (i + 1) & (HASH_SLOTS - 1);
    }
    return EMPTY;
  }

  /** The slot of the path, added (evicting the path seen least recently when full); EMPTY if too long. */
  slotOf(ptr: usize, len: i32, ns: i64): i32 {
    if (len <= 0 || len > MAX_PATH_BYTES) return EMPTY;
    let slot = this.find(ptr, len);
    if (slot != EMPTY) return slot;
    slot = this.used < MAX_PATHS ? this.used++ : this.evictOldest();
    this.storeKey(slot, ptr, len);
    unchecked((this.hashes[slot] = hashBytes(ptr, len)));
    unchecked((this.genCount[slot] = 0));
    unchecked((this.genFirst[slot] = 0));
    unchecked((this.lastSeen[slot] = ns));
    this.link(slot);
    return slot;
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

  /** A record at `offset` opens a new generation at this path (see the top of this file). */
  startsGeneration(slot: i32, offset: i64): bool {
    const count = unchecked(this.genCount[slot]);
    if (count == 0) return true;
    const g = this.genBase(slot, count - 1);
    if ((unchecked(this.gens[g + FLAGS]) & FLAG_RESTORED) != 0) return true; // the file there may have changed meanwhile
    return offset <= unchecked(this.gens[g + MAX_OFFSET]);
  }

  /**
   * Credits one record (its line starts at `offset`, its time is `ns`) to the path in `slot`.
   * `fingerprint` identifies the record apart from its path (only read when it opens a generation).
   * Returns true when the record was passed before: a re-read, to be dropped.
   */
  record(slot: i32, offset: i64, ns: i64, fingerprint: i64): bool {
    let duplicate: bool;
    if (this.startsGeneration(slot, offset)) {
      const until = this.passedBefore(slot, offset, ns, fingerprint);
      const count = unchecked(this.genCount[slot]);
      unchecked((this.genCount[slot] = count + 1));
      const first = count + 1 - <i64>GENERATIONS;
      if (first > unchecked(this.genFirst[slot])) unchecked((this.genFirst[slot] = first));
      const g = this.genBase(slot, count);
      unchecked((this.gens[g + FIRST_OFFSET] = offset));
      unchecked((this.gens[g + MAX_OFFSET] = offset));
      unchecked((this.gens[g + RECORDS] = 1));
      unchecked((this.gens[g + FIRST_NS] = ns));
      unchecked((this.gens[g + LAST_NS] = ns));
      unchecked((this.gens[g + FIRST_FINGERPRINT] = fingerprint));
      unchecked((this.gens[g + SEQ] = ++this.seq));
      unchecked((this.gens[g + FLAGS] = 0));
      unchecked((this.gens[g + DUPLICATE_UNTIL] = until));
      duplicate = until >= offset;
    } else {
      const g = this.genBase(slot, unchecked(this.genCount[slot]) - 1);
      unchecked((this.gens[g + MAX_OFFSET] = offset));
      unchecked((this.gens[g + RECORDS] = unchecked(this.gens[g + RECORDS]) + 1));
      if (ns > unchecked(this.gens[g + LAST_NS])) unchecked((this.gens[g + LAST_NS] = ns));
      duplicate = offset <= unchecked(this.gens[g + DUPLICATE_UNTIL]);
    }
    if (ns > unchecked(this.lastSeen[slot])) unchecked((this.lastSeen[slot] = ns));
    return duplicate;
  }

  /**
   * For a generation about to open at `slot` with this first record: the highest offset of that same file
   * this instance has already passed, or -1 when the record starts no re-read.
   */
  private passedBefore(slot: i32, offset: i64, ns: i64, fingerprint: i64): i64 {
    const rotated = this.isRotatedName(slot);
    let matchSlot = slot;
    let match = this.sameFirstRecord(slot, offset, ns, fingerprint);
    if (match == EMPTY && rotated) {
      matchSlot = this.liveSlotOf(slot);
      if (matchSlot != EMPTY) match = this.sameFirstRecord(matchSlot, offset, ns, fingerprint);
    }
    if (match == EMPTY) return -1;
    const m = this.genBase(matchSlot, <i64>match);
    let until = unchecked(this.gens[m + MAX_OFFSET]);
    if (rotated) {
      // Later generations under a rotated name are this file read further (names are never reused).
      const seq = unchecked(this.gens[m + SEQ]);
      const count = unchecked(this.genCount[slot]);
      for (let i = unchecked(this.genFirst[slot]); i < count; i++) {
        const g = this.genBase(slot, i);
        if ((unchecked(this.gens[g + FLAGS]) & FLAG_RESTORED) != 0 || unchecked(this.gens[g + SEQ]) <= seq) continue;
        const max = unchecked(this.gens[g + MAX_OFFSET]);
        if (max > until) until = max;
      }
    }
    return until;
  }

  /** The generation index at `slot` (passed by this instance) whose first record is this one, or EMPTY. */
  private sameFirstRecord(slot: i32, offset: i64, ns: i64, fingerprint: i64): i32 {
    const count = unchecked(this.genCount[slot]);
    for (let i = count - 1; i >= unchecked(this.genFirst[slot]); i--) {
      const g = this.genBase(slot, i);
      if ((unchecked(this.gens[g + FLAGS]) & FLAG_RESTORED) != 0) continue;
      if (unchecked(this.gens[g + FIRST_OFFSET]) == offset && unchecked(this.gens[g + FIRST_NS]) == ns && unchecked(this.gens[g + FIRST_FINGERPRINT]) == fingerprint) {
        return <i32>i;
      }
    }
    return EMPTY;
  }

  /** The key is `"<live>.<YYYYMMDD-HHMMSS>…"`: the JSON string of a rotated file's path. */
  private isRotatedName(slot: i32): bool {
    return this.liveKeyLength(slot) > 0;
  }

  /** Length of the live key's inner bytes (without quotes) when the key is a rotated name, else -1. */
  private liveKeyLength(slot: i32): i32 {
    const len = unchecked(this.keyLen[slot]);
    if (len < 3) return -1;
    const inner = Uint8Array.wrap(this.arena, unchecked(this.keyOff[slot]) + 1, len - 2);
    return liveNameLength(inner);
  }

  /** The slot of the live path a rotated path was renamed from, or EMPTY. */
  private liveSlotOf(slot: i32): i32 {
    const n = this.liveKeyLength(slot);
    if (n <= 0) return EMPTY;
    const s = this.scratch;
    store<u8>(s.dataStart, 0x22);
    memory.copy(s.dataStart + 1, this.keyPtr(slot) + 1, <usize>n);
    store<u8>(s.dataStart + 1 + <usize>n, 0x22);
    return this.find(s.dataStart, n + 2);
  }

  /**
   * Adds a generation read back from the progress file after a restart. Generations of a path must come
   * oldest first with consecutive indexes. Returns false when they do not (nothing is added then).
   */
  restore(ptr: usize, len: i32, index: i64, firstOffset: i64, maxOffset: i64, records: i64, firstNs: i64, lastNs: i64): bool {
    if (index < 0 || maxOffset < firstOffset) return false;
    const existing = this.find(ptr, len);
    if (existing != EMPTY && index != unchecked(this.genCount[existing])) return false;
    const slot = existing != EMPTY ? existing : this.slotOf(ptr, len, lastNs);
    if (slot == EMPTY) return false;
    if (existing == EMPTY) unchecked((this.genFirst[slot] = index));
    unchecked((this.genCount[slot] = index + 1));
    const first = index + 1 - <i64>GENERATIONS;
    if (first > unchecked(this.genFirst[slot])) unchecked((this.genFirst[slot] = first));
    const g = this.genBase(slot, index);
    unchecked((this.gens[g + FIRST_OFFSET] = firstOffset));
    unchecked((this.gens[g + MAX_OFFSET] = maxOffset));
    unchecked((this.gens[g + RECORDS] = records));
    unchecked((this.gens[g + FIRST_NS] = firstNs));
    unchecked((this.gens[g + LAST_NS] = lastNs));
    unchecked((this.gens[g + FIRST_FINGERPRINT] = 0));
    unchecked((this.gens[g + SEQ] = 0));
    unchecked((this.gens[g + FLAGS] = FLAG_RESTORED));
    unchecked((this.gens[g + DUPLICATE_UNTIL] = -1));
    if (lastNs > unchecked(this.lastSeen[slot])) unchecked((this.lastSeen[slot] = lastNs));
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

  // ---- read access for the progress file writer (assembly/abi/progress-file.ts) ----

  /** Slots in use (some may be free after an eviction: keyLength 0). */
  get paths(): i32 {
    return this.used;
  }

  keyPtr(slot: i32): usize {
    return changetype<usize>(this.arena) + <usize>unchecked(this.keyOff[slot]);
  }

  keyLength(slot: i32): i32 {
    return unchecked(this.keyLen[slot]);
  }

  /** Index of the first generation to report for `slot` (the newest REPORTED_GENERATIONS). */
  firstReported(slot: i32): i64 {
    const count = unchecked(this.genCount[slot]);
    let first = count - <i64>REPORTED_GENERATIONS;
    const held = unchecked(this.genFirst[slot]);
    if (first < held) first = held;
    return first;
  }

  generationCount(slot: i32): i64 {
    return unchecked(this.genCount[slot]);
  }

  /** Field `field` (FIRST_OFFSET, MAX_OFFSET, RECORDS, FIRST_NS, LAST_NS) of generation `gen`. */
  field(slot: i32, gen: i64, field: i32): i64 {
    return unchecked(this.gens[this.genBase(slot, gen) + field]);
  }
}
