// The typed face of cri-logrotate.wasm. host/plugin/ is the only host code that knows the wire format
// (docs/abi.md); everything else speaks these types.

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

/** The rules, as the host sees them. */
export interface Plugin {
  abiVersion(): number;
  planRotation(snapshots: ContainerSnapshot[], now: number, policy: Policy): ContainerPlan[];
  parseQuantity(text: string | Buffer): bigint;
  /** Throws PluginError INVALID_CONFIG with the kubelet's message; returns the parsed max size. */
  validateConfig(check: ConfigCheck): bigint;
  listLogs(logName: Buffer, entries: ListEntry[]): Buffer[];
}
