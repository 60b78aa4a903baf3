// The data the rules work on. Pure values: no clock, no filesystem. Names are raw bytes
// (Uint8Array), never decoded as text, because a file name may hold any byte but '/' and NUL.

export type Name = Uint8Array;

export const enum EntryKind {
  Regular = 0,
  Symlink = 1,
  Directory = 2,
  Other = 3,
}

export const enum ActionKind {
  Remove = 1,
  Compress = 2,
  Rotate = 3,
  Recover = 4,
  Hold = 5,
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
}

/** -1 in the i64 limits below means "no limit". */
export const NO_LIMIT: i64 = -1;
/** -1 in readOffset / lastLineStart means "unknown". */
export const UNKNOWN: i64 = -1;

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
  ) {}
}

export class ContainerSnapshot {
  constructor(
    public id: Name,
    public logName: Name,
    public entries: FileEntry[],
  ) {}
}

export class Action {
  constructor(
    public kind: u8,
    public reason: u8,
    public name: Name,
    public unreadBytes: i64,
    public detail: string,
  ) {}
}
