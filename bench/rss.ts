// npm run bench:rss — peak resident memory of the daemon users run, watching 1,000 containers: the command
// `cri-logrotate run` (bin/cri-logrotate.js) in its own process with the image's NODE_OPTIONS and the
// defaults of `run` (growth checks and the tree watch on, metrics served), passes every 3 s (the shortest
// interval the config accepts: the most work per minute), against the fake runtime in another process.
// Peer: the same command watching no containers. Peak = the kernel's high-water mark (VmHWM) over PASSES
// passes; then where the memory is: resident pages by kind (/proc/<pid>/smaps), V8's heap spaces (the
// daemon's own /metrics) and a heap snapshot (node's --heapsnapshot-signal, taken after the peak is read):
// self size by type, the largest constructors, and what each part of the shim retains.
//   node dist/bench/rss.js [passes]      e.g. 50 passes to look for creep
//   DAEMON_NODE_OPTIONS="…" node dist/bench/rss.js    other node flags than the image's, to compare
import { mkdtempSync, mkdirSync, readdirSync, realpathSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { metricValue, startDaemon } from "./support/daemon.js";
import { startRuntimeChild } from "./support/fake-runtime-server.js";
import { summarizeHeapSnapshot, type HeapSummary } from "./support/heap-snapshot.js";
import { residentByKind, rssOf, type ResidentByKind } from "./support/proc-memory.js";
import { writeResult } from "./support/results.js";

const CONTAINERS = 1000;
const PASSES = Number(process.argv[2] ?? 10);
const INTERVAL_SECONDS = 3;
const TARGET_MIB = 80;
const RSS_SAMPLE_MS = 250;
const SCRAPE_MS = 5000;
const MiB = 1024 * 1024;
/** The parts of the shim whose retained size is reported (class names in host/). */
const PARTS = ["LogManager", "Discovery", "TreeWatcher", "GrowthTracker", "DigestCache", "Compressor", "GrpcCri", "WasmModule", "Registry"];
const V8_SPACES = ["new", "old", "code", "large_object", "new_large_object", "code_large_object"];

interface Measurement {
  containers: number;
  peakBytes: number;
  /** RSS every RSS_SAMPLE_MS. */
  rssSeries: number[];
  resident: ResidentByKind;
  v8: { spaces: Record<string, { committed: number; used: number }>; heapUsed: number; heapTotal: number; external: number };
  heap: HeapSummary;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function measure(containers: number): Promise<Measurement & { nodeOptions: string }> {
  const base = mkdtempSync(join(tmpdir(), "crl-bench-rss-"));
  const logRoot = join(base, "pods");
  mkdirSync(logRoot);
  const socketPath = join(base, "cri.sock");
  const runtime = await startRuntimeChild(socketPath, logRoot, containers);
  const daemon = await startDaemon({ socketPath, logRoot, dir: base, intervalSeconds: INTERVAL_SECONDS, heapSnapshotSignal: true });
  try {
    // RSS is read from /proc (costs the daemon nothing); /metrics only every SCRAPE_MS, about as often as
    // Prometheus would (a scrape allocates in the daemon too).
    const rssSeries: number[] = [];
    let text = "";
    let lastScrape = 0;
    const deadline = Date.now() + (PASSES * INTERVAL_SECONDS + 120) * 1000;
    for (;;) {
      if (Date.now() > deadline) throw new Error(`the daemon did not finish ${PASSES} passes in time`);
      await sleep(RSS_SAMPLE_MS);
      rssSeries.push(rssOf(daemon.pid).rssBytes);
      if (Date.now() - lastScrape < SCRAPE_MS) continue;
      lastScrape = Date.now();
      text = await daemon.scrape();
      if ((metricValue(text, "cri_logrotate_pass_duration_seconds_count") ?? 0) >= PASSES) break;
    }
    const watched = metricValue(text, "cri_logrotate_containers_watched");
    if (watched !== containers) throw new Error(`the daemon watches ${watched} containers, expected ${containers}`);
    const { peakBytes } = rssOf(daemon.pid);
    const resident = residentByKind(daemon.pid, realpathSync(process.execPath));
    const spaces: Measurement["v8"]["spaces"] = {};
    for (const s of V8_SPACES) {
      spaces[s] = {
        committed: metricValue(text, `nodejs_heap_space_size_total_bytes{space="${s}"}`) ?? 0,
        used: metricValue(text, `nodejs_heap_space_size_used_bytes{space="${s}"}`) ?? 0,
      };
    }
    const v8 = {
      spaces,
      heapUsed: metricValue(text, "nodejs_heap_size_used_bytes") ?? 0,
      heapTotal: metricValue(text, "nodejs_heap_size_total_bytes") ?? 0,
      external: metricValue(text, "nodejs_external_memory_bytes") ?? 0,
    };
    // The snapshot (a full GC, then a write that needs memory of its own) comes after the peak is read.
    daemon.child.kill("SIGUSR2");
    const snapshotPath = await writtenSnapshot(base);
    const heap = summarizeHeapSnapshot(snapshotPath, PARTS);
    return { containers, peakBytes, rssSeries, resident, v8, heap, nodeOptions: daemon.nodeOptions };
  } finally {
    await daemon.stop();
    await runtime.stop();
    rmSync(base, { recursive: true, force: true });
  }
}

/** Waits for the .heapsnapshot node writes into the daemon's working directory to be complete. */
async function writtenSnapshot(dir: string): Promise<string> {
  for (let tries = 0; tries < 600; tries++) {
    await sleep(100);
    const name = readdirSync(dir).find((f) => f.endsWith(".heapsnapshot"));
    if (!name) continue;
    const path = join(dir, name);
    let size = -1;
    for (;;) {
      await sleep(300);
      const now = statSync(path).size;
      if (now === size && now > 0) return path;
      size = now;
    }
  }
  throw new Error("the daemon wrote no heap snapshot within 60 s");
}

const mib = (b: number) => (b / MiB).toFixed(1);
const kinds = (r: ResidentByKind) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, v / MiB]));

const peer = await measure(0);
const ours = await measure(CONTAINERS);

console.log(`cri-logrotate run, NODE_OPTIONS="${ours.nodeOptions}", a pass every ${INTERVAL_SECONDS} s, ${PASSES} passes`);
for (const m of [peer, ours]) {
  const r = m.resident;
  console.log(`\n${m.containers} containers: peak ${mib(m.peakBytes)} MiB; RSS each second ${m.rssSeries.filter((_, i) => i % (1000 / RSS_SAMPLE_MS) === 0).map(mib).join(" ")}`);
  console.log(`  resident at the end: node binary ${mib(r.nodeBinary)}, other files ${mib(r.otherFiles)}, malloc ${mib(r.mallocMain)} + arenas ${mib(r.mallocArenas)}, wasm memory ${mib(r.wasmMemory)}, other anonymous (V8 heap, stacks) ${mib(r.otherAnonymous)} MiB`);
  console.log(`  V8 (committed/used MiB): ${V8_SPACES.filter((s) => m.v8.spaces[s]!.committed > 0).map((s) => `${s} ${mib(m.v8.spaces[s]!.committed)}/${mib(m.v8.spaces[s]!.used)}`).join(", ")}; external ${mib(m.v8.external)}`);
  const h = m.heap;
  console.log(`  heap snapshot (after a full GC): ${mib(h.totalBytes)} MiB in ${h.nodeCount} nodes; by type: ${Object.entries(h.byType).sort((a, b) => b[1] - a[1]).slice(0, 8).map(([t, b]) => `${t} ${mib(b)}`).join(", ")}`);
  console.log(`  largest constructors (MiB, count): ${h.topConstructors.slice(0, 10).map((c) => `${c.name} ${mib(c.bytes)} ×${c.count}`).join("; ")}`);
  console.log(`  retained (KiB): ${PARTS.map((p) => `${p} ${(h.retained[p]!.retainedBytes / 1024).toFixed(0)}`).join(", ")}`);
}
const perContainer = (ours.peakBytes - peer.peakBytes) / CONTAINERS;
const managerPerContainer = (ours.heap.retained.LogManager!.retainedBytes - peer.heap.retained.LogManager!.retainedBytes) / CONTAINERS;
const heapPerContainer = (ours.heap.totalBytes - peer.heap.totalBytes) / CONTAINERS;
console.log(`\nper container: ${(perContainer / 1024).toFixed(1)} KiB of peak RSS, ${(heapPerContainer / 1024).toFixed(2)} KiB of live heap, ${managerPerContainer.toFixed(0)} bytes retained by the manager\n`);

writeResult({
  name: "rss",
  value: ours.peakBytes / MiB,
  unit: "MiB",
  peer: "the same daemon watching no containers",
  peerValue: peer.peakBytes / MiB,
  ratio: ours.peakBytes / peer.peakBytes,
  target: TARGET_MIB,
  command: "cri-logrotate run (bin/cri-logrotate.js), growth checks on, metrics on",
  nodeOptions: ours.nodeOptions,
  containers: CONTAINERS,
  passes: PASSES,
  intervalSeconds: INTERVAL_SECONDS,
  perContainerKiB: perContainer / 1024,
  liveHeapPerContainerBytes: heapPerContainer,
  managerRetainedPerContainerBytes: managerPerContainer,
  rssEverySecondMiB: ours.rssSeries.filter((_, i) => i % (1000 / RSS_SAMPLE_MS) === 0).map((b) => Number((b / MiB).toFixed(1))),
  resident: { [CONTAINERS]: kinds(ours.resident), 0: kinds(peer.resident) },
  v8: { [CONTAINERS]: ours.v8, 0: peer.v8 },
  heapSnapshot: {
    [CONTAINERS]: ours.heap,
    0: { totalBytes: peer.heap.totalBytes, byType: peer.heap.byType, retained: peer.heap.retained },
  },
});
