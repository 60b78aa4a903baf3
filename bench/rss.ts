// npm run bench:rss — peak resident memory of the shim watching 1,000 containers. The fake runtime runs in a
// child process so its memory is not counted. Baseline ("peer"): this same process after loading every
// module, the .wasm and the CRI client, before the manager exists. Then ~10 passes, back to back, with RSS
// sampled every few ms and after each pass; process.resourceUsage().maxRSS is reported too. No hard target.
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCriClient } from "../host/cri/client.js";
import { loadPlugin } from "../host/plugin/index.js";
import type { Policy } from "../host/plugin/types.js";
import { startRuntimeChild } from "./support/fake-runtime-server.js";
import { benchManager } from "./support/manager.js";
import { writeResult } from "./support/results.js";

const CONTAINERS = 1000;
const PASSES = Number(process.argv[2] ?? 10); // more passes: `node dist/bench/rss.js 50` (creep check)
const MiB = 1024 * 1024;
const policy: Policy = { maxSize: 10 * MiB, maxFiles: 5, compress: true, shipperAware: false };

const base = mkdtempSync(join(tmpdir(), "crl-bench-rss-"));
const logRoot = join(base, "pods");
mkdirSync(logRoot);
const socketPath = join(base, "cri.sock");
const runtime = await startRuntimeChild(socketPath, logRoot, CONTAINERS);
try {
  const plugin = loadPlugin();
  const cri = createCriClient({ endpoint: `unix://${socketPath}`, timeoutMs: 10_000 });
  await cri.version(); // the channel is up, as in the daemon before its first pass
  await new Promise((r) => setTimeout(r, 200));
  const baseline = process.memoryUsage().rss;
  const baselineMaxRss = process.resourceUsage().maxRSS * 1024;
  const baselineHeap = process.memoryUsage().heapUsed;

  let peak = baseline;
  const sample = () => {
    peak = Math.max(peak, process.memoryUsage().rss);
  };
  const sampler = setInterval(sample, 5);

  const manager = benchManager(cri, plugin, logRoot, policy);
  const afterPass: number[] = [];
  for (let p = 0; p < PASSES; p++) {
    const report = await manager.runOnce();
    if (report.watched !== CONTAINERS) throw new Error(`pass ${p} watched ${report.watched} containers, expected ${CONTAINERS}`);
    sample();
    afterPass.push(process.memoryUsage().rss);
  }
  clearInterval(sampler);
  cri.close();

  const maxRss = process.resourceUsage().maxRSS * 1024;
  const heap = process.memoryUsage();
  console.log(`${CONTAINERS} containers watched, ${PASSES} passes; RSS after each pass (MiB): ${afterPass.map((b) => (b / MiB).toFixed(1)).join(" ")}`);
  console.log(`maxRSS ${(maxRss / MiB).toFixed(1)} MiB (at baseline ${(baselineMaxRss / MiB).toFixed(1)}), heapUsed ${(heap.heapUsed / MiB).toFixed(1)} MiB (at baseline ${(baselineHeap / MiB).toFixed(1)}), external ${(heap.external / MiB).toFixed(1)} MiB, arrayBuffers ${(heap.arrayBuffers / MiB).toFixed(1)} MiB`);
  writeResult({
    name: "rss",
    value: peak / MiB,
    unit: "MiB",
    peer: "same process before the manager (node + modules + wasm + CRI client)",
    peerValue: baseline / MiB,
    ratio: peak / baseline,
    containers: CONTAINERS,
    passes: PASSES,
    maxRssMiB: maxRss / MiB,
    baselineHeapUsedMiB: baselineHeap / MiB,
    heapUsedMiB: heap.heapUsed / MiB,
    finalRssMiB: afterPass[afterPass.length - 1]! / MiB,
    perContainerKiB: (peak - baseline) / 1024 / CONTAINERS,
  });
} finally {
  await runtime.stop();
  rmSync(base, { recursive: true, force: true });
}
