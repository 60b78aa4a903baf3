// npm run bench:fluentbit — lines lost and lines delivered twice with a REAL Fluent Bit (FLUENT_BIT_BIN,
// scripts/build-fluent-bit.sh) running examples/fluent-bit/fluent-bit.conf (paths substituted, its stdout
// output swapped for an http output to a slow sink on 127.0.0.1), our .wasm as its filter and the real shim
// (`cri-logrotate run`) over a fake CRI runtime whose writers behave like containerd's.
//
// Workload, the same for every mode and run side by side: 4 containers × 100 lines/s of 1,000-byte numbered
// CRI lines ("<n> xxx…x <n>") for 60 s; containerLogMaxSize 256Ki, containerLogMaxFiles 4, gzip; the sink accepts 40 % of the
// write rate while the writers run, so Fluent Bit's Mem_Buf_Limit pauses in_tail and it falls behind by
// many files; once the writers stop the sink takes everything, and the run ends when every line arrived
// (or nothing arrived for a while).
//   value = lines lost shipper-aware (filter + in_tail DB); peerValue = lines lost with the kubelet's rules.
//
// Options (for measuring alternatives; the npm script runs the defaults):
//   --modes kubelet,both     any of kubelet, filter, db, both
//   --seconds 60             how long the writers run
//   --replace 'FROM=>TO'     an extra exact replacement in the example config (repeatable)
//   --filter-conf 'k=v'      a line appended to the example's cri-logrotate-filter.conf (repeatable)
//   --no-write               do not write bench/results/fluentbit.json
//   --keep                   keep each run's directory and print where lines went missing
//   --uniform-lines          lines that all end alike ("<n> xxx…x"): in_tail's offset check cannot tell
//                            files apart (the Fluent Bit bug in docs/shipper-aware.md)
import { parseArgs } from "node:util";
import { numberedBody, TestNode, type ShimMode } from "../test/e2e-fluentbit/support/node.js";
import { filterConfExample, fluentBitBinary } from "../test/e2e-fluentbit/support/fluent-bit.js";
import type { Replacement } from "../test/e2e-fluentbit/support/fluent-bit.js";
import { writeResult } from "./support/results.js";

const { values } = parseArgs({
  options: {
    modes: { type: "string", default: "kubelet,both" },
    seconds: { type: "string", default: "60" },
    replace: { type: "string", multiple: true, default: [] },
    "filter-conf": { type: "string", multiple: true, default: [] },
    "no-write": { type: "boolean", default: false },
    keep: { type: "boolean", default: false },
    "uniform-lines": { type: "boolean", default: false },
  },
});

const CONTAINERS = 4;
const LINES_PER_SECOND = 100;
const LINE_BYTES = 1000;
const WRITE_SECONDS = Number(values.seconds);
const SINK_FRACTION = 0.4;
const MAX_SIZE = "256Ki";
const MAX_FILES = 4;
const modes = values.modes!.split(",") as ShimMode[];
const replacements: Replacement[] = values.replace!.map((r) => {
  const [from, to] = r.split("=>");
  if (from === undefined || to === undefined) throw new Error(`--replace wants FROM=>TO, got ${JSON.stringify(r)}`);
  return [from.replace(/\\n/g, "\n"), to.replace(/\\n/g, "\n")];
});

const filterConf = values["filter-conf"]!.length ? filterConfExample() + values["filter-conf"]!.join("\n") + "\n" : undefined;

fluentBitBinary(); // fail early with the hint when there is no Fluent Bit

interface Run {
  mode: ShimMode;
  written: number;
  lost: number;
  duplicates: number;
  extraDeliveries: number;
  lostPerContainer: number[];
  duplicatesPerContainer: number[];
  droppedUnreadBytes: number;
  dropWarnings: number;
  pausedLines: number;
  purgedWhilePaused: number;
  drainSeconds: number;
  timedOut: boolean;
}

async function run(mode: ShimMode): Promise<Run> {
  const writeRate = CONTAINERS * LINES_PER_SECOND * LINE_BYTES;
  const node = await TestNode.start({
    containers: CONTAINERS,
    writer: { intervalMs: 100, linesPerTick: LINES_PER_SECOND / 10, body: values["uniform-lines"] ? undefined : numberedBody(LINE_BYTES), lineBytes: LINE_BYTES },
    mode,
    maxSize: MAX_SIZE,
    maxFiles: MAX_FILES,
    sinkBytesPerSecond: writeRate * SINK_FRACTION,
    fluentBitReplacements: replacements,
    filterConf,
  });
  try {
    await node.fluentBit!.waitStarted();
    node.startWriters();
    await new Promise((r) => setTimeout(r, WRITE_SECONDS * 1000));
    node.stopWriters();
    node.setSinkRate(Infinity);
    const a = await node.drain({ timeoutMs: 240_000, quietMs: 15_000 });
    const keys = node.containerIds.map((_, i) => node.containerKey(i));
    const fb = node.fluentBitRuns.flatMap((f) => f.log.map((l) => l.text));
    if (values.keep) {
      console.log(`${mode}: kept ${node.dir}`);
      for (const k of keys) console.log(`  ${k}: lost ${JSON.stringify(a.detail[k]?.lostSample)} twice ${JSON.stringify(a.detail[k]?.duplicateSample)}`);
      const { writeFileSync } = await import("node:fs");
      writeFileSync(`${node.dir}/fluent-bit.log`, fb.join("\n"));
      writeFileSync(`${node.dir}/shim.log`, (node.shim?.logs ?? []).map((e) => JSON.stringify(e)).join("\n"));
      writeFileSync(`${node.dir}/delivery.json`, JSON.stringify(Object.fromEntries([...node.sink.delivery.counts].map(([k, m]) => [k, [...m]]))));
    }
    return {
      mode,
      written: a.written,
      lost: a.lost,
      duplicates: a.duplicates,
      extraDeliveries: a.extraDeliveries,
      lostPerContainer: keys.map((k) => a.detail[k]?.lost ?? 0),
      duplicatesPerContainer: keys.map((k) => a.detail[k]?.duplicates ?? 0),
      droppedUnreadBytes: await node.droppedUnreadBytes(),
      dropWarnings: node.dropWarnings(),
      pausedLines: fb.filter((l) => /paused \(mem buf overlimit/.test(l)).length,
      purgedWhilePaused: fb.filter((l) => /purged rotated file while data ingestion is paused/.test(l)).length,
      drainSeconds: a.drainMs / 1000,
      timedOut: a.timedOut,
    };
  } finally {
    await node.close(values.keep);
  }
}

const started = Date.now();
const runs = await Promise.all(modes.map(run));
const pct = (n: number, of: number) => `${((100 * n) / Math.max(1, of)).toFixed(1)}%`;
console.log(
  `${CONTAINERS} containers × ${LINES_PER_SECOND} lines/s × ${LINE_BYTES} B for ${WRITE_SECONDS} s; max size ${MAX_SIZE}, ${MAX_FILES} files; ` +
    `sink at ${SINK_FRACTION * 100}% of the write rate while writing; ${((Date.now() - started) / 1000).toFixed(0)} s in all` +
    (replacements.length ? `; replacements: ${JSON.stringify(replacements)}` : "") +
    (filterConf ? `; filter conf + ${JSON.stringify(values["filter-conf"])}` : ""),
);
console.log(["mode".padEnd(8), "written".padStart(8), "lost".padStart(16), "twice".padStart(16), "dropped B".padStart(10), "warnings".padStart(8), "paused".padStart(6), "purged-paused".padStart(13), "drain"].join("  "));
for (const r of runs) {
  console.log(
    [
      r.mode.padEnd(8),
      String(r.written).padStart(8),
      `${r.lost} (${pct(r.lost, r.written)})`.padStart(16),
      `${r.duplicates} (${pct(r.duplicates, r.written)})`.padStart(16),
      String(r.droppedUnreadBytes).padStart(10),
      String(r.dropWarnings).padStart(8),
      String(r.pausedLines).padStart(6),
      String(r.purgedWhilePaused).padStart(13),
      `${r.drainSeconds.toFixed(1)} s${r.timedOut ? " (timed out)" : ""}`,
    ].join("  "),
  );
}

const aware = runs.find((r) => r.mode === "both") ?? runs.find((r) => r.mode !== "kubelet");
const kubelet = runs.find((r) => r.mode === "kubelet");
if (!values["no-write"] && aware && kubelet) {
  writeResult({
    name: "fluentbit",
    value: aware.lost,
    unit: "lines lost",
    peer: "kubelet rules",
    peerValue: kubelet.lost,
    written: aware.written,
    duplicates: aware.duplicates,
    peerWritten: kubelet.written,
    peerDuplicates: kubelet.duplicates,
    target: 0,
    duplicatesTarget: Math.floor(aware.written * 0.001),
    workload: { containers: CONTAINERS, linesPerSecond: LINES_PER_SECOND, lineBytes: LINE_BYTES, writeSeconds: WRITE_SECONDS, containerLogMaxSize: MAX_SIZE, containerLogMaxFiles: MAX_FILES, sinkFractionWhileWriting: SINK_FRACTION },
    runs,
  });
}
