// The same loop on a real runtime: a private containerd (test/e2e/support) running busybox containers that
// print numbered lines, the real shim rotating them over CRI (ReopenContainerLog: containerd's own reopen),
// a real Fluent Bit on examples/fluent-bit/fluent-bit.conf (paths substituted, stdout output swapped for
// an http output to the sink) and the slow sink. Every line exactly once.
import assert from "node:assert/strict";
import { dirname, relative } from "node:path";
import { after, before, describe, test } from "node:test";
import type { CriAdmin } from "../support/cri-admin.js";
import { e2eSkip, startPrivateCri } from "../e2e/support/suite.js";
import type { PrivateContainerd } from "../e2e/support/containerd.js";
import { readAllLogs } from "../e2e/support/logfiles.js";
import { joinPartials, runContainer, runPod, STOP_TIMEOUT_SECONDS, stopAndRemoveAll, type RunningPod } from "../e2e/support/pods.js";
import { fluentBitSkip } from "./support/fluent-bit.js";
import { TestNode } from "./support/node.js";

// 20 lines of ~420 bytes per 0.1 s: ~80 KB/s per container. A line says its number twice, so a piece of a
// line (containerd can split one across two files at a reopen) is never taken for a whole one.
const WRITER = ["/bin/sh", "-c", "PAD=$(printf '%400s' | tr ' ' x); i=0; while true; do j=0; while [ $j -lt 20 ]; do echo \"line $i $PAD $i\"; i=$((i+1)); j=$((j+1)); done; sleep 0.1; done"];
const WHOLE_LINE = /^line (\d+) x{400} (\d+)$/;

function parseWholeLine(log: string): number | undefined {
  const m = WHOLE_LINE.exec(log);
  return m && m[1] === m[2] ? Number(m[1]) : undefined;
}

const skip = fluentBitSkip || e2eSkip;

describe("a real Fluent Bit on a real containerd: every line exactly once", { skip, timeout: 300_000 }, () => {
  let containerd: PrivateContainerd | undefined;
  let cri: CriAdmin | undefined;
  const pods: RunningPod[] = [];

  before(async () => {
    ({ containerd, cri } = await startPrivateCri());
  });

  after(async () => {
    try {
      if (cri && pods.length > 0) await stopAndRemoveAll(cri, pods);
    } finally {
      cri?.close();
      await containerd?.cleanup();
    }
  });

  test("busybox writers rotated by the shim while Fluent Bit ships slowly, then catches up", async (t) => {
    const node = await TestNode.start({
      containers: 0,
      writer: { intervalMs: 0, linesPerTick: 0 },
      mode: "both",
      maxSize: "256Ki",
      maxFiles: 4,
      sinkBytesPerSecond: 2 * 80_000 * 0.3,
      cri: { endpoint: containerd!.endpoint, logRoot: containerd!.logRoot },
      parseLine: parseWholeLine, // both numbers, or it is a piece of a line
    });
    t.after(() => node.close());
    await node.fluentBit!.waitStarted();

    const pod = await runPod(cri!, { namespace: "fb", name: "writers", uid: "fb000000-0000-4000-8000-000000000001", logRoot: containerd!.logRoot });
    pods.push(pod);
    const containers = [];
    for (const name of ["a", "b"]) containers.push(await runContainer(cri!, pod, { name, command: WRITER }));
    await new Promise((r) => setTimeout(r, 25_000));
    for (const c of containers) await cri!.stopContainer(c.id, STOP_TIMEOUT_SECONDS);
    node.setSinkRate(Infinity);

    // What each container wrote: the highest line number in its files (the newest lines are in the live
    // log and the newest rotated file, which are never removed), all of 0..max present.
    const written = new Map<string, number>();
    for (const c of containers) {
      const dir = dirname(c.logPath);
      const { lines } = await readAllLogs(dir);
      const numbers = joinPartials(lines).filter((l) => l.tag === "F").map((l) => parseWholeLine(l.content));
      const max = Math.max(...numbers.map((n) => n ?? -1));
      written.set(relative(containerd!.logRoot, dir), max + 1);
    }
    node.setWritten(written);

    // Lines containerd split across two files arrive as two pieces; they count once joined.
    const deadline = Date.now() + 120_000;
    let joined = 0;
    for (;;) {
      const drained = await node.drain({ timeoutMs: Math.max(1_000, deadline - Date.now()) });
      joined += node.sink.joinFragments();
      if (node.account().lost === 0 || drained.timedOut || Date.now() > deadline) break;
    }
    const a = node.account();
    const rotations = node.shim!.entries((e) => e.msg === "rotated container log").length;
    t.diagnostic(`written ${[...written.values()].join(" + ")} lines, ${rotations} rotations, ${joined} lines split across two files by containerd and joined back`);
    assert.ok(rotations >= 4, `the shim rotated: ${rotations}`);
    assert.equal(a.lost, 0, `${a.lost} lines never arrived\n${JSON.stringify(a.detail)}\n${node.fluentBit!.tail()}`);
    assert.equal(a.duplicates, 0, `${a.duplicates} lines arrived more than once\n${JSON.stringify(a.detail)}`);
    for (const [key, list] of node.sink.delivery.fragments) assert.deepEqual(list, [], `${key}: pieces of lines that make no whole line`);
    assert.deepEqual(node.sink.delivery.unreadable, []);
    assert.equal(node.dropWarnings(), 0, node.shim!.tail());
    assert.equal(await node.droppedUnreadBytes(), 0);
  });
});
