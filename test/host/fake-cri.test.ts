// test/fake-cri behaves like containerd where the log manager can tell: the writer follows the renamed file
// until ReopenContainerLog, reopen of a stopped container fails with containerd's message, and no line is lost
// or doubled across the switch.

import { after, before, describe, test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { CriError } from "../../host/errors.js";
import { createCriAdmin, type CriAdmin } from "../support/cri-admin.js";
import { type FakeRuntime, criLine, rfc3339Nano, startFakeRuntime } from "../fake-cri/index.js";

const CRI_LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z) stdout F (\d+)(?: x+)?$/;

/** The line numbers in a CRI log file, checking the format of every line. */
function lineNumbers(file: string): number[] {
  const text = fs.readFileSync(file, "utf8");
  if (text === "") return [];
  assert.ok(text.endsWith("\n"), `${file} ends mid-line`);
  return text
    .slice(0, -1)
    .split("\n")
    .map((line) => {
      const m = CRI_LINE.exec(line);
      assert.ok(m, `not a CRI line: ${JSON.stringify(line)}`);
      return Number(m[2]);
    });
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

async function waitFor(what: string, predicate: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fake-cri-"));
let rt: FakeRuntime;
let cri: CriAdmin;
before(async () => {
  rt = await startFakeRuntime({ socketPath: path.join(tmp, "cri.sock"), logRoot: path.join(tmp, "pods") });
  cri = createCriAdmin({ endpoint: rt.socketPath, timeoutMs: 2_000 });
});
after(async () => {
  cri.close();
  await rt.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

describe("CRI lines", () => {
  test("rfc3339Nano trims trailing zeros like Go", () => {
    const t = new Date("2026-11-27T00:06:35.350Z");
    const cases: Array<[number, string]> = [
      [706341, "2026-11-27T00:06:35.350706341Z"],
      [0, "2026-11-27T00:06:35.35Z"],
      [100, "2026-11-27T00:06:35.3500001Z"],
    ];
    for (const [nanos, expected] of cases) assert.equal(rfc3339Nano(t, nanos), expected);
    assert.equal(rfc3339Nano(new Date("2026-11-27T00:06:35.000Z"), 0), "2026-11-27T00:06:35Z");
  });

  test("lineBytes pads to an exact size, number first", () => {
    const line = criLine(42, 120);
    assert.equal(Buffer.byteLength(line), 120);
    assert.match(line.trimEnd(), CRI_LINE);
    assert.equal(CRI_LINE.exec(line.trimEnd())![2], "42");
  });
});

describe("the writer and ReopenContainerLog", () => {
  test("keeps writing to the renamed file until reopen, then to the new file, without gaps", async () => {
    rt.addContainer({ id: "w1", name: "writer", state: "CONTAINER_RUNNING", logPath: "ns_p_u/writer/0.log", writer: { linesPerTick: 5, intervalMs: 0 } });
    const log = path.join(tmp, "pods/ns_p_u/writer/0.log");
    const rotated = `${log}.20260101-000000`;
    assert.equal((fs.statSync(log).mode & 0o777) & ~0o640, 0, "log mode is at most 0640");

    rt.tick("w1"); // 0..4
    fs.renameSync(log, rotated);
    rt.tick("w1"); // 5..9 still go to the renamed file
    rt.tick("w1", 3); // 10..12
    assert.equal(fs.existsSync(log), false, "no file at the log path before reopen");
    assert.deepEqual(lineNumbers(rotated), range(0, 13));

    await cri.reopenContainerLog("w1");
    assert.equal(fs.statSync(log).size, 0, "reopen creates an empty file at the path");
    rt.tick("w1"); // 13..17
    assert.deepEqual(lineNumbers(rotated), range(0, 13), "the renamed file is frozen");
    assert.deepEqual(lineNumbers(log), range(13, 18));
    assert.equal(rt.linesWritten("w1"), 18);
  });

  test("with a timer: lines keep flowing across rename and reopen, none lost or doubled", async () => {
    rt.addContainer({
      id: "w2",
      name: "busy",
      state: "CONTAINER_RUNNING",
      logPath: "ns_p_u/busy/0.log",
      writer: { linesPerTick: 7, intervalMs: 2, lineBytes: 100 },
    });
    const log = path.join(tmp, "pods/ns_p_u/busy/0.log");
    const rotated = `${log}.20260101-000001`;
    await waitFor("first lines", () => rt.linesWritten("w2") >= 50);
    fs.renameSync(log, rotated);
    const atRename = rt.linesWritten("w2");
    await waitFor("lines into the renamed file", () => rt.linesWritten("w2") >= atRename + 50);
    await cri.reopenContainerLog("w2");
    const atReopen = rt.linesWritten("w2");
    await waitFor("lines into the new file", () => rt.linesWritten("w2") >= atReopen + 50);
    rt.setState("w2", "CONTAINER_EXITED"); // stops and closes the writer
    const total = rt.linesWritten("w2");
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(rt.linesWritten("w2"), total, "a stopped container writes no more");

    // The switch happened while the reopen call was in flight: somewhere in [atRename + 50, atReopen].
    const first = lineNumbers(rotated);
    const second = lineNumbers(log);
    const split = first.length;
    assert.ok(split >= atRename + 50 && split <= atReopen, `split at ${split}, reopen returned at ${atReopen}`);
    assert.deepEqual(first, range(0, split));
    assert.deepEqual(second, range(split, total));
    assert.equal(fs.statSync(rotated).size + fs.statSync(log).size, total * 100);
  });

  test("reopen of a stopped container fails like containerd and creates no file", async () => {
    rt.addContainer({ id: "w3", name: "done", state: "CONTAINER_RUNNING", logPath: "ns_p_u/done/0.log", writer: { linesPerTick: 1, intervalMs: 0 } });
    const log = path.join(tmp, "pods/ns_p_u/done/0.log");
    rt.tick("w3");
    rt.setState("w3", "CONTAINER_EXITED", 0);
    fs.renameSync(log, `${log}.20260101-000002`);
    await assert.rejects(cri.reopenContainerLog("w3"), (err: unknown) => {
      assert.ok(err instanceof CriError);
      assert.equal(err.grpcCode, grpc.status.UNKNOWN);
      assert.equal(err.details, "container is not running");
      return true;
    });
    assert.equal(fs.existsSync(log), false, "a stopped container gets no new log file");
  });

  test("reopen of an unknown container is NOT_FOUND", async () => {
    await assert.rejects(cri.reopenContainerLog("ghost"), (err: unknown) => {
      assert.ok(err instanceof CriError);
      assert.equal(err.grpcCode, grpc.status.NOT_FOUND);
      assert.match(err.details ?? "", /^an error occurred when try to find container "ghost"/);
      return true;
    });
  });

  test("removeContainer stops the writer and forgets the container", async () => {
    rt.addContainer({ id: "w4", name: "gone", state: "CONTAINER_RUNNING", logPath: "ns_p_u/gone/0.log", writer: { linesPerTick: 2, intervalMs: 0 } });
    rt.tick("w4");
    rt.removeContainer("w4");
    assert.equal(rt.writer("w4"), undefined);
    assert.equal(rt.linesWritten("w4"), 2);
    await assert.rejects(cri.containerStatus("w4"), (err: unknown) => err instanceof CriError && err.grpcCode === grpc.status.NOT_FOUND);
  });
});

describe("programming the fake", () => {
  test("calls are recorded with their requests", async () => {
    rt.clearCalls();
    await cri.version();
    await cri.listContainers();
    await cri.containerStatus("w1");
    rt.assertCalls(["Version", "ListContainers", "ContainerStatus"]);
    assert.equal(rt.calls[2]!.request.container_id, "w1");
    assert.throws(() => rt.assertCalls(["Version"]));
  });

  test("one-shot and persistent errors, then clearErrors", async () => {
    rt.injectError("ContainerStatus", { code: grpc.status.INTERNAL, details: "once" });
    await assert.rejects(cri.containerStatus("w1"), /once/);
    await cri.containerStatus("w1");
    rt.injectError("ContainerStatus", { code: grpc.status.INTERNAL, details: "always" }, "persistent");
    await assert.rejects(cri.containerStatus("w1"), /always/);
    await assert.rejects(cri.containerStatus("w1"), /always/);
    rt.clearErrors();
    await cri.containerStatus("w1");
  });

  test("restart keeps containers and settings", async () => {
    const before = rt.containerIds().length;
    await rt.restart();
    const deadline = Date.now() + 8_000;
    for (;;) {
      try {
        assert.equal((await cri.listContainers()).length, before);
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  });

  test("admin rpcs: CreateContainer puts the log under log_directory; StartContainer starts the configured writer", async () => {
    const socketPath = path.join(tmp, "admin.sock");
    const admin = await startFakeRuntime({ socketPath, containerWriter: (name) => (name === "writer" ? { linesPerTick: 4, intervalMs: 0 } : undefined) });
    const client = createCriAdmin({ endpoint: socketPath });
    try {
      const logDirectory = path.join(tmp, "pods", "default_demo_uid");
      const pod = { name: "demo", namespace: "default", uid: "uid", logDirectory };
      const podId = await client.runPodSandbox(pod);
      const id = await client.createContainer(podId, pod, { name: "writer", image: "img", command: ["sh"], logPath: "writer/0.log" });
      const log = path.join(logDirectory, "writer/0.log");
      assert.deepEqual(await client.containerStatus(id), { id, name: "writer", state: "CONTAINER_CREATED", logPath: Buffer.from(log), exitCode: 0 });
      assert.equal(fs.existsSync(log), false, "no log before start");
      await client.startContainer(id);
      admin.tick(id);
      assert.deepEqual(lineNumbers(log), range(0, 4));
      await client.stopContainer(id, 0);
      assert.equal(admin.writer(id), undefined, "stop closes the writer");
      assert.equal((await client.containerStatus(id)).state, "CONTAINER_EXITED");
      await assert.rejects(client.createContainer("no-such-pod", pod, { name: "x", image: "img", command: [], logPath: "x/0.log" }), (err: unknown) => err instanceof CriError && err.grpcCode === grpc.status.NOT_FOUND);
      await client.removePodSandbox(podId);
      assert.deepEqual(admin.containerIds(), []);
    } finally {
      client.close();
      await admin.close();
    }
  });
});
