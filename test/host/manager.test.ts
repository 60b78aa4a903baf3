// The log manager over the fake runtime on a real unix socket and real temp dirs: the kubelet's TestRotateLogs,
// TestClean and TestGetAllLogs, the steady state (ContainerStatus once per container), recovery, one
// container's failure never stopping the others, the worker pool, and stop() waiting for a rotation.

import { test, type TestContext } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import type { Cri } from "../../host/cri/types.js";
import { sharedPlugin, startHarness, listing, writeFiles, type Harness } from "../support/harness.js";
import { FaultyFs } from "../support/faulty-fs.js";
import type { RuntimeMethod } from "../fake-cri/index.js";
import { PathError, ProgressSourceError } from "../../host/errors.js";
import { nullObserver } from "../../host/manager/index.js";
import { ShipperProgress } from "../../host/progress/attacher.js";
import type { ProgressSource } from "../../host/progress/types.js";

const TS = "20260102-030404"; // the second before the harness's FakeClock: our rotated names stamp it (assembly/rules/names.ts)

async function harness(t: TestContext): Promise<Harness> {
  const h = await startHarness();
  t.after(() => h.close());
  return h;
}

/** The container ids of the recorded calls of `method`, sorted. */
function idsOf(h: Harness, method: RuntimeMethod): string[] {
  return h.runtime.calls.filter((c) => c.method === method).map((c) => c.request.container_id as string).sort();
}

function count(h: Harness, method: RuntimeMethod): number {
  return h.runtime.calls.filter((c) => c.method === method).length;
}

const LONG = "longer than 10 bytes";

test("kubelet TestRotateLogs: rotate, prune and compress in one pass; then a steady state without ContainerStatus", async (t) => {
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
    { id: "container-not-need-rotate", state: "CONTAINER_RUNNING", log: "test-log-1" },
    { id: "container-need-rotate", state: "CONTAINER_RUNNING", log: "test-log-2" },
    { id: "container-has-excess-log", state: "CONTAINER_RUNNING", log: "test-log-3" },
    { id: "container-is-not-running", state: "CONTAINER_EXITED", log: "test-log-4" },
  ] as const;
  for (const c of containers) h.runtime.addContainer({ id: c.id, name: c.id, state: c.state, logPath: join(dir, c.log) });
  const manager = h.manager({ policy: { maxSize: 10, maxFiles: 3, compress: true, shipperAware: false } });

  const report = await manager.runOnce();
  assert.deepEqual(report.failures, []);
  assert.deepEqual(listing(dir), [
    "test-log-1",
    "test-log-2", // upstream's fake Reopen creates no file; ours does, as containerd does
    `test-log-2.${TS}`,
    "test-log-3", // likewise new and empty
    "test-log-3.00000000-000001.gz",
    `test-log-3.${TS}`,
    "test-log-4",
  ]);
  assert.equal(fs.readFileSync(join(dir, "test-log-2"), "utf8"), "");
  assert.equal(fs.readFileSync(join(dir, `test-log-2.${TS}`), "utf8"), LONG);
  assert.equal(fs.readFileSync(join(dir, `test-log-3.${TS}`), "utf8"), LONG);
  assert.equal(gunzipSync(fs.readFileSync(join(dir, "test-log-3.00000000-000001.gz"))).toString(), "rotated before");
  assert.equal(fs.readFileSync(join(dir, "test-log-4"), "utf8"), LONG);

  assert.equal(count(h, "ListContainers"), 1);
  // The exited one's path is asked too (the kubelet asks running containers only): its live log keeps its
  // name, which is never another container's rotated file. Only running containers are rotated.
  assert.deepEqual(idsOf(h, "ContainerStatus"), ["container-has-excess-log", "container-is-not-running", "container-need-rotate", "container-not-need-rotate"]);
  assert.deepEqual(idsOf(h, "ReopenContainerLog"), ["container-has-excess-log", "container-need-rotate"]);
  assert.equal(manager.watched, 3);

  // The steady state: log paths are cached, so a pass costs one ListContainers and nothing else.
  h.runtime.clearCalls();
  await manager.runOnce();
  h.runtime.assertCalls(["ListContainers"]);

  // A container that stops is no longer watched; its path stays known (a container's log path never
  // changes, and its log's name stays another container's), so if it runs again nothing is asked.
  h.runtime.setState("container-need-rotate", "CONTAINER_EXITED");
  await manager.runOnce();
  assert.equal(manager.watched, 2);
  h.runtime.setState("container-need-rotate", "CONTAINER_RUNNING");
  h.runtime.clearCalls();
  await manager.runOnce();
  h.runtime.assertCalls(["ListContainers"]);
  assert.equal(manager.watched, 3);
  // One that is removed is forgotten: if its id came back, its path would be asked again.
  h.runtime.removeContainer("container-is-not-running");
  await manager.runOnce();
  h.runtime.addContainer({ id: "container-is-not-running", name: "again", state: "CONTAINER_RUNNING", logPath: join(dir, "test-log-4") });
  h.runtime.clearCalls();
  await manager.runOnce();
  h.runtime.assertCalls(["ListContainers", "ContainerStatus", "ReopenContainerLog"]);
});

test("kubelet TestClean: removes <log>* of an exited container and nothing else", async (t) => {
  const h = await harness(t);
  const dir = join(h.logRoot, "pod");
  writeFiles(dir, {
    "test-log-1": "",
    "test-log-2": "",
    "test-log-3": "",
    "test-log-2.00000000-000000.gz": "",
    "test-log-2.00000000-000001": "",
    "test-log-3.00000000-000000.gz": "",
    "test-log-3.00000000-000001": "",
  });
  for (const n of [1, 2, 3]) {
    h.runtime.addContainer({ id: `container-${n}`, name: `c${n}`, state: n === 3 ? "CONTAINER_EXITED" : "CONTAINER_RUNNING", logPath: join(dir, `test-log-${n}`) });
  }
  const manager = h.manager();
  const { removed, skipped } = await manager.clean("container-3");
  assert.deepEqual(listing(dir), ["test-log-1", "test-log-2", "test-log-2.00000000-000000.gz", "test-log-2.00000000-000001"]);
  assert.deepEqual(removed.map((b) => b.toString()).sort(), ["test-log-3", "test-log-3.00000000-000000.gz", "test-log-3.00000000-000001"].map((n) => join(dir, n)));
  assert.deepEqual(skipped, []);
});

test("clean refuses an empty log path and one outside the log root, touching nothing", async (t) => {
  const h = await harness(t);
  // An empty path would be the kubelet's glob "*" in its working directory; make sure one is here to lose.
  const outside = join(h.base, "outside");
  writeFiles(outside, { "test-log": "not ours", "test-log.00000000-000000": "not ours either" });
  const inside = join(h.logRoot, "pod");
  writeFiles(inside, { "bystander": "keep" });
  const empty = h.runtime.addContainer({ id: "empty", name: "empty", state: "CONTAINER_EXITED", logPath: join(inside, "x") });
  empty.logPath = ""; // addContainer resolves relative paths; the runtime reports an empty one
  h.runtime.addContainer({ id: "outside", name: "outside", state: "CONTAINER_EXITED", logPath: join(outside, "test-log") });
  const manager = h.manager();
  const before = [listing(h.base), listing(outside), listing(inside), listing(h.logRoot)];
  const cases: Record<string, RegExp> = { empty: /log path is empty/, outside: /outside the log root/ };
  for (const [id, why] of Object.entries(cases)) {
    await assert.rejects(manager.clean(id), (err: unknown) => err instanceof PathError && why.test(err.message));
  }
  assert.deepEqual([listing(h.base), listing(outside), listing(inside), listing(h.logRoot)], before);
});

test("kubelet TestGetAllLogs: in-use rotated files oldest first, the live log last", async (t) => {
  const h = await harness(t);
  const dir = join(h.logRoot, "pod");
  const names = [
    "test-log",
    "test-log.11111111-111111.gz",
    "test-log.00000000-000000.gz",
    "test-log.19900322-000000.gz",
    "test-log.19900322-111111.gz",
    "test-log.19880620-000000", // unused: its .gz exists
    "test-log.19880620-000000.gz",
    "test-log.19880620-111111.gz",
    "test-log.20180101-000000",
    "test-log.20180101-000000.tmp", // unused: an interrupted compression
  ];
  writeFiles(dir, Object.fromEntries(names.map((n) => [n, ""])));
  h.runtime.addContainer({ id: "c", name: "c", state: "CONTAINER_RUNNING", logPath: join(dir, "test-log") });
  const logs = await h.manager().getAllLogs("c");
  assert.deepEqual(
    logs.map((b) => b.toString()),
    [
      "test-log.00000000-000000.gz",
      "test-log.11111111-111111.gz",
      "test-log.19880620-000000.gz",
      "test-log.19880620-111111.gz",
      "test-log.19900322-000000.gz",
      "test-log.19900322-111111.gz",
      "test-log.20180101-000000",
      "test-log",
    ].map((n) => join(dir, n)),
  );
  assert.deepEqual(listing(dir), [...names].sort(), "GetAllLogs changes nothing");
});

test("a missing live log is recovered through ReopenContainerLog", async (t) => {
  const h = await harness(t);
  const dir = join(h.logRoot, "pod");
  writeFiles(dir, { "0.log.20250101-000000": "older" }); // the live 0.log is gone, e.g. a rename back that failed
  h.runtime.addContainer({ id: "c", name: "c", state: "CONTAINER_RUNNING", logPath: join(dir, "0.log") });
  const report = await h.manager().runOnce();
  assert.deepEqual(report.failures, []);
  assert.deepEqual(report.outcomes.map((o) => [o.kind, o.action.reason]), [["recover", "live-log-missing"]]);
  h.runtime.assertCalls(["ListContainers", "ContainerStatus", "ReopenContainerLog"]);
  assert.deepEqual(listing(dir), ["0.log", "0.log.20250101-000000"]);
  assert.equal(h.logger.find({ msg: "recovered missing container log" })[0]?.fields.containerId, "c");
});

test("ContainerStatus failing for one container: the others rotate, the failed one is asked again and rotates next pass", async (t) => {
  const h = await harness(t);
  const dir = join(h.logRoot, "pod");
  const ids = ["a", "b", "c"];
  writeFiles(dir, Object.fromEntries(ids.map((id) => [`${id}.log`, LONG])));
  for (const id of ids) h.runtime.addContainer({ id, name: id, state: "CONTAINER_RUNNING", logPath: join(dir, `${id}.log`) });
  h.runtime.injectError("ContainerStatus", new Error("status boom"), 1);
  const manager = h.manager({ workers: 2 });

  await manager.runOnce();
  const failedEntries = h.logger.find({ level: "error", msg: "failed to get container status" });
  assert.equal(failedEntries.length, 1);
  const failed = failedEntries[0]!.fields.containerId as string;
  assert.ok(ids.includes(failed));
  const others = ids.filter((id) => id !== failed);
  assert.deepEqual(idsOf(h, "ReopenContainerLog"), others);
  const expected = (rotated: string[]) => ids.flatMap((id) => (rotated.includes(id) ? [`${id}.log`, `${id}.log.${TS}`] : [`${id}.log`])).sort();
  assert.deepEqual(listing(dir), expected(others));

  h.runtime.clearCalls();
  await manager.runOnce();
  assert.deepEqual(idsOf(h, "ContainerStatus"), [failed], "only the container without a cached path is asked again");
  assert.deepEqual(idsOf(h, "ReopenContainerLog"), [failed]);
  assert.deepEqual(listing(dir), expected(ids));
});

test("an I/O error while checking one container's path does not stop the others; it is checked again next pass", async (t) => {
  const h = await harness(t);
  const ids = ["a", "b"];
  for (const id of ids) {
    writeFiles(join(h.logRoot, `pod-${id}`), { "0.log": LONG });
    h.runtime.addContainer({ id, name: id, state: "CONTAINER_RUNNING", logPath: join(h.logRoot, `pod-${id}`, "0.log") });
  }
  const ffs = new FaultyFs();
  ffs.injectError("lstat", Object.assign(new Error("EACCES: permission denied"), { code: "EACCES" }), { match: (p) => p === join(h.logRoot, "pod-a") });
  const manager = h.manager({ fs: ffs });

  const first = await manager.runOnce();
  assert.deepEqual(first.outcomes.map((o) => o.path.toString()), [join(h.logRoot, "pod-b", "0.log")]);
  assert.deepEqual(listing(join(h.logRoot, "pod-a")), ["0.log"]);
  assert.equal(h.logger.find({ level: "error", msg: "failed to check container log path" })[0]?.fields.containerId, "a");

  h.runtime.clearCalls();
  await manager.runOnce();
  assert.deepEqual(idsOf(h, "ContainerStatus"), ["a"]);
  assert.deepEqual(listing(join(h.logRoot, "pod-a")), ["0.log", `0.log.${TS}`]);
});

test("ReopenContainerLog failing: the rotated file is renamed back, the error is logged, the next pass rotates", async (t) => {
  const h = await harness(t);
  const dir = join(h.logRoot, "pod");
  writeFiles(dir, { "0.log": LONG });
  h.runtime.addContainer({ id: "c", name: "c", state: "CONTAINER_RUNNING", logPath: join(dir, "0.log") });
  h.runtime.injectError("ReopenContainerLog", new Error("reopen boom"), 1);
  const manager = h.manager();

  const report = await manager.runOnce();
  assert.equal(report.failures.length, 1);
  assert.equal(report.failures[0]!.id, "c");
  assert.deepEqual(listing(dir), ["0.log"]);
  assert.equal(fs.readFileSync(join(dir, "0.log"), "utf8"), LONG);
  const [entry, ...more] = h.logger.find({ level: "error", msg: "failed to rotate log for container" });
  assert.equal(more.length, 0);
  assert.equal(entry!.fields.containerId, "c");
  assert.equal(String(entry!.fields.path), join(dir, "0.log"));
  assert.match((entry!.fields.err as Error).message, /failed to reopen container log "c".*renamed back/);

  const second = await manager.runOnce();
  assert.deepEqual(second.failures, []);
  assert.deepEqual(listing(dir), ["0.log", `0.log.${TS}`]);
  assert.equal(fs.readFileSync(join(dir, `0.log.${TS}`), "utf8"), LONG);
});

test("a compress failure never blocks a rotation; it is retried and its leftover .tmp cleaned at the next rotation", async (t) => {
  const h = await harness(t);
  const files = { "0.log": LONG, "0.log.20250101-000000": "older lines\n" };
  const dirA = join(h.logRoot, "pod-a");
  const dirB = join(h.logRoot, "pod-b");
  writeFiles(dirA, files);
  writeFiles(dirB, files);
  h.runtime.addContainer({ id: "a", name: "a", state: "CONTAINER_RUNNING", logPath: join(dirA, "0.log") });
  h.runtime.addContainer({ id: "b", name: "b", state: "CONTAINER_RUNNING", logPath: join(dirB, "0.log") });
  const ffs = new FaultyFs();
  const tmpA = join(dirA, "0.log.20250101-000000.tmp");
  // The gzip stream fails half-way and the best-effort removal of the .tmp fails too (as after a crash).
  ffs.injectError("write", new Error("ENOSPC: no space left on device"), { afterBytes: 10, match: (p) => p === tmpA });
  ffs.injectError("remove", new Error("EIO"), { match: (p) => p === tmpA });
  const manager = h.manager({ fs: ffs, workers: 2, policy: { maxFiles: 5 } });

  const first = await manager.runOnce();
  assert.deepEqual(first.failures, [], "a compression failure is not the pass's: the rotation happened");
  assert.deepEqual(listing(dirA), ["0.log", "0.log.20250101-000000", "0.log.20250101-000000.tmp", `0.log.${TS}`]);
  assert.deepEqual(listing(dirB), ["0.log", "0.log.20250101-000000.gz", `0.log.${TS}`]);
  const warned = h.logger.find({ level: "warn", msg: "failed to compress a rotated log" });
  assert.equal(warned.length, 1);
  assert.equal(warned[0]!.fields.containerId, "a");

  h.clock.advance(1000);
  writeFiles(dirA, { "0.log": LONG }); // due again
  const second = await manager.runOnce();
  assert.deepEqual(second.failures, []);
  assert.deepEqual(
    second.outcomes.filter((o) => o.path.toString().startsWith(dirA + "/")).map((o) => [o.kind, o.action.reason]),
    [
      ["remove", "unused-tmp"],
      ["rotate", "size-limit"],
      ["compress", "compress-rotated"],
      ["compress", "compress-rotated"],
    ],
  );
  assert.deepEqual(listing(dirA), ["0.log", "0.log.20250101-000000.gz", `0.log.${TS}.gz`, "0.log.20260102-030405"]);
  assert.equal(gunzipSync(fs.readFileSync(join(dirA, "0.log.20250101-000000.gz"))).toString(), "older lines\n");
});

test("workers: 8 containers with 4 workers all rotate, never two actions on one container at once", async (t) => {
  const h = await harness(t);
  const ids = Array.from({ length: 8 }, (_, i) => `c${i}`);
  for (const id of ids) {
    const dir = join(h.logRoot, `pod-${id}`);
    writeFiles(dir, { "0.log": LONG, "0.log.20250101-000000": "older\n" });
    h.runtime.addContainer({ id, name: id, state: "CONTAINER_RUNNING", logPath: join(dir, "0.log") });
  }
  // Slow every mutation down so overlapping work shows, and count what is in flight per container directory.
  const ffs = new FaultyFs();
  for (const op of ["rename", "link", "remove", "openRead"] as const) ffs.delay(op, 15);
  const inFlight = new Map<string, number>();
  let maxPerContainer = 0;
  let containersBusy = 0;
  let maxContainersBusy = 0;
  const containerOf = (p: string) => (p.startsWith(h.logRoot + "/pod-") ? p.slice(h.logRoot.length + 1).split("/")[0]! : undefined);
  const enter = (key: string | undefined) => {
    if (!key) return;
    const n = (inFlight.get(key) ?? 0) + 1;
    inFlight.set(key, n);
    if (n === 1) maxContainersBusy = Math.max(maxContainersBusy, ++containersBusy);
    maxPerContainer = Math.max(maxPerContainer, n);
  };
  const exit = (key: string | undefined) => {
    if (!key) return;
    const n = inFlight.get(key)! - 1;
    inFlight.set(key, n);
    if (n === 0) containersBusy--;
  };
  // A compression's own steps (its source opened, its .tmp written and linked) are counted apart.
  const compressionSteps = new Set(["openRead", "createExclusive", "write", "sync", "close"]);
  const isCompression = (c: { op: string; path: string; to?: string }) => compressionSteps.has(c.op) || c.path.endsWith(".tmp") || (c.to ?? "").endsWith(".gz");
  const compressing = new Map<string, number>();
  let maxCompressionsPerContainer = 0;
  let compressions = 0;
  let maxCompressions = 0;
  // A compression starts when it opens its source and ends when it removes its temporary name.
  // A rotation's own step: the rename of the live log (the looks before the plan only read).
  const isRotationStep = (c: { op: string; path: string }) => (c.op === "rename" || c.op === "remove") && c.path.endsWith("/0.log");
  ffs.trace = {
    enter: (c) => {
      if (isRotationStep(c)) return enter(containerOf(c.path));
      if (!isCompression(c)) return;
      if (c.op !== "openRead") return;
      const key = containerOf(c.path)!;
      compressing.set(key, (compressing.get(key) ?? 0) + 1);
      maxCompressionsPerContainer = Math.max(maxCompressionsPerContainer, compressing.get(key)!);
      maxCompressions = Math.max(maxCompressions, ++compressions);
    },
    exit: (c) => {
      if (isRotationStep(c)) return exit(containerOf(c.path));
      if (!isCompression(c)) return;
      if (c.op !== "remove" || !c.path.endsWith(".tmp")) return;
      const key = containerOf(c.path)!;
      compressing.set(key, compressing.get(key)! - 1);
      compressions--;
    },
  };
  // The same from the runtime's side: ReopenContainerLog calls in flight per container.
  const reopening = new Map<string, number>();
  let maxReopenPerId = 0;
  let onReopen: ((id: string) => void) | undefined;
  const cri: Cri = Object.create(h.cri);
  cri.reopenContainerLog = async (id: string) => {
    reopening.set(id, (reopening.get(id) ?? 0) + 1);
    maxReopenPerId = Math.max(maxReopenPerId, reopening.get(id)!);
    onReopen?.(id);
    try {
      await new Promise((r) => setTimeout(r, 15));
      await h.cri.reopenContainerLog(id);
    } finally {
      reopening.set(id, reopening.get(id)! - 1);
    }
  };
  const manager = h.manager({ fs: ffs, cri, workers: 4 });

  const report = await manager.runOnce();
  assert.deepEqual(report.failures, []);
  for (const id of ids) assert.deepEqual(listing(join(h.logRoot, `pod-${id}`)), ["0.log", "0.log.20250101-000000.gz", `0.log.${TS}`], id);
  assert.deepEqual(idsOf(h, "ReopenContainerLog"), ids);
  // Rotations and background compressions are counted apart: a compression may run beside the next rotation
  // of the same container (rotation never waits for it), but never two rotation steps, nor two compressions.
  assert.equal(maxPerContainer, 1, "two rotation steps on one container overlapped");
  assert.equal(maxCompressionsPerContainer, 1, "two compressions of one container overlapped");
  assert.equal(maxReopenPerId, 1);
  assert.ok(maxContainersBusy > 1, `the workers ran one after another (max ${maxContainersBusy} containers busy)`);
  assert.ok(maxContainersBusy <= 4, `more containers rotating (${maxContainersBusy}) than workers (4)`);
  assert.ok(maxCompressions <= 4, `more compressions at once (${maxCompressions}) than workers (4)`);

  // clean() shares the per-container lock with the pass: called while c0's rotation is in flight, it waits.
  writeFiles(join(h.logRoot, "pod-c0"), { "0.log": LONG });
  const reopenStarted = new Promise<void>((resolve) => (onReopen = (id) => id === "c0" && resolve()));
  const pass = manager.runOnce();
  await reopenStarted;
  const [second, cleaned] = await Promise.all([pass, manager.clean("c0")]);
  assert.deepEqual(second.failures, []);
  assert.equal(maxPerContainer, 1, "clean overlapped the rotation of the same container");
  // The rotation finished first: the live log it reopened and the rotated file; the compression of the
  // previous one, queued behind the rotation, was given up by clean (which removed it as it was).
  assert.deepEqual(cleaned.removed.map((b) => b.toString()).sort(), ["0.log", `0.log.${TS}`, `0.log.${TS}_000001`].map((n) => join(h.logRoot, "pod-c0", n)));
  assert.deepEqual(listing(join(h.logRoot, "pod-c0")), []);
});

test("stop() during a pass waits for the rotation in flight to finish", async (t) => {
  const h = await harness(t);
  const dir = join(h.logRoot, "pod");
  writeFiles(dir, { "0.log": LONG });
  h.runtime.addContainer({ id: "c", name: "c", state: "CONTAINER_RUNNING", logPath: join(dir, "0.log") });
  h.runtime.delay("ReopenContainerLog", 300, 1);
  const manager = h.manager();
  manager.start();
  const deadline = Date.now() + 5_000;
  while (count(h, "ReopenContainerLog") === 0) {
    assert.ok(Date.now() < deadline, "the pass never reached ReopenContainerLog");
    await new Promise((r) => setTimeout(r, 5));
  }
  // The rename is done and the reopen is in flight: the live log is missing right now.
  assert.deepEqual(listing(dir), [`0.log.${TS}`]);
  const started = Date.now();
  await manager.stop();
  assert.ok(Date.now() - started >= 200, "stop() returned before the delayed ReopenContainerLog answered");
  assert.deepEqual(listing(dir), ["0.log", `0.log.${TS}`]);
  assert.equal(fs.readFileSync(join(dir, `0.log.${TS}`), "utf8"), LONG);
  assert.equal(h.logger.find({ msg: "rotated container log" }).length, 1);
  assert.equal(h.logger.find({ level: "error" }).length, 0);
  // Stopped means stopped: no further pass.
  const calls = h.runtime.calls.length;
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(h.runtime.calls.length, calls);
});

test("shipper progress failures are counted in errors_total{progress} every pass, though logged once", async (t) => {
  const h = await harness(t);
  const dir = join(h.logRoot, "pod");
  writeFiles(dir, { "0.log": "x" });
  h.runtime.addContainer({ id: "c1", name: "c1", state: "CONTAINER_RUNNING", logPath: join(dir, "0.log") });
  const broken: ProgressSource = { name: "progress.inTailDb", read: async () => ({ claims: [], errors: [new ProgressSourceError("PROGRESS_DB_READ", "/db", "cannot read /db")] }) };
  const progress = new ShipperProgress({ sources: [broken], plugin: sharedPlugin(), logger: h.logger });
  const errors: string[] = [];
  const observer = { ...nullObserver, error: (kind: string) => errors.push(kind) };
  const manager = h.manager({ policy: { shipperAware: true }, progress, observer });
  for (let pass = 0; pass < 3; pass++) await manager.runOnce();
  assert.deepEqual(errors, ["progress", "progress", "progress"]);
});
