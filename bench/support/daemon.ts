// The daemon as users run it, for benchmarks that measure the process itself: `cri-logrotate run`
// (bin/cri-logrotate.js) in a child process with the NODE_OPTIONS the image sets (Containerfile's ENV;
// the systemd unit sets the same), the defaults of `run` (growth checks on, metrics served), against a
// runtime socket and log root the caller prepared. The pass count and the V8 figures come from its own
// /metrics, as Prometheus would see them.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { containerfileFinalStage } from "../../test/support/containerfile.js";
import { repoFile } from "../../test/support/repo.js";

/** NODE_OPTIONS of the image (Containerfile's final stage), "" when it sets none. */
export function imageNodeOptions(): string {
  const env = containerfileFinalStage(readFileSync(repoFile("Containerfile"), "utf8")).env;
  const entry = env.find((kv) => kv.startsWith("NODE_OPTIONS="));
  return entry === undefined ? "" : entry.slice("NODE_OPTIONS=".length);
}

export interface DaemonOptions {
  socketPath: string;
  logRoot: string;
  /** Working directory: the lock goes here, and heap snapshots when `heapSnapshotSignal`. */
  dir: string;
  /** Seconds between passes. */
  intervalSeconds: number;
  /** NODE_OPTIONS for the child (default: the image's; `DAEMON_NODE_OPTIONS` in the environment overrides it, to compare). */
  nodeOptions?: string;
  /** Lets the caller ask for a heap snapshot with SIGUSR2 (node's --heapsnapshot-signal; nothing else changes). */
  heapSnapshotSignal?: boolean;
}

export interface RunningDaemon {
  child: ChildProcess;
  pid: number;
  nodeOptions: string;
  /** The text of /metrics now. */
  scrape(): Promise<string>;
  stop(): Promise<void>;
}

export async function startDaemon(o: DaemonOptions): Promise<RunningDaemon> {
  const nodeOptions = o.nodeOptions ?? process.env.DAEMON_NODE_OPTIONS ?? imageNodeOptions();
  const env = { ...process.env, NODE_OPTIONS: [nodeOptions, o.heapSnapshotSignal ? "--heapsnapshot-signal=SIGUSR2" : ""].filter(Boolean).join(" ") };
  const args = [
    repoFile("bin/cri-logrotate.js"),
    "run",
    "--runtime-endpoint", `unix://${o.socketPath}`,
    "--log-root", o.logRoot,
    "--lock-file", join(o.dir, "lock"),
    "--metrics-address", "127.0.0.1:0",
    "--container-log-monitor-interval", `${o.intervalSeconds}s`,
  ];
  const child = spawn(process.execPath, args, { cwd: o.dir, env, stdio: ["ignore", "ignore", "pipe"] });
  const lines = createInterface({ input: child.stderr! });
  const address = await new Promise<string>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`cri-logrotate run exited with ${code} before serving metrics`)));
    lines.on("line", (line) => {
      if (!line.startsWith("{")) return process.stderr.write(`${line}\n`);
      const entry = JSON.parse(line) as { msg?: string; address?: string; level?: number };
      if (entry.msg === "serving metrics" && entry.address) resolve(entry.address);
      else if ((entry.level ?? 0) >= 40) process.stderr.write(`daemon: ${line}\n`);
    });
  });
  child.removeAllListeners("exit");
  return {
    child,
    pid: child.pid!,
    nodeOptions,
    scrape: async () => (await fetch(`http://${address}/metrics`)).text(),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

/** The value of one series in a Prometheus text exposition (labels exactly as written), or undefined. */
export function metricValue(text: string, series: string): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}
