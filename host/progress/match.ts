// Attaches shipper progress to the files the host is about to plan. Pure: the report, the files and the
// host's rotation history go in, a (readOffset, lastLineStart) per file comes out, which is exactly what
// the rules' isFullyRead (assembly/rules/shipper.ts) reads. findLastLineStart, the one helper that reads
// a file, sits at the bottom with its cache.
//
// The rule of thumb everywhere: crediting too much loses logs (the host compresses or deletes bytes the
// shipper never read), crediting too little only holds a file longer (bounded by the hold limits). So
// every ambiguous case credits less, and the reason is written into `detail`.
import { open, constants } from "node:fs/promises";
import type { DbFileProgress, FileProgress, FileProgressQuery, FilterGeneration, ProgressReport, RotationRecord } from "./types.js";

/** Bytes the file counts as read under a credit: its size when the rules would call it fully read. */
function effectiveRead(p: FileProgress, size: number): number {
  if (p.readOffset === undefined) return -1;
  if (p.readOffset >= size) return size;
  if (p.lastLineStart !== undefined && p.readOffset >= p.lastLineStart) return size;
  return p.readOffset;
}

const NONE = (detail: string): FileProgress => ({ origin: "none", detail });

/**
 * The DB source. in_tail's row for a file carries its inode and the name in_tail knows it by; the
 * offset is past the last line read, so it is credited as readOffset with no lastLineStart (with one,
 * an offset equal to the last line's start would wrongly count that unread line as read).
 *
 * A row is used only when the inode matches AND the name agrees: the row's name is the file's path
 * (in_tail noticed the rotation and renamed the row), or the live path this very inode was renamed from
 * (in_tail has not noticed yet). A name alone never credits: until in_tail notices a rotation, the old
 * inode's row still carries the live name, which now belongs to a new file. An inode alone does not
 * credit either: inodes are reused, and a row left behind by a deleted file would credit its offset to a
 * stranger. An offset beyond the file's size cannot be this file's (no truncation on CRI logs).
 */
function fromDb(file: FileProgressQuery, rows: DbFileProgress[], history: RotationRecord[]): FileProgress | undefined {
  const formerNames = new Set(history.filter((r) => r.inode === file.inode && r.rotatedPath === file.path).map((r) => r.livePath));
  let best: FileProgress | undefined;
  for (const row of rows) {
    if (row.inode !== file.inode) continue;
    const origin = row.name === file.path ? "db-inode" : formerNames.has(row.name) ? "db-name" : undefined;
    if (!origin) continue;
    if (row.offset > file.size) continue;
    if (!best || row.offset > best.readOffset!) {
      best = { readOffset: row.offset, origin, detail: `in_tail DB row ${row.id} (inode ${row.inode}, name "${row.name}") read to ${row.offset} of ${file.size}` };
    }
  }
  return best;
}

/**
 * The largest maxOffset among generations; undefined if any lies at or past the size (a line cannot
 * start there, so the generation is another file's).
 */
function maxWithin(gens: FilterGeneration[], size: number): number | undefined {
  let max = -1;
  for (const g of gens) {
    if (g.maxOffset >= size) return undefined;
    if (g.maxOffset > max) max = g.maxOffset;
  }
  return max < 0 ? undefined : max;
}

/**
 * The filter source for a rotated file. Two places can hold its progress:
 *
 * 1. Its own (rotated) path: once in_tail notices the rotation it names the file by its new name, so
 *    records read after that carry the rotated path. Rotated names are unique (timestamped, collisions
 *    avoided by the host), so every generation there is this file's; the highest offset counts. A
 *    generation past the file's size proves otherwise, and then nothing there is credited.
 *
 * 2. The live path it was renamed from: records read before in_tail noticed carry the old name. Only the
 *    generation(s) this inode had there may be credited: those that started after the inode came to live
 *    at that path (liveSinceSec, or the previous rotation of the same path) and before the host renamed
 *    it (rotatedAtSec). Both bounds are strict: a generation that started in the very second of a
 *    rotation could be either file's. A generation started after the rename is the new file at the old
 *    path and is never credited; with no lower bound at all (the host never rotated that path and does
 *    not know when the inode appeared) an older inode's generation cannot be ruled out, so nothing is
 *    credited. Several candidates (a re-read after a restart, or a rotation we did not see) are
 *    ambiguous: the smallest is credited.
 *
 * Offsets are line STARTS (Offset_Key), so lastLineStart goes with them.
 */
function fromFilterRotated(file: FileProgressQuery, paths: Map<string, FilterGeneration[]>, history: RotationRecord[]): FileProgress | undefined {
  const credits: FileProgress[] = [];
  const own = paths.get(file.path);
  if (own && own.length > 0) {
    const max = maxWithin(own, file.size);
    if (max !== undefined) {
      credits.push({ readOffset: max, lastLineStart: file.lastLineStart, origin: "filter-rotated-path", detail: `filter: line at ${max} read under the rotated name` });
    }
  }
  const rotation = history.find((r) => r.rotatedPath === file.path);
  if (rotation && rotation.inode === file.inode) {
    const lower = rotation.liveSinceSec ?? previousRotationSec(history, rotation);
    const lowerMs = rotation.liveSinceMs ?? previousRotationMs(history, rotation);
    const gens = paths.get(rotation.livePath) ?? [];
    if (lower !== undefined) {
      const candidates = gens.filter((g) => startedBetween(g, lower, lowerMs, rotation));
      if (candidates.length > 0 && candidates.every((g) => g.maxOffset < file.size)) {
        const min = Math.min(...candidates.map((g) => g.maxOffset));
        const which = candidates.length === 1 ? `generation ${candidates[0].index}` : `the smallest of ${candidates.length} candidate generations`;
        credits.push({
          readOffset: min,
          lastLineStart: file.lastLineStart,
          origin: "filter-live-generation",
          detail: `filter: line at ${min} read under the live name "${rotation.livePath}" (${which}, started between ${lower} and the rotation at ${rotation.rotatedAtSec})`,
        });
      }
    }
  }
  return best(credits, file.size);
}

/**
 * The filter source for the live file: the newest generation under its path, only when it started
 * after the host's last rotation of that path (before that, it may be the previous inode's, which in_tail
 * kept reading under this name). Without a known rotation nothing is credited.
 */
function fromFilterLive(file: FileProgressQuery, paths: Map<string, FilterGeneration[]>, history: RotationRecord[]): FileProgress | undefined {
  const gens = paths.get(file.path);
  if (!gens || gens.length === 0) return undefined;
  const last = lastRotationSec(history, file.path);
  const lastMs = lastRotationMs(history, file.path);
  const g = gens[gens.length - 1];
  if (last === undefined || g.maxOffset >= file.size) return undefined;
  const after = g.firstMs !== undefined && lastMs !== undefined ? g.firstMs > lastMs : g.firstSec > last;
  if (!after) return undefined;
  return { readOffset: g.maxOffset, lastLineStart: file.lastLineStart, origin: "filter-live-path", detail: `filter: line at ${g.maxOffset} read (generation ${g.index}, started after the rotation at ${last})` };
}

/**
 * The generation's first record time lies strictly between the two moments. In milliseconds when both the
 * progress file (format 2) and the host's history have them — the true first time lies in [firstMs,
 * firstMs + precisionMs) — else in whole seconds, where a generation that started in the very second of a
 * rotation could be either file's and is not credited.
 */
function startedBetween(g: FilterGeneration, lowerSec: number, lowerMs: number | undefined, rotation: RotationRecord): boolean {
  if (g.firstMs !== undefined && lowerMs !== undefined && rotation.rotatedAtMs !== undefined) {
    return g.firstMs > lowerMs && g.firstMs + (g.precisionMs ?? 1000) <= rotation.rotatedAtMs;
  }
  return g.firstSec > lowerSec && g.firstSec < rotation.rotatedAtSec;
}

function previousRotationMs(history: RotationRecord[], r: RotationRecord): number | undefined {
  let prev: number | undefined;
  for (const h of history) {
    if (h.livePath === r.livePath && h.rotatedAtMs !== undefined && r.rotatedAtMs !== undefined && h.rotatedAtMs < r.rotatedAtMs && (prev === undefined || h.rotatedAtMs > prev)) prev = h.rotatedAtMs;
  }
  return prev;
}

function previousRotationSec(history: RotationRecord[], r: RotationRecord): number | undefined {
  let prev: number | undefined;
  for (const h of history) {
    if (h.livePath === r.livePath && h.rotatedAtSec < r.rotatedAtSec && (prev === undefined || h.rotatedAtSec > prev)) prev = h.rotatedAtSec;
  }
  return prev;
}

function lastRotationMs(history: RotationRecord[], livePath: string): number | undefined {
  let last: number | undefined;
  for (const h of history) if (h.livePath === livePath && h.rotatedAtMs !== undefined && (last === undefined || h.rotatedAtMs > last)) last = h.rotatedAtMs;
  return last;
}

function lastRotationSec(history: RotationRecord[], livePath: string): number | undefined {
  let last: number | undefined;
  for (const h of history) if (h.livePath === livePath && (last === undefined || h.rotatedAtSec > last)) last = h.rotatedAtSec;
  return last;
}

/** Of several confident credits, the one that counts the most bytes read. */
function best(credits: (FileProgress | undefined)[], size: number): FileProgress | undefined {
  let out: FileProgress | undefined;
  for (const c of credits) if (c && (!out || effectiveRead(c, size) > effectiveRead(out, size))) out = c;
  return out;
}

/**
 * Progress for each of a container's files, in the same order. `history` is the host's record of the
 * rotations it did (any container: only entries naming these paths matter).
 */
export function matchProgress(files: FileProgressQuery[], history: RotationRecord[], report: ProgressReport): FileProgress[] {
  const paths = report.filter?.paths ?? new Map<string, FilterGeneration[]>();
  return files.map((file) => {
    const db = fromDb(file, report.db, history);
    const filter = file.live ? fromFilterLive(file, paths, history) : fromFilterRotated(file, paths, history);
    return best([db, filter], file.size) ?? NONE(`no progress known for "${file.path}" (inode ${file.inode})`);
  });
}

/** Reads `length` bytes at `position` (a short read at the end of the file is fine). */
export type ReadAt = (path: string, position: number, length: number) => Promise<Buffer>;

const readAtReal: ReadAt = async (path, position, length) => {
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, position);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
};

const CHUNK = 64 * 1024;

/**
 * Offset where the last line of the first `size` bytes starts: just past the last '\n' before the final
 * byte, or 0. For a file ending in '\n' that is its last complete line; for one ending in a partial line
 * it is the partial line, which in_tail never emits, so such a file is never credited by a line-start
 * offset (holding it is the safe side). undefined for an empty file. Reads backwards in 64 KiB chunks.
 */
export async function findLastLineStart(path: string, size: number, readAt: ReadAt = readAtReal): Promise<number | undefined> {
  if (size <= 0) return undefined;
  let end = size - 1; // the final byte is the last line's own terminator (or part of it)
  while (end > 0) {
    const start = Math.max(0, end - CHUNK);
    const buf = await readAt(path, start, end - start);
    const nl = buf.lastIndexOf(0x0a);
    if (nl >= 0) return start + nl + 1;
    end = start;
  }
  return 0;
}

/**
 * findLastLineStart once per frozen file: keyed by inode and size, so a rotated file (which no longer
 * grows) is read once, and a file that changed is read again. Bounded; the oldest entry goes first.
 */
export class LastLineStartCache {
  private readonly entries = new Map<string, number | undefined>();
  constructor(
    private readonly maxEntries = 4096,
    private readonly readAt: ReadAt = readAtReal,
  ) {}

  async get(path: string, inode: number, size: number): Promise<number | undefined> {
    const key = `${inode}:${size}`;
    if (this.entries.has(key)) return this.entries.get(key);
    const value = await findLastLineStart(path, size, this.readAt);
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as string);
    this.entries.set(key, value);
    return value;
  }
}
