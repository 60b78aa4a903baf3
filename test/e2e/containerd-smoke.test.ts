// Proves the e2e infrastructure against a real containerd: a private daemon starts, serves CRI v1, runs a
// host-network pod whose container writes a CRI-format log, rotates that log the kubelet's way (rename, then
// ReopenContainerLog) without losing a line, and leaves nothing behind.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { rename, stat } from "node:fs/promises";
import { after, before, describe, test } from "node:test";
import type { CriAdmin } from "../support/cri-admin.js";
import { e2eSkip, startPrivateCri } from "./support/suite.js";
import { mountsUnder, processesMentioning, type PrivateContainerd } from "./support/containerd.js";
import {
  fastWriterCommand, joinPartials, readCriLog, runContainer, runPod, stopAndRemoveAll, STOP_TIMEOUT_SECONDS, waitForCri, writerSequence,
  type RunningContainer, type RunningPod,
} from "./support/pods.js";


describe("containerd smoke", { skip: e2eSkip, timeout: 60_000 }, () => {
  let containerd: PrivateContainerd | undefined;
  let cri: CriAdmin | undefined;
  const pods: RunningPod[] = [];
  let writer: RunningContainer | undefined;
  let rotatedPath = "";

  before(async () => {
    ({ containerd, cri } = await startPrivateCri());
  });

  after(async () => {
    try {
      if (cri !== undefined && pods.length > 0) await stopAndRemoveAll(cri, pods);
    } finally {
      cri?.close();
      await containerd?.cleanup();
    }
  });

  test("Version reports CRI runtime API v1", async () => {
    const version = await cri!.version();
    assert.equal(version.runtimeApiVersion, "v1");
    assert.equal(version.runtimeName, "containerd");
  });

  test("a writer container's log grows in CRI format at the kubelet's path", async () => {
    const pod = await runPod(cri!, { namespace: "default", name: "smoke", uid: "6f1c3c7e-0000-4000-8000-000000000001", logRoot: containerd!.logRoot });
    pods.push(pod);
    assert.equal(pod.logDirectory, `${containerd!.logRoot}/default_smoke_6f1c3c7e-0000-4000-8000-000000000001`);
    writer = await runContainer(cri!, pod, { name: "writer", command: fastWriterCommand });
    assert.equal(writer.logPath, `${pod.logDirectory}/writer/0.log`);

    const status = await cri!.containerStatus(writer.id);
    assert.equal(status.state, "CONTAINER_RUNNING");
    assert.equal(status.logPath.toString(), writer.logPath); // containerd reports it absolute

    const lines = await waitForLines(writer.logPath, 100);
    assert.match(lines[0]!.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z$/);
    assert.deepEqual([lines[0]!.stream, lines[0]!.tag], ["stdout", "F"]);
    assert.deepEqual(writerSequence(lines).slice(0, 100), Array.from({ length: 100 }, (_, i) => i));
  });

  test("rename + ReopenContainerLog: a fresh file continues the lines without gap or duplicate", async (t) => {
    const log = writer!.logPath;
    rotatedPath = `${log}.20260101-000000`; // the kubelet's rotated name
    await rename(log, rotatedPath);
    // Until the reopen the runtime keeps writing to the renamed file, and nothing is at the old path.
    const before = (await stat(rotatedPath)).size;
    await waitFor(async () => (await stat(rotatedPath)).size > before, "the renamed file to keep growing");
    assert.equal(existsSync(log), false);

    await cri!.reopenContainerLog(writer!.id);
    assert.equal(existsSync(log), true, "ReopenContainerLog creates a new file at the log path");
    await waitForLines(log, 100);

    const rotatedSize = (await stat(rotatedPath)).size;
    await sleep(200);
    assert.equal((await stat(rotatedPath)).size, rotatedSize, "the rotated file no longer grows");

    // Read across both files: containerd may flush a half-read line as P at the end of the rotated file and
    // finish it (F) at the start of the new one (kubernetes#107943); joined, nothing is lost or repeated.
    const rotated = await readCriLog(rotatedPath);
    const fresh = await readCriLog(log);
    assertConsecutive(writerSequence([...rotated, ...fresh]), 0);
    t.diagnostic(`rotated file: ${rotated.length} entries, new file: ${fresh.length}; line split across the files: ${rotated.at(-1)?.tag === "P"}`);
  });

  // containerd, not the shim, copies the container's output into the log file, so a restart interrupts the
  // copy: the lines in flight may be lost (seen: 17 at once), or split in two full (F) entries ("line 27",
  // "875"). Only that window may be irregular; before and after it the sequence must be exact.
  test("a containerd restart keeps the running container and its log", async (t) => {
    const pidBefore = containerd!.pid;
    // The file began right after the rename test's reopen, so its first entry may be the tail of a line split
    // across the two files (containerd writes the head as P in the old file): read the last whole line only.
    const whole = joinPartials(await readCriLog(writer!.logPath)).filter((l) => l.tag === "F" && /^line \d+$/.test(l.content));
    const lastBefore = Number(whole.at(-1)!.content.slice("line ".length));
    await containerd!.restart();
    assert.notEqual(containerd!.pid, pidBefore);
    await waitForCri(cri!);
    assert.equal((await cri!.containerStatus(writer!.id)).state, "CONTAINER_RUNNING");

    let contents: string[] = [];
    await waitFor(async () => {
      contents = joinPartials(await readCriLog(writer!.logPath)).filter((l) => l.tag === "F").map((l) => l.content);
      return contents.length >= 100 && contents.slice(-100).every((c, i, tail) => i === 0 || isNext(tail[i - 1]!, c));
    }, "100 consecutive lines after the restart");
    const irregular = contents.flatMap((c, i) => (i > 0 && !isNext(contents[i - 1]!, c) ? [`${contents[i - 1]} -> ${c}`] : []));
    t.diagnostic(`last line before the restart: ${lastBefore}; irregular steps: ${JSON.stringify(irregular)}`);
    assert.ok(irregular.length <= 3, `only the restart window may be irregular: ${irregular.join(", ")}`);
    assert.ok(Number(contents.at(-1)!.slice("line ".length)) > lastBefore + 100, "the writer's lines continue after the restart");
  });

  test("stop and remove the container and the pod", async () => {
    await cri!.stopContainer(writer!.id, STOP_TIMEOUT_SECONDS);
    assert.equal((await cri!.containerStatus(writer!.id)).state, "CONTAINER_EXITED");
    await assert.rejects(cri!.reopenContainerLog(writer!.id), /not running/);
    await stopAndRemoveAll(cri!, pods);
    assert.deepEqual(await cri!.listContainers(), []);
    // The logs are the kubelet's to remove, not the runtime's.
    assert.equal(existsSync(rotatedPath), true);
  });

  test("cleanup leaves no mount, no process and no directory", async () => {
    const { base } = containerd!;
    cri!.close();
    await containerd!.cleanup();
    assert.deepEqual(mountsUnder(base), []);
    assert.deepEqual(processesMentioning(base), []);
    assert.equal(existsSync(base), false);
  });
});

async function waitForLines(path: string, count: number, timeoutMs = 10_000) {
  let lines: Awaited<ReturnType<typeof readCriLog>> = [];
  await waitFor(async () => {
    lines = existsSync(path) ? await readCriLog(path) : [];
    return lines.length >= count;
  }, `${count} lines in ${path}`, timeoutMs);
  return lines;
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

function isNext(previous: string, content: string): boolean {
  return content === `line ${Number(previous.slice("line ".length)) + 1}`;
}

function assertConsecutive(seq: number[], from: number): void {
  const breaks = seq.flatMap((n, i) => (n === from + i ? [] : [`#${i}: ${n}`]));
  assert.deepEqual(breaks.slice(0, 5), [], `expected lines ${from}..${from + seq.length - 1} in order`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
