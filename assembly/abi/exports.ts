// The planner's exports: thin trampolines that decode a request, call the rules, encode the result.
// Every entry starts with __collect(): the minimal runtime never collects on its own, so this is what
// keeps memory flat over a long-lived instance (the host pins what it still needs).
import { Status, ABI_VERSION, MAGIC_PLAN, MAGIC_VALIDATE, MAGIC_LIST, MAX_CONTAINERS, MAX_ENTRIES, MAX_REQUEST_BYTES } from "./status";
import { Reader, Writer, inMemory, respondError, nameProblem, nameProblemAt, uninitialized } from "./codec";
import { Policy, FileEntry, ContainerSnapshot, Action, NO_LIMIT } from "../rules/types";
import { needsPlan, planBatch } from "../rules/plan";
import { listLogs } from "../rules/prune";
import { parseQuantity } from "../rules/quantity";
import { validateConfig } from "../rules/config";

const FLAG_COMPRESS: u32 = 1;
const FLAG_SHIPPER_AWARE: u32 = 2;
const KNOWN_FLAGS: u32 = FLAG_COMPRESS | FLAG_SHIPPER_AWARE;
const MIN_ENTRY_BYTES: u32 = 4 + 1 + 8 * 4;
const MIN_CONTAINER_BYTES: u32 = 4 + 4 + 4;
const MIN_LIST_ENTRY_BYTES: u32 = 4 + 1;
const MAX_KIND: u8 = 3;

export function crl_abi_version(): i32 {
  return ABI_VERSION;
}

/** Rejects pointers outside memory and oversized requests before anything reads them. */
function checkRequest(ptr: usize, len: usize): usize {
  if (!inMemory(ptr, len)) return respondError(Status.BadPointer, "request [" + ptr.toString() + ", +" + len.toString() + ") is outside linear memory");
  if (len > MAX_REQUEST_BYTES) return respondError(Status.TooLarge, "request is " + len.toString() + " bytes, the limit is " + MAX_REQUEST_BYTES.toString());
  return 0;
}

function header(r: Reader, magic: u32, entry: string): void {
  const m = r.u32("magic");
  if (r.ok && m != magic) r.fail(Status.BadMagic, entry + ": request does not start with this entry's magic");
  const v = r.i32("abi version");
  if (r.ok && v != ABI_VERSION) r.fail(Status.BadVersion, entry + ": request is ABI version " + v.toString() + ", this module speaks " + ABI_VERSION.toString());
}

/** A name copied out of the request, checked (list_logs). */
function checkedName(r: Reader, what: string): Uint8Array {
  const name = r.bytes(what);
  if (!r.ok) return name;
  const problem = nameProblem(name);
  if (problem != null) r.fail(Status.BadName, r.label(what) + " " + problem);
  return name;
}

/** Skips a name, checking it in place; returns its length (its bytes start at r.offset - length). */
function checkedSpan(r: Reader, base: usize, what: string): u32 {
  const n = r.span(what);
  if (!r.ok) return 0;
  const problem = nameProblemAt(base + <usize>(r.offset - n), <i32>n);
  if (problem != null) r.fail(Status.BadName, r.label(what) + " " + problem);
  return n;
}

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

/**
 * Checks one container of a plan request without building anything (the first pass) and tells whether
 * its plan can hold an action, judged by the rules from its live log alone (needsPlan).
 */
function checkContainer(r: Reader, base: usize, index: i32, policy: Policy): bool {
  r.container = index;
  r.entry = -1;
  const idLen = r.span("id");
  if (r.ok) {
    if (idLen == 0) r.fail(Status.BadName, r.label("id is empty"));
    else if (holdsNul(base + <usize>(r.offset - idLen), idLen)) r.fail(Status.BadName, r.label("id holds NUL"));
  }
  const logLen = checkedSpan(r, base, "logName");
  const logAt = base + <usize>(r.offset - logLen);
  const n = r.count("entry count", MAX_ENTRIES, MIN_ENTRY_BYTES);
  let liveFound = false;
  let liveKind: u8 = 0;
  let liveSize: i64 = 0;
  for (let i: u32 = 0; i < n && r.ok; i++) {
    r.entry = <i32>i;
    const nameLen = checkedSpan(r, base, "name");
    const nameAt = base + <usize>(r.offset - nameLen);
    const kind = r.u8("kind");
    if (r.ok && kind > MAX_KIND) r.fail(Status.BadValue, r.label("kind") + " is " + kind.toString() + ", must be 0..3");
    const size = r.i64("size");
    if (r.ok && size < 0) r.fail(Status.BadValue, r.label("size") + " is negative");
    r.i64("mtime");
    const readOffset = r.i64("readOffset");
    const lastLineStart = r.i64("lastLineStart");
    if (r.ok && (readOffset < -1 || lastLineStart < -1)) r.fail(Status.BadValue, r.label("offsets must be -1 (unknown) or >= 0"));
    // The live log is the first entry named logName, as the rules' findEntry sees it.
    if (!liveFound && nameLen == logLen && memory.compare(nameAt, logAt, <usize>nameLen) == 0) {
      liveFound = true;
      liveKind = kind;
      liveSize = size;
    }
  }
  r.entry = -1;
  r.container = -1;
  return needsPlan(policy, liveFound, liveKind, liveSize);
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

/** Builds a container the first pass has checked; its names are views into the request copy `data`. */
function readContainer(r: Reader, data: ArrayBuffer): ContainerSnapshot {
  const id = view(r, data, "id");
  const logName = view(r, data, "logName");
  const n = <i32>r.u32("entry count");
  const entries = new Array<FileEntry>(n);
  for (let i = 0; i < n; i++) {
    const name = view(r, data, "name");
    const kind = r.u8("kind");
    const size = r.i64("size");
    const mtime = r.i64("mtime");
    const readOffset = r.i64("readOffset");
    const lastLineStart = r.i64("lastLineStart");
    unchecked((entries[i] = new FileEntry(name, kind, size, mtime, readOffset, lastLineStart)));
  }
  return new ContainerSnapshot(id, logName, entries);
}

/** What encodeAction writes for `a` when its detail is ASCII (a non-ASCII one takes more bytes). */
function encodedActionBytes(a: Action): i32 {
  return 1 + 1 + 4 + a.name.length + 8 + 4 + a.detail.length;
}

function encodeAction(w: Writer, a: Action): void {
  w.u8(a.kind);
  w.u8(a.reason);
  w.bytes(a.name);
  w.i64(a.unreadBytes);
  w.text(a.detail);
}

export function crl_plan_batch(ptr: usize, len: usize): usize {
  __collect();
  const bad = checkRequest(ptr, len);
  if (bad != 0) return bad;
  // One copy of the whole request: the names handed to the rules are views into it, so a name costs one
  // small object instead of an allocation and a copy (and `ptr` need not be an ArrayBuffer of ours).
  const data = uninitialized(<i32>len);
  const base = changetype<usize>(data);
  memory.copy(base, ptr, len);
  const r = new Reader(base, len);
  header(r, MAGIC_PLAN, "plan_batch");
  const policy = decodePolicy(r);
  const now = r.i64("now");
  const n = <i32>r.count("container count", MAX_CONTAINERS, MIN_CONTAINER_BYTES);
  // First pass: check everything, and note where each container starts and whether it needs the rules
  // at all (most containers are below their size limit: their plan is empty).
  const starts = new StaticArray<u32>(n);
  const planned = new StaticArray<bool>(n);
  let busy = 0;
  for (let i = 0; i < n && r.ok; i++) {
    unchecked((starts[i] = r.offset));
    const needed = checkContainer(r, base, i, policy);
    unchecked((planned[i] = needed));
    if (needed) busy++;
  }
  r.expectEnd();
  if (!r.ok) return respondError(r.status, r.message);

  // Second pass: build only the containers the rules must see. When a logRootBudget applies, needsPlan
  // is true for all of them, so planBatch sees the whole batch in order.
  const containers = new Array<ContainerSnapshot>(busy);
  for (let i = 0, k = 0; i < n; i++) {
    if (!unchecked(planned[i])) continue;
    r.seek(unchecked(starts[i]));
    unchecked((containers[k++] = readContainer(r, data)));
  }
  const plans = planBatch(containers, now, policy);

  // Sized exactly for ASCII details (all of them but those naming a non-ASCII file), so a response of
  // megabytes is not grown (and copied) on the way.
  let size = 4 + 4 * n;
  for (let k = 0; k < busy; k++) {
    const actions = unchecked(plans[k]);
    for (let j = 0, m = actions.length; j < m; j++) size += encodedActionBytes(unchecked(actions[j]));
  }
  const w = new Writer(size);
  w.u32(<u32>n);
  for (let i = 0, k = 0; i < n; i++) {
    if (!unchecked(planned[i])) {
      w.u32(0);
      continue;
    }
    const actions = unchecked(plans[k++]);
    w.u32(<u32>actions.length);
    for (let j = 0, m = actions.length; j < m; j++) encodeAction(w, unchecked(actions[j]));
  }
  return w.finish(Status.Ok);
}

export function crl_parse_quantity(ptr: usize, len: usize): usize {
  __collect();
  const bad = checkRequest(ptr, len);
  if (bad != 0) return bad;
  const text = new Uint8Array(<i32>len);
  memory.copy(text.dataStart, ptr, len);
  const q = parseQuantity(text);
  if (!q.ok) return respondError(Status.BadQuantity, q.error);
  const w = new Writer();
  w.i64(q.value);
  return w.finish(Status.Ok);
}

export function crl_validate_config(ptr: usize, len: usize): usize {
  __collect();
  const bad = checkRequest(ptr, len);
  if (bad != 0) return bad;
  const r = new Reader(ptr, len);
  header(r, MAGIC_VALIDATE, "validate_config");
  const maxSize = r.bytes("containerLogMaxSize");
  const maxFiles = r.i32("containerLogMaxFiles");
  const maxWorkers = r.i32("containerLogMaxWorkers");
  const intervalMs = r.i64("containerLogMonitorInterval");
  r.expectEnd();
  if (!r.ok) return respondError(r.status, r.message);
  const result = validateConfig(maxSize, maxFiles, maxWorkers, intervalMs);
  if (!result.ok) return respondError(Status.InvalidConfig, result.error);
  const w = new Writer();
  w.i64(result.maxSize);
  return w.finish(Status.Ok);
}

export function crl_list_logs(ptr: usize, len: usize): usize {
  __collect();
  const bad = checkRequest(ptr, len);
  if (bad != 0) return bad;
  const r = new Reader(ptr, len);
  header(r, MAGIC_LIST, "list_logs");
  const logName = checkedName(r, "logName");
  const n = r.count("entry count", MAX_ENTRIES, MIN_LIST_ENTRY_BYTES);
  const entries = new Array<FileEntry>();
  for (let i: u32 = 0; i < n && r.ok; i++) {
    r.entry = <i32>i;
    const name = checkedName(r, "name");
    const kind = r.u8("kind");
    if (r.ok && kind > MAX_KIND) r.fail(Status.BadValue, r.label("kind") + " is " + kind.toString() + ", must be 0..3");
    entries.push(new FileEntry(name, kind));
  }
  r.entry = -1;
  r.expectEnd();
  if (!r.ok) return respondError(r.status, r.message);
  const logs = listLogs(logName, entries);
  const w = new Writer();
  w.u32(<u32>logs.length);
  for (let i = 0; i < logs.length; i++) w.bytes(logs[i]);
  return w.finish(Status.Ok);
}
