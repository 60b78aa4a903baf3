// Growth checks: under heavy writes the kubelet's once-per-interval look lets a log overshoot
// containerLogMaxSize many times over; predicting from the growth rate and re-checking only the fast
// logs between passes keeps rotated files near the limit. Both modes run side by side, real clock.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { readdirSync, statSync } from "node:fs";
import { systemClock } from "../../host/clock.js";
import { startHarness, lineNumbers } from "../support/harness.js";

const MAX = 64 * 1024;

async function run(growthChecks: boolean): Promise<{ sizes: number[]; lines: number[]; written: number }> {
  const h = await startHarness();
  try {
    const dir = join(h.logRoot, "ns_busy_uid", "app");
    // ~200 KB/s: 20 lines of 100 bytes every 10 ms.
    h.runtime.addContainer({ id: "busy", name: "app", state: "CONTAINER_RUNNING", logPath: join(dir, "0.log"), writer: { linesPerTick: 20, intervalMs: 10, lineBytes: 100 } });
    const manager = h.manager({ clock: systemClock, intervalMs: 3000, growthChecks, policy: { maxSize: MAX, maxFiles: 1000, compress: false } });
    manager.start();
    await new Promise((r) => setTimeout(r, 7000));
    h.runtime.stopWriter("busy");
    await manager.stop();
    const rotated = readdirSync(dir).filter((n) => n !== "0.log");
    return { sizes: rotated.map((n) => statSync(join(dir, n)).size), lines: lineNumbers(dir, "0.log"), written: h.runtime.linesWritten("busy") };
  } finally {
    await h.close();
  }
}

test("growth checks keep rotated files near containerLogMaxSize where the kubelet's timing overshoots", async () => {
  const [interval, growth] = await Promise.all([run(false), run(true)]);
  const biggest = (s: number[]) => Math.max(...s);
  // Once per 3 s at ~200 KB/s: each rotated file holds ~3 s of output.
  assert.ok(biggest(interval.sizes) > 4 * MAX, `interval-only rotated files: ${interval.sizes.join(", ")}`);
  // Re-checked at most every 250 ms once predicted: a file holds the limit plus a fraction of a second.
  assert.ok(biggest(growth.sizes) < 2.5 * MAX, `growth-checked rotated files: ${growth.sizes.join(", ")}`);
  assert.ok(growth.sizes.length > interval.sizes.length, "more, smaller rotations");
  for (const r of [interval, growth]) {
    assert.deepEqual(r.lines, Array.from({ length: r.written }, (_, i) => i), "no line lost or doubled");
  }
});
