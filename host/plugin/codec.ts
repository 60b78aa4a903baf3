// The host half of the wire format in docs/abi.md: encode requests into one Buffer, decode responses.
// The guest half is assembly/abi/codec.ts. Sizes travel as i64; the host keeps them as numbers (exact
// up to 2^53, far beyond any file), except parseQuantity which returns a bigint.
import { ABI_VERSION, ContainerOutcome, MAGIC_GROWTH, MAGIC_LIST, MAGIC_NAME, MAGIC_PLAN, MAGIC_VALIDATE, Status, statusErrorCode } from "./status.js";
import type { Action, ActionKindName, ConfigCheck, ContainerPlan, ContainerSnapshot, EntryKindName, FileEntry, GrowthDecision, GrowthSample, Policy, ReasonName } from "./types.js";
import { PluginError } from "../errors.js";

const TWO_32 = 2 ** 32;
const UTF8 = new TextEncoder();

export const ENTRY_KINDS: Record<EntryKindName, number> = { file: 0, symlink: 1, directory: 2, other: 3 };
export const ACTION_KINDS: ActionKindName[] = ["remove", "compress", "rotate", "recover", "hold", "verify", "report"]; // 1-based on the wire
export const REASONS: ReasonName[] = [
  "unused-tmp",
  "unused-compressed-twin",
  "excess",
  "compress-rotated",
  "size-limit",
  "live-log-missing",
  "shipper-unread",
  "limit-unread-bytes",
  "limit-hold-timeout",
  "limit-root-budget",
  "interrupted-rotation",
  "twin-unverified",
  "compression-blocked",
  "twin-differs",
  "name-too-long",
  "live-not-regular",
]; // 1-based on the wire

const ENTRY_FOREIGN = 1;
const ENTRY_BUSY = 2;

const FLAG_COMPRESS = 1;
const FLAG_SHIPPER_AWARE = 2;

/** Appends fields to a Buffer it grows as needed. */
class BufferWriter {
  private buf: Buffer;
  private pos = 0;
  constructor(initial = 4096) {
    this.buf = Buffer.allocUnsafe(initial);
  }
  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.pos + n) cap *= 2;
    const next = Buffer.allocUnsafe(cap);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  u8(v: number): void {
    this.reserve(1);
    this.buf[this.pos++] = v;
  }
  u32(v: number): void {
    this.reserve(4);
    this.buf.writeUInt32LE(v >>> 0, this.pos);
    this.pos += 4;
  }
  i32(v: number): void {
    this.reserve(4);
    this.buf.writeInt32LE(v | 0, this.pos);
    this.pos += 4;
  }
  i64(v: number): void {
    if (!Number.isSafeInteger(v)) throw new RangeError(`${v} is not a safe integer`);
    this.reserve(8);
    const hi = Math.floor(v / TWO_32);
    this.buf.writeUInt32LE(v - hi * TWO_32, this.pos);
    this.buf.writeInt32LE(hi, this.pos + 4);
    this.pos += 8;
  }
  bytes(b: Uint8Array): void {
    this.u32(b.length);
    this.reserve(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

/** Reads a response payload; any overrun is a PLUGIN_BAD_RESPONSE (a bug in one of the two codecs). */
export class BufferReader {
  pos = 0;
  constructor(private readonly buf: Buffer) {}
  private need(n: number): void {
    if (this.pos + n > this.buf.length) throw new PluginError("PLUGIN_BAD_RESPONSE", `response ends at byte ${this.buf.length}, needed ${this.pos + n}`);
  }
  u8(): number {
    this.need(1);
    return this.buf[this.pos++]!;
  }
  u32(): number {
    this.need(4);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }
  i64(): number {
    this.need(8);
    const lo = this.buf.readUInt32LE(this.pos);
    const hi = this.buf.readInt32LE(this.pos + 4);
    this.pos += 8;
    return hi * TWO_32 + lo;
  }
  bigI64(): bigint {
    this.need(8);
    const v = this.buf.readBigInt64LE(this.pos);
    this.pos += 8;
    return v;
  }
  bytes(): Buffer {
    const n = this.u32();
    this.need(n);
    const out = Buffer.from(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
    return out;
  }
  /** Moves past a `bytes` field, checking that it lies inside the response. */
  skipBytes(): void {
    const n = this.u32();
    this.need(n);
    this.pos += n;
  }
  end(): void {
    if (this.pos !== this.buf.length) throw new PluginError("PLUGIN_BAD_RESPONSE", `${this.buf.length - this.pos} unread bytes at the end of a response`);
  }
}

function limitOf(v: number | undefined): number {
  return v === undefined ? -1 : v;
}

function clampSize(v: number): number {
  // A log can never be larger than 2^53 bytes, so clamping keeps the meaning of a huge limit exactly.
  return Math.max(Math.min(v, Number.MAX_SAFE_INTEGER), Number.MIN_SAFE_INTEGER);
}

/** The plan request's fixed part: magic, version, policy, now, container count. */
export const PLAN_HEADER_BYTES = 4 + 4 + 8 + 4 + 4 + 8 * 3 + 8 + 4;
/** Per container besides its id and names: id length, logName length, liveOnly, entry count. */
const CONTAINER_BYTES = 4 + 4 + 1 + 4;
/** Per entry besides its name: name length, kind, flags, size, mtime, inode, readOffset, lastLineStart, crc32, isize. */
const ENTRY_BYTES = 4 + 1 + 1 + 8 * 7;

/** An upper bound on one container's part of a plan request. */
export function containerRequestBound(c: ContainerSnapshot): number {
  // A UTF-16 code unit is at most 3 bytes of UTF-8, so 3 * id.length bounds the id's bytes.
  let size = CONTAINER_BYTES + 3 * c.id.length + c.logName.length;
  for (const e of c.entries) size += ENTRY_BYTES + e.name.length;
  return size;
}

/** An upper bound on the plan request's size in bytes (what writePlanRequest needs). */
export function planRequestBound(snapshots: ContainerSnapshot[]): number {
  let size = PLAN_HEADER_BYTES;
  for (const c of snapshots) size += containerRequestBound(c);
  return size;
}

/** The plan request in a Buffer of its own (tests, benchmarks; planRotation writes it into the guest). */
export function encodePlanRequest(snapshots: ContainerSnapshot[], now: number, policy: Policy): Buffer {
  const buf = Buffer.allocUnsafe(planRequestBound(snapshots));
  return buf.subarray(0, writePlanRequest(buf, snapshots, now, policy));
}

/**
 * Writes the plan request into `dst` (at least planRequestBound bytes) and returns its length. This runs
 * for every container on every pass, so it writes straight into the destination (guest memory, for
 * planRotation): no per-field bounds checks, no temporary Buffers, and no fresh multi-megabyte buffer,
 * whose first touch costs a page fault per 4 KiB.
 */
export function writePlanRequest(dst: Uint8Array, snapshots: ContainerSnapshot[], now: number, policy: Policy): number {
  const buf = dst;
  const view = new DataView(dst.buffer, dst.byteOffset, dst.length);
  view.setUint32(0, MAGIC_PLAN, true);
  view.setInt32(4, ABI_VERSION, true);
  setI64(view, 8, clampSize(policy.maxSize));
  view.setInt32(16, policy.maxFiles | 0, true);
  view.setUint32(20, (policy.compress ? FLAG_COMPRESS : 0) | (policy.shipperAware ? FLAG_SHIPPER_AWARE : 0), true);
  setI64(view, 24, limitOf(policy.maxUnreadBytesPerContainer));
  setI64(view, 32, limitOf(policy.holdTimeoutSeconds));
  setI64(view, 40, limitOf(policy.logRootBudget));
  setI64(view, 48, Math.floor(now));
  view.setUint32(56, snapshots.length >>> 0, true);
  let pos = PLAN_HEADER_BYTES;
  for (const c of snapshots) {
    const idBytes = writeUtf8(buf, pos + 4, c.id);
    view.setUint32(pos, idBytes, true);
    pos = writeBytes(buf, view, pos + 4 + idBytes, c.logName);
    buf[pos] = c.liveOnly ? 1 : 0;
    pos = writeEntries(buf, view, pos + 1, c.entries);
  }
  return pos;
}

/** u32 count, then each entry (the layout every request with entries shares); returns the end. */
function writeEntries(buf: Uint8Array, view: DataView, pos: number, entries: FileEntry[]): number {
  view.setUint32(pos, entries.length >>> 0, true);
  pos += 4;
  for (const e of entries) {
    pos = writeBytes(buf, view, pos, e.name);
    buf[pos] = ENTRY_KINDS[e.kind];
    buf[pos + 1] = (e.foreign ? ENTRY_FOREIGN : 0) | (e.busy ? ENTRY_BUSY : 0);
    setI64(view, pos + 2, e.size);
    setI64(view, pos + 10, Math.floor(e.mtime));
    setI64(view, pos + 18, e.inode ?? 0);
    setI64(view, pos + 26, e.readOffset ?? -1);
    setI64(view, pos + 34, e.lastLineStart ?? -1);
    setI64(view, pos + 42, e.crc32 ?? -1);
    setI64(view, pos + 50, e.isize ?? -1);
    pos += 58;
  }
  return pos;
}

function entriesBound(entries: FileEntry[]): number {
  let size = 4;
  for (const e of entries) size += ENTRY_BYTES + e.name.length;
  return size;
}

function setI64(view: DataView, pos: number, v: number): void {
  // Most values (sizes, times, -1) fit in 32 bits: two stores, no division.
  if (v >>> 0 === v) {
    view.setUint32(pos, v, true);
    view.setUint32(pos + 4, 0, true);
    return;
  }
  if ((v | 0) === v) {
    view.setInt32(pos, v, true);
    view.setInt32(pos + 4, -1, true);
    return;
  }
  if (!Number.isSafeInteger(v)) throw new RangeError(`${v} is not a safe integer`);
  const hi = Math.floor(v / TWO_32);
  view.setUint32(pos, v - hi * TWO_32, true);
  view.setInt32(pos + 4, hi, true);
}

/** `bytes` at pos (u32 length, then b); returns the position after it. */
function writeBytes(buf: Uint8Array, view: DataView, pos: number, b: Uint8Array): number {
  const n = b.length;
  view.setUint32(pos, n, true);
  pos += 4;
  // A byte loop beats TypedArray#set's fixed cost for names this short.
  if (n <= 64) for (let i = 0; i < n; i++) buf[pos + i] = b[i]!;
  else buf.set(b, pos);
  return pos + n;
}

/** Writes s as UTF-8 at pos (room for 3 bytes per code unit is there); returns the byte count. */
function writeUtf8(buf: Uint8Array, pos: number, s: string): number {
  const n = s.length;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    // Not ASCII: let the encoder do it (lone surrogates become U+FFFD, as Buffer#write does).
    if (c >= 0x80) return UTF8.encodeInto(s, buf.subarray(pos)).written;
    buf[pos + i] = c;
  }
  return n;
}

/**
 * One action of a plan response. `name` and `detail` are read from the response on first use: a batch
 * plans thousands of actions whose details nobody prints, and every object that outlives a pass costs the
 * garbage collector. The decoder has already checked that both fields lie inside the payload, which is the
 * host's own copy of the response, so the name can be a view into it.
 */
class PlannedAction implements Action {
  private nameView: Buffer | undefined = undefined;
  private detailText: string | undefined = undefined;
  constructor(
    readonly kind: ActionKindName,
    readonly reason: ReasonName,
    readonly unreadBytes: number,
    private readonly payload: Buffer,
    private readonly nameAt: number, // the name's u32 length; the detail's follows the name and unreadBytes
  ) {}

  get name(): Buffer {
    if (this.nameView === undefined) {
      const p = this.payload;
      const at = this.nameAt + 4;
      this.nameView = p.subarray(at, at + p.readUInt32LE(this.nameAt));
    }
    return this.nameView;
  }

  get detail(): string {
    if (this.detailText === undefined) {
      const p = this.payload;
      const detailAt = this.nameAt + 4 + p.readUInt32LE(this.nameAt) + 8;
      const at = detailAt + 4;
      this.detailText = p.toString("utf8", at, at + p.readUInt32LE(detailAt));
    }
    return this.detailText;
  }

  /** The plain object an eager decoder would have built (JSON output, logs). */
  toJSON(): Action {
    return { kind: this.kind, reason: this.reason, name: this.name, unreadBytes: this.unreadBytes, detail: this.detail };
  }
}

/** The plan of a container without actions; shared, so it is frozen. */
const NO_ACTIONS: Action[] = Object.freeze([]) as unknown as Action[];

export function decodePlanResponse(payload: Buffer, snapshots: ContainerSnapshot[]): ContainerPlan[] {
  const r = new BufferReader(payload);
  const n = r.u32();
  if (n !== snapshots.length) throw new PluginError("PLUGIN_BAD_RESPONSE", `plan has ${n} containers, the request had ${snapshots.length}`);
  const plans = new Array<ContainerPlan>(n);
  for (let i = 0; i < n; i++) {
    const id = snapshots[i]!.id;
    const outcome = r.u8();
    if (outcome === ContainerOutcome.NEEDS_LISTING) {
      plans[i] = { id, outcome: "needs-listing", actions: NO_ACTIONS };
      continue;
    }
    if (outcome === ContainerOutcome.REJECTED) {
      const code = statusErrorCode(r.u32());
      plans[i] = { id, outcome: "rejected", actions: NO_ACTIONS, error: new PluginError(code, r.bytes().toString("utf8")) };
      continue;
    }
    if (outcome !== ContainerOutcome.PLANNED) throw new PluginError("PLUGIN_BAD_RESPONSE", `unknown outcome ${outcome} for container ${id}`);
    const count = r.u32();
    let actions = NO_ACTIONS;
    if (count > 0) {
      actions = new Array<Action>(count);
      for (let j = 0; j < count; j++) {
        const kind = ACTION_KINDS[r.u8() - 1];
        const reason = REASONS[r.u8() - 1];
        if (!kind || !reason) throw new PluginError("PLUGIN_BAD_RESPONSE", `unknown action kind or reason in the plan of container ${id}`);
        const nameAt = r.pos;
        r.skipBytes();
        const unreadBytes = r.i64();
        r.skipBytes(); // the detail
        actions[j] = new PlannedAction(kind, reason, unreadBytes, payload, nameAt);
      }
    }
    plans[i] = { id, outcome: "planned", actions };
  }
  r.end();
  return plans;
}

export function encodeValidateRequest(check: ConfigCheck): Buffer {
  const w = new BufferWriter(64);
  w.u32(MAGIC_VALIDATE);
  w.i32(ABI_VERSION);
  w.bytes(Buffer.from(check.containerLogMaxSize, "utf8"));
  w.i32(check.containerLogMaxFiles);
  w.i32(check.containerLogMaxWorkers);
  w.i64(Math.trunc(check.containerLogMonitorIntervalMs));
  return w.finish();
}

/** magic, version, logName, then list_logs' mode (u8) or rotated_name's now (i64), then the entries. */
function encodeNamedEntries(magic: number, logName: Buffer, entries: FileEntry[], extra: { mode: number } | { now: number }): Buffer {
  const buf = Buffer.allocUnsafe(8 + 4 + logName.length + 8 + entriesBound(entries));
  const view = new DataView(buf.buffer, buf.byteOffset, buf.length);
  view.setUint32(0, magic, true);
  view.setInt32(4, ABI_VERSION, true);
  let pos = writeBytes(buf, view, 8, logName);
  if ("mode" in extra) buf[pos++] = extra.mode;
  else {
    setI64(view, pos, Math.floor(extra.now));
    pos += 8;
  }
  return buf.subarray(0, writeEntries(buf, view, pos, entries));
}

/** list_logs mode 0: the kubelet's GetAllLogs; mode 1: every entry of the container (clean). */
export function encodeListRequest(logName: Buffer, entries: FileEntry[], mode: "logs" | "clean" = "logs"): Buffer {
  return encodeNamedEntries(MAGIC_LIST, logName, entries, { mode: mode === "clean" ? 1 : 0 });
}

export function encodeRotatedNameRequest(logName: Buffer, entries: FileEntry[], now: number): Buffer {
  return encodeNamedEntries(MAGIC_NAME, logName, entries, { now });
}

export function encodeGrowthRequest(samples: GrowthSample[], maxSize: number, maxWaitMs: number): Buffer {
  const w = new BufferWriter(32 + samples.length * 32);
  w.u32(MAGIC_GROWTH);
  w.i32(ABI_VERSION);
  w.i64(clampSize(maxSize));
  w.i64(Math.floor(maxWaitMs));
  w.u32(samples.length);
  for (const s of samples) {
    w.i64(Math.floor(s.size));
    w.i64(Math.floor(s.atMs));
    w.i64(Math.floor(s.prevSize));
    w.i64(Math.floor(s.prevAtMs));
  }
  return w.finish();
}

export function decodeGrowthResponse(payload: Buffer, count: number): GrowthDecision[] {
  const r = new BufferReader(payload);
  const n = r.u32();
  if (n !== count) throw new PluginError("PLUGIN_BAD_RESPONSE", `growth answer has ${n} decisions, the request had ${count}`);
  const out = new Array<GrowthDecision>(n);
  for (let i = 0; i < n; i++) out[i] = { rotateNow: r.u8() === 1, nextCheckAtMs: r.i64() };
  r.end();
  return out;
}

export function decodeName(payload: Buffer): Buffer {
  const r = new BufferReader(payload);
  const name = r.bytes();
  r.end();
  return name;
}

export function decodeNameList(payload: Buffer): Buffer[] {
  const r = new BufferReader(payload);
  const n = r.u32();
  const out: Buffer[] = [];
  for (let i = 0; i < n; i++) out.push(r.bytes());
  r.end();
  return out;
}

export function decodeI64(payload: Buffer): bigint {
  const r = new BufferReader(payload);
  const v = r.bigI64();
  r.end();
  return v;
}

export { Status };
