// Which rotated files exist, which are leftovers, and the kubelet's GetAllLogs. Pure helpers over names,
// like the kubelet's filterUnusedLogs/isInUse: no receiver, no I/O.

import { EntryKind, FileEntry, Name } from "./types";
import { asciiBytes, equalBytes, hasPrefix, hasSuffix, sortNames } from "./bytes";

const GZ: Uint8Array = asciiBytes(".gz");
const TMP: Uint8Array = asciiBytes(".tmp");

/**
 * `name` is a rotated file of `logName`: it starts with logName + ".". This is what the kubelet's glob
 * `<log>.*` matches (the `*` may match nothing), minus the glob: the host lists the directory and we
 * compare bytes, so a name holding '*', '[' or '?' is only a name.
 */
export function isRotatedOf(logName: Name, name: Name): bool {
  const n = logName.length;
  return name.length > n && hasPrefix(name, logName) && unchecked(name[n]) == 0x2e;
}

/** The name ends with ".gz". */
export function isCompressed(name: Name): bool {
  return hasSuffix(name, GZ);
}

/** The name ends with ".tmp". */
export function isTemporary(name: Name): bool {
  return hasSuffix(name, TMP);
}

/**
 * The kubelet's isInUse: a ".tmp" file is the partial output of an interrupted compression, so unused; a
 * ".gz" file is in use; X is unused when X.gz exists among `allNames` (compression finished but the
 * delete of the original did not); everything else is in use.
 */
export function isInUse(name: Name, allNames: Name[]): bool {
  if (isTemporary(name)) return false;
  if (isCompressed(name)) return true;
  const n = name.length;
  for (let i = 0, m = allNames.length; i < m; i++) {
    const other = unchecked(allNames[i]);
    // other == name + ".gz", without building the concatenation.
    if (other.length == n + 3 && hasPrefix(other, name) && hasSuffix(other, GZ)) return false;
  }
  return true;
}

/**
 * isInUse with the twin looked up in the directory listing instead of a list of names: X.gz counts only
 * as a regular file, as in rotatedRegularNames (X is a rotated file, so X.gz is one as well).
 */
export function isInUseAmong(name: Name, entries: FileEntry[]): bool {
  if (isTemporary(name)) return false;
  if (isCompressed(name)) return true;
  const n = name.length;
  for (let i = 0, m = entries.length; i < m; i++) {
    const e = unchecked(entries[i]);
    const other = e.name;
    if (e.kind == EntryKind.Regular && other.length == n + 3 && hasPrefix(other, name) && hasSuffix(other, GZ)) return false;
  }
  return true;
}

export class Partition {
  inUse: Name[] = [];
  unused: Name[] = [];
}

/** The kubelet's filterUnusedLogs: splits names into in-use and unused, each in input order. */
export function filterUnused(names: Name[]): Partition {
  const p = new Partition();
  for (let i = 0, n = names.length; i < n; i++) {
    const name = unchecked(names[i]);
    if (isInUse(name, names)) p.inUse.push(name);
    else p.unused.push(name);
  }
  return p;
}

/**
 * Names of the regular files among `entries` that are rotated files of `logName`, in entry order. Only
 * regular files count: a symlink or directory named like a rotated file may have been planted by whoever
 * writes the log directory, and must never be followed, removed, or allowed to make a real file "unused".
 */
export function rotatedRegularNames(logName: Name, entries: FileEntry[]): Name[] {
  const out: Name[] = [];
  for (let i = 0, n = entries.length; i < n; i++) {
    const e = unchecked(entries[i]);
    if (e.kind == EntryKind.Regular && isRotatedOf(logName, e.name)) out.push(e.name);
  }
  return out;
}

/** The entry named exactly `name`, or null. */
export function findEntry(entries: FileEntry[], name: Name): FileEntry | null {
  for (let i = 0, n = entries.length; i < n; i++) {
    const e = unchecked(entries[i]);
    if (equalBytes(e.name, name)) return e;
  }
  return null;
}

/**
 * The kubelet's GetAllLogs: the rotated files still in use, sorted bytewise (oldest first, thanks to the
 * timestamp format), then the live log last if it exists as a regular file.
 */
export function listLogs(logName: Name, entries: FileEntry[]): Name[] {
  const rotated = rotatedRegularNames(logName, entries);
  const logs = filterUnused(rotated).inUse;
  sortNames(logs);
  const live = findEntry(entries, logName);
  if (live !== null && live.kind == EntryKind.Regular) logs.push(logName);
  return logs;
}
