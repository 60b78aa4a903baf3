// A container's log writer as containerd has it (internal/cri/io/logger.go): one fd opened
// O_WRONLY|O_CREAT|O_APPEND mode 0640, CRI lines `<RFC3339Nano> stdout F <content>`. A rename of the file does
// not move the writer: it keeps appending to the renamed inode until reopen() opens a new file at the path.
// Writes are synchronous, so every line lands whole in exactly one file and linesWritten is exact.

import * as fs from "node:fs";
import * as path from "node:path";

export interface WriterOptions {
  /** Lines appended per tick. */
  linesPerTick: number;
  /** Tick period; 0 = no timer, the test calls tick() itself. */
  intervalMs: number;
  /** Pad each line (newline included) to this many bytes; the content still starts with the line number. */
  lineBytes?: number;
  /**
   * The content of line n (what follows `<time> stdout F `, without the newline), as bytes: for lines that
   * are not plain padded text (very long lines, invalid UTF-8). Overrides lineBytes.
   */
  body?: (n: number) => Buffer;
}

const OPEN_FLAGS = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_APPEND;
const LOG_MODE = 0o640;

/** Go's time.RFC3339Nano: nanoseconds with trailing zeros trimmed. */
export function rfc3339Nano(now: Date = new Date(), subMillisNanos = Number(process.hrtime.bigint() % 1_000_000n)): string {
  const iso = now.toISOString(); // 2026-11-27T00:06:35.350Z
  const fraction = (iso.slice(20, 23) + String(subMillisNanos).padStart(6, "0")).replace(/0+$/, "");
  return iso.slice(0, 19) + (fraction === "" ? "" : "." + fraction) + "Z";
}

export function criLine(n: number, lineBytes?: number): string {
  const prefix = `${rfc3339Nano()} stdout F ${n}`;
  if (lineBytes === undefined || prefix.length + 1 >= lineBytes) return prefix + "\n";
  return prefix + " " + "x".repeat(lineBytes - prefix.length - 2) + "\n";
}

/** A CRI line around raw content bytes (any byte but '\n'). */
export function criLineBytes(body: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${rfc3339Nano()} stdout F `), body, Buffer.from("\n")]);
}

export class LogWriter {
  private fd: number;
  private timer: NodeJS.Timeout | undefined;
  private written = 0;
  private stopped = false;

  constructor(
    readonly logPath: string | Buffer,
    private readonly options: WriterOptions,
  ) {
    fs.mkdirSync(Buffer.isBuffer(logPath) ? logPath.subarray(0, logPath.lastIndexOf(0x2f)) : path.dirname(logPath), { recursive: true });
    this.fd = fs.openSync(logPath, OPEN_FLAGS, LOG_MODE);
    if (options.intervalMs > 0) {
      this.timer = setInterval(() => this.tick(), options.intervalMs);
      this.timer.unref(); // a forgotten writer must not keep the test process alive
    }
  }

  get linesWritten(): number {
    return this.written;
  }

  get running(): boolean {
    return !this.stopped;
  }

  /** Appends `lines` (default linesPerTick) numbered lines to the current fd. */
  tick(lines = this.options.linesPerTick): void {
    if (this.stopped) return;
    const body = this.options.body;
    if (body) {
      const parts: Buffer[] = [];
      for (let i = 0; i < lines; i++) parts.push(criLineBytes(body(this.written + i)));
      fs.writeSync(this.fd, Buffer.concat(parts));
    } else {
      let chunk = "";
      for (let i = 0; i < lines; i++) chunk += criLine(this.written + i, this.options.lineBytes);
      fs.writeSync(this.fd, chunk);
    }
    this.written += lines;
  }

  /** containerd's ReopenContainerLog: a new file at the same path, then the old fd is closed. */
  reopen(): void {
    if (this.stopped) throw new Error("writer is stopped");
    const next = fs.openSync(this.logPath, OPEN_FLAGS, LOG_MODE);
    const previous = this.fd;
    this.fd = next;
    fs.closeSync(previous);
  }

  /** Stops the timer and closes the fd. Writes are synchronous, so nothing is left to flush. */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    fs.closeSync(this.fd);
  }
}
