// A log root in a temp dir, the fake runtime on a real unix socket, a real CRI client, and a LogManager
// wired to them — what most host tests start from.
import { mkdtempSync, rmSync, mkdirSync, writeFileSync, readdirSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { startFakeRuntime, type FakeRuntime } from "../fake-cri/index.js";
import { createCriAdmin, type CriAdmin } from "./cri-admin.js";
import { LogManager, type ManagerOptions } from "../../host/manager/index.js";
import { loadPlugin } from "../../host/plugin/index.js";
import { realFs } from "../../host/fs.js";
import { FakeClock } from "./fake-clock.js";
import { MemoryLogger } from "./memory-logger.js";
import type { Plugin, Policy } from "../../host/plugin/types.js";

let plugin: Plugin | undefined;
export function sharedPlugin(): Plugin {
  return (plugin ??= loadPlugin());
}

export interface Harness {
  base: string;
  logRoot: string;
  runtime: FakeRuntime;
  cri: CriAdmin;
  clock: FakeClock;
  logger: MemoryLogger;
  manager(overrides?: Omit<Partial<ManagerOptions>, "policy"> & { policy?: Partial<Policy> }): LogManager;
  close(): Promise<void>;
}

/** 2026-01-02T03:04:05Z: rotated names in tests end with 20260102-030405. */
export const TEST_NOW_MS = Date.UTC(2026, 0, 2, 3, 4, 5);

export async function startHarness(): Promise<Harness> {
  const base = mkdtempSync(join(tmpdir(), "crl-test-"));
  const logRoot = join(base, "pods");
  mkdirSync(logRoot);
  const runtime = await startFakeRuntime({ socketPath: join(base, "cri.sock"), logRoot });
  const cri = createCriAdmin({ endpoint: `unix://${join(base, "cri.sock")}`, timeoutMs: 3000 });
  const clock = new FakeClock(TEST_NOW_MS);
  const logger = new MemoryLogger();
  return {
    base,
    logRoot,
    runtime,
    cri,
    clock,
    logger,
    manager(overrides = {}) {
      const { policy, ...rest } = overrides;
      return new LogManager({
        cri,
        plugin: sharedPlugin(),
        fs: realFs,
        clock,
        logger,
        logRoot,
        workers: 1,
        intervalMs: 10_000,
        compressionLevel: 6,
        ...rest,
        policy: { maxSize: 10, maxFiles: 3, compress: true, shipperAware: false, ...policy },
      });
    },
    async close() {
      cri.close();
      await runtime.close();
      rmSync(base, { recursive: true, force: true });
    },
  };
}

/** Creates files (name → content) in dir. */
export function writeFiles(dir: string, files: Record<string, string>): void {
  mkdirSync(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) writeFileSync(join(dir, name), content);
}

export function listing(dir: string): string[] {
  return readdirSync(dir).sort();
}

/** Every CRI line's number across a container's files, oldest file first (.gz decompressed). */
export function lineNumbers(dir: string, logName: string): number[] {
  const names = readdirSync(dir).filter((n) => n === logName || n.startsWith(`${logName}.`)).filter((n) => !n.endsWith(".tmp"));
  const rotated = names.filter((n) => n !== logName).sort((a, b) => (a.replace(/\.gz$/, "") < b.replace(/\.gz$/, "") ? -1 : 1));
  const out: number[] = [];
  for (const n of [...rotated, ...(names.includes(logName) ? [logName] : [])]) {
    let data = readFileSync(join(dir, n));
    if (n.endsWith(".gz")) data = gunzipSync(data);
    for (const line of data.toString("utf8").split("\n")) {
      if (line === "") continue;
      const m = line.match(/^\S+ stdout F (\d+)/);
      if (!m) throw new Error(`unparsable line in ${n}: ${JSON.stringify(line.slice(0, 80))}`);
      out.push(Number(m[1]));
    }
  }
  return out;
}

export function modeOf(path: string): number {
  return statSync(path).mode & 0o777;
}
