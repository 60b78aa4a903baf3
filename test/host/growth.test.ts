// Growth checks, without wall-clock luck: the rule (crl_check_growth, through the .wasm) on a table of
// samples, and the host's tracker fed programmed sizes at programmed times. How well it holds the limit
// under real writes is measured in bench/overshoot.ts, not asserted here. The last tests check that the
// watch sees a container started after the shim, and that an interval past Node's timer limit works.
import { test } from "node:test";
import assert from "node:assert/strict";
import { join } from "node:path";
import { existsSync, readdirSync } from "node:fs";
import { systemClock } from "../../host/clock.js";
import { GrowthTracker, HOT_BYTES_PER_MS } from "../../host/manager/growth.js";
import { sharedPlugin, startHarness, writeFiles } from "../support/harness.js";
import { nullObserver } from "../../host/manager/index.js";
import { ShipperProgress } from "../../host/progress/attacher.js";

const MAX = 10_000;

// [size, atMs, prevSize, prevAtMs, maxWaitMs] → [rotateNow, nextCheckAtMs]
const rule: Record<string, [[number, number, number, number, number], [boolean, number]]> = {
  "at the limit: now": [[MAX, 1000, 0, 0, 1000], [true, -1]],
  "past the limit: now": [[MAX + 1, 1000, 0, 0, 1000], [true, -1]],
  "no rate yet: look again soon": [[100, 1000, -1, -1, 1000], [false, 1250]],
  "no rate yet, short max wait": [[100, 1000, -1, -1, 100], [false, 1100]],
  "10 bytes/ms, 9000 to go: 90% of 900 ms": [[1000, 1000, 0, 900, 5000], [false, 1000 + 810]],
  "capped by the max wait": [[1000, 1000, 990, 0, 1000], [false, 2000]],
  "very fast: never closer than 10 ms": [[9_999, 1000, 0, 999, 1000], [false, 1010]],
  "not growing: not before the next pass": [[5000, 1000, 5000, 500, 1000], [false, -1]],
  "shrank (a new file): not before the next pass": [[10, 1000, 5000, 500, 1000], [false, -1]],
};
for (const [name, [[size, atMs, prevSize, prevAtMs, maxWait], [rotateNow, next]]] of Object.entries(rule)) {
  test(`growth rule: ${name}`, () => {
    const [d] = sharedPlugin().checkGrowth([{ size, atMs, prevSize, prevAtMs }], MAX, maxWait);
    assert.deepEqual(d, { rotateNow, nextCheckAtMs: next });
  });
}

test("growth rule: rotation disabled (negative maxSize) never rotates", () => {
  assert.deepEqual(sharedPlugin().checkGrowth([{ size: 1e12, atMs: 1, prevSize: 0, prevAtMs: 0 }], -1, 1000), [{ rotateNow: false, nextCheckAtMs: -1 }]);
});

test("tracker: a steady writer is looked at just before it crosses the limit, and rotated once it has", () => {
  const g = new GrowthTracker({ plugin: sharedPlugin(), maxSize: MAX, maxWaitMs: 1000 });
  // 20 bytes/ms from t=0.
  assert.deepEqual(g.sample([{ id: "a", size: 0 }], 0), []);
  assert.deepEqual(g.sample([{ id: "a", size: 2000 }], 100), []);
  const next = g.nextAt()!;
  assert.ok(next > 100 && next < 500, `predicted look at ${next}: 8000 bytes to go at 20 bytes/ms is 400 ms`);
  assert.deepEqual(g.due(next - 1), []);
  assert.deepEqual(g.due(next), ["a"]);
  assert.deepEqual(g.sample([{ id: "a", size: 20 * next }], next), next * 20 >= MAX ? ["a"] : []);
  assert.deepEqual(g.sample([{ id: "a", size: MAX + 5 }], 510), ["a"], "past the limit: rotate now");
  assert.equal(g.isHot("a"), false, `20 bytes/ms is below ${HOT_BYTES_PER_MS}`);
});

test("tracker: after a rotation the rate carries over; a shrinking file starts a new rate", () => {
  const g = new GrowthTracker({ plugin: sharedPlugin(), maxSize: 1_000_000, maxWaitMs: 1000 });
  g.sample([{ id: "a", size: 0 }], 0);
  g.sample([{ id: "a", size: 100_000 }], 1000); // 100 bytes/ms: hot
  assert.equal(g.isHot("a"), true);
  g.rotated("a", 1000);
  assert.ok(g.nextAt()! <= 1001, "looked at again at once after a rotation");
  g.sample([{ id: "a", size: 50_000 }], 1500);
  const next = g.nextAt()!;
  assert.ok(next > 1500 && next <= 2500, `from 0 at the rotation: ${next}`);
  // Someone else rotated it: the size dropped. The rate is measured from 0 at the previous look.
  g.sample([{ id: "a", size: 1_000 }], 1600);
  assert.ok(g.nextAt()! > 1600);
});

test("tracker: forgotten and not-kept containers are dropped", () => {
  const g = new GrowthTracker({ plugin: sharedPlugin(), maxSize: MAX, maxWaitMs: 1000 });
  g.sample([{ id: "a", size: 1 }, { id: "b", size: 1 }], 0);
  g.keep(new Set(["b"]));
  assert.deepEqual(g.due(10_000), ["b"]);
  g.forget("b");
  assert.equal(g.nextAt(), undefined);
});

test("a container started after the shim is seen and rotated long before the next pass (interval past Node's timer limit)", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const warnings: string[] = [];
  const onWarning = (w: Error) => warnings.push(w.name);
  process.on("warning", onWarning);
  t.after(() => process.off("warning", onWarning));
  // 1000h: past setTimeout's 2^31-1 ms. The only pass is the first one.
  const manager = h.manager({ clock: systemClock, intervalMs: 1000 * 3600 * 1000, growthChecks: true, policy: { maxSize: 64 * 1024, maxFiles: 5, compress: false } });
  manager.start();
  t.after(() => manager.stop());
  await new Promise((r) => setTimeout(r, 300)); // the first pass is done: no containers then
  const dir = join(h.logRoot, "ns_late_uid", "app");
  writeFiles(dir, {});
  h.runtime.addContainer({ id: "late", name: "app", state: "CONTAINER_RUNNING", logPath: join(dir, "0.log"), writer: { linesPerTick: 20, intervalMs: 10, lineBytes: 100 } });
  const rotated = () => existsSync(dir) && readdirSync(dir).some((n) => n.startsWith("0.log."));
  for (let waited = 0; !rotated() && waited < 60_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
  h.runtime.stopWriter("late");
  assert.ok(rotated(), `no rotation without a pass: ${existsSync(dir) ? readdirSync(dir).join(", ") : "no dir"}`);
  assert.deepEqual(warnings.filter((w) => w === "TimeoutOverflowWarning"), []);
});

test("a file a growth check's rotation leaves unread is in the held gauges at once, not at the next pass", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const dir = join(h.logRoot, "ns_held_uid", "app");
  // Rotated before the shim started, never read (no source credits it): the newest rotated file, so the
  // first pass has nothing to hold; once the live log rotates it is an older one, due for compression.
  writeFiles(dir, { "0.log": "", "0.log.20250101-000000": "unread\n" });
  h.runtime.addContainer({ id: "held", name: "app", state: "CONTAINER_RUNNING", logPath: join(dir, "0.log"), writer: { linesPerTick: 20, intervalMs: 10, lineBytes: 100 } });
  const held: number[] = [];
  const observer = { ...nullObserver, held: (files: number) => void held.push(files) };
  const progress = new ShipperProgress({ sources: [], plugin: sharedPlugin(), logger: h.logger });
  const manager = h.manager({ clock: systemClock, intervalMs: 1000 * 3600, growthChecks: true, observer, progress, policy: { maxSize: 64 * 1024, maxFiles: 5, compress: true, shipperAware: true } });
  manager.start();
  t.after(() => manager.stop());
  const rotated = () => readdirSync(dir).some((n) => /^0\.log\.\d{8}-\d{6}/.test(n) && !n.startsWith("0.log.2025"));
  for (let waited = 0; !(rotated() && held.at(-1) === 1) && waited < 60_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
  h.runtime.stopWriter("held");
  assert.ok(rotated(), `rotated by a growth check: ${readdirSync(dir).join(", ")}`);
  assert.equal(held[0], 0, "the first pass holds nothing: the planted file is the newest rotated one");
  assert.equal(held.at(-1), 1, `held after the rotation, with no pass since: ${held.join(", ")}`);
  assert.ok(readdirSync(dir).includes("0.log.20250101-000000"), "held, not compressed");
});

test("a change in the tree while the runtime is down: looked into again at the next pass, not reported as a failed pass", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const manager = h.manager({ clock: systemClock, intervalMs: 1000 * 3600 * 1000, growthChecks: true, policy: { maxSize: 64 * 1024, maxFiles: 5, compress: false } });
  manager.start();
  t.after(() => manager.stop());
  await new Promise((r) => setTimeout(r, 300)); // the first pass is done
  const listedBefore = h.runtime.calls.filter((c) => c.method === "ListContainers").length;
  h.runtime.injectError("ListContainers", new Error("runtime restarting"), "persistent");
  writeFiles(join(h.logRoot, "ns_new_uid", "app"), { "0.log": "" }); // a new pod: the runtime is asked at once
  for (let waited = 0; h.runtime.calls.filter((c) => c.method === "ListContainers").length === listedBefore && waited < 10_000; waited += 20) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 100));
  assert.ok(h.runtime.calls.filter((c) => c.method === "ListContainers").length > listedBefore, "the tree change asked the runtime");
  assert.deepEqual(h.logger.find({ level: "error" }).map((e) => e.msg), [], "no failed pass: the next pass reports the runtime");
  assert.equal(h.logger.find({ msg: "could not ask the runtime about a change in the log tree; the next pass asks again" }).length >= 1, true);
});
