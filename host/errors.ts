// Every error the shim raises on purpose, in one place. Each class names the room it comes from, carries a
// stable `code` (prefixed by that room: CONFIG_, PATH_, EXEC_, CRI_, LOCK_, PLUGIN_, PROGRESS_, METRICS_)
// and keeps the underlying error as `cause`. Callers match with `instanceof` and `code`, never on the
// message. The message says what failed and, where the user can act, what to change.
import type * as grpc from "@grpc/grpc-js";

/** The base of every cri-logrotate error. */
export abstract class CrlError<Code extends string = string> extends Error {
  readonly code: Code;
  constructor(code: Code, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
  }
}

/** A configuration the daemon cannot run with (exit 2). */
export class ConfigError extends CrlError<"CONFIG_INVALID"> {
  constructor(message: string, options?: { cause?: unknown }) {
    super("CONFIG_INVALID", message, options);
  }
}

/**
 * A log path we will not act on. PATH_MISSING is the one that may heal by itself (the runtime reports a
 * container before its log directory exists): the path is checked again later.
 */
export class PathError extends CrlError<"PATH_UNSAFE" | "PATH_MISSING"> {
  get transient(): boolean {
    return this.code === "PATH_MISSING";
  }
}

export type ExecErrorCode =
  | "EXEC_REFUSED" // what is on disk is not what the plan expected (not a regular file, would overwrite…)
  | "EXEC_REMOVE_FAILED"
  | "EXEC_COMPRESS_FAILED"
  | "EXEC_ROTATE_FAILED"
  | "EXEC_REOPEN_FAILED"
  | "EXEC_RECOVER_FAILED";

/** A step of a container's plan failed; the other containers go on. */
export class ExecError extends CrlError<ExecErrorCode> {}

export type CriErrorCode =
  | "CRI_BAD_ENDPOINT" // the configured endpoint is not a unix socket path
  | "CRI_SOCKET_MISSING" // no socket file at the endpoint
  | "CRI_UNAVAILABLE" // the socket exists but nobody answers
  | "CRI_NOT_V1" // the runtime does not serve runtime.v1 (gRPC UNIMPLEMENTED)
  | "CRI_DEADLINE" // the call did not finish within the timeout
  | "CRI_CANCELLED" // we gave up on the call (shutting down)
  | "CRI_BAD_ANSWER" // the runtime answered something we cannot use (no status, no log path)
  | "CRI_CALL_FAILED"; // the runtime answered with an error (see grpcCode / details)

/** A CRI call failed. */
export class CriError extends CrlError<CriErrorCode> {
  readonly endpoint: string | undefined;
  readonly method: string | undefined;
  /** The gRPC status code when the runtime (or the channel) produced one, e.g. 5 for NOT_FOUND. */
  readonly grpcCode: grpc.status | undefined;
  /** The gRPC status details, e.g. containerd's "container is not running". */
  readonly details: string | undefined;

  constructor(
    message: string,
    opts: { code: CriErrorCode; endpoint?: string; method?: string; grpcCode?: grpc.status; details?: string; cause?: unknown },
  ) {
    super(opts.code, message, { cause: opts.cause });
    this.endpoint = opts.endpoint;
    this.method = opts.method;
    this.grpcCode = opts.grpcCode;
    this.details = opts.details;
  }
}

/** The single-instance lock: held by someone else (LOCK_HELD), or it could not be read or written. */
export class LockError extends CrlError<"LOCK_HELD" | "LOCK_FAILED"> {
  readonly path: string;
  readonly pid: number | undefined;
  constructor(code: "LOCK_HELD" | "LOCK_FAILED", message: string, opts: { path: string; pid?: number; cause?: unknown }) {
    super(code, message, { cause: opts.cause });
    this.path = opts.path;
    this.pid = opts.pid;
  }
}

/**
 * A failure reported by (or while talking to) cri-logrotate.wasm: PLUGIN_<STATUS> for a status the module
 * returned (PLUGIN_INVALID_CONFIG, PLUGIN_BAD_NAME, … see host/plugin/status.ts), or PLUGIN_LOAD /
 * PLUGIN_TRAP / PLUGIN_BAD_RESPONSE for the module itself.
 */
export class PluginError extends CrlError<`PLUGIN_${string}`> {}

export type ProgressSourceErrorCode =
  | "PROGRESS_FILE_READ" // a position file exists but could not be read
  | "PROGRESS_FILE_CORRUPT" // it was read but does not parse: none of it is credited
  | "PROGRESS_FILE_UNSUPPORTED" // a format (or version) we recognise but do not read
  | "PROGRESS_FILE_BUSY" // it changed during every read (a shipper committing): retried next pass
  | "PROGRESS_DB_READ" // Fluent Bit's in_tail DB could not be read
  | "PROGRESS_DB_BUSY" // … because it is locked right now (retried next pass)
  | "PROGRESS_SOURCE_FAILED"; // a source threw where it should have reported (a bug): its files count as unread

/** A shipper progress source failed; what it could not read is simply not credited. */
export class ProgressSourceError extends CrlError<ProgressSourceErrorCode> {
  readonly path: string;
  constructor(code: ProgressSourceErrorCode, path: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.path = path;
  }
}

/** The metrics server could not start. */
export class MetricsServerError extends CrlError<"METRICS_ADDRESS" | "METRICS_LISTEN"> {}
