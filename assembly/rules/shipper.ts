// Has the log shipper finished with a file? The host reports, per file, how far the shipper has read
// (readOffset) and where the file's last line starts (lastLineStart); -1 means unknown.

import { FileEntry, UNKNOWN } from "./types";
import { asciiBytes, hasSuffix } from "./bytes";

const GZ = asciiBytes(".gz");

/**
 * True when the shipper has read the whole file: its offset reached the size, or it reached the start
 * of the last line. The second form is there because Fluent Bit's Offset_Key records the offset of the
 * START of a record's line, so for a file that no longer grows (a rotated one) the last offset we ever
 * see is where its last line starts, not its size. An unknown offset (-1) means nothing was read.
 * A `.gz` file counts as read: shippers are set to skip compressed files (Exclude_Path *.gz; Vector's
 * default), and in shipper-aware mode only a file already read is ever compressed — so one with no
 * progress (say, compressed by the kubelet before the hand-over) would otherwise be held for ever.
 */
export function isFullyRead(e: FileEntry): bool {
  if (isCompressedName(e.name)) return true;
  if (e.readOffset == UNKNOWN || e.readOffset < 0) return false;
  if (e.readOffset >= e.size) return true;
  return e.lastLineStart >= 0 && e.readOffset >= e.lastLineStart;
}

/** The name ends with ".gz". */
export function isCompressedName(name: Uint8Array): bool {
  return hasSuffix(name, GZ);
}

/** Bytes the shipper has not read yet: 0 when fully read, never negative. */
export function unreadBytes(e: FileEntry): i64 {
  if (isFullyRead(e)) return 0;
  const read: i64 = e.readOffset > 0 ? e.readOffset : 0;
  const left = e.size - read;
  return left > 0 ? left : 0;
}
