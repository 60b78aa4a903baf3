// The plan for one pass over the containers: what to remove, compress, rotate, recover, or hold for the
// shipper. This is the kubelet's rotateLog (cleanupUnusedLogs, removeExcessLogs, compress, rotateLatestLog)
// as a pure function of (snapshot, now, policy); the host runs the actions in the order given.

import { Action, ActionKind, ContainerSnapshot, EntryKind, FileEntry, Name, Policy, Reason } from "./types";
import { asciiBytes, bytesToDisplay, compareBytes, compareJoined, concatBytes, equalBytes, joinText, textWithName } from "./bytes";
import { findEntry, isCompressed, isInUseAmong, isRotatedOf, isTemporary } from "./prune";
import { formatTimestamp, rotatedNameAfter } from "./names";
import { isFullyRead, unreadBytes } from "./shipper";

const GZ: Uint8Array = asciiBytes(".gz");
const ONE: Uint8Array = asciiBytes("1");

/** An action; the kinds and reasons are const enums (i32) stored as u8 on the wire. */
function act(kind: i32, reason: i32, name: Name, unreadBytes: i64, detail: string): Action {
  return new Action(<u8>kind, <u8>reason, name, unreadBytes, detail);
}

/** A file the shipper has not finished, kept instead of being removed or compressed. */
class Held {
  constructor(
    public container: i32,
    public action: Action, // the HOLD action in the plan, turned into `wouldBe` when a limit releases it
    public entry: FileEntry,
    public wouldBe: i32, // ActionKind.Remove or ActionKind.Compress
    public wouldBeDetail: string, // the detail the REMOVE/COMPRESS would have had
    public released: bool = false,
  ) {}
}

/**
 * Text every container of a batch shares, built once per batch: the rotated-name stamp and the
 * policy's part of the details.
 */
class PlanTexts {
  stamp: Uint8Array;
  excessRotating: string;
  excessIdle: string;
  rotateMiddle: string;

  constructor(now: i64, policy: Policy) {
    this.stamp = formatTimestamp(now);
    this.excessRotating = excessSuffix(policy, keepCount(policy, true));
    this.excessIdle = excessSuffix(policy, keepCount(policy, false));
    this.rotateMiddle = " bytes, containerLogMaxSize is " + policy.maxSize.toString() + ", renaming it to ";
  }
}

/**
 * The kubelet's removeExcessLogs keeps containerLogMaxFiles-2 when a rotation is about to add one rotated
 * file, so the container ends with live + newest plain + maxFiles-2 compressed = maxFiles files. A pass
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
class ContainerPlan {
  actions: Action[] = [];
  sizes: i64[];
  held: Held[]; // in bytewise name order (oldest first)
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

// Shared by the plans that never fill them (see ContainerPlan); nothing pushes to these.
const NO_SIZES: i64[] = [];
const NO_HELD: Held[] = [];

/** The plan for one container. The node-wide logRootBudget is applied by planBatch only. */
export function planContainer(c: ContainerSnapshot, now: i64, policy: Policy): Action[] {
  return buildPlan(c, 0, now, policy, new PlanTexts(now, policy)).actions;
}

/** Plans for many containers, in input order, with logRootBudget applied across all of them. */
export function planBatch(cs: ContainerSnapshot[], now: i64, policy: Policy): Action[][] {
  const texts = new PlanTexts(now, policy);
  const plans: ContainerPlan[] = [];
  for (let i = 0, n = cs.length; i < n; i++) plans.push(buildPlan(unchecked(cs[i]), i, now, policy, texts));
  if (usesRootBudget(policy)) {
    applyRootBudget(cs, plans, policy.logRootBudget);
  }
  const out: Action[][] = [];
  for (let i = 0, n = plans.length; i < n; i++) out.push(unchecked(plans[i]).actions);
  return out;
}

/**
 * The live log alone says the plan is empty: it is not a regular file (see buildPlan), or it is below
 * containerLogMaxSize and nothing cleans up outside a rotation.
 */
function isQuiet(policy: Policy, liveKind: u8, liveSize: i64): bool {
  if (liveKind != EntryKind.Regular) return true;
  return liveSize < policy.maxSize && !policy.shipperAware;
}

/** The node-wide logRootBudget applies to this batch (planBatch). */
function usesRootBudget(policy: Policy): bool {
  return policy.shipperAware && policy.maxSize >= 0 && policy.logRootBudget >= 0;
}

/**
 * Whether planBatch can give a container any action, judged from its live log (the first entry named
 * logName) alone. The decoder builds only the containers that need a plan and gives the rest an empty
 * one; under a logRootBudget every file of every container counts, so then every container needs one.
 */
export function needsPlan(policy: Policy, liveFound: bool, liveKind: u8, liveSize: i64): bool {
  if (policy.maxSize < 0) return false;
  if (usesRootBudget(policy)) return true;
  if (!liveFound) return true; // RECOVER
  return !isQuiet(policy, liveKind, liveSize);
}

function buildPlan(c: ContainerSnapshot, index: i32, now: i64, policy: Policy, texts: PlanTexts): ContainerPlan {
  const plan = new ContainerPlan(policy);
  // A negative containerLogMaxSize disables rotation: the kubelet returns its stub manager.
  if (policy.maxSize < 0) return plan;

  const liveOrNull = findEntry(c.entries, c.logName);
  if (liveOrNull === null) {
    // The kubelet's processContainer: a live log lost (e.g. after a rotation whose reopen failed and whose
    // rename back failed too) is recovered by ReopenContainerLog; nothing else happens this pass.
    plan.add(
      act(
        ActionKind.Recover,
        Reason.LiveLogMissing,
        c.logName,
        0,
        "recover: live log " + bytesToDisplay(c.logName) + " is missing, so the runtime is asked to reopen it",
      ),
      0,
    );
    return plan;
  }
  const live = changetype<FileEntry>(liveOrNull);
  // A symlink, directory or device where the live log should be was put there by someone else: never act
  // on a path a user can plant. The host reports it.
  // The kubelet rotates when size >= containerLogMaxSize (so 0 rotates on every pass), and only cleans up
  // as part of a rotation. Shipper-aware, cleanup runs on every pass, so files held for the shipper are
  // released as soon as it catches up rather than at the next rotation.
  if (isQuiet(policy, live.kind, live.size)) return plan;
  const rotating = live.size >= policy.maxSize;

  // Only regular files are candidates for anything (see rotatedRegularNames).
  const inUse: FileEntry[] = [];
  const unused: FileEntry[] = [];
  for (let i = 0, n = c.entries.length; i < n; i++) {
    const e = unchecked(c.entries[i]);
    if (e.kind != EntryKind.Regular || !isRotatedOf(c.logName, e.name)) continue;
    if (isInUseAmong(e.name, c.entries)) inUse.push(e);
    else unused.push(e);
  }
  unused.sort((a, b) => compareBytes(a.name, b.name));
  // Sorted bytewise = chronological, thanks to the timestamp format (the kubelet's sort.Strings).
  inUse.sort((a, b) => compareBytes(a.name, b.name));

  // (1) The kubelet's cleanupUnusedLogs. These are copies (a partial .tmp, or an original whose .gz is
  // complete), so they go even when the shipper has not read them.
  for (let i = 0, n = unused.length; i < n; i++) {
    const e = unchecked(unused[i]);
    const tmp = isTemporary(e.name);
    const detail = tmp
      ? textWithName("remove: ", "", "", e.name, " is left over from an interrupted compression")
      : joinText(["remove: ", bytesToDisplay(e.name), " was already compressed to ", bytesToDisplay(concatBytes(e.name, GZ))]);
    plan.add(act(ActionKind.Remove, tmp ? Reason.UnusedTmp : Reason.UnusedCompressedTwin, e.name, 0, detail), e.size);
  }

  // (2) The kubelet's removeExcessLogs (see keepCount).
  const keep = keepCount(policy, rotating);
  const count = inUse.length;
  const excess = count > keep ? count - keep : 0;
  // Oldest first: "remove from oldest to newest, so as not to break ongoing kubectl logs".
  for (let i = 0; i < excess; i++) {
    const e = unchecked(inUse[i]);
    const detail = textWithName("remove: excess rotated file ", "", "", e.name, rotating ? texts.excessRotating : texts.excessIdle);
    candidate(plan, index, policy, e, ActionKind.Remove, Reason.Excess, detail);
  }

  // (3) Compress the survivors. When rotating, the kubelet compresses all of them: the file about to be
  // rotated becomes the newest, and stays plain "so that container can still write and fluentd can finish
  // reading". A pass that does not rotate leaves the current newest plain for the same reason.
  const compressEnd = rotating ? count : count - 1;
  if (policy.compress) {
    for (let i = excess; i < compressEnd; i++) {
      const e = unchecked(inUse[i]);
      if (isCompressed(e.name)) continue;
      const detail = textWithName("compress: ", "", "", e.name, " is an older rotated file (the newest stays uncompressed)");
      candidate(plan, index, policy, e, ActionKind.Compress, Reason.CompressRotated, detail);
    }
  }

  // (4) Rotate. Never held: a rename loses nothing for a shipper that follows the open file.
  if (rotating) {
    const target = rotationTarget(c, plan, inUse, texts.stamp);
    plan.add(
      act(
        ActionKind.Rotate,
        Reason.SizeLimit,
        target,
        0,
        textWithName("rotate: live log is ", live.size.toString(), texts.rotateMiddle, target, ""),
      ),
      0,
    );
  }

  if (policy.shipperAware) applyContainerLimits(plan, now, policy);
  return plan;
}

/**
 * Emits a REMOVE or COMPRESS, or, shipper-aware, a HOLD when the shipper has not read the file to its
 * end. The kubelet has no progress source, so it acts blind and counts no bytes as given up.
 */
function candidate(plan: ContainerPlan, index: i32, policy: Policy, e: FileEntry, kind: i32, reason: i32, detail: string): void {
  if (!policy.shipperAware || isFullyRead(e)) {
    plan.add(act(kind, reason, e.name, 0, detail), e.size);
    return;
  }
  const unread = unreadBytes(e);
  const verb = kind == ActionKind.Remove ? "removed" : "compressed";
  const progress =
    e.readOffset < 0
      ? "shipper progress on " + bytesToDisplay(e.name) + " is unknown (" + e.size.toString() + " bytes)"
      : "shipper read " + e.readOffset.toString() + " of " + e.size.toString() + " bytes of " + bytesToDisplay(e.name);
  const hold = act(ActionKind.Hold, Reason.ShipperUnread, e.name, unread, "held: " + progress + ", so it is not " + verb + " yet");
  plan.add(hold, e.size);
  plan.held.push(new Held(index, hold, e, kind, detail));
}

/**
 * The new rotated name, computed over the rotated files that exist when the rename runs: it runs after the
 * removals and compressions, so the survivors count with compressed ones as X.gz. A held file stays as it
 * is, but a limit in planBatch may still turn its HOLD into a COMPRESS, so both X and X.gz count for it.
 */
function rotationTarget(c: ContainerSnapshot, plan: ContainerPlan, inUse: FileEntry[], stamp: Uint8Array): Name {
  // The greatest name among the survivors, as (name, +".gz"?): X.gz sorts after X, so a held X counts as X.gz.
  let greatest: Name | null = null;
  let greatestGz = false;
  for (let i = 0, n = inUse.length; i < n; i++) {
    const e = unchecked(inUse[i]);
    const a = actionFor(plan, e.name);
    let gz = false;
    if (a !== null) {
      const k = changetype<Action>(a).kind;
      if (k == ActionKind.Remove) continue;
      gz = true; // compressed, or held (which may still be compressed)
    }
    if (greatest === null || compareJoined(e.name, gz ? GZ : EMPTY, changetype<Name>(greatest), greatestGz ? GZ : EMPTY) > 0) {
      greatest = e.name;
      greatestGz = gz;
    }
  }
  let target = rotatedNameAfter(c.logName, stamp, greatest, greatestGz);
  // A symlink or directory we never touch may already sit at that name; renaming onto it would replace
  // (or fail on) a planted path. Appending "1" keeps the name after every rotated file, as rotatedName does.
  while (findEntry(c.entries, target) !== null) target = concatBytes(target, ONE);
  return target;
}

const EMPTY: Uint8Array = new Uint8Array(0);

/** The REMOVE/COMPRESS/HOLD action on `name` planned so far, or null. */
function actionFor(plan: ContainerPlan, name: Name): Action | null {
  for (let i = 0, n = plan.actions.length; i < n; i++) {
    const a = unchecked(plan.actions[i]);
    if (a.kind != ActionKind.Rotate && a.kind != ActionKind.Recover && equalBytes(a.name, name)) return a;
  }
  return null;
}

/**
 * The per-container limits on holding, in this order: a file held longer than holdTimeoutSeconds goes
 * (its mtime is when it stopped growing, i.e. when it was rotated), then, oldest first, files go while
 * the container's held unread bytes exceed maxUnreadBytesPerContainer. The loss is reported in
 * unreadBytes, never silent.
 */
function applyContainerLimits(plan: ContainerPlan, now: i64, policy: Policy): void {
  const held = plan.held;
  if (policy.holdTimeoutSeconds >= 0) {
    for (let i = 0, n = held.length; i < n; i++) {
      const h = unchecked(held[i]);
      const age = satSub(now, h.entry.mtime);
      if (age > policy.holdTimeoutSeconds) {
        release(
          h,
          Reason.LimitHoldTimeout,
          "held " + age.toString() + "s, longer than holdTimeoutSeconds=" + policy.holdTimeoutSeconds.toString(),
        );
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
      release(
        h,
        Reason.LimitUnreadBytes,
        "the container holds " + before.toString() + " unread bytes, maxUnreadBytesPerContainer is " + cap.toString(),
      );
    }
  }
}

/**
 * The node-wide budget over every regular file of every container in the batch. What the plans already
 * do is counted as freed, and held files are released across containers, oldest mtime first, until the
 * total is within the budget. A REMOVE frees the file's size. A COMPRESS is estimated to free 9/10 of it:
 * container logs are line-oriented text that gzip typically shrinks 5-20x, and the host measures the real
 * result on the next pass, so a conservative round figure is enough to decide how many files to release.
 */
function applyRootBudget(cs: ContainerSnapshot[], plans: ContainerPlan[], budget: i64): void {
  let total: i64 = 0;
  const held: Held[] = [];
  for (let i = 0, n = cs.length; i < n; i++) {
    const entries = unchecked(cs[i]).entries;
    for (let j = 0, m = entries.length; j < m; j++) {
      const e = unchecked(entries[j]);
      if (e.kind == EntryKind.Regular && e.size > 0) total = satAdd(total, e.size);
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
  a.detail = h.wouldBeDetail + ", giving up " + a.unreadBytes.toString() + " unread bytes: " + why;
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
