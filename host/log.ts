// Structured logging through an injected Logger: one JSON object per line on stderr in the daemon,
// a MemoryLogger in tests (assert on fields such as containerId and path), silentLogger elsewhere.

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every entry (the call's own fields win on a clash). */
  child(fields: LogFields): Logger;
}

const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function isLogLevel(v: string): v is LogLevel {
  return Object.hasOwn(LEVELS, v);
}

/** An Error as data: message, code, and the cause chain's messages (a stack is noise in a log line). */
export function serializeError(err: Error): Record<string, unknown> {
  const out: Record<string, unknown> = { message: err.message };
  const code = (err as { code?: unknown }).code;
  if (code !== undefined) out.code = code;
  if (err.name && err.name !== "Error") out.name = err.name;
  const cause = (err as { cause?: unknown }).cause;
  if (cause !== undefined) out.cause = cause instanceof Error ? cause.message : String(cause);
  return out;
}

function serializeValue(v: unknown): unknown {
  if (v instanceof Error) return serializeError(v);
  if (typeof v === "bigint") return v.toString();
  if (Buffer.isBuffer(v)) return v.toString("utf8"); // file names: readable, lossy only on invalid UTF-8
  return v;
}

function serializeFields(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) out[k] = serializeValue(v);
  return out;
}

export interface JsonLoggerOptions {
  level?: LogLevel;
  stream?: { write(chunk: string): unknown };
  clock?: () => Date;
}

class JsonLogger implements Logger {
  constructor(
    private readonly min: number,
    private readonly stream: { write(chunk: string): unknown },
    private readonly clock: () => Date,
    private readonly bound: LogFields,
  ) {}

  private write(level: LogLevel, msg: string, fields?: LogFields): void {
    if (LEVELS[level] < this.min) return;
    // ts, level and msg first and never overwritten by fields: they are what a reader greps for.
    const entry = { ...this.bound, ...(fields ? serializeFields(fields) : {}), ts: this.clock().toISOString(), level, msg };
    const { ts, level: l, msg: m, ...rest } = entry;
    let line: string;
    try {
      line = JSON.stringify({ ts, level: l, msg: m, ...rest });
    } catch (err) {
      // A cyclic field must not lose the message.
      line = JSON.stringify({ ts, level: l, msg: m, logError: `fields not serialisable: ${(err as Error).message}` });
    }
    this.stream.write(line + "\n");
  }

  debug(msg: string, fields?: LogFields): void { this.write("debug", msg, fields); }
  info(msg: string, fields?: LogFields): void { this.write("info", msg, fields); }
  warn(msg: string, fields?: LogFields): void { this.write("warn", msg, fields); }
  error(msg: string, fields?: LogFields): void { this.write("error", msg, fields); }

  child(fields: LogFields): Logger {
    return new JsonLogger(this.min, this.stream, this.clock, { ...this.bound, ...serializeFields(fields) });
  }
}

/** One JSON object per line: {"ts": ISO-8601, "level", "msg", ...fields}. */
export function jsonLogger(options: JsonLoggerOptions = {}): Logger {
  return new JsonLogger(
    LEVELS[options.level ?? "info"],
    options.stream ?? process.stderr,
    options.clock ?? (() => new Date()),
    {},
  );
}

/** Discards everything. */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return silentLogger;
  },
};

export interface LogEntry {
  level: LogLevel;
  msg: string;
  /** Child fields merged with the call's fields, values as given (Errors stay Errors). */
  fields: LogFields;
}

/** Records every entry, for tests. Children share the parent's `entries`. */
export class MemoryLogger implements Logger {
  readonly entries: LogEntry[];
  private readonly bound: LogFields;

  constructor(bound: LogFields = {}, entries: LogEntry[] = []) {
    this.bound = bound;
    this.entries = entries;
  }

  debug(msg: string, fields?: LogFields): void { this.entries.push({ level: "debug", msg, fields: { ...this.bound, ...fields } }); }
  info(msg: string, fields?: LogFields): void { this.entries.push({ level: "info", msg, fields: { ...this.bound, ...fields } }); }
  warn(msg: string, fields?: LogFields): void { this.entries.push({ level: "warn", msg, fields: { ...this.bound, ...fields } }); }
  error(msg: string, fields?: LogFields): void { this.entries.push({ level: "error", msg, fields: { ...this.bound, ...fields } }); }

  child(fields: LogFields): Logger {
    return new MemoryLogger({ ...this.bound, ...fields }, this.entries);
  }

  /** Entries at `level` (all if omitted) whose message contains `msg` (if given). */
  find(opts: { level?: LogLevel; msg?: string } = {}): LogEntry[] {
    return this.entries.filter((e) => (opts.level === undefined || e.level === opts.level) && (opts.msg === undefined || e.msg.includes(opts.msg)));
  }

  clear(): void {
    this.entries.length = 0;
  }
}
