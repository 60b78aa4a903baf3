// One node as a user runs it, in a temp directory: containers writing numbered CRI lines (the fake runtime,
// test/fake-cri, whose writer behaves like containerd's — or a real runtime the caller runs, `cri`), the
// real shim (`bin/cri-logrotate.js run`, a subprocess talking CRI), a real Fluent Bit on
// examples/fluent-bit/fluent-bit.conf and a slow HTTP sink it ships to. Used by test/e2e-fluentbit and
// bench/fluentbit.ts.
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFakeRuntime, type FakeRuntime, type WriterOptions } from "../../fake-cri/index.js";
import { ShimProcess } from "../../e2e/support/shim.js";
import { defaultWasmPath } from "../../support/fluentbit-harness.js";
import { FluentBitProcess, fluentBitBinary, httpOutputReplacement, pathReplacements, prepareExampleDirs, renderClassicExample, type ExamplePaths, type Replacement } from "./fluent-bit.js";
import { SlowSink, account, type Accounting } from "./sink.js";

/** Which progress sources the shim reads; "kubelet" = none (the kubelet's blind rules). */
export type ShimMode = "kubelet" | "filter" | "db" | "both";

export interface NodeOptions {
  containers: number;
  writer: WriterOptions;
  mode: ShimMode;
  maxSize: string;
  maxFiles: number;
  /** Sink rate in bytes/s at the start (setSinkRate changes it). */
  sinkBytesPerSecond: number;
  /** Extra shim flags (e.g. --hold-timeout). */
  shimArgs?: string[];
  /** Replacements on top of the paths and the http output (test knobs; each must match the example). */
  fluentBitReplacements?: Replacement[];
  /** The filter's config file; default examples/fluent-bit/cri-logrotate-filter.conf as shipped. */
  filterConf?: string;
  /** The .wasm Fluent Bit loads (default build/cri-logrotate.wasm). */
  wasmPath?: string;
  /** Start without the shim (a Fluent Bit-only test). */
  noShim?: boolean;
  /** Tail this directory instead of a log root of the node's own (several nodes reading the same files). */
  logRoot?: string;
  /** Keep every record the sink gets as raw JSON (sink.raw). */
  keepRaw?: boolean;
  /** The sink's reading of a line number from a record's log (default: the fake writer's "<n> …"). */
  parseLine?: (log: string) => number | undefined;
  /** A real runtime instead of the fake one: its CRI endpoint and log root (containers are the caller's). */
  cri?: { endpoint: string; logRoot: string };
}

export const HOLD_TIMEOUT = "30m";

/** The CRI prefix `<RFC3339Nano> stdout F ` is at most this long. */
const CRI_PREFIX_BYTES = 40;

/**
 * Line n as `<n> xxx…x <n>`, about lineBytes long with its CRI prefix. The number at the end matters:
 * in_tail checks a DB offset it resumes from against the 32 bytes before it (offset_marker), and lines
 * that all end alike would pass that check for any file (see docs/shipper-aware.md, "A Fluent Bit bug").
 */
export function numberedBody(lineBytes: number): (n: number) => Buffer {
  return (n) => {
    const tail = ` ${n}`;
    const pad = Math.max(1, lineBytes - CRI_PREFIX_BYTES - String(n).length - tail.length - 2);
    return Buffer.from(`${n} ${"x".repeat(pad)}${tail}`);
  };
}

export class TestNode {
  fluentBit: FluentBitProcess | undefined;
  shim: ShimProcess | undefined;
  readonly fluentBitRuns: FluentBitProcess[] = [];
  private metricsUrl: string | undefined;

  private constructor(
    readonly dir: string,
    readonly paths: ExamplePaths,
    private readonly fake: FakeRuntime | undefined,
    readonly sink: SlowSink,
    readonly configFile: string,
    readonly containerIds: string[],
    private readonly opts: NodeOptions,
  ) {}

  static async start(opts: NodeOptions): Promise<TestNode> {
    fluentBitBinary(); // no binary (under CI=true): fail before anything is started that would need stopping
    const dir = await mkdtemp(join(tmpdir(), "crl-fb-"));
    const paths: ExamplePaths = {
      logRoot: opts.cri?.logRoot ?? opts.logRoot ?? join(dir, "pods"),
      fluentBitState: join(dir, "fluent-bit"),
      filterState: join(dir, "cri-logrotate"),
      wasm: opts.wasmPath ?? defaultWasmPath(),
    };
    await prepareExampleDirs(paths, opts.filterConf);
    const sink = new SlowSink({ logRoot: paths.logRoot, bytesPerSecond: opts.sinkBytesPerSecond, parseLine: opts.parseLine, keepRaw: opts.keepRaw });
    const port = await sink.start();
    // The example's path glob is /var/log/pods/*/*/*.log*: a real runtime's log root goes in as it is.
    const configFile = join(dir, "fluent-bit.conf");
    await writeFile(configFile, renderClassicExample([...pathReplacements(paths), httpOutputReplacement(port), ...(opts.fluentBitReplacements ?? [])]));

    const runtime = opts.cri || opts.containers === 0 ? undefined : await startFakeRuntime({ socketPath: join(dir, "cri.sock"), logRoot: paths.logRoot });
    const ids: string[] = [];
    for (let i = 0; runtime && i < opts.containers; i++) {
      const id = i.toString(16).padStart(64, "c");
      const uid = `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`;
      runtime.addContainer({ id, name: "app", podSandboxId: `pod-${i}`, state: "CONTAINER_RUNNING", logPath: join(paths.logRoot, `fb_pod-${i}_${uid}`, "app", "0.log") });
      ids.push(id);
    }
    const node = new TestNode(dir, paths, runtime, sink, configFile, ids, opts);
    node.startFluentBit();
    if (!opts.noShim) await node.startShim();
    return node;
  }

  /** "<ns>_<pod>_<uid>/<name>" of container i: what the sink keys deliveries by. */
  containerKey(i: number): string {
    return `fb_pod-${i}_00000000-0000-4000-8000-${String(i).padStart(12, "0")}/app`;
  }

  containerDir(i: number): string {
    return join(this.paths.logRoot, this.containerKey(i));
  }

  /** The fake runtime (absent when the node runs on a real one). */
  get runtime(): FakeRuntime {
    if (!this.fake) throw new Error("this node runs on a real runtime: no fake runtime to drive");
    return this.fake;
  }

  startFluentBit(): FluentBitProcess {
    const fb = FluentBitProcess.start(this.configFile);
    this.fluentBit = fb;
    this.fluentBitRuns.push(fb);
    return fb;
  }

  async restartFluentBit(): Promise<void> {
    await this.fluentBit?.stop();
    this.startFluentBit();
  }

  private shimArgs(): string[] {
    const o = this.opts;
    const args = [
      "run",
      "--runtime-endpoint", this.opts.cri?.endpoint ?? `unix://${join(this.dir, "cri.sock")}`,
      "--log-root", this.paths.logRoot,
      "--lock-file", join(this.dir, "shim.lock"),
      "--metrics-address", "127.0.0.1:0",
      "--container-log-max-size", o.maxSize,
      "--container-log-max-files", String(o.maxFiles),
      "--container-log-monitor-interval", "3s",
      "--compression", "gzip",
    ];
    if (o.mode === "filter" || o.mode === "both") args.push("--fluent-bit-progress-file", join(this.paths.filterState, "cri-logrotate-progress"));
    if (o.mode === "db" || o.mode === "both") args.push("--in-tail-db", join(this.paths.fluentBitState, "tail.db"));
    if (o.mode !== "kubelet" && !(o.shimArgs ?? []).includes("--hold-timeout")) args.push("--hold-timeout", HOLD_TIMEOUT);
    return [...args, ...(o.shimArgs ?? [])];
  }

  async startShim(): Promise<ShimProcess> {
    const shim = ShimProcess.start(this.shimArgs());
    this.shim = shim;
    const serving = await shim.waitForLog((e) => e.msg === "serving metrics", "serving metrics");
    this.metricsUrl = `http://${String(serving.address)}/metrics`;
    return shim;
  }

  /** Starts every container's writer (containers are added RUNNING without one). */
  startWriters(): void {
    for (const id of this.containerIds) this.runtime.startWriter(id, this.opts.writer);
  }

  stopWriters(): void {
    for (const id of this.containerIds) this.runtime.stopWriter(id);
  }

  setSinkRate(bytesPerSecond: number): void {
    this.sink.setRate(bytesPerSecond);
  }

  /** container key → lines written (numbered 0..n-1): the fake runtime's count, or what `setWritten` said. */
  written(): Map<string, number> {
    if (this.writtenOverride) return this.writtenOverride;
    return new Map(this.containerIds.map((id, i) => [this.containerKey(i), this.runtime.linesWritten(id)]));
  }

  private writtenOverride: Map<string, number> | undefined;

  /** On a real runtime the caller counts what its containers wrote. */
  setWritten(written: Map<string, number>): void {
    this.writtenOverride = written;
  }

  account(expectedMissing?: Map<string, Set<number>>): Accounting {
    return account(this.written(), this.sink.delivery, expectedMissing);
  }

  /**
   * Waits until every written line (but `expectedMissing`) has arrived and nothing arrived for `quietMs`
   * (late duplicates would come within that); with lines still missing, until nothing arrived for
   * 3 × quietMs (they are lost); at most timeoutMs. Returns the accounting.
   */
  async drain(opts: { timeoutMs: number; quietMs?: number; expectedMissing?: Map<string, Set<number>> }): Promise<Accounting & { timedOut: boolean; drainMs: number }> {
    const started = Date.now();
    const quietMs = opts.quietMs ?? 6_000;
    let last = this.sink.records;
    let lastChange = Date.now();
    for (;;) {
      await new Promise((r) => setTimeout(r, 500));
      const now = Date.now();
      if (this.sink.records !== last) {
        last = this.sink.records;
        lastChange = now;
      }
      const a = this.account(opts.expectedMissing);
      const quiet = now - lastChange;
      if ((a.lost === 0 && quiet >= quietMs) || quiet >= 3 * quietMs) return { ...a, timedOut: false, drainMs: lastChange - started };
      if (now - started > opts.timeoutMs) return { ...a, timedOut: true, drainMs: now - started };
    }
  }

  /** The shim's /metrics text. */
  async metrics(): Promise<string> {
    if (!this.metricsUrl) return "";
    const res = await fetch(this.metricsUrl);
    return res.text();
  }

  /** Sum of cri_logrotate_unread_bytes_dropped_total over its series. */
  async droppedUnreadBytes(): Promise<number> {
    let sum = 0;
    for (const line of (await this.metrics()).split("\n")) {
      const m = /^cri_logrotate_unread_bytes_dropped_total(?:\{[^}]*\})? (\S+)$/.exec(line);
      if (m) sum += Number(m[1]);
    }
    return sum;
  }

  /** The shim's "gave up unread log bytes" warnings. */
  dropWarnings(): number {
    return this.shim?.entries((e) => e.msg === "gave up unread log bytes to a limit").length ?? 0;
  }

  async listContainerDir(i: number): Promise<string[]> {
    return (await readdir(this.containerDir(i))).sort();
  }

  async close(keepDir = false): Promise<void> {
    if (this.fake) this.stopWriters();
    await Promise.all([this.shim?.stop(), ...this.fluentBitRuns.map((f) => f.kill())]);
    await this.fake?.close();
    await this.sink.close();
    if (!keepDir) await rm(this.dir, { recursive: true, force: true });
  }
}
