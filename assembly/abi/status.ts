// Status codes returned in every response header. Mirrored in host/plugin/status.ts; docs/abi.md has
// the table. Numbers are part of the ABI: never renumber, only append.
export const enum Status {
  Ok = 0,
  Truncated = 1,
  BadMagic = 2,
  BadVersion = 3,
  BadName = 4,
  BadPolicy = 5,
  BadQuantity = 6,
  TooLarge = 7,
  BadPointer = 8,
  TrailingBytes = 9,
  InvalidConfig = 10,
  BadValue = 11,
}

export const ABI_VERSION: i32 = 2;

// Request magics, as the u32 read little-endian from the first four bytes.
export const MAGIC_PLAN: u32 = 0x504c5243; // "CRLP"
export const MAGIC_VALIDATE: u32 = 0x564c5243; // "CRLV"
export const MAGIC_LIST: u32 = 0x4c4c5243; // "CRLL"
export const MAGIC_NAME: u32 = 0x4e4c5243; // "CRLN"
export const MAGIC_GROWTH: u32 = 0x474c5243; // "CRLG"

/** What a plan response says about one container (the u8 before its plan). */
export const enum ContainerOutcome {
  Planned = 0,
  /** The snapshot held the live log only and the rules need every entry of its directory. */
  NeedsListing = 1,
  /** This container's part of the request is invalid (a Status and a message follow); the others are planned. */
  Rejected = 2,
}

// Limits that keep a malformed or hostile request from making the module allocate without bound.
export const MAX_CONTAINERS: u32 = 65536;
export const MAX_ENTRIES: u32 = 65536;
export const MAX_NAME_BYTES: u32 = 4096;
export const MAX_REQUEST_BYTES: usize = 256 << 20;

// crl_credit_progress (assembly/abi/credit.ts).
export const MAGIC_CREDIT: u32 = 0x434c5243; // "CRLC"
export const MAX_CREDIT_FILES: u32 = 65536;
export const MAX_ROTATIONS: u32 = 65536;
export const MAX_CLAIMS: u32 = 1 << 20;
/** A path (not a name: it holds '/'): Linux's PATH_MAX. */
export const MAX_PATH_BYTES: u32 = 4096;
/** A first-bytes fingerprint (the OpenTelemetry collector's default is 1000 bytes). */
export const MAX_FINGERPRINT_BYTES: u32 = 4096;
/**
 * What went wrong last in the Fluent Bit filter (crl_fluentbit_stats' lastStatus; docs/abi.md). Mirrored
 * as FilterStatus in host/plugin/status.ts. 1–5 are the record scanner's RecordStatus values; a failed
 * progress write is WriteFailed + the WASI errno.
 */
export const enum FilterStatus {
  None = 0,
  NotObject = 1,
  Syntax = 2,
  Truncated = 3,
  TooDeep = 4,
  TrailingBytes = 5,
  OffsetNotInteger = 12,
  OffsetOutOfRange = 13,
  PathTooLong = 20,
  RecordOutsideMemory = 30,
  EmptyRecord = 31,
  WriteFailed = 100,
}
