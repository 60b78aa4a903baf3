// How far has the shipper read each file? The host gathers facts about a container's files (path, dev,
// inode, size, where the last line starts, fingerprints, what it knows of the inode's history) and hands
// over what each shipper's position file claims, in the shipper's own identity terms (an inode and a
// name, a fingerprint, a path). This rule decides which claim belongs to which file and what it proves;
// the plan then reads the credit as the file's readOffset (shipper.ts, isFullyRead).
//
// The rule of thumb everywhere: crediting too much loses logs (the host compresses or deletes bytes the
// shipper never read), crediting too little only holds a file longer (bounded by the hold limits). So
// every ambiguous case credits less, and the reason goes into the detail.

import { bytesToDisplay, equalBytes, hasPrefix } from "./bytes";

export const enum ClaimKind {
  /** A row keyed by inode that also names the file (Fluent Bit's in_tail DB, fluentd's pos_file). */
  InodeName = 1,
  /** Vector's dev_inode fingerprint. */
  DevInode = 2,
  /** Vector's first_lines_checksum: CRC-64/ECMA-182 of the first line including its newline. */
  FirstLineCrc64 = 3,
  /** The OpenTelemetry filelog receiver's fingerprint: the file's first bytes. */
  FirstBytes = 4,
  /** Promtail / Alloy: path → offset, no inode, observed at takenAtMs. */
  Path = 5,
  /** The Fluent Bit filter's generation of line-start offsets under a path. */
  Generation = 6,
}

export const enum Shipper {
  None = 0,
  FluentBitFilter = 1,
  FluentBitDb = 2,
  Vector = 3,
  Fluentd = 4,
  Otel = 5,
  Promtail = 6,
  Alloy = 7,
}

export const enum CreditOrigin {
  None = 0,
  /** inode-name claim: inode and path equal. */
  InodePath = 1,
  /** inode-name claim: inode equal, the name is the live path the host renamed this inode from. */
  InodeFormerPath = 2,
  /** generation under the file's own (rotated) path. */
  GenerationRotatedPath = 3,
  /** generation under the live path, started while this inode was there. */
  GenerationAtRename = 4,
  /** newest generation under the live path, started after the last rotation. */
  GenerationLivePath = 5,
  DevInode = 6,
  FirstLineCrc64 = 7,
  FirstBytes = 8,
  /** path observations under the file's own (rotated) path. */
  PathRotatedPath = 9,
  /** path observations under the live path, taken while this inode was there. */
  PathBeforeRename = 10,
  /** the newest run of path observations under the live path, begun after the last rotation. */
  PathLive = 11,
}

/**
 * How long before its takenAtMs a position snapshot may have been taken. Promtail and Alloy copy their
 * positions and write the file at once; the file's mtime bounds the snapshot from above, and this bounds
 * it from below.
 */
export const PATH_SNAPSHOT_SLACK_MS: i64 = 1000;

const EMPTY = new Uint8Array(0);

/** One of a container's files, as the host found it. -1 in an i64 means unknown. */
export class CreditFile {
  path: Uint8Array = EMPTY;
  live: bool = false;
  devKnown: bool = false;
  dev: u64 = 0;
  inode: u64 = 0;
  size: i64 = 0;
  /** Start of the last complete line (a rotated file's), -1 unknown. */
  lastLineStart: i64 = -1;
  crcKnown: bool = false;
  /** CRC-64/ECMA-182 of the first line including its '\n' (as Vector's kubernetes_logs computes it). */
  crc: u64 = 0;
  /** The file's first bytes (as many as a first-bytes claim needs); empty = unknown. */
  firstBytes: Uint8Array = EMPTY;
  /** The file existed at this time (unix ms): its birth time. -1 unknown. */
  bornMs: i64 = -1;
}

/** One rotation the host did: inode `inode` at livePath was renamed to rotatedPath at rotatedAtMs. */
export class Rotation {
  livePath: Uint8Array = EMPTY;
  inode: u64 = 0;
  rotatedPath: Uint8Array = EMPTY;
  /** Unix ms, taken after the rename and before the runtime reopened the live path. */
  rotatedAtMs: i64 = 0;
  /** Unix ms from which this inode lived at livePath, -1 unknown (then the previous rotation counts). */
  liveSinceMs: i64 = -1;
}

/** What one entry of a shipper's position file proves. Only the fields of its kind are meaningful. */
export class Claim {
  kind: u8 = 0;
  shipper: u8 = 0;
  path: Uint8Array = EMPTY;
  firstBytes: Uint8Array = EMPTY;
  dev: u64 = 0;
  inode: u64 = 0;
  checksum: u64 = 0;
  /** Bytes read: past the last byte consumed, or for a generation the START of the last line read. */
  offset: i64 = 0;
  /** When the position last changed (Vector), -1 unknown. */
  modifiedMs: i64 = -1;
  /** Path claims: when the observation was taken (the position file's mtime). */
  takenAtMs: i64 = 0;
  /** Generation claims: its index, when its first record was written, and how precise that time is. */
  index: i64 = 0;
  firstMs: i64 = 0;
  precisionMs: i64 = 1;
}

/** The credit for one file: readOffset -1 = nothing credited. */
export class Credit {
  readOffset: i64 = -1;
  /** readOffset is the start of a line (the plan then compares it with lastLineStart). */
  lineStart: bool = false;
  origin: u8 = <u8>CreditOrigin.None;
  shipper: u8 = <u8>Shipper.None;
  detail: string = "";
}

export function shipperName(s: u8): string {
  switch (<i32>s) {
    case Shipper.FluentBitFilter:
      return "fluent-bit-filter";
    case Shipper.FluentBitDb:
      return "fluent-bit-db";
    case Shipper.Vector:
      return "vector";
    case Shipper.Fluentd:
      return "fluentd";
    case Shipper.Otel:
      return "otel";
    case Shipper.Promtail:
      return "promtail";
    case Shipper.Alloy:
      return "alloy";
  }
  return "none";
}

function credit(readOffset: i64, lineStart: bool, origin: CreditOrigin, shipper: u8, detail: string): Credit {
  const c = new Credit();
  c.readOffset = readOffset;
  c.lineStart = lineStart;
  c.origin = <u8>origin;
  c.shipper = shipper;
  c.detail = shipperName(shipper) + ": " + detail;
  return c;
}

/** Bytes the file counts as read under a credit: its size when the plan would call it fully read. */
export function effectiveRead(c: Credit, f: CreditFile): i64 {
  if (c.readOffset < 0) return -1;
  if (c.readOffset >= f.size) return f.size;
  if (c.lineStart && f.lastLineStart >= 0 && c.readOffset >= f.lastLineStart) return f.size;
  return c.readOffset;
}

/** Collects the confident credits for one file and keeps the one that counts the most bytes read. */
class Best {
  credit: Credit | null = null;
  /** Why the closest claim was not credited, for the detail of an empty credit. */
  note: string = "";
  constructor(public file: CreditFile) {}

  offer(c: Credit): void {
    const current = this.credit;
    if (current == null || effectiveRead(c, this.file) > effectiveRead(current, this.file)) this.credit = c;
  }

  reject(why: string): void {
    if (this.note.length == 0) this.note = why;
  }
}

/**
 * The credit of each file, in order. `history` is the host's record of the rotations it did (only the
 * entries naming these paths matter), `claims` what the shipper position files say.
 */
export function creditFiles(files: CreditFile[], history: Rotation[], claims: Claim[]): Credit[] {
  const out = new Array<Credit>(files.length);
  for (let i = 0; i < files.length; i++) unchecked((out[i] = creditFile(unchecked(files[i]), files, history, claims)));
  return out;
}

export function creditFile(f: CreditFile, files: CreditFile[], history: Rotation[], claims: Claim[]): Credit {
  const best = new Best(f);
  for (let i = 0; i < claims.length; i++) {
    const c = unchecked(claims[i]);
    if (c.kind == ClaimKind.InodeName) fromInodeName(best, c, history);
    else if (c.kind == ClaimKind.DevInode) fromDevInode(best, c);
    else if (c.kind == ClaimKind.FirstLineCrc64) fromChecksum(best, c, files);
    else if (c.kind == ClaimKind.FirstBytes) fromFirstBytes(best, c, files);
  }
  // Generations and path observations are judged per (shipper, path) series, once per shipper.
  for (let s: u8 = 1; s <= <u8>Shipper.Alloy; s++) {
    if (hasKind(claims, ClaimKind.Generation, s)) {
      if (f.live) generationsLive(best, claims, s, history);
      else generationsRotated(best, claims, s, history);
    }
    if (hasKind(claims, ClaimKind.Path, s)) {
      if (f.live) pathsLive(best, claims, s, history);
      else pathsRotated(best, claims, s, history);
    }
  }
  const c = best.credit;
  if (c != null) return c;
  const none = new Credit();
  none.detail = "no progress known for " + bytesToDisplay(f.path) + " (inode " + f.inode.toString() + ")" + (best.note.length > 0 ? ": " + best.note : "");
  return none;
}

function hasKind(claims: Claim[], kind: ClaimKind, shipper: u8): bool {
  for (let i = 0; i < claims.length; i++) {
    const c = unchecked(claims[i]);
    if (c.kind == kind && c.shipper == shipper) return true;
  }
  return false;
}

/** The live path the host renamed this very inode from to this file's path, or null. */
function renamedFrom(f: CreditFile, history: Rotation[]): Rotation | null {
  for (let i = 0; i < history.length; i++) {
    const r = unchecked(history[i]);
    if (r.inode == f.inode && equalBytes(r.rotatedPath, f.path)) return r;
  }
  return null;
}

/**
 * An inode-name claim (Fluent Bit's DB row, fluentd's pos_file line): the offset is past the last line
 * read, so it is credited without lineStart (with it, an offset equal to the last line's start would
 * wrongly count that unread line as read).
 *
 * Used only when the inode matches AND the name agrees: the claim's name is the file's path (the shipper
 * noticed the rotation and renamed its entry), or the live path this very inode was renamed from by the
 * host (the shipper has not noticed yet). A name alone never credits: until the shipper notices a
 * rotation, the old inode's entry still carries the live name, which now belongs to a new file. An inode
 * alone does not credit either: inodes are reused, and an entry left behind by a deleted file would credit
 * its offset to a stranger. An offset beyond the file's size cannot be this file's (CRI logs are never
 * truncated).
 */
function fromInodeName(best: Best, c: Claim, history: Rotation[]): void {
  const f = best.file;
  if (c.inode != f.inode) return;
  let origin = CreditOrigin.None;
  if (equalBytes(c.path, f.path)) origin = CreditOrigin.InodePath;
  else {
    for (let i = 0; i < history.length; i++) {
      const r = unchecked(history[i]);
      if (r.inode == f.inode && equalBytes(r.rotatedPath, f.path) && equalBytes(r.livePath, c.path)) {
        origin = CreditOrigin.InodeFormerPath;
        break;
      }
    }
  }
  if (origin == CreditOrigin.None) {
    best.reject(shipperName(c.shipper) + " knows inode " + c.inode.toString() + " under " + bytesToDisplay(c.path) + ", not under this path nor one the host renamed it from");
    return;
  }
  if (c.offset > f.size) {
    best.reject(shipperName(c.shipper) + " offset " + c.offset.toString() + " is past the size " + f.size.toString() + ": another file's");
    return;
  }
  const how = origin == CreditOrigin.InodePath ? "" : " (renamed from it by the host)";
  best.offer(credit(c.offset, false, origin, c.shipper, "inode " + c.inode.toString() + " under " + bytesToDisplay(c.path) + how + " read to " + c.offset.toString() + " of " + f.size.toString()));
}

/**
 * Vector's dev_inode fingerprint. Vector keeps the checkpoint of a vanished file for a minute, and a new
 * file may get the freed inode meanwhile, so the checkpoint must have moved after this file was born: its
 * `modified` is when the position last changed.
 */
function fromDevInode(best: Best, c: Claim): void {
  const f = best.file;
  if (!f.devKnown || c.dev != f.dev || c.inode != f.inode) return;
  if (c.offset > f.size) {
    best.reject(shipperName(c.shipper) + " dev_inode offset " + c.offset.toString() + " is past the size " + f.size.toString() + ": another file's");
    return;
  }
  if (c.modifiedMs < 0 || f.bornMs < 0) {
    best.reject(shipperName(c.shipper) + " dev_inode checkpoint cannot be told from one of an earlier file with the same inode (its modified time or the file's birth time is unknown)");
    return;
  }
  if (c.modifiedMs <= f.bornMs) {
    best.reject(shipperName(c.shipper) + " dev_inode checkpoint last moved at " + c.modifiedMs.toString() + " ms, before this file was born at " + f.bornMs.toString() + " ms: an earlier file's");
    return;
  }
  best.offer(credit(c.offset, false, CreditOrigin.DevInode, c.shipper, "dev_inode " + c.dev.toString() + ":" + c.inode.toString() + " read to " + c.offset.toString() + " of " + f.size.toString()));
}

/** Vector's first_lines_checksum: a fingerprint that two of the files share is nobody's. */
function fromChecksum(best: Best, c: Claim, files: CreditFile[]): void {
  const f = best.file;
  if (!f.crcKnown || c.checksum != f.crc) return;
  let matches = 0;
  for (let i = 0; i < files.length; i++) {
    const o = unchecked(files[i]);
    if (o.crcKnown && o.crc == c.checksum) matches++;
  }
  if (matches > 1) {
    best.reject(shipperName(c.shipper) + " checksum " + c.checksum.toString() + " matches " + matches.toString() + " files: ambiguous");
    return;
  }
  if (c.offset > f.size) {
    best.reject(shipperName(c.shipper) + " checksum offset " + c.offset.toString() + " is past the size " + f.size.toString() + ": another file's");
    return;
  }
  best.offer(credit(c.offset, false, CreditOrigin.FirstLineCrc64, c.shipper, "first line checksum " + c.checksum.toString() + " read to " + c.offset.toString() + " of " + f.size.toString()));
}

/** The collector's fingerprint: a file matches when its first bytes start with the claim's; unique. */
function fromFirstBytes(best: Best, c: Claim, files: CreditFile[]): void {
  const f = best.file;
  const fp = c.firstBytes;
  if (fp.length == 0 || !hasPrefix(f.firstBytes, fp)) return;
  let matches = 0;
  for (let i = 0; i < files.length; i++) {
    if (hasPrefix(unchecked(files[i]).firstBytes, fp)) matches++;
  }
  if (matches > 1) {
    best.reject(shipperName(c.shipper) + " fingerprint of " + fp.length.toString() + " bytes matches " + matches.toString() + " files: ambiguous");
    return;
  }
  if (c.offset > f.size) {
    best.reject(shipperName(c.shipper) + " fingerprint offset " + c.offset.toString() + " is past the size " + f.size.toString() + ": another file's");
    return;
  }
  best.offer(credit(c.offset, false, CreditOrigin.FirstBytes, c.shipper, "first " + fp.length.toString() + " bytes fingerprint read to " + c.offset.toString() + " of " + f.size.toString()));
}

/** When the inode of rotation `r` came to its live path: liveSinceMs, or the previous rotation of that path. */
function arrivalMs(r: Rotation, history: Rotation[]): i64 {
  if (r.liveSinceMs >= 0) return r.liveSinceMs;
  let prev: i64 = -1;
  for (let i = 0; i < history.length; i++) {
    const h = unchecked(history[i]);
    if (equalBytes(h.livePath, r.livePath) && h.rotatedAtMs < r.rotatedAtMs && h.rotatedAtMs > prev) prev = h.rotatedAtMs;
  }
  return prev;
}

function lastRotationMs(history: Rotation[], livePath: Uint8Array): i64 {
  let last: i64 = -1;
  for (let i = 0; i < history.length; i++) {
    const h = unchecked(history[i]);
    if (equalBytes(h.livePath, livePath) && h.rotatedAtMs > last) last = h.rotatedAtMs;
  }
  return last;
}

/** The claims of one kind and shipper under a path, in input order. */
function series(claims: Claim[], kind: ClaimKind, shipper: u8, path: Uint8Array): Claim[] {
  const out = new Array<Claim>();
  for (let i = 0; i < claims.length; i++) {
    const c = unchecked(claims[i]);
    if (c.kind == kind && c.shipper == shipper && equalBytes(c.path, path)) out.push(c);
  }
  return out;
}

/**
 * The filter's generations for a rotated file. Two places can hold its progress:
 *
 * 1. Its own (rotated) path: once in_tail notices the rotation it names the file by its new name, so
 *    records read after that carry the rotated path. Rotated names are unique (timestamped, collisions
 *    avoided by the host), so every generation there is this file's; the highest offset counts. A
 *    generation at or past the file's size proves otherwise (a line cannot start there), and then
 *    nothing there is credited.
 *
 * 2. The live path it was renamed from: records read before in_tail noticed carry the old name. Only the
 *    generation(s) this inode had there may be credited: those whose first record was written after the
 *    inode came to live at that path and before the host renamed it. The record time is known to within
 *    precisionMs (1 for times in ms, 1000 for whole seconds: the true time lies in [firstMs, firstMs +
 *    precisionMs)), and both bounds must hold for every time in that interval: a generation that may have
 *    started in the very millisecond (or second) of a rotation could be either file's. A generation
 *    started after the rename is the new file at the old path and is never credited; with no lower bound
 *    at all (the host never rotated that path and does not know when the inode appeared) an older inode's
 *    generation cannot be ruled out, so nothing is credited. Several candidates (a re-read after a
 *    restart, or a rotation the host did not see) are ambiguous: the smallest is credited.
 *
 * Offsets are line STARTS (Offset_Key), so lineStart goes with them.
 */
function generationsRotated(best: Best, claims: Claim[], shipper: u8, history: Rotation[]): void {
  const f = best.file;
  const own = series(claims, ClaimKind.Generation, shipper, f.path);
  if (own.length > 0) {
    let max: i64 = -1;
    let past = false;
    for (let i = 0; i < own.length; i++) {
      const g = unchecked(own[i]);
      if (g.offset >= f.size) past = true;
      else if (g.offset > max) max = g.offset;
    }
    if (past) best.reject("a generation under the rotated name starts a line at or past the size: another file's");
    else if (max >= 0) best.offer(credit(max, true, CreditOrigin.GenerationRotatedPath, shipper, "line at " + max.toString() + " read under the rotated name"));
  }
  const r = renamedFrom(f, history);
  if (r == null) return;
  const lower = arrivalMs(r, history);
  if (lower < 0) {
    best.reject("when inode " + f.inode.toString() + " came to " + bytesToDisplay(r.livePath) + " is unknown, so its generations there cannot be told from an older inode's");
    return;
  }
  const gens = series(claims, ClaimKind.Generation, shipper, r.livePath);
  let count = 0;
  let min: i64 = -1;
  let which: i64 = -1;
  let past = false;
  for (let i = 0; i < gens.length; i++) {
    const g = unchecked(gens[i]);
    if (!(g.firstMs > lower && g.firstMs + g.precisionMs <= r.rotatedAtMs)) continue;
    count++;
    which = g.index;
    if (g.offset >= f.size) past = true;
    if (min < 0 || g.offset < min) min = g.offset;
  }
  if (count == 0) return;
  if (past) {
    best.reject("a generation under the live name that started while this inode was there starts a line at or past the size");
    return;
  }
  const what = count == 1 ? "generation " + which.toString() : "the smallest of " + count.toString() + " candidate generations";
  best.offer(
    credit(
      min,
      true,
      CreditOrigin.GenerationAtRename,
      shipper,
      "line at " + min.toString() + " read under the live name " + bytesToDisplay(r.livePath) + " (" + what + ", started between " + lower.toString() + " ms and the rotation at " + r.rotatedAtMs.toString() + " ms)",
    ),
  );
}

/**
 * The filter's generations for the live file: the newest generation under its path, only when it started
 * after the host's last rotation of that path (before that, it may be the previous inode's, which in_tail
 * kept reading under this name). Without a known rotation nothing is credited.
 */
function generationsLive(best: Best, claims: Claim[], shipper: u8, history: Rotation[]): void {
  const f = best.file;
  const gens = series(claims, ClaimKind.Generation, shipper, f.path);
  if (gens.length == 0) return;
  let g = unchecked(gens[0]);
  for (let i = 1; i < gens.length; i++) if (unchecked(gens[i]).index > g.index) g = unchecked(gens[i]);
  const last = lastRotationMs(history, f.path);
  if (last < 0 || g.firstMs <= last || g.offset >= f.size) return;
  best.offer(credit(g.offset, true, CreditOrigin.GenerationLivePath, shipper, "line at " + g.offset.toString() + " read (generation " + g.index.toString() + ", started after the rotation at " + last.toString() + " ms)"));
}

/**
 * A run of path observations: consecutive observations (by takenAtMs) whose offsets never go down. An
 * offset going down is the reader moving to a new file at the path (CRI logs are only appended to).
 * `boundaryMs` is when the previous run was last observed, -1 for the first run seen: the reader moved to
 * this run's file after that moment.
 */
class Run {
  boundaryMs: i64 = -1;
  observations: Claim[] = new Array<Claim>();
}

function runsOf(observed: Claim[]): Run[] {
  // Insertion sort by takenAtMs, stable: a handful of observations per path.
  const sorted = observed.slice(0);
  for (let i = 1; i < sorted.length; i++) {
    const x = unchecked(sorted[i]);
    let j = i - 1;
    while (j >= 0 && unchecked(sorted[j]).takenAtMs > x.takenAtMs) {
      unchecked((sorted[j + 1] = unchecked(sorted[j])));
      j--;
    }
    unchecked((sorted[j + 1] = x));
  }
  const runs = new Array<Run>();
  let run: Run | null = null;
  for (let i = 0; i < sorted.length; i++) {
    const o = unchecked(sorted[i]);
    if (run == null) {
      run = new Run();
      runs.push(run);
    } else {
      const prev = run.observations[run.observations.length - 1];
      if (o.offset < prev.offset) {
        run = new Run();
        run.boundaryMs = prev.takenAtMs;
        runs.push(run);
      }
    }
    run.observations.push(o);
  }
  return runs;
}

/**
 * Promtail / Alloy for a rotated file. Their positions are keyed by path, with no inode, so the host
 * tells files apart by its own history and by runs of observations:
 *
 * 1. Observations under the file's own (rotated) path are all this file's (rotated names are unique);
 *    one past the size proves otherwise.
 * 2. Under the live path it was renamed from, a run is this inode's only when the reader moved to it
 *    after the inode arrived there (the run's boundary, less PATH_SNAPSHOT_SLACK_MS, is after the
 *    arrival: a reader still draining the previous file would otherwise lend its offset), and only its
 *    observations taken before the rename count (after it, a reader that moved on to the new file may
 *    not have been observed going down yet). Several such runs are ambiguous: the smallest is credited.
 */
function pathsRotated(best: Best, claims: Claim[], shipper: u8, history: Rotation[]): void {
  const f = best.file;
  const own = series(claims, ClaimKind.Path, shipper, f.path);
  if (own.length > 0) {
    let max: i64 = -1;
    let past = false;
    for (let i = 0; i < own.length; i++) {
      const o = unchecked(own[i]);
      if (o.offset > f.size) past = true;
      else if (o.offset > max) max = o.offset;
    }
    if (past) best.reject("a position under the rotated name is past the size: another file's");
    else if (max >= 0) best.offer(credit(max, false, CreditOrigin.PathRotatedPath, shipper, "read to " + max.toString() + " of " + f.size.toString() + " under the rotated name"));
  }
  const r = renamedFrom(f, history);
  if (r == null) return;
  const lower = arrivalMs(r, history);
  if (lower < 0) {
    best.reject("when inode " + f.inode.toString() + " came to " + bytesToDisplay(r.livePath) + " is unknown, so positions there cannot be told from an older inode's");
    return;
  }
  const runs = runsOf(series(claims, ClaimKind.Path, shipper, r.livePath));
  let count = 0;
  let min: i64 = -1;
  let past = false;
  for (let i = 0; i < runs.length; i++) {
    const run = unchecked(runs[i]);
    if (run.boundaryMs < 0 || run.boundaryMs - PATH_SNAPSHOT_SLACK_MS <= lower) continue;
    let max: i64 = -1;
    for (let j = 0; j < run.observations.length; j++) {
      const o = unchecked(run.observations[j]);
      if (o.takenAtMs < r.rotatedAtMs && o.offset > max) max = o.offset;
    }
    if (max < 0) continue;
    count++;
    if (max > f.size) past = true;
    if (min < 0 || max < min) min = max;
  }
  if (count == 0) {
    best.reject("no run of positions under " + bytesToDisplay(r.livePath) + " is known to have begun after inode " + f.inode.toString() + " arrived and before its rename");
    return;
  }
  if (past) {
    best.reject("a position under the live name taken while this inode was there is past the size");
    return;
  }
  const what = count == 1 ? "" : " (the smallest of " + count.toString() + " candidate runs)";
  best.offer(credit(min, false, CreditOrigin.PathBeforeRename, shipper, "read to " + min.toString() + " of " + f.size.toString() + " under the live name " + bytesToDisplay(r.livePath) + " before the rotation at " + r.rotatedAtMs.toString() + " ms" + what));
}

/** Promtail / Alloy for the live file: the newest run, when the reader moved to it after the last rotation. */
function pathsLive(best: Best, claims: Claim[], shipper: u8, history: Rotation[]): void {
  const f = best.file;
  const runs = runsOf(series(claims, ClaimKind.Path, shipper, f.path));
  if (runs.length == 0) return;
  const run = unchecked(runs[runs.length - 1]);
  const last = lastRotationMs(history, f.path);
  if (last < 0 || run.boundaryMs < 0 || run.boundaryMs - PATH_SNAPSHOT_SLACK_MS <= last) return;
  const o = unchecked(run.observations[run.observations.length - 1]);
  if (o.offset > f.size) return;
  best.offer(credit(o.offset, false, CreditOrigin.PathLive, shipper, "read to " + o.offset.toString() + " of " + f.size.toString() + " (the reader moved to this file after the rotation at " + last.toString() + " ms)"));
}
