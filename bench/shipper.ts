// npm run bench:shipper — lines a slow log shipper loses under the kubelet's rotation rules against
// shipper-aware rules, on the same workload (test/support/slow-reader.ts, runShipperWorkload): six fake
// containers writing ~100 KB/s each of numbered 100-byte CRI lines for 10 s, containerLogMaxSize 64 KiB,
// maxFiles 4, gzip, the manager looping every 200 ms on the real clock, and a reader modelled on Fluent
// Bit's in_tail (Rotate_Wait 1.5 s, Refresh_Interval 1 s, Exclude_Path *.gz,*.tmp) at a quarter of the
// write rate, which then gets time to drain. Four shims run side by side:
//   kubelet rules | shipper-aware over the filter's progress file | over the in_tail DB |
//   shipper-aware with maxUnreadBytesPerContainer 256 KiB (a limit that is hit: the loss must be reported).
// value = lines lost with shipper-aware rules (filter source); peerValue = lines lost with the kubelet's.
import { runShipperWorkload, type WorkloadOptions, type WorkloadResult } from "../test/support/slow-reader.js";
import { writeResult } from "./support/results.js";

const WORKLOAD: Omit<WorkloadOptions, "mode"> = {
  containers: 6,
  writeMs: 10_000,
  drainMaxMs: 90_000,
  writer: { intervalMs: 25, linesPerTick: 25, lineBytes: 100 },
  readFraction: 0.25,
  rotateWaitMs: 1_500,
  refreshIntervalMs: 1_000,
  maxSize: 64 * 1024,
  maxFiles: 4,
  compress: true,
  intervalMs: 200,
};
const UNREAD_CAP = 256 * 1024;

const started = Date.now();
const [kubelet, filter, db, limited] = await Promise.all([
  runShipperWorkload({ ...WORKLOAD, mode: "kubelet" }),
  runShipperWorkload({ ...WORKLOAD, mode: "filter" }),
  runShipperWorkload({ ...WORKLOAD, mode: "db" }),
  runShipperWorkload({ ...WORKLOAD, mode: "filter", limits: { maxUnreadBytesPerContainer: UNREAD_CAP } }),
]);

function row(name: string, r: WorkloadResult): string {
  const pct = ((100 * r.lost) / r.written).toFixed(1);
  return [
    name.padEnd(34),
    String(r.written).padStart(8),
    `${String(r.lost).padStart(7)} (${pct.padStart(4)}%)`,
    `[${r.containers.map((c) => c.lost).join(" ")}]`.padEnd(36),
    `${(r.peakDiskBytes / 1024).toFixed(0).padStart(6)} KiB`,
    String(r.droppedUnreadBytes).padStart(9),
    `${(r.drainMs / 1000).toFixed(1)} s${r.drainTimedOut ? " (timed out)" : ""}`,
  ].join("  ");
}
console.log(
  `${WORKLOAD.containers} containers, ${kubelet.writeBytesPerSecond} B/s each for ${WORKLOAD.writeMs / 1000} s, reader ${kubelet.readBytesPerSecond} B/s, ` +
    `rotate at ${WORKLOAD.maxSize} B, maxFiles ${WORKLOAD.maxFiles}, Rotate_Wait ${WORKLOAD.rotateWaitMs} ms; ${((Date.now() - started) / 1000).toFixed(0)} s in all`,
);
console.log(["run".padEnd(34), "written".padStart(8), "lost".padStart(15), "lost per container".padEnd(36), "peak disk".padStart(10), "dropped B".padStart(9), "drain"].join("  "));
console.log(row("kubelet rules", kubelet));
console.log(row("shipper-aware (filter progress)", filter));
console.log(row("shipper-aware (in_tail DB)", db));
console.log(row(`shipper-aware, unread cap ${UNREAD_CAP / 1024} KiB`, limited));
console.log(
  `limited run: ${limited.lost} lines (${limited.lostBytes} B) lost, ${limited.droppedUnreadBytes} B reported dropped in ${limited.forcedDrops.length} forced actions ` +
    `(metric ${limited.droppedMetricBytes} B, ${limited.dropWarnings} warnings); lost lines outside a reported drop: ${limited.unreportedLostLines}`,
);

writeResult({
  name: "shipper",
  value: filter.lost,
  unit: "lines lost",
  peer: "kubelet rules",
  peerValue: kubelet.lost,
  containers: WORKLOAD.containers,
  writeSeconds: WORKLOAD.writeMs / 1000,
  writeBytesPerSecondPerContainer: filter.writeBytesPerSecond,
  readBytesPerSecondPerContainer: filter.readBytesPerSecond,
  containerLogMaxSize: WORKLOAD.maxSize,
  containerLogMaxFiles: WORKLOAD.maxFiles,
  rotateWaitMs: WORKLOAD.rotateWaitMs,
  linesWritten: { kubelet: kubelet.written, filter: filter.written, db: db.written, limited: limited.written },
  linesLost: { kubelet: kubelet.lost, filter: filter.lost, db: db.lost, limited: limited.lost },
  lostPerContainer: { kubelet: kubelet.containers.map((c) => c.lost), filter: filter.containers.map((c) => c.lost), db: db.containers.map((c) => c.lost) },
  peakDiskBytes: { kubelet: kubelet.peakDiskBytes, filter: filter.peakDiskBytes, db: db.peakDiskBytes, limited: limited.peakDiskBytes },
  heldPeakBytes: { filter: filter.heldPeakBytes, db: db.heldPeakBytes, limited: limited.heldPeakBytes },
  drainSeconds: { kubelet: kubelet.drainMs / 1000, filter: filter.drainMs / 1000, db: db.drainMs / 1000, limited: limited.drainMs / 1000 },
  limitedRun: {
    maxUnreadBytesPerContainer: UNREAD_CAP,
    lostLines: limited.lost,
    lostBytes: limited.lostBytes,
    droppedUnreadBytesReported: limited.droppedUnreadBytes,
    droppedMetricBytes: limited.droppedMetricBytes,
    forcedActions: limited.forcedDrops.length,
    warnings: limited.dropWarnings,
    lostLinesOutsideReportedDrops: limited.unreportedLostLines,
  },
});
