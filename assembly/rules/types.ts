// The data the rules work on. Pure values: no clock, no filesystem. Names are raw bytes
// (Uint8Array), never decoded as text, because a file name may hold any byte but '/' and NUL.

export type Name = Uint8Array;

export const enum EntryKind {
  Regular = 0,
  Symlink = 1,
  Directory = 2,
  Other = 3,
}

/** What the host knows about an entry beyond its lstat (bits of FileEntry.flags). */
export const enum EntryFlag {
  /** The name is another running container's live log: never ours, whatever it looks like. */
  Foreign = 1,
  /** The host's own background work is using this file right now (a compression's source or its .tmp). */
  Busy = 2,
}

export const enum ActionKind {
  Remove = 1,
  Compress = 2,
  Rotate = 3,
  Recover = 4,
  Hold = 5,
  /** The rules need the entry's digests (crc32/isize) before they can decide: gather them and plan again. */
  Verify = 6,
  /** Nothing to do, something to tell once: an odd entry the plan steps around. */
  Report = 7,
}

export const enum Reason {
  UnusedTmp = 1,
  UnusedCompressedTwin = 2,
  Excess = 3,
  CompressRotated = 4,
  SizeLimit = 5,
  LiveLogMissing = 6,
  ShipperUnread = 7,
  LimitUnreadBytes = 8,
  LimitHoldTimeout = 9,
  LimitRootBudget = 10,
  /** A rotated name that is the live log's own inode: a rotation cut between its link and its unlink. */
  InterruptedRotation = 11,
  /** X beside X.gz: is X.gz the compression of X? */
  TwinUnverified = 12,
  /** A symlink, directory or device where X.gz or X.tmp would go: X stays uncompressed. */
  CompressionBlocked = 13,
  /** X beside X.gz holding other data: both are kept as they are (X is not compressed). */
  TwinDiffers = 14,
  /** A live log name too long to give a rotated name within the 255-byte limit of file names. */
  NameTooLong = 15,
  /** The live log is a symlink, directory or device: someone else's path, never acted on. */
  LiveNotRegular = 16,
}

/** -1 in the i64 limits below means "no limit". */
export const NO_LIMIT: i64 = -1;
/** -1 in readOffset / lastLineStart / digests means "unknown". */
export const UNKNOWN: i64 = -1;
/** -2 in a digest: the host tried and could not read it (the rules then keep both files). */
export const UNAVAILABLE: i64 = -2;

export class Policy {
  maxSize: i64 = 10 * 1024 * 1024;
  maxFiles: i32 = 5;
  compress: bool = true;
  shipperAware: bool = false;
  maxUnreadBytesPerContainer: i64 = NO_LIMIT;
  holdTimeoutSeconds: i64 = NO_LIMIT;
  logRootBudget: i64 = NO_LIMIT;
}

export class FileEntry {
  constructor(
    public name: Name,
    public kind: u8 = <u8>EntryKind.Regular,
    public size: i64 = 0,
    public mtime: i64 = 0,
    public readOffset: i64 = UNKNOWN,
    public lastLineStart: i64 = UNKNOWN,
    public flags: u8 = 0,
    public inode: i64 = 0,
    /** A plain file: CRC-32 of its content. A .gz file: the CRC-32 its gzip trailer records. */
    public crc32: i64 = UNKNOWN,
    /** A .gz file: the uncompressed size mod 2^32 its gzip trailer records. */
    public isize: i64 = UNKNOWN,
  ) {}

  get foreign(): bool {
    return (this.flags & EntryFlag.Foreign) != 0;
  }

  get busy(): bool {
    return (this.flags & EntryFlag.Busy) != 0;
  }
}

export class ContainerSnapshot {
  constructor(
    public id: Name,
    public logName: Name,
    public entries: FileEntry[],
    /** True when `entries` holds the live log only: the host lists the directory if the rules ask. */
    public liveOnly: bool = false,
  ) {}
}

/**
 * A sentence for a person, in parts: `text`, then the quoted name (if any), then `tail`. Kept in parts so
 * that the encoder writes a large batch's details without building each string twice.
 */
export class Detail {
  constructor(
    public text: string,
    public name: Name | null = null,
    public tail: string = "",
  ) {}
}

export class Action {
  constructor(
    public kind: u8,
    public reason: u8,
    public name: Name,
    public unreadBytes: i64,
    public detail: Detail,
  ) {}
}

/** What the rules say about one container: a plan, or that they need the whole directory first. */
export class ContainerPlan {
  constructor(
    public actions: Action[],
    public needsListing: bool = false,
  ) {}
}
