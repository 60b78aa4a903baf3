// A small read-only reader of bbolt files (go.etcd.io/bbolt, file format version 2): the store the
// OpenTelemetry Collector's file_storage extension keeps the filelog receiver's checkpoints in. No bbolt
// reader exists on npm; this one knows only what a reader needs.
//
// The format, as bbolt writes it (native byte order: little-endian on amd64/arm64, the only kind read here):
//   - page p starts at p * pageSize. Header (16 bytes): id u64, flags u16, count u16, overflow u32. A page with
//     overflow n spans n + 1 pages (a value larger than a page). Flags: exactly one of 0x01 branch, 0x02 leaf,
//     0x04 meta, 0x10 freelist.
//   - pages 0 and 1 are the two metas; after the header: magic u32 0xED0CDAED, version u32 (2), pageSize u32,
//     flags u32, root bucket {root pgid u64, sequence u64}, freelist pgid u64 (all ones when the freelist is
//     not synced: NoFreelistSync, which the collector uses), pgid u64 (high-water mark: pages 0..pgid-1 are
//     in use), txid u64, checksum u64 = FNV-1a 64 of the 56 bytes before it. A commit writes its pages first,
//     then its meta into page txid % 2, so the other meta stays valid and points at the previous tree.
//   - branch element (16 bytes): pos u32, ksize u32, child pgid u64; leaf element (16 bytes): flags u32
//     (1 = the value is a nested bucket), pos u32, ksize u32, vsize u32. pos counts from the element's own
//     first byte; keys are sorted (bytewise) and a branch element's key is its child's first key.
//   - a bucket's value is {root pgid u64, sequence u64}; root 0 means inline: the bucket's single leaf page
//     follows in the value itself.
//
// A writer (the collector) may commit while we read. bbolt reuses a page only in the second commit after
// the one that freed it, so the tree of meta txid N stays intact until commit N+2 starts; N+2 cannot start
// before N+1 has written its meta. So: read, then look at the metas again — if the newest is still N, what
// was read is one consistent snapshot (viewBolt retries otherwise).
//
// Every inconsistency is a BoltError naming the file and what is wrong; nothing here throws anything else
// for bad input, loops on a cycle, or returns a value the file does not hold.
import { constants, type Stats } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { CrlError } from "../errors.js";

export type BoltErrorCode =
  /** The file does not exist. */
  | "BOLT_MISSING"
  /** It exists but cannot be opened or read, or is not a regular file. */
  | "BOLT_OPEN"
  /** Neither meta page is valid: not a bbolt file, or one being created. */
  | "BOLT_NOT_BOLT"
  /** A valid meta points at something inconsistent (truncated file, bad page, cycle...). */
  | "BOLT_CORRUPT"
  /** A commit landed during every attempt to read a consistent snapshot. */
  | "BOLT_BUSY"
  /** Reading the answer would take more than the read limit. */
  | "BOLT_TOO_LARGE";

/**
 * Reading a bbolt file failed; `code` is stable, `path` names the file, `cause` keeps the underlying error.
 * A source wraps it in a ProgressSourceError (PROGRESS_*), so the BOLT_ codes stay inside the progress room.
 */
export class BoltError extends CrlError<BoltErrorCode> {
  readonly path: string;
  constructor(code: BoltErrorCode, path: string, what: string, options?: { cause?: unknown }) {
    super(code, `bbolt file "${path}": ${what}`, options);
    this.path = path;
  }
}

export const BOLT_MAGIC = 0xed0cdaed;
export const BOLT_VERSION = 2;
export const PAGE_HEADER_SIZE = 16;
export const META_SIZE = 64;
/** The meta's bytes covered by its checksum (everything before the checksum field). */
export const META_CHECKSUMMED = 56;
export const ELEMENT_SIZE = 16;
export const BUCKET_HEADER_SIZE = 16;
export const PGID_NO_FREELIST = 0xffff_ffff_ffff_ffffn;

export const enum PageFlag {
  Branch = 0x01,
  Leaf = 0x02,
  Meta = 0x04,
  Freelist = 0x10,
}
/** Leaf element flag: the value is a nested bucket. */
export const BUCKET_LEAF_FLAG = 0x01;

const MIN_PAGE_SIZE = 512;
const MAX_PAGE_SIZE = 1 << 24;
/** A B+tree of pages this deep would hold more than any file we read; deeper means a loop. */
const MAX_DEPTH = 64;
const DEFAULT_MAX_READ_BYTES = 64 * 1024 * 1024;

/** FNV-1a, 64 bits (Go's hash/fnv New64a), as bbolt checksums its metas. */
export function fnv1a64(bytes: Uint8Array): bigint {
  let h = 0xcbf29ce484222325n;
  for (const b of bytes) h = BigInt.asUintN(64, (h ^ BigInt(b)) * 0x100000001b3n);
  return h;
}

export interface BoltMeta {
  /** Which meta page (0 or 1) it was read from. */
  slot: 0 | 1;
  pageSize: number;
  flags: number;
  rootPgid: bigint;
  rootSequence: bigint;
  freelistPgid: bigint;
  /** High-water mark: pages 0..pgid-1 are in use. */
  pgid: bigint;
  txid: bigint;
}

type MetaResult = { ok: true; meta: BoltMeta } | { ok: false; reason: string };

/** Parses the meta page that starts at `page[0]` (header + meta); a reason when it is not a valid meta. */
export function parseMeta(page: Buffer, slot: 0 | 1): MetaResult {
  if (page.length < PAGE_HEADER_SIZE + META_SIZE) return { ok: false, reason: `only ${page.length} bytes, a meta page needs ${PAGE_HEADER_SIZE + META_SIZE}` };
  const m = page.subarray(PAGE_HEADER_SIZE, PAGE_HEADER_SIZE + META_SIZE);
  const magic = m.readUInt32LE(0);
  if (magic !== BOLT_MAGIC) {
    if (m.readUInt32BE(0) === BOLT_MAGIC) return { ok: false, reason: "big-endian bbolt file (written on another kind of CPU): not supported" };
    return { ok: false, reason: `bad magic 0x${magic.toString(16).padStart(8, "0")}` };
  }
  const version = m.readUInt32LE(4);
  if (version !== BOLT_VERSION) return { ok: false, reason: `format version ${version}, this reader knows ${BOLT_VERSION}` };
  const checksum = m.readBigUInt64LE(META_CHECKSUMMED);
  const sum = fnv1a64(m.subarray(0, META_CHECKSUMMED));
  if (checksum !== sum) return { ok: false, reason: `checksum 0x${checksum.toString(16)} does not match its content (0x${sum.toString(16)}): torn or corrupt` };
  const flags = page.readUInt16LE(8);
  if (flags !== PageFlag.Meta) return { ok: false, reason: `page flags 0x${flags.toString(16)}, a meta page has 0x04` };
  const meta: BoltMeta = {
    slot,
    pageSize: m.readUInt32LE(8),
    flags: m.readUInt32LE(12),
    rootPgid: m.readBigUInt64LE(16),
    rootSequence: m.readBigUInt64LE(24),
    freelistPgid: m.readBigUInt64LE(32),
    pgid: m.readBigUInt64LE(40),
    txid: m.readBigUInt64LE(48),
  };
  const ps = meta.pageSize;
  if (ps < MIN_PAGE_SIZE || ps > MAX_PAGE_SIZE || (ps & (ps - 1)) !== 0) return { ok: false, reason: `page size ${ps} is not a power of two in [${MIN_PAGE_SIZE}, ${MAX_PAGE_SIZE}]` };
  if (meta.pgid < 3n) return { ok: false, reason: `high-water mark ${meta.pgid} leaves no page for the root` };
  if (meta.rootPgid < 2n || meta.rootPgid >= meta.pgid) return { ok: false, reason: `root page ${meta.rootPgid} outside [2, ${meta.pgid})` };
  if (meta.freelistPgid !== PGID_NO_FREELIST && (meta.freelistPgid < 2n || meta.freelistPgid >= meta.pgid)) {
    return { ok: false, reason: `freelist page ${meta.freelistPgid} outside [2, ${meta.pgid})` };
  }
  return { ok: true, meta };
}

/** One element of a bucket, as listed by `keys`. */
export interface BoltKey {
  key: Buffer;
  /** True when the value is a nested bucket (get() returns undefined for it, like bbolt's Get). */
  bucket: boolean;
}

export interface BoltOptions {
  /** Most bytes one open may read (pages are read on demand); more is a BOLT_TOO_LARGE error. */
  maxReadBytes?: number;
}

interface LeafElement {
  key: Buffer;
  value: Buffer;
  flags: number;
}
interface BranchElement {
  key: Buffer;
  child: bigint;
}
type Node = { leaf: true; elements: LeafElement[] } | { leaf: false; elements: BranchElement[] };

/** Where a bucket's root lives: a page of the file, or a leaf page inline in its parent's value. */
type BucketRoot = { pgid: bigint } | { inline: Buffer };

/** One open bbolt file, reading the tree of its newest valid meta. */
export interface BoltReader {
  readonly path: string;
  readonly meta: BoltMeta;
  /** The value of `key` in the bucket at `bucketPath` (outermost first); undefined when either is absent or the key names a bucket. */
  get(bucketPath: readonly Buffer[], key: Buffer): Promise<Buffer | undefined>;
  /** Every key of the bucket at `bucketPath`, in order; undefined when the bucket does not exist. */
  keys(bucketPath: readonly Buffer[]): Promise<BoltKey[] | undefined>;
  /** True while no commit has landed since open: everything read so far is one consistent snapshot. */
  unchanged(): Promise<boolean>;
  close(): Promise<void>;
}

function describe(path: string | Buffer): string {
  return typeof path === "string" ? path : path.toString();
}

/**
 * Opens `path` read-only, without following a symlink and without blocking on a FIFO, checks it is a
 * regular file and picks the meta to read: of the two metas with a valid checksum, the one with the highest
 * txid (the other one points at the previous commit's tree).
 */
export async function openBolt(path: string | Buffer, opts: BoltOptions = {}): Promise<BoltReader> {
  const name = describe(path);
  let fh: FileHandle;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException)?.code;
    if (code === "ENOENT") throw new BoltError("BOLT_MISSING", name, "does not exist", { cause });
    if (code === "ELOOP") throw new BoltError("BOLT_OPEN", name, "is a symbolic link; give the path of the file itself", { cause });
    throw new BoltError("BOLT_OPEN", name, `cannot be opened (${code ?? String(cause)})`, { cause });
  }
  try {
    let st: Stats;
    try {
      st = await fh.stat();
    } catch (cause) {
      throw new BoltError("BOLT_OPEN", name, "cannot be stat'ed", { cause });
    }
    if (!st.isFile()) throw new BoltError("BOLT_OPEN", name, "is not a regular file");
    const reader = new FileBoltReader(name, fh, st.size, opts.maxReadBytes ?? DEFAULT_MAX_READ_BYTES);
    await reader.init();
    return reader;
  } catch (err) {
    await fh.close().catch(() => {});
    throw err;
  }
}

/**
 * Runs `fn` on a consistent snapshot: opens the file, runs `fn`, and when a commit landed meanwhile, runs it
 * again on the newer tree (up to `attempts` times, then BOLT_BUSY). Closes the file in every case.
 */
export async function viewBolt<T>(path: string | Buffer, fn: (db: BoltReader) => Promise<T>, opts: BoltOptions & { attempts?: number } = {}): Promise<T> {
  const attempts = opts.attempts ?? 3;
  let lastError: unknown;
  for (let i = 0; i < attempts; i++) {
    const db = await openBolt(path, opts);
    try {
      let result: T;
      try {
        result = await fn(db);
      } catch (err) {
        // A corrupt-looking tree while a commit landed is a torn read, not a corrupt file: try again.
        if (err instanceof BoltError && err.code === "BOLT_CORRUPT" && !(await db.unchanged())) {
          lastError = err;
          continue;
        }
        throw err;
      }
      if (await db.unchanged()) return result;
    } finally {
      await db.close();
    }
  }
  throw new BoltError("BOLT_BUSY", describe(path), `a commit landed during each of ${attempts} reads; try again later`, { cause: lastError });
}

class FileBoltReader implements BoltReader {
  meta!: BoltMeta;
  private readonly nodes = new Map<bigint, Node>();
  private bytesRead = 0;

  constructor(
    readonly path: string,
    private readonly fh: FileHandle,
    private fileSize: number,
    private readonly maxReadBytes: number,
  ) {}

  private fail(what: string): never {
    throw new BoltError("BOLT_CORRUPT", this.path, what);
  }

  /** Reads `length` bytes at `position`; fewer only at the end of the file. */
  private async readAt(position: number, length: number): Promise<Buffer> {
    if (this.bytesRead + length > this.maxReadBytes) {
      throw new BoltError("BOLT_TOO_LARGE", this.path, `reading it would take more than ${this.maxReadBytes} bytes`);
    }
    this.bytesRead += length;
    const buf = Buffer.alloc(length);
    let done = 0;
    try {
      while (done < length) {
        const { bytesRead } = await this.fh.read(buf, done, length - done, position + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
    } catch (cause) {
      throw new BoltError("BOLT_OPEN", this.path, `read failed at offset ${position + done}`, { cause });
    }
    return buf.subarray(0, done);
  }

  /** Both metas as they are now: the page size from meta 0, or (meta 0 bad) from wherever a valid meta 1 sits. */
  private async readMetas(): Promise<[MetaResult, MetaResult]> {
    const m0 = parseMeta(await this.readAt(0, PAGE_HEADER_SIZE + META_SIZE), 0);
    if (m0.ok) {
      const m1 = parseMeta(await this.readAt(m0.meta.pageSize, PAGE_HEADER_SIZE + META_SIZE), 1);
      return [m0, m1];
    }
    // As bbolt does when meta 0 is torn: try each page size 1 KiB..16 MiB for meta 1, and only take one whose
    // own page size says it sits where it was found.
    let m1: MetaResult = { ok: false, reason: "not found at any page size" };
    for (let size = 1024; size <= MAX_PAGE_SIZE && size + PAGE_HEADER_SIZE + META_SIZE <= this.fileSize; size *= 2) {
      const r = parseMeta(await this.readAt(size, PAGE_HEADER_SIZE + META_SIZE), 1);
      if (r.ok && r.meta.pageSize === size) {
        m1 = r;
        break;
      }
    }
    return [m0, m1];
  }

  private static newest([m0, m1]: [MetaResult, MetaResult]): BoltMeta | undefined {
    if (m0.ok && m1.ok) return m1.meta.txid > m0.meta.txid ? m1.meta : m0.meta;
    if (m0.ok) return m0.meta;
    if (m1.ok) return m1.meta;
    return undefined;
  }

  async init(): Promise<void> {
    if (this.fileSize === 0) throw new BoltError("BOLT_NOT_BOLT", this.path, "is empty (not initialized yet)");
    const metas = await this.readMetas();
    const [m0, m1] = metas;
    const meta = FileBoltReader.newest(metas);
    if (!meta) {
      const r0 = m0.ok ? "" : m0.reason;
      const r1 = m1.ok ? "" : m1.reason;
      throw new BoltError("BOLT_NOT_BOLT", this.path, `no valid meta page (meta 0: ${r0}; meta 1: ${r1})`);
    }
    if (m0.ok && m1.ok && m0.meta.pageSize !== m1.meta.pageSize) {
      this.fail(`the two metas disagree on the page size (${m0.meta.pageSize} and ${m1.meta.pageSize})`);
    }
    const needed = meta.pgid * BigInt(meta.pageSize);
    // A commit grows the file before it writes the meta that needs the room: a meta read after our stat
    // may need a larger file than the stat saw.
    if (BigInt(this.fileSize) < needed) {
      try {
        this.fileSize = (await this.fh.stat()).size;
      } catch (cause) {
        throw new BoltError("BOLT_OPEN", this.path, "cannot be stat'ed", { cause });
      }
    }
    if (BigInt(this.fileSize) < needed) {
      this.fail(`truncated: meta ${meta.slot} (txid ${meta.txid}) uses ${meta.pgid} pages of ${meta.pageSize} bytes (${needed} bytes), the file has ${this.fileSize}`);
    }
    this.meta = meta;
  }

  async unchanged(): Promise<boolean> {
    const now = FileBoltReader.newest(await this.readMetas());
    return now !== undefined && now.txid === this.meta.txid && now.slot === this.meta.slot;
  }

  close(): Promise<void> {
    return this.fh.close();
  }

  /** Reads and checks the branch or leaf page `pgid` (with its overflow pages). */
  private async page(pgid: bigint): Promise<Node> {
    const cached = this.nodes.get(pgid);
    if (cached) return cached;
    const { pageSize, pgid: hwm } = this.meta;
    if (pgid < 2n || pgid >= hwm) this.fail(`page id ${pgid} out of range: tree pages are 2..${hwm - 1n}`);
    const offset = Number(pgid) * pageSize;
    const first = await this.readAt(offset, pageSize);
    if (first.length < pageSize) this.fail(`page ${pgid} is cut off by the end of the file`);
    const overflow = first.readUInt32LE(12);
    if (pgid + BigInt(overflow) >= hwm) this.fail(`page ${pgid} claims ${overflow} overflow pages, past the high-water mark ${hwm}`);
    let span = first;
    if (overflow > 0) {
      const rest = await this.readAt(offset + pageSize, overflow * pageSize);
      if (rest.length < overflow * pageSize) this.fail(`page ${pgid}'s overflow pages are cut off by the end of the file`);
      span = Buffer.concat([first, rest]);
    }
    const id = span.readBigUInt64LE(0);
    if (id !== pgid) this.fail(`page ${pgid} says it is page ${id} (stale or overwritten)`);
    const node = this.parseNode(span, `page ${pgid}`);
    this.nodes.set(pgid, node);
    return node;
  }

  /** Parses a branch or leaf page held in `span` (a whole page run, or an inline bucket's page). */
  private parseNode(span: Buffer, where: string): Node {
    if (span.length < PAGE_HEADER_SIZE) this.fail(`${where} is shorter than a page header`);
    const flags = span.readUInt16LE(8);
    const count = span.readUInt16LE(10);
    if (flags !== PageFlag.Branch && flags !== PageFlag.Leaf) {
      const kind = flags === PageFlag.Meta ? "a meta page" : flags === PageFlag.Freelist ? "a freelist page" : `unknown flags 0x${flags.toString(16)}`;
      this.fail(`${where} is ${kind}, expected a branch or leaf page`);
    }
    if (PAGE_HEADER_SIZE + count * ELEMENT_SIZE > span.length) this.fail(`${where}: ${count} elements do not fit in ${span.length} bytes`);
    const elementAt = (i: number) => PAGE_HEADER_SIZE + i * ELEMENT_SIZE;
    const slice = (start: number, length: number, what: string): Buffer => {
      const end = start + length;
      if (end > span.length) this.fail(`${where}: ${what} ends at byte ${end}, past the page end (${span.length})`);
      return span.subarray(start, end);
    };
    let previous: Buffer | undefined;
    const ordered = (key: Buffer, i: number) => {
      if (key.length === 0) this.fail(`${where}: element ${i} has an empty key`);
      if (previous && Buffer.compare(previous, key) >= 0) this.fail(`${where}: keys out of order at element ${i}`);
      previous = key;
    };
    if (flags === PageFlag.Leaf) {
      const elements: LeafElement[] = [];
      for (let i = 0; i < count; i++) {
        const at = elementAt(i);
        const eflags = span.readUInt32LE(at);
        if ((eflags & ~BUCKET_LEAF_FLAG) !== 0) this.fail(`${where}: element ${i} has unknown flags 0x${eflags.toString(16)}`);
        const pos = span.readUInt32LE(at + 4);
        const ksize = span.readUInt32LE(at + 8);
        const vsize = span.readUInt32LE(at + 12);
        const key = slice(at + pos, ksize, `element ${i}'s key`);
        const value = slice(at + pos + ksize, vsize, `element ${i}'s value`);
        ordered(key, i);
        elements.push({ key, value, flags: eflags });
      }
      return { leaf: true, elements };
    }
    if (count === 0) this.fail(`${where} is a branch page without elements`);
    const elements: BranchElement[] = [];
    for (let i = 0; i < count; i++) {
      const at = elementAt(i);
      const pos = span.readUInt32LE(at);
      const ksize = span.readUInt32LE(at + 4);
      const child = span.readBigUInt64LE(at + 8);
      const key = slice(at + pos, ksize, `element ${i}'s key`);
      ordered(key, i);
      elements.push({ key, child });
    }
    return { leaf: false, elements };
  }

  private async rootNode(root: BucketRoot): Promise<Node> {
    if ("pgid" in root) return this.page(root.pgid);
    const node = this.parseNode(root.inline, "an inline bucket page");
    if (!node.leaf) this.fail("an inline bucket holds a branch page");
    return node;
  }

  /** The bucket a leaf value describes. */
  private bucketRoot(value: Buffer, name: Buffer): BucketRoot {
    if (value.length < BUCKET_HEADER_SIZE) this.fail(`bucket ${JSON.stringify(name.toString())} has a ${value.length}-byte header`);
    const pgid = value.readBigUInt64LE(0);
    if (pgid === 0n) return { inline: value.subarray(BUCKET_HEADER_SIZE) };
    return { pgid };
  }

  /** The leaf element with exactly `key`, found the way bbolt's cursor seeks; undefined when absent. */
  private async find(root: BucketRoot, key: Buffer): Promise<LeafElement | undefined> {
    let node = await this.rootNode(root);
    const seen = new Set<bigint>("pgid" in root ? [root.pgid] : []);
    while (!node.leaf) {
      // The child whose first key is the last one <= key (the first child when key sorts before them all).
      const els = node.elements;
      let lo = 0;
      let hi = els.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (Buffer.compare(els[mid].key, key) <= 0) lo = mid + 1;
        else hi = mid;
      }
      const child = els[Math.max(0, lo - 1)].child;
      if (seen.has(child)) this.fail(`page ${child} is reached twice on one path (a cycle)`);
      if (seen.size >= MAX_DEPTH) this.fail(`the tree is deeper than ${MAX_DEPTH} pages`);
      seen.add(child);
      node = await this.page(child);
    }
    let lo = 0;
    let hi = node.elements.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = Buffer.compare(node.elements[mid].key, key);
      if (c === 0) return node.elements[mid];
      if (c < 0) lo = mid + 1;
      else hi = mid;
    }
    return undefined;
  }

  private async bucket(bucketPath: readonly Buffer[]): Promise<BucketRoot | undefined> {
    let root: BucketRoot = { pgid: this.meta.rootPgid };
    for (const name of bucketPath) {
      const el = await this.find(root, name);
      if (!el || (el.flags & BUCKET_LEAF_FLAG) === 0) return undefined;
      root = this.bucketRoot(el.value, name);
    }
    return root;
  }

  async get(bucketPath: readonly Buffer[], key: Buffer): Promise<Buffer | undefined> {
    const root = await this.bucket(bucketPath);
    if (!root) return undefined;
    const el = await this.find(root, key);
    if (!el || (el.flags & BUCKET_LEAF_FLAG) !== 0) return undefined;
    return Buffer.from(el.value);
  }

  async keys(bucketPath: readonly Buffer[]): Promise<BoltKey[] | undefined> {
    const root = await this.bucket(bucketPath);
    if (!root) return undefined;
    const out: BoltKey[] = [];
    const visited = new Set<bigint>();
    const walk = async (node: Node, depth: number): Promise<void> => {
      if (node.leaf) {
        for (const el of node.elements) out.push({ key: Buffer.from(el.key), bucket: (el.flags & BUCKET_LEAF_FLAG) !== 0 });
        return;
      }
      if (depth >= MAX_DEPTH) this.fail(`the tree is deeper than ${MAX_DEPTH} pages`);
      for (const el of node.elements) {
        if (visited.has(el.child)) this.fail(`page ${el.child} is referenced twice (a cycle or a shared page)`);
        visited.add(el.child);
        await walk(await this.page(el.child), depth + 1);
      }
    };
    if ("pgid" in root) visited.add(root.pgid);
    await walk(await this.rootNode(root), 0);
    return out;
  }
}
