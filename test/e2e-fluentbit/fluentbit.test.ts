// A real Fluent Bit (FLUENT_BIT_BIN) in the loop, exactly-once: the files in examples/fluent-bit/ with the
// paths substituted and the stdout output swapped for an http output to a slow sink on 127.0.0.1 (nothing
// else changed: test/e2e-fluentbit/support/fluent-bit.ts), build/cri-logrotate.wasm as its filter, the
// real shim (`bin/cri-logrotate.js run`) over the fake CRI runtime, whose writers behave like containerd's
// (test/fake-cri). Every numbered line written must arrive exactly once — except the lines Fluent Bit
// itself is configured to skip (Skip_Long_Lines), which must be exactly the ones missing — and the shim
// must never report unread bytes given up (no "gave up unread log bytes" warning, the metric stays 0).
import assert from "node:assert/strict";
import { describe, test, type TestContext } from "node:test";
import { fluentBitSkip } from "./support/fluent-bit.js";
import { numberedBody, TestNode, type NodeOptions } from "./support/node.js";
import type { Accounting } from "./support/sink.js";

const LINE_BYTES = 1000;
const MAX_SIZE = "256Ki";
const MAX_FILES = 4;
const ROTATED = /^0\.log\.\d{8}-\d{6}(_\d{6})?$/;

async function startNode(t: TestContext, opts: Partial<NodeOptions> & Pick<NodeOptions, "sinkBytesPerSecond">): Promise<TestNode> {
  const node = await TestNode.start({
    containers: 3,
    writer: { intervalMs: 100, linesPerTick: 10, body: numberedBody(LINE_BYTES) },
    mode: "both",
    maxSize: MAX_SIZE,
    maxFiles: MAX_FILES,
    ...opts,
  });
  t.after(() => node.close());
  await node.fluentBit!.waitStarted();
  return node;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What every scenario asserts at its end: each line once, nothing reported dropped. */
async function assertExactlyOnce(node: TestNode, a: Accounting & { timedOut: boolean }, what: string): Promise<void> {
  const detail = JSON.stringify(a.detail, null, 1);
  assert.equal(a.lost, 0, `${what}: ${a.lost} of ${a.written} lines never arrived\n${detail}\n${node.fluentBit?.tail()}`);
  assert.equal(a.duplicates, 0, `${what}: ${a.duplicates} lines arrived more than once\n${detail}`);
  for (const [key, d] of Object.entries(a.detail)) assert.deepEqual(d.unexpected, [], `${what}: ${key} got lines that were never written or should have been skipped`);
  assert.deepEqual(node.sink.delivery.unreadable, [], "records the sink could not read");
  assert.deepEqual([...node.sink.delivery.fragments.values()].flat(), [], "records without a line number");
  assert.equal(node.dropWarnings(), 0, `${what}: the shim warned it gave up unread bytes\n${node.shim?.tail()}`);
  assert.equal(await node.droppedUnreadBytes(), 0, "cri_logrotate_unread_bytes_dropped_total");
}

/** Waits until every container's directory follows the kubelet's rules again: at most maxFiles files, plain ones last. */
async function waitForSettled(node: TestNode, timeoutMs: number): Promise<string[][]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const listings = await Promise.all(node.containerIds.map((_, i) => node.listContainerDir(i)));
    const settled = listings.every((names) => {
      const rotated = names.filter((n) => ROTATED.test(n) || /^0\.log\.\d{8}-\d{6}(_\d{6})?\.gz$/.test(n));
      const plain = names.filter((n) => ROTATED.test(n));
      return names.length <= MAX_FILES && plain.length <= 1 && rotated.length >= 1 && names.every((n) => !n.endsWith(".tmp"));
    });
    if (settled || Date.now() > deadline) return listings;
    await sleep(500);
  }
}

describe("a real Fluent Bit, the real shim: every line exactly once", { skip: fluentBitSkip, timeout: 600_000 }, () => {
  test("slow shipper keeping up later: in_tail paused by Mem_Buf_Limit for many rotations, then catching up", async (t) => {
    // 3 containers × 100 lines/s × 1,000 B; the sink takes 15 % of that while the writers run, so Fluent
    // Bit's 5MB memory buffer fills and in_tail stops reading (paused), several files behind per container:
    // the kubelet's rules would compress and delete what it did not read. Then the sink takes everything.
    const node = await startNode(t, { sinkBytesPerSecond: 3 * 100 * LINE_BYTES * 0.15 });
    node.startWriters();
    await sleep(25_000);
    node.stopWriters();
    node.setSinkRate(Infinity);
    const a = await node.drain({ timeoutMs: 180_000 });
    t.diagnostic(`written ${a.written}, delivered ${a.delivered}, drain ${(a.drainMs / 1000).toFixed(1)} s, paused ${node.fluentBit!.lines(/paused \(mem buf overlimit/).length}×`);
    assert.ok(node.fluentBit!.lines(/paused \(mem buf overlimit/).length > 0, "in_tail was never paused: the scenario did not make the shipper slow");
    await assertExactlyOnce(node, a, "slow shipper");
    const listings = await waitForSettled(node, 20_000);
    for (const names of listings) assert.ok(names.length <= MAX_FILES, `once read, the files follow maxFiles again: ${names.join(" ")}`);
  });

  test("Fluent Bit restarted mid-run: files rotated while it was down are read once, nothing is read twice", async (t) => {
    const node = await startNode(t, { sinkBytesPerSecond: Infinity });
    node.startWriters();
    await sleep(8_000);
    const before = await Promise.all(node.containerIds.map((_, i) => node.listContainerDir(i)));
    await node.fluentBit!.stop(); // SIGTERM: Fluent Bit flushes within its Grace period
    await sleep(8_000); // ~3 rotations per container while nobody reads
    const during = await Promise.all(node.containerIds.map((_, i) => node.listContainerDir(i)));
    node.startFluentBit();
    await node.fluentBit!.waitStarted();
    await sleep(8_000);
    node.stopWriters();
    const a = await node.drain({ timeoutMs: 120_000 });
    const rotatedWhileDown = during.map((names, i) => names.filter((n) => ROTATED.test(n) && !before[i]!.includes(n)).length);
    t.diagnostic(`written ${a.written}; rotated while Fluent Bit was down: ${rotatedWhileDown.join(" ")}`);
    assert.ok(rotatedWhileDown.every((n) => n > 0), `every container rotated while Fluent Bit was down: ${rotatedWhileDown}`);
    assert.equal(node.fluentBitRuns[1]!.lines(/\[error\]/).length, 0, node.fluentBitRuns[1]!.tail());
    await assertExactlyOnce(node, a, "restart");
  });

  test("a quiet node: once the writers stop, the filter's progress alone releases the last rotated files (no holdTimeout)", async (t) => {
    // Only the filter's progress file as a source, so the credit must come from it; the writers stop and
    // no line arrives any more: the heartbeat input of the example makes the filter write what it read.
    const node = await startNode(t, { mode: "filter", sinkBytesPerSecond: 3 * 100 * LINE_BYTES * 0.5 });
    node.startWriters();
    await sleep(15_000);
    node.stopWriters();
    node.setSinkRate(Infinity);
    const stoppedAt = Date.now();
    const a = await node.drain({ timeoutMs: 120_000 });
    await assertExactlyOnce(node, a, "quiet node");
    // Every rotated file but the newest (kept plain, the kubelet's rule) is compressed, long before the
    // 30m holdTimeout: it was credited as read.
    const listings = await waitForSettled(node, 30_000);
    t.diagnostic(`settled ${((Date.now() - stoppedAt) / 1000).toFixed(1)} s after the writers stopped: ${listings.map((l) => l.join(" ")).join(" | ")}`);
    for (const names of listings) {
      const plainRotated = names.filter((n) => ROTATED.test(n));
      assert.equal(plainRotated.length, 1, `only the newest rotated file stays plain: ${names.join(" ")}`);
      assert.ok(names.filter((n) => n.endsWith(".gz")).length >= 1, `older rotated files compressed: ${names.join(" ")}`);
    }
    assert.ok((await node.metrics()).includes("cri_logrotate_held_files 0"), "nothing held");
  });

  test("lines over 32 KiB: exactly the ones Skip_Long_Lines skips are missing", async (t) => {
    const long = (n: number) => n % 40 === 17;
    const node = await startNode(t, {
      sinkBytesPerSecond: Infinity,
      writer: { intervalMs: 100, linesPerTick: 10, body: (n) => Buffer.from(`${n} ${"y".repeat(long(n) ? 40 * 1024 : LINE_BYTES - 60)} ${n}`) },
    });
    node.startWriters();
    await sleep(15_000);
    node.stopWriters();
    const expectedMissing = new Map<string, Set<number>>();
    for (const [key, n] of node.written()) expectedMissing.set(key, new Set(Array.from({ length: n }, (_, i) => i).filter(long)));
    const a = await node.drain({ timeoutMs: 120_000, expectedMissing });
    t.diagnostic(`written ${a.written} (+${[...expectedMissing.values()].reduce((s, v) => s + v.size, 0)} long lines), delivered ${a.delivered}`);
    assert.ok(node.fluentBit!.lines(/have long lines\. Skipping long lines/).length > 0, "Fluent Bit said it skips long lines");
    await assertExactlyOnce(node, a, "long lines");
    const listings = await waitForSettled(node, 30_000);
    for (const names of listings) assert.ok(names.length <= MAX_FILES, `read files released: ${names.join(" ")}`);
  });

  test("invalid UTF-8 in lines: every line once", async (t) => {
    const node = await startNode(t, {
      sinkBytesPerSecond: 3 * 100 * LINE_BYTES * 0.5,
      writer: {
        intervalMs: 100,
        linesPerTick: 10,
        body: (n) => Buffer.concat([Buffer.from(`${n} `), Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xe2, 0x82]), Buffer.from(" caf\u00e9 \u{1F600} "), Buffer.alloc(LINE_BYTES - 80, 0x7a), Buffer.from(` ${n}`)]),
      },
    });
    node.startWriters();
    await sleep(15_000);
    node.stopWriters();
    node.setSinkRate(Infinity);
    const a = await node.drain({ timeoutMs: 120_000 });
    t.diagnostic(`written ${a.written}, delivered ${a.delivered}`);
    await assertExactlyOnce(node, a, "invalid UTF-8");
  });
});
