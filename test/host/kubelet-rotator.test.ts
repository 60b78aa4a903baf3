// The kubelet port (test/support/kubelet-rotator.ts) is faithful: the kubelet's own test cases
// (container_log_manager_test.go: TestRotateLogs, TestCleanupUnusedLog, TestRemoveExcessLog, TestCompressLog,
// TestRotateLatestLog) against the fake runtime on a real socket and real temp dirs, asserting the final
// listing — and the kubelet's hazards, which the port keeps on purpose because it is the neighbour the shim
// must survive.
import { test, type TestContext } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { KubeletRotator, kubeletTimestamp, realKubeletOs, type KubeletEvent, type KubeletOs, type KubeletRotatorOptions } from "../support/kubelet-rotator.js";
import { listing, modeOf, startHarness, TEST_NOW_MS, writeFiles, type Harness } from "../support/harness.js";

const TS = "20260102-030405"; // the harness's FakeClock, formatted as the kubelet does
const LONG = "longer than 10 bytes";

async function harness(t: TestContext): Promise<Harness> {
  const h = await startHarness();
  t.after(() => h.close());
  return h;
}

function rotator(h: Harness, options: Partial<KubeletRotatorOptions> = {}): { k: KubeletRotator; events: KubeletEvent[] } {
  const events: KubeletEvent[] = [];
  const k = new KubeletRotator({ cri: h.cri, clock: h.clock, maxSize: 10, maxFiles: 3, intervalMs: 10_000, workers: 1, onEvent: (e) => events.push(e), ...options });
  return { k, events };
}

const errorsOf = (events: KubeletEvent[]) => events.flatMap((e) => (e.kind === "error" ? [`${e.msg}: ${e.err.message}`] : []));

test("kubeletTimestamp is Go's Format(\"20060102-150405\") in UTC", () => {
  assert.equal(kubeletTimestamp(TEST_NOW_MS), TS);
  assert.equal(kubeletTimestamp(0), "19700101-000000");
  assert.equal(kubeletTimestamp(Date.UTC(2026, 11, 31, 23, 59, 59, 999)), "20261231-235959");
});

test("kubelet TestRotateLogs: rotate, prune and compress in one tick; EXITED untouched; no state kept between ticks", async (t) => {
  const h = await harness(t);
  const dir = join(h.logRoot, "pod");
  writeFiles(dir, {
    "test-log-1": "short", // below MaxSize: not rotated
    "test-log-2": LONG,
    "test-log-3": LONG,
    "test-log-4": LONG, // its container is not running: untouched
    "test-log-3.00000000-000001": "rotated before", // compressed: the rotation makes it the second newest
    "test-log-3.00000000-000000.gz": "oldest", // excess for MaxFiles=3: removed
  });
  const containers = [
    ["container-not-need-rotate", "CONTAINER_RUNNING", "test-log-1"],
    ["container-need-rotate", "CONTAINER_RUNNING", "test-log-2"],
    ["container-has-excess-log", "CONTAINER_RUNNING", "test-log-3"],
    ["container-is-not-running", "CONTAINER_EXITED", "test-log-4"],
  ] as const;
  for (const [id, state, log] of containers) h.runtime.addContainer({ id, name: id, state, logPath: join(dir, log) });
  const { k, events } = rotator(h);

  await k.runOnce();
  assert.deepEqual(errorsOf(events), []);
  assert.deepEqual(listing(dir), [
    "test-log-1",
    "test-log-2", // upstream's fake Reopen creates no file; containerd (and our fake runtime) does
    `test-log-2.${TS}`,
    "test-log-3", // likewise new and empty
    "test-log-3.00000000-000001.gz",
    `test-log-3.${TS}`,
    "test-log-4",
  ]);
  assert.equal(fs.readFileSync(join(dir, `test-log-2.${TS}`), "utf8"), LONG);
  assert.equal(fs.readFileSync(join(dir, `test-log-3.${TS}`), "utf8"), LONG);
  assert.equal(gunzipSync(fs.readFileSync(join(dir, "test-log-3.00000000-000001.gz"))).toString(), "rotated before");
  assert.equal(fs.readFileSync(join(dir, "test-log-4"), "utf8"), LONG);
  // One worker: the queue in ListContainers order, each container status → stat → rotate.
  h.runtime.assertCalls(["ListContainers", "ContainerStatus", "ContainerStatus", "ReopenContainerLog", "ContainerStatus", "ReopenContainerLog"]);
  assert.deepEqual(k.stats, { ticks: 1, rotations: 2, compressions: 1, removals: 1, reopens: 0, errors: 0 });

  // The kubelet caches nothing: the next tick asks every running container's status again.
  h.runtime.clearCalls();
  await k.runOnce();
  h.runtime.assertCalls(["ListContainers", "ContainerStatus", "ContainerStatus", "ContainerStatus"]);
});

test("kubelet TestCleanupUnusedLog: the .tmp and the file beside its .gz are removed", async (t) => {
  const h = await harness(t);
  const dir = join(h.logRoot, "pod");
  const names = ["test-log-1", "test-log-1.tmp", "test-log-2", "test-log-2.gz"];
  writeFiles(dir, Object.fromEntries(names.map((n) => [n, ""])));
  const { k } = rotator(h);
  const inuse = await k.cleanupUnusedLogs(names.map((n) => join(dir, n)));
  assert.deepEqual(inuse.map(String), ["test-log-1", "test-log-2.gz"].map((n) => join(dir, n)));
  assert.deepEqual(listing(dir), ["test-log-1", "test-log-2.gz"]);
});

const removeExcessCases: Record<string, { maxFiles: number; expected: string[] }> = {
  "MaxFiles equal to 2": { maxFiles: 2, expected: [] },
  "MaxFiles more than 2": { maxFiles: 3, expected: ["test-log-4"] },
  "MaxFiles more than log file number": { maxFiles: 6, expected: ["test-log-1", "test-log-2", "test-log-3", "test-log-4"] },
};
for (const [name, tc] of Object.entries(removeExcessCases)) {
  test(`kubelet TestRemoveExcessLog: ${name}`, async (t) => {
    const h = await harness(t);
    const dir = join(h.logRoot, "pod");
    const names = ["test-log-3", "test-log-1", "test-log-2", "test-log-4"];
    writeFiles(dir, Object.fromEntries(names.map((n) => [n, ""])));
    const { k } = rotator(h, { maxFiles: tc.maxFiles });
    const kept = await k.removeExcessLogs(names.map((n) => join(dir, n)));
    assert.deepEqual(kept.map(String), tc.expected.map((n) => join(dir, n)));
    assert.deepEqual(listing(dir), tc.expected);
  });
}

test("kubelet TestCompressLog: .gz with the original's mode, no .tmp left, the original removed; a missing log is an error", async (t) => {
  const h = await harness(t);
  const dir = join(h.logRoot, "pod");
  writeFiles(dir, { "test-log": "test log content" });
  fs.chmodSync(join(dir, "test-log"), 0o640);
  const { k } = rotator(h);
  await k.compressLog(join(dir, "test-log"));
  assert.deepEqual(listing(dir), ["test-log.gz"]);
  assert.equal(modeOf(join(dir, "test-log.gz")), 0o640);
  assert.equal(gunzipSync(fs.readFileSync(join(dir, "test-log.gz"))).toString(), "test log content");
  await assert.rejects(k.compressLog(join(dir, "test-unknown-log")), /failed to stat log file/);
  assert.deepEqual(listing(dir), ["test-log.gz"]);
});

const rotateLatestCases: Record<string, { reopenFails: boolean; listing: string[]; error?: RegExp }> = {
  "should successfully rotate log when MaxFiles is 2": { reopenFails: false, listing: ["test-log", `test-log.${TS}`] },
  "should restore original log when ReopenContainerLog fails": { reopenFails: true, listing: ["test-log"], error: /failed to reopen container log "c"/ },
};
for (const [name, tc] of Object.entries(rotateLatestCases)) {
  test(`kubelet TestRotateLatestLog: ${name}`, async (t) => {
    const h = await harness(t);
    const dir = join(h.logRoot, "pod");
    writeFiles(dir, { "test-log": "the live log" });
    h.runtime.addContainer({ id: "c", name: "c", state: "CONTAINER_RUNNING", logPath: join(dir, "test-log") });
    if (tc.reopenFails) h.runtime.injectError("ReopenContainerLog", new Error("reopen boom"));
    const { k } = rotator(h, { maxFiles: 2 });
    const done = k.rotateLatestLog("c", join(dir, "test-log"));
    if (tc.error) await assert.rejects(done, tc.error);
    else await done;
    h.runtime.assertCalls(["ReopenContainerLog"]);
    assert.deepEqual(listing(dir), tc.listing);
    // The bytes stay: in the rotated file, or back in the live log.
    assert.equal(fs.readFileSync(join(dir, tc.reopenFails ? "test-log" : `test-log.${TS}`), "utf8"), "the live log");
  });
}

test("a missing live log is recovered with ReopenContainerLog (and rotated only when over the limit)", async (t) => {
  const h = await harness(t);
  const dir = join(h.logRoot, "pod");
  writeFiles(dir, { "0.log.20250101-000000": "older" });
  h.runtime.addContainer({ id: "c", name: "c", state: "CONTAINER_RUNNING", logPath: join(dir, "0.log") });
  const { k, events } = rotator(h);
  await k.runOnce();
  h.runtime.assertCalls(["ListContainers", "ContainerStatus", "ReopenContainerLog"]);
  assert.deepEqual(listing(dir), ["0.log", "0.log.20250101-000000"]);
  assert.deepEqual(events.map((e) => e.kind), ["reopened"]);
});

test("one container's failure does not stop the others; a failed id is not retried before the next tick", async (t) => {
  const h = await harness(t);
  const dir = join(h.logRoot, "pod");
  writeFiles(dir, { "a.log": LONG, "b.log": LONG });
  for (const id of ["a", "b"]) h.runtime.addContainer({ id, name: id, state: "CONTAINER_RUNNING", logPath: join(dir, `${id}.log`) });
  h.runtime.injectError("ContainerStatus", new Error("status boom"), 1);
  const { k, events } = rotator(h, { workers: 2 });
  await k.runOnce();
  assert.deepEqual(errorsOf(events).map((e) => e.replace(/:.*/, "")), ["Failed to get container status"]);
  assert.deepEqual(listing(dir), ["a.log", "b.log", `b.log.${TS}`]);
  h.runtime.clearCalls();
  await k.runOnce();
  assert.deepEqual(listing(dir), ["a.log", `a.log.${TS}`, "b.log", `b.log.${TS}`]);
});

test("the kubelet's settings: MaxFiles > 1 and workers >= 1 are required; a negative max size runs nothing", async (t) => {
  const h = await harness(t);
  assert.throws(() => rotator(h, { maxFiles: 1 }), /invalid MaxFiles 1, must be > 1/);
  assert.throws(() => rotator(h, { workers: 0 }), /containerLogMaxWorkers must be greater than or equal to 1/);
  const dir = join(h.logRoot, "pod");
  writeFiles(dir, { "0.log": LONG });
  h.runtime.addContainer({ id: "c", name: "c", state: "CONTAINER_RUNNING", logPath: join(dir, "0.log") });
  const { k } = rotator(h, { maxSize: -1 });
  await k.runOnce();
  k.start();
  await k.stop();
  h.runtime.assertCalls([]);
  assert.deepEqual(listing(dir), ["0.log"]);
});

test("start() ticks on the clock with its workers until stop(); stop() lets the container in work finish", async (t) => {
  const h = await harness(t);
  const dir = join(h.logRoot, "pod");
  writeFiles(dir, { "0.log": LONG });
  h.runtime.addContainer({ id: "c", name: "c", state: "CONTAINER_RUNNING", logPath: join(dir, "0.log") });
  h.runtime.delay("ReopenContainerLog", 200, 1);
  const controller = new AbortController();
  // The real clock: the first tick runs at once, the next one a period later.
  const { k, events } = rotator(h, { clock: undefined, intervalMs: 60_000, workers: 2, signal: controller.signal });
  k.start();
  while (!h.runtime.callNames().includes("ReopenContainerLog")) await new Promise((r) => setTimeout(r, 5));
  controller.abort();
  await k.stop();
  assert.deepEqual(events.map((e) => e.kind), ["rotated"], "the rotation in flight finished");
  assert.equal(k.stats.ticks, 1);
  const names = listing(dir);
  assert.equal(names.length, 2);
  assert.match(names[1]!, /^0\.log\.\d{8}-\d{6}$/);
});

// The hazards the port keeps because the kubelet has them: the shim has to survive this neighbour.
test("kept on purpose: a rotation in a second that already has a rotated file leaves a newer X beside an older X.gz, and the next tick deletes it", async (t) => {
  const h = await harness(t);
  const dir = join(h.logRoot, "pod");
  // Another rotator renamed the live log in this same second.
  writeFiles(dir, { "0.log": "newer lines\n".repeat(2), [`0.log.${TS}`]: "older lines\n" });
  h.runtime.addContainer({ id: "c", name: "c", state: "CONTAINER_RUNNING", logPath: join(dir, "0.log") });
  const { k } = rotator(h, { maxFiles: 1000 });
  await k.runOnce(); // compresses 0.log.<TS> (older), then renames 0.log to the same name
  assert.deepEqual(listing(dir), ["0.log", `0.log.${TS}`, `0.log.${TS}.gz`]);
  assert.equal(fs.readFileSync(join(dir, `0.log.${TS}`), "utf8"), "newer lines\n".repeat(2));
  fs.writeFileSync(join(dir, "0.log"), LONG);
  await k.runOnce(); // "X beside X.gz is unused": the newer lines go
  assert.deepEqual(listing(dir), ["0.log", `0.log.${TS}`, `0.log.${TS}.gz`]);
  assert.equal(fs.readFileSync(join(dir, `0.log.${TS}`), "utf8"), LONG);
  assert.equal(gunzipSync(fs.readFileSync(join(dir, `0.log.${TS}.gz`))).toString(), "older lines\n");
});

test("kept on purpose: X.tmp is opened with O_TRUNC and no O_EXCL, and removed after a successful rename whoever made it since", async (t) => {
  const h = await harness(t);
  const dir = join(h.logRoot, "pod");
  writeFiles(dir, { "X": "to compress", "X.tmp": "another compressor's half-written archive" });
  fs.linkSync(join(dir, "X.tmp"), join(dir, "theirs")); // the other compressor's view of its temp file
  // Right after our rename of X.tmp, a second rotator creates its own X.tmp.
  const os: KubeletOs = {
    ...realKubeletOs,
    async rename(from, to) {
      await realKubeletOs.rename(from, to);
      if (from.toString().endsWith("X.tmp")) fs.writeFileSync(join(dir, "X.tmp"), "the second rotator's temp file");
    },
  };
  const { k } = rotator(h, { os });
  await k.compressLog(join(dir, "X"));
  assert.deepEqual(listing(dir), ["X.gz", "theirs"], "the second rotator's X.tmp was removed by the deferred cleanup");
  assert.equal(gunzipSync(fs.readFileSync(join(dir, "theirs"))).toString(), "to compress", "their temp file was truncated and overwritten");
});
