// The typed face of cri-logrotate.wasm. host/plugin/ is the only host code that knows the wire format
// (docs/abi.md); everything else speaks these types.
import type { ProgressClaim, ShipperName } from "../progress/types.js";

export type EntryKindName = "file" | "symlink" | "directory" | "other";
export type ActionKindName = "remove" | "compress" | "rotate" | "recover" | "hold" | "verify" | "report";
export type ReasonName =
  | "unused-tmp"
  | "unused-compressed-twin"
  | "excess"
  | "compress-rotated"
  | "size-limit"
  | "live-log-missing"
  | "shipper-unread"
  | "limit-unread-bytes"
  | "limit-hold-timeout"
  | "limit-root-budget"
  | "interrupted-rotation"
  | "twin-unverified"
  | "compression-blocked"
  | "twin-differs"
  | "name-too-long"
  | "live-not-regular";

/** A digest the host tried to read and could not (FileEntry.crc32 / isize): the rules keep both files. */
export const DIGEST_UNAVAILABLE = -2;

/** One entry of a container log's directory. Names are raw bytes: any byte but '/' and NUL. */
export interface FileEntry {
  name: Buffer;
  kind: EntryKindName;
  size: number;
  mtime: number;           // unix seconds
  inode?: number;          // 0 / undefined = unknown
  readOffset?: number;     // how far the shipper has read; undefined = unknown
  lastLineStart?: number;  // offset of the start of the last line; undefined = unknown
  /** Another running container's live log: never ours, whatever its name looks like. */
  foreign?: boolean;
  /** The host's own background work uses it now (a compression's source or its .tmp). */
  busy?: boolean;
  /** Plain file: CRC-32 of the content; .gz: the CRC-32 in its trailer. undefined = unknown. */
  crc32?: number;
  /** .gz: the uncompressed size mod 2^32 in its trailer. undefined = unknown. */
  isize?: number;
}

export interface ContainerSnapshot {
  id: string;
  logName: Buffer;         // base name of the live log, e.g. "0.log"
  entries: FileEntry[];
  /** `entries` holds the live log only; the rules answer "needs-listing" when they need the directory. */
  liveOnly?: boolean;
}

export interface Policy {
  maxSize: number;         // bytes; negative disables rotation
  maxFiles: number;
  compress: boolean;
  shipperAware: boolean;
  maxUnreadBytesPerContainer?: number;  // undefined = no limit
  holdTimeoutSeconds?: number;
  logRootBudget?: number;
}

export interface Action {
  kind: ActionKindName;
  reason: ReasonName;
  name: Buffer;            // see docs/abi.md: the file, or the new rotated name for "rotate"
  unreadBytes: number;
  detail: string;
}

export interface ContainerPlan {
  id: string;
  /** planned: `actions` is the plan; needs-listing: plan again with every entry; rejected: see `error`. */
  outcome: "planned" | "needs-listing" | "rejected";
  actions: Action[];
  error?: Error;
}

/** Two size samples of one live log (crl_check_growth); prevAtMs < 0 when there is only one. */
export interface GrowthSample {
  size: number;
  atMs: number;
  prevSize: number;
  prevAtMs: number;
}

export interface GrowthDecision {
  rotateNow: boolean;
  /** When to look again; -1 = not before the next pass. */
  nextCheckAtMs: number;
}

export interface ConfigCheck {
  containerLogMaxSize: string;
  containerLogMaxFiles: number;
  containerLogMaxWorkers: number;
  containerLogMonitorIntervalMs: number;
}

/** One of a container's files, as the host found it (through Fs), for crl_credit_progress. */
export interface CreditFile {
  path: Buffer;
  live: boolean;
  /** st_dev and st_ino, exact (bigint): Vector writes them as u64. */
  dev?: bigint;
  inode: bigint;
  size: number;
  /** Start of the last complete line (rotated files); undefined = unknown. */
  lastLineStart?: number;
  /** CRC-64/ECMA-182 of the first line including its '\n', only when complete (as Vector computes it). */
  firstLineCrc64?: bigint;
  /** The file's first bytes, as many as a first-bytes claim needs; undefined = unknown. */
  firstBytes?: Buffer;
  /** Unix ms by which the file existed: its birth time; undefined = unknown. */
  bornMs?: number;
}

/** One rotation the host did: inode `inode` at livePath was renamed to rotatedPath at rotatedAtMs. */
export interface CreditRotation {
  livePath: Buffer;
  inode: bigint;
  rotatedPath: Buffer;
  /** Unix ms, taken after the rename and before the runtime reopened the live path. */
  rotatedAtMs: number;
  /** Unix ms from which this inode lived at livePath; undefined = the previous rotation of that path. */
  liveSinceMs?: number;
}

export interface CreditRequest {
  files: CreditFile[];
  history: CreditRotation[];
  claims: ProgressClaim[];
}

export type CreditOrigin =
  | "none"
  | "inode-path"
  | "inode-former-path"
  | "generation-rotated-path"
  | "generation-at-rename"
  | "generation-live-path"
  | "dev-inode"
  | "first-line-crc64"
  | "first-bytes"
  | "path-rotated-path"
  | "path-before-rename"
  | "path-live";

/** What the rules credit one file with: the two inputs of the plan's isFullyRead. */
export interface FileCredit {
  /** How far the shipper has read; undefined = unknown (nothing credited). */
  readOffset?: number;
  /**
   * readOffset is the START of a line (the Fluent Bit filter's Offset_Key): then the plan compares it
   * with the file's lastLineStart. Otherwise it is past the last byte read, and comparing it with
   * lastLineStart would credit an unread last line.
   */
  lineStart: boolean;
  origin: CreditOrigin;
  shipper?: ShipperName;
  /** Why, in a sentence (dry run, logs). */
  detail: string;
}

/** The rules, as the host sees them. */
export interface Plugin {
  abiVersion(): number;
  planRotation(snapshots: ContainerSnapshot[], now: number, policy: Policy): ContainerPlan[];
  parseQuantity(text: string | Buffer): bigint;
  /** Throws PluginError INVALID_CONFIG with the kubelet's message; returns the parsed max size. */
  validateConfig(check: ConfigCheck): bigint;
  listLogs(logName: Buffer, entries: FileEntry[]): Buffer[];
  /** Every entry that belongs to the container (its live log and rotated names): what `clean` removes. */
  containerEntries(logName: Buffer, entries: FileEntry[]): Buffer[];
  /** The name to rename the live log to at `now` (unix seconds), given every entry of its directory. */
  rotatedName(logName: Buffer, entries: FileEntry[], now: number): Buffer;
  checkGrowth(samples: GrowthSample[], maxSize: number, maxWaitMs: number): GrowthDecision[];
  /** Which shipper claims credit which file: one FileCredit per request file, in order. */
  creditProgress(request: CreditRequest): FileCredit[];
}
