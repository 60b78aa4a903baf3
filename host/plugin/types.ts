// The typed face of cri-logrotate.wasm. host/plugin/ is the only host code that knows the wire format
// (docs/abi.md); everything else speaks these types.
import type { ProgressClaim, ShipperName } from "../progress/types.js";

export type EntryKindName = "file" | "symlink" | "directory" | "other";
export type ActionKindName = "remove" | "compress" | "rotate" | "recover" | "hold";
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
  | "limit-root-budget";

/** One entry of a container log's directory. Names are raw bytes: any byte but '/' and NUL. */
export interface FileEntry {
  name: Buffer;
  kind: EntryKindName;
  size: number;
  mtime: number;           // unix seconds
  readOffset?: number;     // how far the shipper has read; undefined = unknown
  lastLineStart?: number;  // offset of the start of the last line; undefined = unknown
}

export interface ContainerSnapshot {
  id: string;
  logName: Buffer;         // base name of the live log, e.g. "0.log"
  entries: FileEntry[];
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
  actions: Action[];
}

export interface ConfigCheck {
  containerLogMaxSize: string;
  containerLogMaxFiles: number;
  containerLogMaxWorkers: number;
  containerLogMonitorIntervalMs: number;
}

export interface ListEntry { name: Buffer; kind: EntryKindName }

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
  listLogs(logName: Buffer, entries: ListEntry[]): Buffer[];
  /** Which shipper claims credit which file: one FileCredit per request file, in order. */
  creditProgress(request: CreditRequest): FileCredit[];
}
