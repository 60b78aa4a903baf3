// Which of a directory's entries are a container's rotated files, which are leftovers, and the kubelet's
// GetAllLogs — one split of a container's files that both the plan and GetAllLogs use, as the kubelet's
// filterUnusedLogs/isInUse serve both its rotateLog and GetAllLogs. Pure: no receiver, no I/O.

import { EntryKind, FileEntry, Name, Reason, UNAVAILABLE, UNKNOWN } from "./types";
import { compareBytes, equalBytes } from "./bytes";
import { Ext, extensionOf, rotatedStem } from "./names";

/** An entry to remove before anything else, and why (the kubelet's cleanupUnusedLogs, and ours). */
export class Unused {
  constructor(
    public entry: FileEntry,
    public reason: u8,
  ) {}
}

/** An entry the plan steps around, to be reported (once, by the host). */
export class Odd {
  constructor(
    public entry: FileEntry,
    public reason: u8,
    /** What is in the way, e.g. the symlink named X.gz. */
    public obstacle: Name,
  ) {}
}

export class FileSplit {
  /** The live log: the first entry named logName (of any kind), or null. */
  live: FileEntry | null = null;
  /** Rotated files in use (plain and .gz), sorted bytewise = oldest first. */
  rotated: FileEntry[] = [];
  /** Leftovers to remove, in name order. */
  unused: Unused[] = [];
  /** Plain files beside a .gz twin whose digests the rules need before deciding. */
  verify: FileEntry[] = [];
  /** Plain rotated files that cannot be compressed, with what blocks them. */
  blocked: Odd[] = [];
}

/**
 * Splits a container's directory listing. Only regular files that are not another container's live log
 * are candidates for anything: a symlink or directory named like a rotated file may have been planted by
 * whoever writes the log directory, and must never be followed, removed, or allowed to make a real file
 * "unused". Files the host is busy with (its own compression) are counted but never touched.
 *
 * The kubelet's isInUse: a ".tmp" file is the partial output of an interrupted compression, so unused; a
 * ".gz" file is in use; X is unused when X.gz exists (compression finished but the delete of the original
 * did not). The last rule, taken on the name alone, deletes logs when a second rotator reuses a name (a
 * newer X beside an older X.gz): here X is unused only when X.gz's gzip trailer records X's size and
 * CRC-32, i.e. X.gz holds exactly X. Until the host has read those digests, X is to be verified.
 */
export function splitFiles(logName: Name, entries: FileEntry[]): FileSplit {
  const split = new FileSplit();
  const liveIndex = findIndex(entries, logName);
  if (liveIndex >= 0) split.live = unchecked(entries[liveIndex]);
  const live = split.live;
  const liveInode: i64 = live !== null && live.kind == EntryKind.Regular ? live.inode : 0;

  for (let i = 0, n = entries.length; i < n; i++) {
    if (i == liveIndex) continue;
    const e = unchecked(entries[i]);
    if (e.kind != EntryKind.Regular || e.foreign) continue;
    const stem = rotatedStem(logName, e.name);
    if (stem < 0) continue;
    const ext = extensionOf(e.name, stem);
    if (liveInode > 0 && e.inode == liveInode) {
      // The live log's own inode under a rotated name: a rotation (link, then unlink) was cut in between.
      // Removing this name undoes it and loses nothing: the data is the live log's.
      split.unused.push(new Unused(e, <u8>Reason.InterruptedRotation));
      continue;
    }
    if (ext == Ext.Tmp) {
      if (!e.busy) split.unused.push(new Unused(e, <u8>Reason.UnusedTmp));
      continue;
    }
    if (ext == Ext.Gz) {
      // A .gz the host's own compression is still finishing is the same data as its busy source beside it:
      // count one. Once the source is gone it is simply the compressed file.
      if (!e.busy || findNamed(entries, e.name.subarray(0, e.name.length - 3), "") === null) split.rotated.push(e);
      continue;
    }
    // A plain rotated file: in use unless it is the proven original of an X.gz.
    const gz = findRegularTwin(entries, e.name, ".gz");
    if (gz === null || e.busy) {
      split.rotated.push(e);
      continue;
    }
    const twin = twinState(e, changetype<FileEntry>(gz));
    if (twin == TWIN_SAME) split.unused.push(new Unused(e, <u8>Reason.UnusedCompressedTwin));
    else {
      split.rotated.push(e);
      if (twin == TWIN_UNKNOWN) split.verify.push(e);
    }
  }
  split.unused.sort((a, b) => compareBytes(a.entry.name, b.entry.name));
  // Sorted bytewise = chronological, thanks to the timestamp format (the kubelet's sort.Strings).
  split.rotated.sort((a, b) => compareBytes(a.name, b.name));
  for (let i = 0, n = split.rotated.length; i < n; i++) {
    const e = unchecked(split.rotated[i]);
    const obstacle = compressionObstacle(entries, e);
    if (obstacle !== null) split.blocked.push(changetype<Odd>(obstacle));
  }
  return split;
}

const TWIN_SAME = 0;
const TWIN_DIFFERENT = 1;
const TWIN_UNKNOWN = 2;

/** Whether `gz`'s trailer shows it holds exactly `plain` (size mod 2^32 and CRC-32). */
function twinState(plain: FileEntry, gz: FileEntry): i32 {
  if (gz.isize == UNAVAILABLE || gz.crc32 == UNAVAILABLE) return TWIN_DIFFERENT; // unreadable: keep both
  if (gz.isize == UNKNOWN) return TWIN_UNKNOWN;
  if (gz.isize != (plain.size & 0xffffffff)) return TWIN_DIFFERENT;
  if (plain.crc32 == UNAVAILABLE) return TWIN_DIFFERENT;
  if (plain.crc32 == UNKNOWN || gz.crc32 == UNKNOWN) return TWIN_UNKNOWN;
  return plain.crc32 == gz.crc32 ? TWIN_SAME : TWIN_DIFFERENT;
}

/**
 * Why the plain rotated file `e` cannot be compressed now, or null: the kubelet writes X.tmp and renames it
 * to X.gz, so both names must be free for us — X.gz not present at all (the twin rules above decide what
 * an existing X.gz means), X.tmp not a symlink, directory or device (a regular X.tmp is an unused leftover,
 * removed first). A .gz, or a file the host is already compressing, has nothing to report.
 */
function compressionObstacle(entries: FileEntry[], e: FileEntry): Odd | null {
  if (e.busy || hasExt(e.name, ".gz")) return null;
  const gz = findNamed(entries, e.name, ".gz");
  if (gz !== null) {
    const g = changetype<FileEntry>(gz);
    return new Odd(e, g.kind == EntryKind.Regular && !g.foreign ? <u8>Reason.TwinDiffers : <u8>Reason.CompressionBlocked, g.name);
  }
  const tmp = findNamed(entries, e.name, ".tmp");
  if (tmp !== null) {
    const t = changetype<FileEntry>(tmp);
    if (t.kind != EntryKind.Regular || t.foreign) return new Odd(e, <u8>Reason.CompressionBlocked, t.name);
  }
  return null;
}

function hasExt(name: Name, ext: string): bool {
  const n = name.length;
  const k = ext.length;
  if (n < k) return false;
  for (let i = 0; i < k; i++) if (unchecked(name[n - k + i]) != <u8>ext.charCodeAt(i)) return false;
  return true;
}

/** The entry named base + suffix, or null. */
function findNamed(entries: FileEntry[], base: Name, suffix: string): FileEntry | null {
  const n = base.length;
  const k = suffix.length;
  for (let i = 0, m = entries.length; i < m; i++) {
    const e = unchecked(entries[i]);
    const name = e.name;
    if (name.length != n + k) continue;
    let same = true;
    for (let j = 0; j < n && same; j++) same = unchecked(name[j]) == unchecked(base[j]);
    for (let j = 0; j < k && same; j++) same = unchecked(name[n + j]) == <u8>suffix.charCodeAt(j);
    if (same) return e;
  }
  return null;
}

/** The regular, non-foreign entry named base + suffix, or null. */
function findRegularTwin(entries: FileEntry[], base: Name, suffix: string): FileEntry | null {
  const e = findNamed(entries, base, suffix);
  if (e === null) return null;
  const t = changetype<FileEntry>(e);
  return t.kind == EntryKind.Regular && !t.foreign ? t : null;
}

function findIndex(entries: FileEntry[], name: Name): i32 {
  for (let i = 0, n = entries.length; i < n; i++) {
    if (equalBytes(unchecked(entries[i]).name, name)) return i;
  }
  return -1;
}

/** The entry named exactly `name`, or null. */
export function findEntry(entries: FileEntry[], name: Name): FileEntry | null {
  const i = findIndex(entries, name);
  return i < 0 ? null : unchecked(entries[i]);
}

/**
 * The kubelet's GetAllLogs: the rotated files in use, sorted bytewise (oldest first, thanks to the
 * timestamp format), then the live log last if it exists as a regular file. A plain X beside its X.gz is
 * left out when proven the same data, and — like the kubelet, which never checks — when not yet verified;
 * shown when it holds other data.
 */
export function listLogs(logName: Name, entries: FileEntry[]): Name[] {
  const split = splitFiles(logName, entries);
  const logs: Name[] = [];
  for (let i = 0, n = split.rotated.length; i < n; i++) {
    const e = unchecked(split.rotated[i]);
    if (!split.verify.includes(e)) logs.push(e.name);
  }
  const live = split.live;
  if (live !== null && live.kind == EntryKind.Regular) logs.push(logName);
  return logs;
}

/**
 * Every entry that belongs to the container, of any kind, in name order: the live log and every name that
 * is a rotated file of it (.gz and .tmp included) — what the kubelet's Clean removes with its `<log>*`
 * glob, minus what that glob wrongly takes: other containers' logs whose names merely start like ours
 * (`0.log.1` beside `0.log`). The host removes the regular files and reports the rest.
 */
export function containerEntries(logName: Name, entries: FileEntry[]): Name[] {
  const out: Name[] = [];
  for (let i = 0, n = entries.length; i < n; i++) {
    const e = unchecked(entries[i]);
    if (e.foreign) continue;
    if (equalBytes(e.name, logName) || rotatedStem(logName, e.name) >= 0) out.push(e.name);
  }
  out.sort((a, b) => compareBytes(a, b));
  return out;
}
