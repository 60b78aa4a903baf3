// The proof of shipper-aware rotation. One workload, four shims side by side: four fake containers write
// ~200 KB/s each of numbered 100-byte CRI lines (the writer keeps appending to a renamed file until
// ReopenContainerLog, like containerd); the manager loops every 200 ms on the real clock with a 64 KiB
// containerLogMaxSize, maxFiles 4 and gzip; a slow reader modelled on Fluent Bit's in_tail (Rotate_Wait
// 1.5 s, Refresh_Interval 1 s, Exclude_Path *.gz,*.tmp) reads at a quarter of the write rate and reports
// its progress through the real cri-logrotate.wasm filter and an in_tail DB. After 4 s the writers stop
// and the reader drains.
//   - kubelet rules (no progress source): the reader MUST lose lines here, or the setup proves nothing;
//   - shipper-aware over the filter's progress file, and over the in_tail DB: no line lost;
//   - shipper-aware with a per-container unread cap that is hit: lines are lost, and every lost line was
//     in a file whose drop was reported (outcomes, metric and a warning), never silently.
// bench/shipper.ts runs the same workload longer and writes bench/results/shipper.json.
import { test, before } from "node:test";
import * as assert from "node:assert/strict";
import { runShipperWorkload, type WorkloadOptions, type WorkloadResult } from "../support/slow-reader.js";

const WORKLOAD: Omit<WorkloadOptions, "mode"> = {
  containers: 4,
  writeMs: 4_000,
  drainMaxMs: 25_000,
  writer: { intervalMs: 25, linesPerTick: 50, lineBytes: 100 }, // 200 KB/s per container
  readFraction: 0.25,
  rotateWaitMs: 1_500,
  refreshIntervalMs: 1_000,
  maxSize: 64 * 1024,
  maxFiles: 4,
  compress: true,
  intervalMs: 200,
};

/** Half a rotated file: a reader this far behind exceeds it as soon as one unread file is held. */
const UNREAD_CAP = 32 * 1024;

const runs: Record<"kubelet" | "filter" | "db" | "limited", WorkloadResult> = {} as never;

function summary(r: WorkloadResult): string {
  return JSON.stringify({
    mode: r.mode,
    written: r.written,
    lost: r.lost,
    perContainer: r.containers.map((c) => c.lost),
    peakDiskBytes: r.peakDiskBytes,
    rotations: r.rotations,
    dropped: r.droppedUnreadBytes,
    reader: r.reader,
    drainTimedOut: r.drainTimedOut,
  });
}

before(async () => {
  const [kubelet, filter, db, limited] = await Promise.all([
    runShipperWorkload({ ...WORKLOAD, mode: "kubelet" }),
    runShipperWorkload({ ...WORKLOAD, mode: "filter" }),
    runShipperWorkload({ ...WORKLOAD, mode: "db" }),
    runShipperWorkload({ ...WORKLOAD, mode: "filter", limits: { maxUnreadBytesPerContainer: UNREAD_CAP } }),
  ]);
  Object.assign(runs, { kubelet, filter, db, limited });
}, { timeout: 60_000 });

test("the workload rotates and the reader falls behind in every run", (t) => {
  for (const [name, r] of Object.entries(runs)) {
    t.diagnostic(`${name}: ${summary(r)}`);
    assert.equal(r.reader.errors, 0, `${name}: reader errors`);
    // Timers run late on a loaded machine, so the writers may reach half their nominal rate: ask only for
    // what the proof needs (a rotated file compressed or pruned by a later rotation).
    assert.ok(r.rotations >= 2 * WORKLOAD.containers, `${name}: only ${r.rotations} rotations: ${summary(r)}`);
    // The reader falls behind: Rotate_Wait cuts it off a rotated file, or (kubelet rules) the file is
    // compressed or removed under it first.
    assert.ok(r.reader.purgedUnreadFiles + r.reader.deletedUnreadFiles > 0, `${name}: the reader was never cut off: ${summary(r)}`);
    for (const c of r.containers) assert.ok(c.written > 1000, `${name}: ${c.id} wrote only ${c.written} lines`);
    assert.equal(r.duplicates, 0, `${name}: lines delivered twice`);
  }
});

test("kubelet rules: the slow reader loses lines, and nothing reports it", () => {
  const r = runs.kubelet;
  assert.ok(r.lost > 0, `the kubelet run lost nothing; the setup is wrong: ${summary(r)}`);
  assert.ok(r.containers.every((c) => c.lost > 0), `every container should lose lines: ${summary(r)}`);
  assert.equal(r.droppedUnreadBytes, 0);
  assert.equal(r.droppedMetricBytes, 0);
});

for (const mode of ["filter", "db"] as const) {
  test(`shipper-aware rules over the ${mode === "filter" ? "filter's progress file" : "in_tail DB"}: no line is lost`, () => {
    const r = runs[mode];
    assert.equal(r.drainTimedOut, false, `the reader did not finish draining: ${summary(r)}`);
    assert.deepEqual(
      r.containers.map((c) => c.lost),
      r.containers.map(() => 0),
      `lost lines: ${summary(r)}; first lost: ${JSON.stringify(r.containers.map((c) => c.lostLines.slice(0, 5)))}`,
    );
    assert.equal(r.delivered, r.written);
    assert.equal(r.forcedDrops.length, 0, "no limit is set, so nothing may be forced");
    assert.ok(r.heldPeakFiles > 0, `files were never held, so the run proves nothing: ${summary(r)}`);
  });
}

test("shipper-aware rules with a limit that is hit: every lost line is in a reported drop", () => {
  const r = runs.limited;
  assert.ok(r.lost > 0, `the cap was never hit: ${summary(r)}`);
  assert.ok(r.forcedDrops.length > 0);
  assert.ok(r.forcedDrops.every((d) => d.reason === "limit-unread-bytes"), JSON.stringify(r.forcedDrops));
  // Every lost line lay in a plain file removed (or compressed away) by a forced action.
  assert.equal(r.unreportedLostLines, 0, `lost lines outside every reported drop: ${summary(r)}`);
  // The outcomes and the metric agree, and the report is never below the real loss: the plan counts
  // bytes past the last credited line start as unread, and the reader may still read an unlinked file
  // through its open fd before it notices the deletion, so the report can only be higher.
  assert.equal(r.droppedMetricBytes, r.droppedUnreadBytes);
  assert.ok(r.droppedUnreadBytes >= r.lostBytes, `reported ${r.droppedUnreadBytes} unread bytes dropped, ${r.lostBytes} lost`);
  assert.equal(r.dropWarnings, r.forcedDrops.length, "one warning per forced drop");
});
