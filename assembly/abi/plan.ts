// The wire format of the planner's requests and responses (docs/abi.md): crl_plan_batch, crl_list_logs,
// crl_rotated_name, crl_check_growth. Decoders check everything before the rules see anything; a problem
// with one container rejects that container only (its plan says why) — one odd container never stops the
// node. Only a request whose structure is broken (it ends early, a count it cannot hold) fails whole.
import { Status, ContainerOutcome, MAGIC_GROWTH, MAGIC_LIST, MAGIC_NAME, MAGIC_PLAN, MAX_CONTAINERS, MAX_ENTRIES, MAX_NAME_BYTES } from "./status";
import { Reader, Writer, nameProblemAt, readHeader, respondError, uninitialized } from "./codec";
import { Action, ContainerPlan, ContainerSnapshot, FileEntry, NO_LIMIT, Name, Policy } from "../rules/types";
import { needsPlan, planBatch } from "../rules/plan";
import { containerEntries, listLogs } from "../rules/prune";
import { rotatedName } from "../rules/names";
import { GrowthSample, decideGrowth } from "../rules/growth";

const FLAG_COMPRESS: u32 = 1;
const FLAG_SHIPPER_AWARE: u32 = 2;
const KNOWN_FLAGS: u32 = FLAG_COMPRESS | FLAG_SHIPPER_AWARE;
const KNOWN_ENTRY_FLAGS: u8 = 1 | 2; // EntryFlag.Foreign | EntryFlag.Busy
/** name length + kind + flags + size, mtime, inode, readOffset, lastLineStart, crc32, isize */
const MIN_ENTRY_BYTES: u32 = 4 + 1 + 1 + 8 * 7;
/** id length + logName length + liveOnly + entry count */
const MIN_CONTAINER_BYTES: u32 = 4 + 4 + 1 + 4;
const MAX_KIND: u8 = 3;

function limit(r: Reader, what: string): i64 {
  const v = r.i64(what);
  if (r.ok && v < NO_LIMIT) r.fail(Status.BadPolicy, what + " is " + v.toString() + ", must be -1 (no limit) or >= 0");
  return v;
}

function decodePolicy(r: Reader): Policy {
  const p = new Policy();
  p.maxSize = r.i64("policy.maxSize");
  p.maxFiles = r.i32("policy.maxFiles");
  if (r.ok && p.maxFiles < 2) r.fail(Status.BadPolicy, "policy.maxFiles is " + p.maxFiles.toString() + ", must be > 1");
  const flags = r.u32("policy.flags");
  if (r.ok && (flags & ~KNOWN_FLAGS) != 0) r.fail(Status.BadPolicy, "policy.flags has unknown bits 0x" + (flags & ~KNOWN_FLAGS).toString(16));
  p.compress = (flags & FLAG_COMPRESS) != 0;
  p.shipperAware = (flags & FLAG_SHIPPER_AWARE) != 0;
  p.maxUnreadBytesPerContainer = limit(r, "policy.maxUnreadBytesPerContainer");
  p.holdTimeoutSeconds = limit(r, "policy.holdTimeoutSeconds");
  p.logRootBudget = limit(r, "policy.logRootBudget");
  return p;
}

/** The first problem found in one container's part of a request; the reader itself only fails on structure. */
class Problem {
  status: Status = Status.Ok;
  message: string = "";
  note(status: Status, message: string): void {
    if (this.status == Status.Ok) {
      this.status = status;
      this.message = message;
    }
  }
  get ok(): bool {
    return this.status == Status.Ok;
  }
}

/** Skips a name, checking it; its bytes start at r.offset - length. */
function checkName(r: Reader, base: usize, what: string, p: Problem): u32 {
  const n = r.spanAny(what);
  if (!r.ok || !p.ok) return n;
  if (n > MAX_NAME_BYTES) {
    p.note(Status.TooLarge, r.label(what) + " is " + n.toString() + " bytes, the limit is " + MAX_NAME_BYTES.toString());
    return n;
  }
  const problem = nameProblemAt(base + <usize>(r.offset - n), <i32>n);
  if (problem !== null) p.note(Status.BadName, r.label(what) + " " + changetype<string>(problem));
  return n;
}

/** What the first pass learned about a container: where it starts, whether the rules need it, its problem. */
class Checked {
  constructor(
    public start: u32,
    public needed: bool,
    public problem: Problem,
  ) {}
}

/**
 * Checks one container without building anything (the first pass of a plan request) and tells whether
 * its plan can hold an action, judged by the rules from its live log alone (needsPlan).
 */
function checkContainer(r: Reader, base: usize, index: i32, policy: Policy): Checked {
  const start = r.offset;
  const p = new Problem();
  r.container = index;
  r.entry = -1;
  const idLen = r.spanAny("id");
  if (r.ok) {
    if (idLen == 0) p.note(Status.BadName, r.label("id is empty"));
    else if (idLen > MAX_NAME_BYTES) p.note(Status.TooLarge, r.label("id") + " is " + idLen.toString() + " bytes, the limit is " + MAX_NAME_BYTES.toString());
    else if (holdsNul(base + <usize>(r.offset - idLen), idLen)) p.note(Status.BadName, r.label("id holds NUL"));
  }
  const logLen = checkName(r, base, "logName", p);
  const logAt = base + <usize>(r.offset - logLen);
  r.u8("liveOnly");
  const n = r.u32("entry count");
  if (r.ok && <u64>n * <u64>MIN_ENTRY_BYTES > <u64>r.remaining) r.fail(Status.Truncated, r.label("entry count") + " is " + n.toString() + " but the request is too short to hold them");
  if (r.ok && n > MAX_ENTRIES) p.note(Status.TooLarge, r.label("entry count") + " is " + n.toString() + ", the limit is " + MAX_ENTRIES.toString());
  let liveFound = false;
  let liveKind: u8 = 0;
  let liveSize: i64 = 0;
  for (let i: u32 = 0; i < n && r.ok; i++) {
    r.entry = <i32>i;
    const nameLen = checkName(r, base, "name", p);
    const nameAt = base + <usize>(r.offset - nameLen);
    const kind = r.u8("kind");
    if (r.ok && kind > MAX_KIND) p.note(Status.BadValue, r.label("kind") + " is " + kind.toString() + ", must be 0..3");
    const flags = r.u8("flags");
    if (r.ok && (flags & ~KNOWN_ENTRY_FLAGS) != 0) p.note(Status.BadValue, r.label("flags") + " has unknown bits");
    const size = r.i64("size");
    if (r.ok && size < 0) p.note(Status.BadValue, r.label("size") + " is negative");
    r.i64("mtime");
    r.i64("inode");
    const readOffset = r.i64("readOffset");
    const lastLineStart = r.i64("lastLineStart");
    if (r.ok && (readOffset < -1 || lastLineStart < -1)) p.note(Status.BadValue, r.label("offsets must be -1 (unknown) or >= 0"));
    const crc = r.i64("crc32");
    const isize = r.i64("isize");
    if (r.ok && (crc < -2 || crc > 0xffffffff || isize < -2 || isize > 0xffffffff)) {
      p.note(Status.BadValue, r.label("digests must be -1 (unknown), -2 (unavailable) or 32-bit values"));
    }
    // The live log is the first entry named logName, as the rules' findEntry sees it.
    if (!liveFound && nameLen == logLen && memory.compare(nameAt, logAt, <usize>nameLen) == 0) {
      liveFound = true;
      liveKind = kind;
      liveSize = size;
    }
  }
  r.entry = -1;
  r.container = -1;
  return new Checked(start, p.ok && needsPlan(policy, liveFound, liveKind, liveSize), p);
}

function holdsNul(ptr: usize, n: u32): bool {
  for (let i: usize = 0; i < <usize>n; i++) {
    if (load<u8>(ptr + i) == 0) return true;
  }
  return false;
}

/** The next bytes field as a view into `data` (no copy). */
function view(r: Reader, data: ArrayBuffer, what: string): Uint8Array {
  const n = r.span(what);
  return Uint8Array.wrap(data, <i32>(r.offset - n), <i32>n);
}

function readEntry(r: Reader, data: ArrayBuffer): FileEntry {
  const name = view(r, data, "name");
  const kind = r.u8("kind");
  const flags = r.u8("flags");
  const size = r.i64("size");
  const mtime = r.i64("mtime");
  const inode = r.i64("inode");
  const readOffset = r.i64("readOffset");
  const lastLineStart = r.i64("lastLineStart");
  const crc = r.i64("crc32");
  const isize = r.i64("isize");
  return new FileEntry(name, kind, size, mtime, readOffset, lastLineStart, flags, inode, crc, isize);
}

/** Builds a container the first pass has checked; its names are views into the request copy `data`. */
function readContainer(r: Reader, data: ArrayBuffer): ContainerSnapshot {
  const id = view(r, data, "id");
  const logName = view(r, data, "logName");
  const liveOnly = r.u8("liveOnly") != 0;
  const n = <i32>r.u32("entry count");
  const entries = new Array<FileEntry>(n);
  for (let i = 0; i < n; i++) unchecked((entries[i] = readEntry(r, data)));
  return new ContainerSnapshot(id, logName, entries, liveOnly);
}

/** What the writer needs for `a` when its detail is ASCII (a non-ASCII one takes more bytes). */
function encodedActionBytes(a: Action): i32 {
  const d = a.detail;
  const name = d.name;
  return 1 + 1 + 4 + a.name.length + 8 + 4 + d.text.length + (name === null ? 0 : name.length + 2) + d.tail.length;
}

function encodeAction(w: Writer, a: Action): void {
  w.u8(a.kind);
  w.u8(a.reason);
  w.bytes(a.name);
  w.i64(a.unreadBytes);
  w.detail(a.detail);
}

/** One copy of the request: the names handed to the rules are views into it (`ptr` need not be ours). */
function copyRequest(ptr: usize, len: usize): ArrayBuffer {
  const data = uninitialized(<i32>len);
  memory.copy(changetype<usize>(data), ptr, len);
  return data;
}

export function respondPlanBatch(ptr: usize, len: usize): usize {
  const data = copyRequest(ptr, len);
  const base = changetype<usize>(data);
  const r = new Reader(base, len);
  readHeader(r, MAGIC_PLAN, "plan_batch");
  const policy = decodePolicy(r);
  const now = r.i64("now");
  const n = <i32>r.count("container count", MAX_CONTAINERS, MIN_CONTAINER_BYTES);
  // First pass: check everything, and note where each container starts and whether it needs the rules at
  // all (most containers are below their size limit: their plan is empty).
  const checked = new Array<Checked>(n);
  let busy = 0;
  for (let i = 0; i < n && r.ok; i++) {
    const c = checkContainer(r, base, i, policy);
    unchecked((checked[i] = c));
    if (c.needed) busy++;
  }
  r.expectEnd();
  if (!r.ok) return respondError(r.status, r.message);

  // Second pass: build only the containers the rules must see. When a logRootBudget applies, needsPlan is
  // true for all of them (but the rejected ones), so planBatch sees the whole batch in order.
  const containers = new Array<ContainerSnapshot>(busy);
  for (let i = 0, k = 0; i < n; i++) {
    const c = unchecked(checked[i]);
    if (!c.needed) continue;
    r.seek(c.start);
    unchecked((containers[k++] = readContainer(r, data)));
  }
  const plans = planBatch(containers, now, policy);

  // Sized exactly for ASCII details (all of them but those naming a non-ASCII file), so a response of
  // megabytes is not grown (and copied) on the way.
  let size = 4 + 5 * n;
  for (let k = 0; k < busy; k++) {
    const actions = unchecked(plans[k]).actions;
    for (let j = 0, m = actions.length; j < m; j++) size += encodedActionBytes(unchecked(actions[j]));
  }
  const w = new Writer(size);
  w.u32(<u32>n);
  for (let i = 0, k = 0; i < n; i++) {
    const c = unchecked(checked[i]);
    if (!c.problem.ok) {
      w.u8(<u8>ContainerOutcome.Rejected);
      w.u32(<u32>c.problem.status);
      w.text(c.problem.message);
      continue;
    }
    if (!c.needed) {
      w.u8(<u8>ContainerOutcome.Planned);
      w.u32(0);
      continue;
    }
    const plan: ContainerPlan = unchecked(plans[k++]);
    if (plan.needsListing) {
      w.u8(<u8>ContainerOutcome.NeedsListing);
      continue;
    }
    w.u8(<u8>ContainerOutcome.Planned);
    const actions = plan.actions;
    w.u32(<u32>actions.length);
    for (let j = 0, m = actions.length; j < m; j++) encodeAction(w, unchecked(actions[j]));
  }
  return w.finish(Status.Ok);
}

/** The entries of a list_logs / rotated_name request: every entry of one directory. */
function readEntries(r: Reader, data: ArrayBuffer, base: usize): FileEntry[] {
  const n = r.count("entry count", MAX_ENTRIES, MIN_ENTRY_BYTES);
  const p = new Problem();
  const start = r.offset;
  for (let i: u32 = 0; i < n && r.ok; i++) {
    r.entry = <i32>i;
    checkName(r, base, "name", p);
    const kind = r.u8("kind");
    if (r.ok && kind > MAX_KIND) p.note(Status.BadValue, r.label("kind") + " is " + kind.toString() + ", must be 0..3");
    const flags = r.u8("flags");
    if (r.ok && (flags & ~KNOWN_ENTRY_FLAGS) != 0) p.note(Status.BadValue, r.label("flags") + " has unknown bits");
    for (let k = 0; k < 7; k++) r.i64("entry fields");
  }
  r.entry = -1;
  if (r.ok && !p.ok) r.fail(p.status, p.message);
  if (!r.ok) return [];
  r.seek(start);
  const entries = new Array<FileEntry>(n);
  for (let i = 0; i < <i32>n; i++) unchecked((entries[i] = readEntry(r, data)));
  return entries;
}

/** list_logs modes: the kubelet's GetAllLogs, or every entry that belongs to the container (its Clean). */
const LIST_MODE_CLEAN: u8 = 1;

export function respondListLogs(ptr: usize, len: usize): usize {
  const data = copyRequest(ptr, len);
  const base = changetype<usize>(data);
  const r = new Reader(base, len);
  readHeader(r, MAGIC_LIST, "list_logs");
  const p = new Problem();
  const logLen = checkName(r, base, "logName", p);
  if (r.ok && !p.ok) r.fail(p.status, p.message);
  const logName = Uint8Array.wrap(data, <i32>(r.offset - logLen), <i32>logLen);
  const mode = r.u8("mode");
  if (r.ok && mode > LIST_MODE_CLEAN) r.fail(Status.BadValue, "mode is " + mode.toString() + ", must be 0 (logs) or 1 (clean)");
  const entries = readEntries(r, data, base);
  r.expectEnd();
  if (!r.ok) return respondError(r.status, r.message);
  const logs = mode == LIST_MODE_CLEAN ? containerEntries(logName, entries) : listLogs(logName, entries);
  const w = new Writer();
  w.u32(<u32>logs.length);
  for (let i = 0; i < logs.length; i++) w.bytes(logs[i]);
  return w.finish(Status.Ok);
}

export function respondRotatedName(ptr: usize, len: usize): usize {
  const data = copyRequest(ptr, len);
  const base = changetype<usize>(data);
  const r = new Reader(base, len);
  readHeader(r, MAGIC_NAME, "rotated_name");
  const p = new Problem();
  const logLen = checkName(r, base, "logName", p);
  if (r.ok && !p.ok) r.fail(p.status, p.message);
  const logName = Uint8Array.wrap(data, <i32>(r.offset - logLen), <i32>logLen);
  const now = r.i64("now");
  const entries = readEntries(r, data, base);
  r.expectEnd();
  if (!r.ok) return respondError(r.status, r.message);
  const names = new Array<Name>(entries.length);
  for (let i = 0; i < entries.length; i++) unchecked((names[i] = unchecked(entries[i]).name));
  const name = rotatedName(logName, names, now);
  if (name === null) return respondError(Status.BadName, "live log name is " + logName.length.toString() + " bytes: too long for a rotated name to fit in 255");
  const w = new Writer(4 + name.length);
  w.bytes(changetype<Name>(name));
  return w.finish(Status.Ok);
}

const GROWTH_SAMPLE_BYTES: u32 = 8 * 4;

export function respondCheckGrowth(ptr: usize, len: usize): usize {
  const r = new Reader(ptr, len);
  readHeader(r, MAGIC_GROWTH, "check_growth");
  const policy = new Policy();
  policy.maxSize = r.i64("maxSize");
  const maxWaitMs = r.i64("maxWaitMs");
  const n = r.count("sample count", MAX_CONTAINERS, GROWTH_SAMPLE_BYTES);
  const w = new Writer(4 + 9 * <i32>n);
  w.u32(n);
  for (let i: u32 = 0; i < n && r.ok; i++) {
    const size = r.i64("size");
    const atMs = r.i64("atMs");
    const prevSize = r.i64("prevSize");
    const prevAtMs = r.i64("prevAtMs");
    const d = decideGrowth(new GrowthSample(size, atMs, prevSize, prevAtMs), policy, maxWaitMs);
    w.u8(d.rotateNow ? 1 : 0);
    w.i64(d.nextCheckAtMs);
  }
  r.expectEnd();
  if (!r.ok) return respondError(r.status, r.message);
  return w.finish(Status.Ok);
}
