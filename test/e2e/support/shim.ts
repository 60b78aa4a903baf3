// The shim as an operator runs it: `node bin/cri-logrotate.js <command> …` in a real subprocess, its JSON log
// lines (stderr) parsed as they arrive so a test can wait for what it said and assert on the fields.
import { spawn, type ChildProcess } from "node:child_process";
import { repoFile } from "../../support/repo.js";

export const SHIM_BIN = repoFile("bin/cri-logrotate.js");

/** One line of the shim's JSON log; `at` is when the test received it (ms since the epoch). */
export interface ShimLogEntry {
  ts: string;
  level: "debug" | "info" | "warn" | "error";
  msg: string;
  containerId?: string;
  at: number;
  [field: string]: unknown;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  logs: ShimLogEntry[];
}

/** Runs one CLI command to its end (`once`, `clean <id>`, `logs <id>`, `plan`). */
export function runCli(args: string[], timeoutMs = 30_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SHIM_BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(new Error(`failed to run ${SHIM_BIN} ${args.join(" ")}`, { cause: err }));
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, logs: parseLogLines(stderr, Date.now()) });
    });
  });
}

/** The daemon (`run …`) in the background. */
export class ShimProcess {
  readonly logs: ShimLogEntry[] = [];
  /** Everything on stderr that was not a JSON log line (usage errors, crashes). */
  readonly otherStderr: string[] = [];
  private readonly child: ChildProcess;
  private readonly exited: Promise<number | null>;
  private pending = "";
  private waiters: { check: () => boolean; resolve: () => void }[] = [];
  private readonly listeners: ((e: ShimLogEntry) => void)[] = [];

  private constructor(readonly args: string[], script = SHIM_BIN) {
    this.child = spawn(process.execPath, [script, ...args], { stdio: ["ignore", "ignore", "pipe"] });
    this.child.stderr!.setEncoding("utf8").on("data", (chunk: string) => this.take(chunk));
    this.exited = new Promise((resolve) => {
      this.child.once("close", (code, signal) => {
        this.take("\n");
        resolve(code ?? (signal === null ? null : -1));
        this.wake();
      });
    });
  }

  static start(args: string[]): ShimProcess {
    return new ShimProcess(args);
  }

  /** Another node script that logs JSON lines on stderr the same way (e.g. test/support/kubelet-rotator-main). */
  static startScript(script: string, args: string[]): ShimProcess {
    return new ShimProcess(args, script);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /** Calls `listener` with every log entry from now on, as it arrives. */
  onLog(listener: (e: ShimLogEntry) => void): void {
    this.listeners.push(listener);
  }

  /** The log entries matching `pred`, in order. */
  entries(pred: (e: ShimLogEntry) => boolean): ShimLogEntry[] {
    return this.logs.filter(pred);
  }

  /** Resolves with the first entry (from index `from` of the log) matching `pred`. */
  async waitForLog(pred: (e: ShimLogEntry) => boolean, what: string, timeoutMs = 15_000, from = 0): Promise<ShimLogEntry> {
    const find = () => this.logs.slice(from).find(pred);
    let found = find();
    if (found) return found;
    await new Promise<void>((resolve, reject) => {
      const waiter = {
        check: () => (found = find()) !== undefined || !this.running,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for the shim to log ${what}\n${this.tail()}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
    if (!found) throw new Error(`the shim exited before it logged ${what}\n${this.tail()}`);
    return found;
  }

  /** SIGTERM, as systemd or the kubelet's pod stop would send; resolves with the exit code. */
  async stop(timeoutMs = 15_000): Promise<number | null> {
    if (this.running) this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** For `after`: no shim outlives the suite, whatever happened. */
  async kill(): Promise<void> {
    if (this.running) this.child.kill("SIGKILL");
    await this.exited;
  }

  /** The last log lines, for failure messages. */
  tail(lines = 15): string {
    const text = [...this.logs.map((e) => JSON.stringify(e)), ...this.otherStderr].slice(-lines).join("\n");
    return `--- shim stderr (last ${lines} lines) ---\n${text}`;
  }

  private take(chunk: string): void {
    this.pending += chunk;
    const lines = this.pending.split("\n");
    this.pending = lines.pop()!;
    const now = Date.now();
    for (const line of lines) {
      if (line === "") continue;
      const entry = parseLogLine(line, now);
      if (entry) {
        this.logs.push(entry);
        for (const l of this.listeners) l(entry);
      } else this.otherStderr.push(line);
    }
    this.wake();
  }

  private wake(): void {
    const ready = this.waiters.filter((w) => w.check());
    this.waiters = this.waiters.filter((w) => !ready.includes(w));
    for (const w of ready) w.resolve();
  }
}

function parseLogLine(line: string, at: number): ShimLogEntry | undefined {
  try {
    const v = JSON.parse(line) as unknown;
    if (typeof v !== "object" || v === null || typeof (v as { msg?: unknown }).msg !== "string") return undefined;
    return { ...(v as Omit<ShimLogEntry, "at">), at } as ShimLogEntry;
  } catch {
    return undefined;
  }
}

function parseLogLines(text: string, at: number): ShimLogEntry[] {
  return text.split("\n").flatMap((l) => {
    const e = l === "" ? undefined : parseLogLine(l, at);
    return e ? [e] : [];
  });
}
