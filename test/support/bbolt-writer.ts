// Writes bbolt files (go.etcd.io/bbolt, format version 2) for tests: the exact on-disk layout — two meta
// pages with their FNV-1a checksums and txids, an optional freelist page, leaf and branch pages, overflow
// pages for elements larger than a page, nested buckets inline (in their parent's value) or in pages of their
// own. Written independently of host/progress/bbolt.ts (own constants, own checksum) so that a shared mistake
// does not hide; test/fixtures/bbolt/ holds files written by the real library to check both against.
//
// Two levels: BoltBuilder places pages where a test says (to reproduce a file bbolt wrote, byte for byte, or
// to break one on purpose); writeBolt() lays out whole trees from a spec, the way bbolt would shape them.

import { open } from "node:fs/promises";

const MAGIC = 0xed0cdaed;
const VERSION = 2;
const HEADER = 16;
const ELEMENT = 16;
const BUCKET_HEADER = 16;
const FLAG_BRANCH = 0x01;
const FLAG_LEAF = 0x02;
const FLAG_META = 0x04;
const FLAG_FREELIST = 0x10;
const NO_FREELIST = 0xffff_ffff_ffff_ffffn;

/** FNV-1a 64 (Go's hash/fnv New64a). */
function fnv64a(bytes: Uint8Array): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of bytes) h = BigInt.asUintN(64, (h ^ BigInt(b)) * 0x100000001b3n);
  return h;
}

const bytesOf = (v: Buffer | string): Buffer => (typeof v === "string" ? Buffer.from(v) : v);

export interface LeafEntry {
  key: Buffer | string;
  value: Buffer | string;
  /** 1 = the value is a bucket header (+ inline page). */
  flags?: number;
}
export interface BranchEntry {
  key: Buffer | string;
  child: number | bigint;
}

export interface PageLayout {
  id: number;
  flags: number;
  count: number;
  overflow: number;
}

export interface MetaFields {
  txid: number | bigint;
  root: number | bigint;
  rootSequence?: number | bigint;
  /** A freelist page id, or "none" (NoFreelistSync: all ones). Default "none". */
  freelist?: number | "none";
  /** High-water mark; default: every page placed so far. */
  pgid?: number;
  pageSize?: number;
  flags?: number;
  magic?: number;
  version?: number;
}

/** Serializes a leaf page (header + elements + keys/values), `id` in its header. */
export function leafPage(id: number, entries: readonly LeafEntry[], pageSize: number): Buffer {
  const items = entries.map((e) => ({ key: bytesOf(e.key), value: bytesOf(e.value), flags: e.flags ?? 0 }));
  const size = HEADER + items.reduce((n, e) => n + ELEMENT + e.key.length + e.value.length, 0);
  const buf = Buffer.alloc(pageSize > 0 ? Math.ceil(size / pageSize) * pageSize : size);
  writeHeader(buf, id, FLAG_LEAF, items.length, pageSize > 0 ? buf.length / pageSize - 1 : 0);
  let data = HEADER + items.length * ELEMENT;
  items.forEach((e, i) => {
    const at = HEADER + i * ELEMENT;
    buf.writeUInt32LE(e.flags, at);
    buf.writeUInt32LE(data - at, at + 4);
    buf.writeUInt32LE(e.key.length, at + 8);
    buf.writeUInt32LE(e.value.length, at + 12);
    e.key.copy(buf, data);
    e.value.copy(buf, data + e.key.length);
    data += e.key.length + e.value.length;
  });
  return buf;
}

function branchPage(id: number, entries: readonly BranchEntry[], pageSize: number): Buffer {
  const items = entries.map((e) => ({ key: bytesOf(e.key), child: BigInt(e.child) }));
  const size = HEADER + items.reduce((n, e) => n + ELEMENT + e.key.length, 0);
  const buf = Buffer.alloc(Math.ceil(size / pageSize) * pageSize);
  writeHeader(buf, id, FLAG_BRANCH, items.length, buf.length / pageSize - 1);
  let data = HEADER + items.length * ELEMENT;
  items.forEach((e, i) => {
    const at = HEADER + i * ELEMENT;
    buf.writeUInt32LE(data - at, at);
    buf.writeUInt32LE(e.key.length, at + 4);
    buf.writeBigUInt64LE(e.child, at + 8);
    e.key.copy(buf, data);
    data += e.key.length;
  });
  return buf;
}

function writeHeader(buf: Buffer, id: number, flags: number, count: number, overflow: number): void {
  buf.writeBigUInt64LE(BigInt(id), 0);
  buf.writeUInt16LE(flags, 8);
  buf.writeUInt16LE(count, 10);
  buf.writeUInt32LE(overflow, 12);
}

/** A nested bucket's value: its header {root, sequence}, then — when root is 0 — its inline leaf page. */
export function bucketValue(root: number | bigint, sequence: number | bigint = 0, inline: readonly LeafEntry[] = []): Buffer {
  const header = Buffer.alloc(BUCKET_HEADER);
  header.writeBigUInt64LE(BigInt(root), 0);
  header.writeBigUInt64LE(BigInt(sequence), 8);
  // bbolt writes the inline page with id 0 and no padding.
  return BigInt(root) === 0n ? Buffer.concat([header, leafPage(0, inline, 0)]) : header;
}

/** Places pages and metas where a test says; bytes() lays them out at id * pageSize. */
export class BoltBuilder {
  private readonly pages = new Map<number, Buffer>();
  private next = 2;

  constructor(readonly pageSize = 4096) {}

  /** The next page id that place() would give. */
  get nextPgid(): number {
    return this.next;
  }

  private place(buf: Buffer, at?: number): number {
    const id = at ?? this.next;
    buf.writeBigUInt64LE(BigInt(id), 0);
    this.pages.set(id, buf);
    this.next = Math.max(this.next, id + buf.length / this.pageSize);
    return id;
  }

  leaf(entries: readonly LeafEntry[], at?: number): number {
    return this.place(leafPage(0, entries, this.pageSize), at);
  }

  branch(entries: readonly BranchEntry[], at?: number): number {
    return this.place(branchPage(0, entries, this.pageSize), at);
  }

  /** A freelist page listing `ids` (count > 0xfffe goes in a leading u64, as bbolt writes it). */
  freelist(ids: readonly number[], at?: number): number {
    const big = ids.length >= 0xffff;
    const size = HEADER + (ids.length + (big ? 1 : 0)) * 8;
    const buf = Buffer.alloc(Math.ceil(size / this.pageSize) * this.pageSize);
    writeHeader(buf, 0, FLAG_FREELIST, big ? 0xffff : ids.length, buf.length / this.pageSize - 1);
    let at8 = HEADER;
    if (big) {
      buf.writeBigUInt64LE(BigInt(ids.length), at8);
      at8 += 8;
    }
    for (const id of [...ids].sort((a, b) => a - b)) {
      buf.writeBigUInt64LE(BigInt(id), at8);
      at8 += 8;
    }
    return this.place(buf, at);
  }

  /** Writes meta page `slot` (0 or 1), its checksum over the 56 bytes before the checksum field. */
  meta(slot: 0 | 1, m: MetaFields): void {
    const buf = Buffer.alloc(this.pageSize);
    writeHeader(buf, slot, FLAG_META, 0, 0);
    const b = buf.subarray(HEADER, HEADER + 64);
    b.writeUInt32LE(m.magic ?? MAGIC, 0);
    b.writeUInt32LE(m.version ?? VERSION, 4);
    b.writeUInt32LE(m.pageSize ?? this.pageSize, 8);
    b.writeUInt32LE(m.flags ?? 0, 12);
    b.writeBigUInt64LE(BigInt(m.root), 16);
    b.writeBigUInt64LE(BigInt(m.rootSequence ?? 0), 24);
    b.writeBigUInt64LE(m.freelist === undefined || m.freelist === "none" ? NO_FREELIST : BigInt(m.freelist), 32);
    b.writeBigUInt64LE(BigInt(m.pgid ?? this.next), 40);
    b.writeBigUInt64LE(BigInt(m.txid), 48);
    b.writeBigUInt64LE(fnv64a(b.subarray(0, 56)), 56);
    this.pages.set(slot, buf);
  }

  layout(): PageLayout[] {
    return [...this.pages.entries()]
      .sort(([a], [b]) => a - b)
      .map(([id, buf]) => ({ id, flags: buf.readUInt16LE(8), count: buf.readUInt16LE(10), overflow: buf.readUInt32LE(12) }));
  }

  /** The file: every page at id * pageSize, zeros where nothing was placed, at least `size` bytes. */
  bytes(size = 0): Buffer {
    const out = Buffer.alloc(Math.max(size, this.next * this.pageSize));
    for (const [id, buf] of this.pages) buf.copy(out, id * this.pageSize);
    return out;
  }
}

// ---- Whole trees from a spec -------------------------------------------------------------------------

export interface BucketSpec {
  kind: "bucket";
  entries: Array<[key: Buffer | string, value: Buffer | string | BucketSpec]>;
  /** true: inline even when bbolt would not; false: never inline; undefined: bbolt's rule. */
  inline?: boolean;
  sequence?: number;
}

export function bucket(entries: BucketSpec["entries"], opts: { inline?: boolean; sequence?: number } = {}): BucketSpec {
  return { kind: "bucket", entries, ...opts };
}

const isBucket = (v: Buffer | string | BucketSpec): v is BucketSpec => typeof v === "object" && !Buffer.isBuffer(v);

export interface BoltFileSpec {
  pageSize?: number;
  /** Write a freelist page per version (bbolt without NoFreelistSync); default false, like the collector. */
  freelist?: boolean;
  /** Close a page when adding the next element would pass this many bytes (default: the page size). */
  fill?: number;
  /** One or two committed versions, oldest first; version txid t has its meta in page t % 2. */
  versions: Array<{ txid: number | bigint; root: BucketSpec }>;
}

export interface BoltFile {
  bytes: Buffer;
  pageSize: number;
  layout: PageLayout[];
  /** Per version (same order as the spec): its meta slot and root page. */
  metas: Array<{ slot: 0 | 1; txid: bigint; root: number; pgid: number }>;
}

/** Lays out every version's tree in fresh pages (as copy-on-write commits leave them) and writes both metas. */
export function writeBolt(spec: BoltFileSpec): BoltFile {
  const pageSize = spec.pageSize ?? 4096;
  const fill = spec.fill ?? pageSize;
  const b = new BoltBuilder(pageSize);
  const versions = [...spec.versions];
  if (versions.length === 1) {
    // A file always has two valid metas: the previous one here points at an empty root, as after bbolt's init.
    const txid = BigInt(versions[0].txid);
    if (txid < 1n) throw new Error("writeBolt: a single version needs txid >= 1 (the previous meta gets txid - 1)");
    versions.unshift({ txid: txid - 1n, root: bucket([]) });
  }
  if (versions.length !== 2) throw new Error("writeBolt: give one or two versions");
  if (BigInt(versions[0].txid) % 2n === BigInt(versions[1].txid) % 2n) throw new Error("writeBolt: the two txids must differ in parity");

  const metas: BoltFile["metas"] = [];
  for (const v of versions) {
    // The newer version's freelist lists every page of the older one: unreachable from its tree, free.
    const older = Array.from({ length: b.nextPgid - 2 }, (_, i) => i + 2);
    const freelist = spec.freelist ? b.freelist(older) : undefined;
    const root = buildTree(b, v.root, fill);
    const txid = BigInt(v.txid);
    const slot = Number(txid % 2n) as 0 | 1;
    const pgid = b.nextPgid;
    b.meta(slot, { txid, root, freelist: freelist ?? "none", pgid });
    metas.push({ slot, txid, root, pgid });
  }
  return { bytes: b.bytes(), pageSize, layout: b.layout(), metas };
}

function leafEntries(b: BoltBuilder, spec: BucketSpec, fill: number): LeafEntry[] {
  const sorted = [...spec.entries].map(([k, v]) => [bytesOf(k), v] as const).sort(([a], [c]) => Buffer.compare(a, c));
  return sorted.map(([key, v]) => {
    if (!isBucket(v)) return { key, value: bytesOf(v) };
    return { key, value: nestedValue(b, v, fill), flags: 1 };
  });
}

const entrySize = (e: LeafEntry) => ELEMENT + bytesOf(e.key).length + bytesOf(e.value).length;

function nestedValue(b: BoltBuilder, spec: BucketSpec, fill: number): Buffer {
  const hasBuckets = spec.entries.some(([, v]) => isBucket(v));
  if (spec.inline !== false && !hasBuckets) {
    const entries = leafEntries(b, spec, fill);
    const size = HEADER + entries.reduce((n, e) => n + entrySize(e), 0);
    // bbolt's Bucket.inlineable: a single leaf, no nested buckets, at most a quarter page.
    if (spec.inline === true || size <= b.pageSize / 4) return bucketValue(0, spec.sequence ?? 0, entries);
  }
  return bucketValue(buildTree(b, spec, fill), spec.sequence ?? 0);
}

/** Builds a bucket's B+tree in pages: leaves packed up to `fill`, then branch levels up to one root page. */
function buildTree(b: BoltBuilder, spec: BucketSpec, fill: number): number {
  const entries = leafEntries(b, spec, fill);
  let level: BranchEntry[] = pack(entries, entrySize, fill).map((group) => ({ key: group[0]?.key ?? "", child: b.leaf(group) }));
  while (level.length > 1) {
    level = pack(level, (e) => ELEMENT + bytesOf(e.key).length, fill).map((group) => ({ key: group[0].key, child: b.branch(group) }));
  }
  return Number(level[0].child);
}

function pack<T>(items: readonly T[], size: (t: T) => number, fill: number): T[][] {
  const pages: T[][] = [[]];
  let used = HEADER;
  for (const item of items) {
    const s = size(item);
    const current = pages[pages.length - 1];
    if (current.length > 0 && used + s > fill) {
      pages.push([item]);
      used = HEADER + s;
    } else {
      current.push(item);
      used += s;
    }
  }
  return pages;
}

/** Byte offset of meta `slot`'s 64-byte body (after the page header). */
export function metaOffset(slot: 0 | 1, pageSize: number): number {
  return slot * pageSize + HEADER;
}

/** Byte offset of branch element `index`'s child pgid in page `id`. */
export function branchChildOffset(id: number, index: number, pageSize: number): number {
  return id * pageSize + HEADER + index * ELEMENT + 8;
}

/**
 * Turns the file at `path` (holding `before`) into `after` the way a bbolt commit does: in place, never
 * truncating, every changed data page first and the changed meta page last.
 */
export async function commitInPlace(path: string, before: Buffer, after: Buffer, pageSize: number): Promise<void> {
  const fh = await open(path, "r+");
  try {
    const pages = Math.ceil(after.length / pageSize);
    const changed = (p: number) => !after.subarray(p * pageSize, (p + 1) * pageSize).equals(before.subarray(p * pageSize, (p + 1) * pageSize));
    const order = [...Array.from({ length: pages }, (_, p) => p).filter((p) => p >= 2), 0, 1];
    for (const p of order) {
      if (changed(p)) await fh.write(after, p * pageSize, Math.min(pageSize, after.length - p * pageSize), p * pageSize);
    }
  } finally {
    await fh.close();
  }
}
