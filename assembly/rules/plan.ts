// The plan for one look at the containers: what to remove, rotate, compress, recover, verify, report, or
// hold for the shipper. This is the kubelet's rotateLog (cleanupUnusedLogs, removeExcessLogs, compress,
// rotateLatestLog) as a pure function of (snapshot, now, policy), in the order the host runs it — with one
// difference on purpose: the kubelet compresses, then renames, so a container writing fast waits for gzip
// before its log is renamed (kubernetes#134324). Here the removals (quick unlinks) come first, then the
// rename, and the compressions last, which the host runs in the background: rotation never waits for
// them. After each step the files still follow the kubelet's rules: at most containerLogMaxFiles files, the
// newest rotated file plain, at most containerLogMaxFiles-2 compressed, the oldest removed first. (Until
// its compression is done, an older rotated file is plain too.)

import { Action, ActionKind, ContainerPlan, ContainerSnapshot, Detail, EntryKind, FileEntry, Name, Policy, Reason } from "./types";
import { bytesToDisplay, compareBytes } from "./bytes";
import { rotatedName } from "./names";
import { FileSplit, Odd, findEntry, splitFiles } from "./prune";
import { isCompressedName, isFullyRead, unreadBytes } from "./shipper";

/** An action; the kinds and reasons are const enums (i32) stored as u8 on the wire. */
function act(kind: i32, reason: i32, name: Name, unreadBytes: i64, detail: Detail): Action {
  return new Action(<u8>kind, <u8>reason, name, unreadBytes, detail);
}

/** A file the shipper has not finished, kept instead of being removed or compressed. */
class Held {
  constructor(
    public container: i32,
    public action: Action, // the HOLD action in the plan, turned into `wouldBe` when a limit releases it
    public entry: FileEntry,
    public wouldBe: i32, // ActionKind.Remove or ActionKind.Compress
    public wouldBeDetail: Detail, // the detail the REMOVE/COMPRESS would have had
    public released: bool = false,
  ) {}
}

/** Text every container of a batch shares, built once per batch: the policy's part of the details. */
class PlanTexts {
  excessRotating: string;
  excessIdle: string;
  rotateMiddle: string;

  constructor(policy: Policy) {
    this.excessRotating = excessSuffix(policy, keepCount(policy, true));
    this.excessIdle = excessSuffix(policy, keepCount(policy, false));
    this.rotateMiddle = " bytes, containerLogMaxSize is " + policy.maxSize.toString() + ", renaming it to ";
  }
}

/**
 * The kubelet's removeExcessLogs keeps containerLogMaxFiles-2 of the older rotated files when a rotation
 * adds one, so the container ends with live + newest plain + maxFiles-2 compressed = maxFiles files. A look
 * that does not rotate keeps maxFiles-1: the same count as after a rotation.
 */
function keepCount(policy: Policy, rotating: bool): i32 {
  const keep = policy.maxFiles - (rotating ? 2 : 1);
  return keep < 0 ? 0 : keep;
}

function excessSuffix(policy: Policy, keep: i32): string {
  return " (keeping " + keep.toString() + " for containerLogMaxFiles=" + policy.maxFiles.toString() + ")";
}

/**
 * One container's plan while it is being built; `sizes[i]` is the size of the file actions[i] acts on.
 * Only a logRootBudget reads the sizes and only shipper-aware plans hold files, so a batch of thousands
 * of plans does not fill (and collect) lists nobody reads.
 */
class PlanBuilder {
  actions: Action[] = [];
  sizes: i64[];
  held: Held[]; // in bytewise name order (oldest first)
  needsListing: bool = false;
  private tracksSizes: bool;

  constructor(policy: Policy) {
    const tracksSizes = usesRootBudget(policy);
    this.sizes = tracksSizes ? [] : NO_SIZES;
    this.held = policy.shipperAware ? [] : NO_HELD;
    this.tracksSizes = tracksSizes;
  }

  add(a: Action, size: i64): void {
    this.actions.push(a);
    if (this.tracksSizes) this.sizes.push(size);
  }
}

// Shared by the plans that never fill them (see PlanBuilder); nothing pushes to these.
const NO_SIZES: i64[] = [];
const NO_HELD: Held[] = [];

/** The plan for one container. The node-wide logRootBudget is applied by planBatch only. */
export function planContainer(c: ContainerSnapshot, now: i64, policy: Policy): ContainerPlan {
  const b = buildPlan(c, 0, now, policy, new PlanTexts(policy));
  return new ContainerPlan(b.actions, b.needsListing);
}

/** Plans for many containers, in input order, with logRootBudget applied across all of them. */
export function planBatch(cs: ContainerSnapshot[], now: i64, policy: Policy): ContainerPlan[] {
  const texts = new PlanTexts(policy);
  const plans: PlanBuilder[] = [];
  for (let i = 0, n = cs.length; i < n; i++) plans.push(buildPlan(unchecked(cs[i]), i, now, policy, texts));
  if (usesRootBudget(policy)) applyRootBudget(cs, plans, policy.logRootBudget);
  const out: ContainerPlan[] = [];
  for (let i = 0, n = plans.length; i < n; i++) {
    const p = unchecked(plans[i]);
    out.push(new ContainerPlan(p.actions, p.needsListing));
  }
  return out;
}

/** The node-wide logRootBudget applies to this batch (planBatch). */
function usesRootBudget(policy: Policy): bool {
  return policy.shipperAware && policy.maxSize >= 0 && policy.logRootBudget >= 0;
}

/**
 * Whether a container can have any action, judged from its live log (the first entry named logName)
 * alone. The decoder builds only the containers that need a plan and gives the rest an empty one, and the
 * host describes a container by its live log alone until the rules ask for the directory. The kubelet
 * rotates at size >= containerLogMaxSize (so 0 rotates on every look) and cleans up only as part of a
 * rotation; shipper-aware, cleanup runs on every look, so held files are released as soon as the shipper
 * catches up. Under a logRootBudget every file of every container counts, so every container needs one.
 */
export function needsPlan(policy: Policy, liveFound: bool, liveKind: u8, liveSize: i64): bool {
  if (policy.maxSize < 0) return false; // a negative size disables rotation: the kubelet's stub manager
  if (usesRootBudget(policy) || policy.shipperAware) return true;
  if (!liveFound) return true; // RECOVER
  if (liveKind != EntryKind.Regular) return true; // REPORT
  return liveSize >= policy.maxSize;
}

function buildPlan(c: ContainerSnapshot, index: i32, now: i64, policy: Policy, texts: PlanTexts): PlanBuilder {
  const plan = new PlanBuilder(policy);
  const liveOrNull = findEntry(c.entries, c.logName);
  if (!needsPlan(policy, liveOrNull !== null, liveOrNull === null ? 0 : liveOrNull.kind, liveOrNull === null ? 0 : liveOrNull.size)) {
    return plan;
  }
  if (liveOrNull === null) {
    // The kubelet's processContainer: a live log lost (e.g. after a rotation whose reopen failed and whose
    // rename back failed too) is recovered by ReopenContainerLog; nothing else happens this time.
    plan.add(act(ActionKind.Recover, Reason.LiveLogMissing, c.logName, 0, new Detail("recover: live log ", c.logName, " is missing, so the runtime is asked to reopen it")), 0);
    return plan;
  }
  const live = changetype<FileEntry>(liveOrNull);
  if (live.kind != EntryKind.Regular) {
    // A symlink, directory or device where the live log should be was put there by someone else: never
    // act on a path a user can plant. Said once by the host.
    plan.add(act(ActionKind.Report, Reason.LiveNotRegular, c.logName, 0, new Detail("refusing: the live log ", c.logName, " is " + kindText(live.kind) + ", not a regular file")), 0);
    return plan;
  }
  if (c.liveOnly) {
    // The live log says there is work; the rules need every entry of the directory to plan it.
    plan.needsListing = true;
    return plan;
  }
  const rotating = live.size >= policy.maxSize;
  const split = splitFiles(c.logName, c.entries);

  // (1) Leftovers, the kubelet's cleanupUnusedLogs and ours. These are copies (a partial .tmp, an original
  // whose .gz holds the same bytes, the second name of an interrupted rotation), so they go even when the
  // shipper has not read them.
  for (let i = 0, n = split.unused.length; i < n; i++) {
    const u = unchecked(split.unused[i]);
    plan.add(act(ActionKind.Remove, u.reason, u.entry.name, 0, unusedDetail(u.entry.name, u.reason)), u.entry.size);
  }

  // (2) An X beside an X.gz is decided only on its digests: ask for them and plan again before pruning or
  // compressing anything (the count of files depends on the answer). The rotation does not wait.
  if (split.verify.length > 0) {
    for (let i = 0, n = split.verify.length; i < n; i++) {
      const e = unchecked(split.verify[i]);
      plan.add(act(ActionKind.Verify, Reason.TwinUnverified, e.name, 0, new Detail("verify: ", e.name, " sits beside its .gz; compare the gzip trailer with its size and CRC-32")), 0);
    }
    if (rotating) addRotation(plan, c, live, now, texts);
    return plan;
  }

  // (3) The kubelet's removeExcessLogs (see keepCount). Oldest first: "remove from oldest to newest, so as
  // not to break ongoing kubectl logs". A file the host is compressing is removed all the same (the host
  // cancels that compression): when compression falls behind, the oldest are dropped uncompressed rather
  // than the backlog growing.
  const inUse = split.rotated;
  const keep = keepCount(policy, rotating);
  const count = inUse.length;
  const excess = count > keep ? count - keep : 0;
  for (let i = 0; i < excess; i++) {
    const e = unchecked(inUse[i]);
    const detail = new Detail("remove: excess rotated file ", e.name, rotating ? texts.excessRotating : texts.excessIdle);
    candidate(plan, index, policy, e, ActionKind.Remove, Reason.Excess, detail);
  }

  // (4) Rotate. Never held: a rename loses nothing for a shipper that follows the open file.
  if (rotating) addRotation(plan, c, live, now, texts);

  // (5) Compress the survivors. When rotating, every survivor is older than the file about to be renamed,
  // which becomes the newest and stays plain "so that container can still write and fluentd can finish
  // reading". A look that does not rotate leaves the current newest plain for the same reason.
  const compressEnd = rotating ? count : count - 1;
  if (policy.compress) {
    for (let i = excess; i < compressEnd; i++) {
      const e = unchecked(inUse[i]);
      if (isCompressedName(e.name) || e.busy || blockedBy(split, e) !== null) continue;
      const detail = new Detail("compress: ", e.name, " is an older rotated file (the newest stays uncompressed)");
      candidate(plan, index, policy, e, ActionKind.Compress, Reason.CompressRotated, detail);
    }
  }

  // (6) What stood in the way of compressing a file that was due: reported (once, by the host) and
  // stepped around. The file stays plain and goes as excess in its turn.
  if (policy.compress) {
    for (let i = 0, n = split.blocked.length; i < n; i++) {
      const o = unchecked(split.blocked[i]);
      if (isDue(inUse, o.entry, excess, compressEnd)) plan.add(act(ActionKind.Report, o.reason, o.entry.name, 0, blockedDetail(o)), 0);
    }
  }

  if (policy.shipperAware) applyContainerLimits(plan, now, policy);
  return plan;
}

/**
 * The ROTATE action. Its name is computed over every entry of the directory, the files this plan removes
 * included, so that rotated names only ever grow (a name is never reused, even when every older file goes).
 * The host chooses the name again right before the rename, from what is on disk then (a second rotator may
 * have renamed meanwhile) plus what this plan removed; this one is for the dry run.
 */
function addRotation(plan: PlanBuilder, c: ContainerSnapshot, live: FileEntry, now: i64, texts: PlanTexts): void {
  const target = rotatedName(c.logName, namesOf(c.entries), now);
  if (target === null) {
    plan.add(act(ActionKind.Report, Reason.NameTooLong, c.logName, 0, new Detail("cannot rotate: the live log name ", c.logName, " is too long for a rotated name to fit in 255 bytes")), 0);
    return;
  }
  const t = changetype<Name>(target);
  plan.add(act(ActionKind.Rotate, Reason.SizeLimit, t, 0, new Detail("rotate: live log is " + live.size.toString() + texts.rotateMiddle, t)), 0);
}

function namesOf(entries: FileEntry[]): Name[] {
  const out = new Array<Name>(entries.length);
  for (let i = 0, n = entries.length; i < n; i++) unchecked((out[i] = unchecked(entries[i]).name));
  return out;
}

function kindText(kind: u8): string {
  if (kind == EntryKind.Symlink) return "a symlink";
  if (kind == EntryKind.Directory) return "a directory";
  return "a device, socket or FIFO";
}

function unusedDetail(name: Name, reason: u8): Detail {
  if (reason == Reason.UnusedTmp) return new Detail("remove: ", name, " is left over from an interrupted compression");
  if (reason == Reason.InterruptedRotation) return new Detail("remove: ", name, " is a second name of the live log, left by an interrupted rotation");
  return new Detail("remove: ", name, " is already compressed: its .gz records the same size and CRC-32");
}

function blockedDetail(o: Odd): Detail {
  const why = o.reason == Reason.TwinDiffers ? " exists and holds other data" : " is not a regular file";
  return new Detail("cannot compress: ", o.entry.name, " stays uncompressed: " + bytesToDisplay(o.obstacle) + why);
}

function blockedBy(split: FileSplit, e: FileEntry): Odd | null {
  for (let i = 0, n = split.blocked.length; i < n; i++) {
    const o = unchecked(split.blocked[i]);
    if (o.entry === e) return o;
  }
  return null;
}

/** `e` is among inUse[from, to): a file this look would compress. */
function isDue(inUse: FileEntry[], e: FileEntry, from: i32, to: i32): bool {
  for (let i = from; i < to; i++) if (unchecked(inUse[i]) === e) return true;
  return false;
}

/**
 * Emits a REMOVE or COMPRESS, or, shipper-aware, a HOLD when the shipper has not read the file to its
 * end. The kubelet has no progress source, so it acts blind and counts no bytes as given up.
 */
function candidate(plan: PlanBuilder, index: i32, policy: Policy, e: FileEntry, kind: i32, reason: i32, detail: Detail): void {
  if (!policy.shipperAware || isFullyRead(e)) {
    plan.add(act(kind, reason, e.name, 0, detail), e.size);
    return;
  }
  const unread = unreadBytes(e);
  const verb = kind == ActionKind.Remove ? "removed" : "compressed";
  const progress =
    e.readOffset < 0
      ? new Detail("held: shipper progress on ", e.name, " is unknown (" + e.size.toString() + " bytes), so it is not " + verb + " yet")
      : new Detail("held: shipper read " + e.readOffset.toString() + " of " + e.size.toString() + " bytes of ", e.name, ", so it is not " + verb + " yet");
  const hold = act(ActionKind.Hold, Reason.ShipperUnread, e.name, unread, progress);
  plan.add(hold, e.size);
  plan.held.push(new Held(index, hold, e, kind, detail));
}

/**
 * The per-container limits on holding, in this order: a file held longer than holdTimeoutSeconds goes
 * (its mtime is when it stopped growing, i.e. when it was rotated), then, oldest first, files go while
 * the container's held unread bytes exceed maxUnreadBytesPerContainer. The loss is reported in
 * unreadBytes, never silent.
 */
function applyContainerLimits(plan: PlanBuilder, now: i64, policy: Policy): void {
  const held = plan.held;
  if (policy.holdTimeoutSeconds >= 0) {
    for (let i = 0, n = held.length; i < n; i++) {
      const h = unchecked(held[i]);
      const age = satSub(now, h.entry.mtime);
      if (age > policy.holdTimeoutSeconds) {
        release(h, Reason.LimitHoldTimeout, "held " + age.toString() + "s, longer than holdTimeoutSeconds=" + policy.holdTimeoutSeconds.toString());
      }
    }
  }
  const cap = policy.maxUnreadBytesPerContainer;
  if (cap >= 0) {
    let total: i64 = 0;
    for (let i = 0, n = held.length; i < n; i++) {
      const h = unchecked(held[i]);
      if (!h.released) total = satAdd(total, h.action.unreadBytes);
    }
    for (let i = 0, n = held.length; i < n && total > cap; i++) {
      const h = unchecked(held[i]);
      if (h.released) continue;
      const before = total;
      total -= h.action.unreadBytes;
      release(h, Reason.LimitUnreadBytes, "the container holds " + before.toString() + " unread bytes, maxUnreadBytesPerContainer is " + cap.toString());
    }
  }
}

/**
 * The node-wide budget over every regular file of every container in the batch. What the plans already
 * do is counted as freed, and held files are released across containers, oldest mtime first, until the
 * total is within the budget. A REMOVE frees the file's size. A COMPRESS is estimated to free 9/10 of it:
 * container logs are line-oriented text that gzip typically shrinks 5-20x, and the host measures the real
 * result on the next look, so a conservative round figure is enough to decide how many files to release.
 */
function applyRootBudget(cs: ContainerSnapshot[], plans: PlanBuilder[], budget: i64): void {
  let total: i64 = 0;
  const held: Held[] = [];
  for (let i = 0, n = cs.length; i < n; i++) {
    const entries = unchecked(cs[i]).entries;
    for (let j = 0, m = entries.length; j < m; j++) {
      const e = unchecked(entries[j]);
      if (e.kind == EntryKind.Regular && !e.foreign && e.size > 0) total = satAdd(total, e.size);
    }
    const p = unchecked(plans[i]);
    for (let j = 0, m = p.actions.length; j < m; j++) {
      total -= freedBy(unchecked(p.actions[j]).kind, unchecked(p.sizes[j]));
    }
    for (let j = 0, m = p.held.length; j < m; j++) {
      const h = unchecked(p.held[j]);
      if (!h.released) held.push(h);
    }
  }
  if (total <= budget) return;
  held.sort((a, b) => compareHeld(a, b));
  for (let i = 0, n = held.length; i < n && total > budget; i++) {
    const h = unchecked(held[i]);
    const before = total;
    total -= freedBy(h.wouldBe, h.entry.size);
    release(h, Reason.LimitRootBudget, "the log root holds about " + before.toString() + " bytes, logRootBudget is " + budget.toString());
  }
}

/** Bytes an action is counted as freeing (see applyRootBudget for the 9/10 estimate). */
function freedBy(kind: i32, size: i64): i64 {
  if (size <= 0) return 0;
  if (kind == ActionKind.Remove) return size;
  if (kind == ActionKind.Compress) return size - size / 10;
  return 0;
}

/** Oldest mtime first; ties by name, then by container order, so the result never depends on sort order. */
function compareHeld(a: Held, b: Held): i32 {
  if (a.entry.mtime != b.entry.mtime) return a.entry.mtime < b.entry.mtime ? -1 : 1;
  const byName = compareBytes(a.entry.name, b.entry.name);
  if (byName != 0) return byName;
  return a.container - b.container;
}

/** Turns a HOLD into the REMOVE/COMPRESS it would have been; unreadBytes stays: the bytes given up. */
function release(h: Held, reason: i32, why: string): void {
  h.released = true;
  const a = h.action;
  a.kind = <u8>h.wouldBe;
  a.reason = <u8>reason;
  const d = h.wouldBeDetail;
  a.detail = new Detail(d.text, d.name, d.tail + ", giving up " + a.unreadBytes.toString() + " unread bytes: " + why);
}

function satAdd(a: i64, b: i64): i64 {
  const s = a + b;
  // Overflow only when both have the same sign and the sum's sign differs.
  if (((a ^ s) & (b ^ s)) < 0) return a < 0 ? i64.MIN_VALUE : i64.MAX_VALUE;
  return s;
}

function satSub(a: i64, b: i64): i64 {
  const d = a - b;
  if (((a ^ b) & (a ^ d)) < 0) return a < 0 ? i64.MIN_VALUE : i64.MAX_VALUE;
  return d;
}
