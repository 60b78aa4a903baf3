// A Logger that records every entry, so tests can assert on what was logged and with which fields.
import type { LogFields, Logger, LogLevel } from "../../host/log.js";

export interface LogEntry {
  level: LogLevel;
  msg: string;
  /** Child fields merged with the call's fields, values as given (Errors stay Errors). */
  fields: LogFields;
}

/** Records every entry. Children share the parent's `entries`. */
export class MemoryLogger implements Logger {
  readonly entries: LogEntry[];
  private readonly bound: LogFields;

  constructor(bound: LogFields = {}, entries: LogEntry[] = []) {
    this.bound = bound;
    this.entries = entries;
  }

  debug(msg: string, fields?: LogFields): void {
    this.add("debug", msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.add("info", msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.add("warn", msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.add("error", msg, fields);
  }

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

  private add(level: LogLevel, msg: string, fields?: LogFields): void {
    this.entries.push({ level, msg, fields: { ...this.bound, ...fields } });
  }
}
