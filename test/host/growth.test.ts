// Growth checks: under heavy writes the kubelet's once-per-interval look lets a log overshoot
// containerLogMaxSize many times over; predicting from the growth rate and re-checking only the fast
// logs between passes keeps rotated files near the limit. Both modes run side by side, real clock.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { readdirSync, rmSync, statSync } from "node:fs";
import { systemClock } from "../../host/clock.js";
import { startHarness, lineNumbers, writeFiles } from "../support/harness.js";
import { MIN_GROWTH_CHECK_MS } from "../../host/manager.js";

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

test("a prediction left in the past (live log deleted) never starves the next pass", async () => {
  const h = await startHarness();
  try {
    const dir = join(h.logRoot, "ns_p_uid", "app");
    writeFiles(dir, { "0.log": "x".repeat(1000) });
    h.runtime.addContainer({ id: "c", name: "app", state: "CONTAINER_RUNNING", logPath: join(dir, "0.log") });
    const manager = h.manager({ growthChecks: true, intervalMs: 10_000, policy: { maxSize: 100_000, maxFiles: 5, compress: false } });
    await manager.runOnce();
    h.clock.advance(1000);
    writeFiles(dir, { "0.log": "x".repeat(50_000) }); // ~49 bytes/ms: predicted to reach 100 KB ~1 s later
    await manager.runOnce();
    const nextPassAt = h.clock.now() + 10_000;
    const due = manager.nextGrowthCheck(nextPassAt);
    assert.ok(due && due.ids.includes("c") && due.atMs < h.clock.now() + 2000, JSON.stringify(due));
    rmSync(join(dir, "0.log"));
    h.clock.advance(5000); // the prediction is now in the past and no sample can move it
    await manager.checkGrowth(["c"]);
    const again = manager.nextGrowthCheck(nextPassAt);
    assert.ok(again === null || again.atMs >= h.clock.now() + MIN_GROWTH_CHECK_MS, "a due check is never in the past");
    h.clock.set(nextPassAt - MIN_GROWTH_CHECK_MS);
    assert.equal(manager.nextGrowthCheck(nextPassAt), null, "close to the pass, no more checks: the pass comes");
  } finally {
    await h.close();
  }
});
