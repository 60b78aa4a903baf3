// Structured logging through one injected interface, `Logger`. The daemon's is pino writing one JSON object
// per line to stderr ({"level","ts","msg",...fields}); tests pass test/support/memory-logger.ts and assert
// on fields such as containerId and path.
import pino from "pino";

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every entry (the call's own fields win on a clash). */
  child(fields: LogFields): Logger;
}

export function isLogLevel(v: string): v is LogLevel {
  return (LOG_LEVELS as readonly string[]).includes(v);
}

/** An Error as data: message, code, and the cause chain's messages (a stack is noise in a log line). */
export function serializeError(err: Error): Record<string, unknown> {
  const out: Record<string, unknown> = { message: err.message };
  const code = (err as { code?: unknown }).code;
  if (code !== undefined) out.code = code;
  if (err.name && err.name !== "Error") out.name = err.name;
  const causes: string[] = [];
  for (let c = (err as { cause?: unknown }).cause, depth = 0; c !== undefined && depth < 5; depth++) {
    causes.push(c instanceof Error ? c.message : String(c));
    c = c instanceof Error ? (c as { cause?: unknown }).cause : undefined;
  }
  if (causes.length > 0) out.cause = causes.join(": ");
  return out;
}

/**
 * A file name or path (bytes) as text: itself when it is valid UTF-8, else with each byte of the invalid
 * parts written \xNN — never lossy, so a path in a log line is the path on disk.
 */
export function bytesAsText(b: Buffer): string {
  const text = b.toString("utf8");
  if (Buffer.from(text, "utf8").equals(b)) return text;
  let out = "";
  for (const byte of b) out += byte >= 0x20 && byte < 0x7f && byte !== 0x5c ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, "0")}`;
  return out;
}

function serializeValue(v: unknown): unknown {
  if (v instanceof Error) return serializeError(v);
  if (typeof v === "bigint") return v.toString();
  if (Buffer.isBuffer(v)) return bytesAsText(v);
  return v;
}

function serializeFields(fields: LogFields): LogFields {
  const out: LogFields = {};
  for (const [k, v] of Object.entries(fields)) out[k] = serializeValue(v);
  return out;
}

/** Our call shape (message first) over a pino logger. */
class PinoLogger implements Logger {
  constructor(private readonly p: pino.Logger) {}
  debug(msg: string, fields?: LogFields): void {
    if (this.p.isLevelEnabled("debug")) this.p.debug(fields ? serializeFields(fields) : {}, msg);
  }
  info(msg: string, fields?: LogFields): void {
    this.p.info(fields ? serializeFields(fields) : {}, msg);
  }
  warn(msg: string, fields?: LogFields): void {
    this.p.warn(fields ? serializeFields(fields) : {}, msg);
  }
  error(msg: string, fields?: LogFields): void {
    this.p.error(fields ? serializeFields(fields) : {}, msg);
  }
  child(fields: LogFields): Logger {
    return new PinoLogger(this.p.child(serializeFields(fields)));
  }
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Where the JSON lines go: stderr in the daemon. Written synchronously, so nothing is lost at exit. */
  stream?: { write(chunk: string): unknown };
}

/** One JSON object per line: {"level":"info","ts":"<ISO-8601>",...fields,"msg":"…"}. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const p = pino(
    {
      level: options.level ?? "info",
      base: undefined, // no pid/hostname: one process per node, the collector adds the node
      timestamp: () => `,"ts":"${new Date().toISOString()}"`,
      formatters: { level: (label) => ({ level: label }) },
    },
    (options.stream ?? process.stderr) as pino.DestinationStream,
  );
  return new PinoLogger(p);
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
