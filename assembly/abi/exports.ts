// The planner's exports: thin trampolines that decode a request, call the rules, encode the result.
// Every entry starts with __collect(): the minimal runtime never collects on its own, so this is what
// keeps memory flat over a long-lived instance (the host pins what it still needs).
import { Status, ABI_VERSION, MAGIC_PLAN, MAGIC_VALIDATE, MAGIC_LIST, MAX_CONTAINERS, MAX_ENTRIES, MAX_REQUEST_BYTES } from "./status";
import { Reader, Writer, inMemory, respondError, nameProblem } from "./codec";
import { Policy, FileEntry, ContainerSnapshot, Action, NO_LIMIT } from "../rules/types";
import { planBatch } from "../rules/plan";
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

function checkedName(r: Reader, what: string): Uint8Array {
  const name = r.bytes(what);
  if (!r.ok) return name;
  const problem = nameProblem(name);
  if (problem != null) r.fail(Status.BadName, what + " " + problem);
  return name;
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

function decodeEntry(r: Reader, where: string): FileEntry {
  const name = checkedName(r, where + " name");
  const kind = r.u8(where + " kind");
  if (r.ok && kind > MAX_KIND) r.fail(Status.BadValue, where + " kind is " + kind.toString() + ", must be 0..3");
  const size = r.i64(where + " size");
  if (r.ok && size < 0) r.fail(Status.BadValue, where + " size is negative");
  const mtime = r.i64(where + " mtime");
  const readOffset = r.i64(where + " readOffset");
  const lastLineStart = r.i64(where + " lastLineStart");
  if (r.ok && (readOffset < -1 || lastLineStart < -1)) r.fail(Status.BadValue, where + " offsets must be -1 (unknown) or >= 0");
  return new FileEntry(name, kind, size, mtime, readOffset, lastLineStart);
}

function decodeContainer(r: Reader, index: u32): ContainerSnapshot {
  const where = "container " + index.toString();
  const id = r.bytes(where + " id");
  if (r.ok) {
    if (id.length == 0) r.fail(Status.BadName, where + " id is empty");
    else if (id.indexOf(0) >= 0) r.fail(Status.BadName, where + " id holds NUL");
  }
  const logName = checkedName(r, where + " logName");
  const n = r.count(where + " entry count", MAX_ENTRIES, MIN_ENTRY_BYTES);
  const entries = new Array<FileEntry>();
  for (let i: u32 = 0; i < n && r.ok; i++) {
    entries.push(decodeEntry(r, where + " entry " + i.toString()));
  }
  return new ContainerSnapshot(id, logName, entries);
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
  const r = new Reader(ptr, len);
  header(r, MAGIC_PLAN, "plan_batch");
  const policy = decodePolicy(r);
  const now = r.i64("now");
  const n = r.count("container count", MAX_CONTAINERS, MIN_CONTAINER_BYTES);
  const containers = new Array<ContainerSnapshot>();
  for (let i: u32 = 0; i < n && r.ok; i++) containers.push(decodeContainer(r, i));
  r.expectEnd();
  if (!r.ok) return respondError(r.status, r.message);

  const plans = planBatch(containers, now, policy);
  const w = new Writer();
  w.u32(<u32>plans.length);
  for (let i = 0; i < plans.length; i++) {
    const actions = plans[i];
    w.u32(<u32>actions.length);
    for (let j = 0; j < actions.length; j++) encodeAction(w, actions[j]);
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
    const where = "entry " + i.toString();
    const name = checkedName(r, where + " name");
    const kind = r.u8(where + " kind");
    if (r.ok && kind > MAX_KIND) r.fail(Status.BadValue, where + " kind is " + kind.toString() + ", must be 0..3");
    entries.push(new FileEntry(name, kind));
  }
  r.expectEnd();
  if (!r.ok) return respondError(r.status, r.message);
  const logs = listLogs(logName, entries);
  const w = new Writer();
  w.u32(<u32>logs.length);
  for (let i = 0; i < logs.length; i++) w.bytes(logs[i]);
  return w.finish(Status.Ok);
}
