// No line is lost or doubled by rotation. Ten fake containers write numbered ~100-byte CRI lines as fast as
// containerd would let them (the writer keeps appending to the renamed file until ReopenContainerLog), while
// the manager loop runs on the real clock with a 200 ms interval — far more rotations than the kubelet's 10 s
// would make, many within one second. Two runs side by side:
//   - maxFiles 1000: nothing is removed by design in 10 s, so every line 0..n-1 must be found exactly once,
//     in order, across live, rotated and decompressed files;
//   - maxFiles 5: the oldest files are deleted by design, so what remains must be one contiguous run ending
//     at the last line written, and after every pass no container may hold more than 5 files.

import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import { join } from "node:path";
import { systemClock } from "../../host/clock.js";
import { nullObserver } from "../../host/manager/index.js";
import { startHarness, lineNumbers, type Harness } from "../support/harness.js";

const CONTAINERS = 10;
const RUN_MS = 10_000;
const LOG = "0.log";

interface Run {
  h: Harness;
  maxFiles: number;
  passes: number;
  /** The most files any container had right after a pass. */
  maxFilesSeen: number;
  stop(): Promise<void>;
}

async function startRun(maxFiles: number): Promise<Run> {
  const h = await startHarness();
  const dirs = Array.from({ length: CONTAINERS }, (_, i) => join(h.logRoot, `ns_pod-${i}_uid`, "app"));
  for (let i = 0; i < CONTAINERS; i++) {
    h.runtime.addContainer({
      id: `c${i}`,
      name: `app-${i}`,
      state: "CONTAINER_RUNNING",
      logPath: join(dirs[i]!, LOG),
      writer: { intervalMs: 5, linesPerTick: 20, lineBytes: 100 }, // ~400 KB/s each
    });
  }
  const run: Run = {
    h,
    maxFiles,
    passes: 0,
    maxFilesSeen: 0,
    async stop() {
      for (let i = 0; i < CONTAINERS; i++) h.runtime.stopWriter(`c${i}`);
      await manager.stop();
    },
  };
  const manager = h.manager({
    clock: systemClock,
    intervalMs: 200, // the config's 3 s minimum is the config's check, not the manager's
    workers: 2,
    policy: { maxSize: 64 * 1024, maxFiles, compress: true, shipperAware: false },
    observer: {
      ...nullObserver,
      // Sampled synchronously at the end of each pass, before anything else can run. Compression runs in
      // the background, so a file may be caught mid-compression: its .tmp is not a file of the container,
      // and X beside the X.gz just linked from it is one file (X is removed the moment after).
      passFinished() {
        run.passes++;
        for (const dir of dirs) {
          const stems = new Set(fs.readdirSync(dir).filter((n) => (n === LOG || n.startsWith(`${LOG}.`)) && !n.endsWith(".tmp")).map((n) => n.replace(/\.gz$/, "")));
          run.maxFilesSeen = Math.max(run.maxFilesSeen, stems.size);
        }
      },
    },
  });
  manager.start();
  return run;
}

test("no line is lost or doubled while ten busy containers are rotated every 200 ms", { timeout: 60_000 }, async (t) => {
  const keepAll = await startRun(1000);
  t.after(() => keepAll.h.close());
  const pruned = await startRun(5);
  t.after(() => pruned.h.close());

  await new Promise((r) => setTimeout(r, RUN_MS));
  await Promise.all([keepAll.stop(), pruned.stop()]);

  for (const run of [keepAll, pruned]) {
    const { h } = run;
    assert.deepEqual(h.logger.find({ level: "error" }).map((e) => e.fields), [], `maxFiles ${run.maxFiles}: errors logged`);
    assert.ok(run.passes >= 10, `maxFiles ${run.maxFiles}: only ${run.passes} passes in ${RUN_MS} ms`);
    assert.ok(run.maxFilesSeen <= run.maxFiles, `maxFiles ${run.maxFiles}: a container had ${run.maxFilesSeen} files after a pass`);
    for (let i = 0; i < CONTAINERS; i++) {
      const id = `c${i}`;
      const dir = join(h.logRoot, `ns_pod-${i}_uid`, "app");
      const written = h.runtime.linesWritten(id);
      const names = fs.readdirSync(dir);
      const rotated = names.filter((n) => n.startsWith(`${LOG}.`));
      assert.ok(rotated.length >= 3, `${id} (maxFiles ${run.maxFiles}): only ${rotated.length} rotated files`);
      assert.ok(rotated.some((n) => n.endsWith(".gz")), `${id}: nothing was compressed`);
      assert.deepEqual(names.filter((n) => n.endsWith(".tmp")), [], `${id}: a .tmp was left`);
      const lines = lineNumbers(dir, LOG);
      if (run.maxFiles === 1000) {
        // Nothing was removed: every line, exactly once, in order.
        assert.equal(lines.length, written, `${id}: ${lines.length} lines found, ${written} written`);
        const wrong = lines.findIndex((n, k) => n !== k);
        assert.equal(wrong, -1, `${id}: line ${wrong} is ${lines[wrong]}`);
      } else {
        // The oldest files went by design; what is left is contiguous and ends at the last line written.
        assert.ok(lines.length > 0 && lines.length < written, `${id}: ${lines.length} of ${written} lines kept; expected some pruned`);
        const first = lines[0]!;
        const wrong = lines.findIndex((n, k) => n !== first + k);
        assert.equal(wrong, -1, `${id}: a gap or a duplicate at position ${wrong} (${lines[wrong - 1]} then ${lines[wrong]})`);
        assert.equal(lines.at(-1), written - 1, `${id}: the last line written is missing`);
        assert.ok(names.length <= 5, `${id}: ${names.length} files at the end`);
      }
    }
    t.diagnostic(
      `maxFiles ${run.maxFiles}: ${run.passes} passes, ${CONTAINERS} containers, ` +
        `${Array.from({ length: CONTAINERS }, (_, i) => h.runtime.linesWritten(`c${i}`)).reduce((a, b) => a + b, 0)} lines, ` +
        `max ${run.maxFilesSeen} files per container after a pass`,
    );
  }
});
