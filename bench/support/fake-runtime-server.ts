// The fake CRI runtime in its own process, so its CPU and memory are not the benchmark's:
//
//   node dist/bench/support/fake-runtime-server.js <socketPath> <logRoot> <containers>
//
// lays out <containers> RUNNING containers the kubelet way — <logRoot>/<ns>_<pod>_<uid>/<container>/0.log
// (a few KiB, under any sane limit) plus two rotated files each — serves them over the socket and prints
// "ready". It exits when its stdin closes (the parent died or is done) or on SIGTERM.
// startRuntimeChild() is the parent's side.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { startFakeRuntime } from "../../test/fake-cri/index.js";
import { criLine } from "../../test/fake-cri/log-writer.js";

export const LIVE_LOG_BYTES = 4096;
export const ROTATED_NAMES = ["0.log.20260101-000000.gz", "0.log.20260101-010000"];

export function containerId(i: number): string {
  return i.toString(16).padStart(64, "0");
}

/** Creates the container's log directory and files; returns the live log's absolute path. */
export function layContainer(logRoot: string, i: number): string {
  const uid = `${i.toString(16).padStart(8, "0")}-0000-4000-8000-000000000000`;
  const dir = join(logRoot, `bench_pod-${i}_${uid}`, "app");
  mkdirSync(dir, { recursive: true });
  let text = "";
  for (let n = 0; text.length < LIVE_LOG_BYTES; n++) text += criLine(n, 128);
  writeFileSync(join(dir, "0.log"), text, { mode: 0o640 });
  for (const name of ROTATED_NAMES) writeFileSync(join(dir, name), text, { mode: 0o640 });
  return join(dir, "0.log");
}

async function main(socketPath: string, logRoot: string, count: number): Promise<void> {
  const runtime = await startFakeRuntime({ socketPath, logRoot });
  for (let i = 0; i < count; i++) {
    runtime.addContainer({ id: containerId(i), name: "app", podSandboxId: `pod-${i}`, state: "CONTAINER_RUNNING", logPath: layContainer(logRoot, i) });
  }
  const stop = () => {
    void runtime.close().then(() => process.exit(0));
  };
  process.on("SIGTERM", stop);
  process.stdin.on("end", stop).on("close", stop).resume();
  // The runtime records every call for tests; a long benchmark must not grow that list forever.
  setInterval(() => runtime.clearCalls(), 1000).unref();
  process.stdout.write("ready\n");
}

/** The parent's side: spawns this file as a child and resolves once it printed "ready". */
export async function startRuntimeChild(socketPath: string, logRoot: string, count: number): Promise<{ child: ChildProcess; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), socketPath, logRoot, String(count)], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout! });
  await new Promise<void>((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`fake runtime exited with ${code} before it was ready`)));
    lines.on("line", (line) => {
      if (line === "ready") resolve();
    });
  });
  child.removeAllListeners("exit");
  return {
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once("exit", () => resolve());
        child.kill("SIGTERM");
      }),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [socketPath, logRoot, count] = process.argv.slice(2);
  if (!socketPath || !logRoot || !count) {
    process.stderr.write("usage: fake-runtime-server.js <socketPath> <logRoot> <containers>\n");
    process.exit(2);
  }
  main(socketPath, logRoot, Number(count)).catch((err) => {
    process.stderr.write(`fake runtime failed: ${(err as Error).stack}\n`);
    process.exit(1);
  });
}
