// A real Fluent Bit, run the way a user runs it: the files in examples/fluent-bit/ with their paths
// substituted and nothing else changed, except where a caller says so (the one output the tests swap for
// an http output to their sink, and the test's own knobs — each named by the caller and checked to exist).
//
// The binary comes from FLUENT_BIT_BIN (scripts/build-fluent-bit.sh prints it). Without it the suite skips
// with a hint; under CI=true a missing binary is a broken runner, so it never skips.
import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, existsSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { repoFile } from "../../support/repo.js";

export const BUILD_HINT =
  "set FLUENT_BIT_BIN to a Fluent Bit 5.1.1 built with filter_wasm: " +
  "FLUENT_BIT_BIN=$(scripts/build-fluent-bit.sh ../shared/vendor/fluent-bit-5.1.1-src.tar.gz)";

function binaryProblem(bin: string | undefined): string | undefined {
  if (bin === undefined || bin === "") return `FLUENT_BIT_BIN is not set; ${BUILD_HINT}`;
  try {
    accessSync(bin, constants.X_OK);
  } catch {
    return `FLUENT_BIT_BIN=${bin} is not an executable file; ${BUILD_HINT}`;
  }
  return undefined;
}

const problem = binaryProblem(process.env.FLUENT_BIT_BIN);

/** The suite's `skip` option: the reason on a machine without Fluent Bit; never under CI=true (the suite then fails). */
export const fluentBitSkip: string | false = problem !== undefined && process.env.CI !== "true" ? problem : false;

/** The binary, or an error saying how to get one (the CI case: never a silent skip). */
export function fluentBitBinary(): string {
  if (problem !== undefined) throw new Error(`the fluentbit suite cannot run: ${problem}`);
  return process.env.FLUENT_BIT_BIN!;
}

export const EXAMPLES_DIR = repoFile("examples/fluent-bit");

/** Where the examples point, and what a test points them at instead. */
export interface ExamplePaths {
  /** /var/log/pods */
  logRoot: string;
  /** /var/lib/fluent-bit (the in_tail DB's directory) */
  fluentBitState: string;
  /** /var/lib/cri-logrotate (Accessible_Paths: the filter's config and progress file) */
  filterState: string;
  /** /opt/cri-logrotate/cri-logrotate.wasm */
  wasm: string;
}

/** One exact text replacement; `from` must occur in the file, or the example changed under the test. */
export type Replacement = [from: string, to: string];

function replaceAll(text: string, replacements: Replacement[], file: string): string {
  let out = text;
  for (const [from, to] of replacements) {
    if (!out.includes(from)) throw new Error(`${file} no longer contains ${JSON.stringify(from)}: update the test's substitution`);
    out = out.split(from).join(to);
  }
  return out;
}

/** The paths of examples/fluent-bit/fluent-bit.conf, replaced. */
export function pathReplacements(p: ExamplePaths): Replacement[] {
  return [
    ["/var/log/pods/", `${p.logRoot}/`],
    ["/var/lib/fluent-bit/", `${p.fluentBitState}/`],
    ["/opt/cri-logrotate/cri-logrotate.wasm", p.wasm],
    ["/var/lib/cri-logrotate", p.filterState],
  ];
}

/**
 * The example's stdout output becomes an http output to 127.0.0.1:<port> (same Match, same json_lines
 * format), retrying without limit so that a slow sink never makes Fluent Bit drop a chunk — the sink's
 * slowness is the test's, and a dropped chunk would be counted as lost lines that are not ours.
 */
export function httpOutputReplacement(port: number): Replacement {
  return [
    "[OUTPUT]\n    Name    stdout\n    Match   kube.*\n    Format  json_lines\n",
    `[OUTPUT]\n    Name    http\n    Match   kube.*\n    Format  json_lines\n    Host    127.0.0.1\n    Port    ${port}\n    URI     /ingest\n    Retry_Limit no_limits\n`,
  ];
}

/** examples/fluent-bit/fluent-bit.conf with `replacements` applied (each must match). */
export function renderClassicExample(replacements: Replacement[]): string {
  const file = join(EXAMPLES_DIR, "fluent-bit.conf");
  return replaceAll(readFileSync(file, "utf8"), replacements, file);
}

/** examples/fluent-bit/cri-logrotate-filter.conf, as shipped. */
export function filterConfExample(): string {
  return readFileSync(join(EXAMPLES_DIR, "cri-logrotate-filter.conf"), "utf8");
}

export interface FluentBitLogLine {
  at: number;
  text: string;
}

/** A Fluent Bit process with its log captured (stderr and stdout), stopped with SIGTERM like a pod. */
export class FluentBitProcess {
  readonly log: FluentBitLogLine[] = [];
  private child: ChildProcess;
  private readonly exited: Promise<number | null>;
  private pending = "";

  private constructor(
    readonly configFile: string,
    bin: string,
  ) {
    this.child = spawn(bin, ["-c", configFile], { stdio: ["ignore", "pipe", "pipe"] });
    const take = (chunk: string) => {
      this.pending += chunk;
      const lines = this.pending.split("\n");
      this.pending = lines.pop()!;
      const at = Date.now();
      for (const text of lines) if (text !== "") this.log.push({ at, text });
    };
    this.child.stdout!.setEncoding("utf8").on("data", take);
    this.child.stderr!.setEncoding("utf8").on("data", take);
    this.exited = new Promise((resolve) => this.child.once("close", (code, signal) => resolve(code ?? (signal ? -1 : null))));
  }

  static start(configFile: string): FluentBitProcess {
    return new FluentBitProcess(configFile, fluentBitBinary());
  }

  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Log lines matching `re`. */
  lines(re: RegExp): string[] {
    return this.log.filter((l) => re.test(l.text)).map((l) => l.text);
  }

  /** Resolves once a log line matches `re` (or rejects after timeoutMs, or if Fluent Bit exits). */
  async waitForLog(re: RegExp, timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.log.find((l) => re.test(l.text));
      if (hit) return hit.text;
      if (!this.running) throw new Error(`Fluent Bit exited before logging ${re}\n${this.tail()}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for Fluent Bit to log ${re}\n${this.tail()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Resolves once the pipeline runs (an output worker started). */
  async waitStarted(timeoutMs = 20_000): Promise<void> {
    await this.waitForLog(/\[output:[^\]]+\] worker #\d+ started/, timeoutMs);
  }

  /** SIGTERM (Fluent Bit flushes what it can within its Grace period), SIGKILL after timeoutMs. */
  async stop(timeoutMs = 30_000): Promise<number | null> {
    if (this.running) this.child.kill("SIGTERM");
    const timer = setTimeout(() => this.child.kill("SIGKILL"), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  async kill(): Promise<void> {
    if (this.running) this.child.kill("SIGKILL");
    await this.exited;
  }

  tail(lines = 30): string {
    return `--- fluent-bit log (last ${lines} lines) ---\n${this.log.slice(-lines).map((l) => l.text).join("\n")}`;
  }
}

/** Creates the directories the example needs (Accessible_Paths must exist before Fluent Bit starts). */
export async function prepareExampleDirs(p: ExamplePaths, filterConf = filterConfExample()): Promise<void> {
  await mkdir(p.logRoot, { recursive: true });
  await mkdir(p.fluentBitState, { recursive: true });
  await mkdir(p.filterState, { recursive: true });
  if (!existsSync(join(p.filterState, "cri-logrotate-filter.conf"))) await writeFile(join(p.filterState, "cri-logrotate-filter.conf"), filterConf);
}
