// Two rotators on one log root never lose or double a line. The real CLI as operators run it — the daemon
// (`run`) and, beside it, `once` again and again, and a `clean` of a container that just stopped — on the
// same root at containerLogMaxSize 1Ki, while fake containers write numbered ~100-byte CRI lines fast (about
// 50 KB/s each: dozens of rotations a second are due, so many land in the same second). MaxFiles is large,
// so nothing is pruned by design: every line 0..n-1 must be found exactly once and in order, reading rotated
// files in name order (.gz decompressed) and the live log last.
//
// A `once` or `clean` may either do its work or refuse because `run` holds the lock (exit 1, saying so);
// what it must never do is lose a line. A `clean` that succeeds leaves nothing of that container behind,
// even with the daemon working beside it; one that is refused leaves all of it.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { startHarness } from "../support/harness.js";
import { auditSequence, describeAudit, errorKinds, gapWindows, readLogSet } from "../support/line-audit.js";
import { runCli, ShimProcess, type CliResult, type ShimLogEntry } from "../e2e/support/shim.js";

const BUSY = 4;
const LOG = "0.log";
const ONCE_FOR_MS = 8_000;
const CLEAN_AFTER_MS = 3_000;

interface Outcome {
  ran: number;
  refusedByLock: number;
  failed: string[];
  rotated: number;
}


function classify(r: CliResult, outcome: Outcome): "ran" | "refused" | "failed" {
  if (r.code === 0) {
    outcome.ran++;
    return "ran";
  }
  if (r.code === 1 && /lock/i.test(r.stderr)) {
    outcome.refusedByLock++;
    return "refused";
  }
  outcome.failed.push(`exit ${r.code}: ${(r.stdout + r.stderr).trim().split("\n").slice(-3).join(" | ").slice(0, 400)}`);
  return "failed";
}

test("run and repeated once (and clean) on one log root at 1Ki: every line once, in order", { timeout: 180_000 }, async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const dirOf = (i: number) => join(h.logRoot, `ns_pod-${i}_uid-${i}`, "app");
  const ids = Array.from({ length: BUSY }, (_, i) => `busy-${i}`);
  ids.forEach((id, i) =>
    h.runtime.addContainer({ id, name: "app", state: "CONTAINER_RUNNING", logPath: join(dirOf(i), LOG), writer: { intervalMs: 10, linesPerTick: 5, lineBytes: 100 } }),
  );
  const goneDir = join(h.logRoot, "ns_gone_uid-gone", "app");
  h.runtime.addContainer({ id: "gone", name: "app", state: "CONTAINER_RUNNING", logPath: join(goneDir, LOG), writer: { intervalMs: 10, linesPerTick: 5, lineBytes: 100 } });

  const flags = [
    "--runtime-endpoint", `unix://${h.runtime.socketPath}`, "--log-root", h.logRoot, "--metrics-address", "",
    "--lock-file", join(h.base, "cri-logrotate.lock"), // every command the same lock, wherever the default lives
    "--container-log-max-size", "1Ki", "--container-log-max-files", "100000", "--container-log-monitor-interval", "3s",
    "--compression", "gzip",
  ];
  const daemon = ShimProcess.start(["run", ...flags]);
  t.after(() => daemon.kill());
  await daemon.waitForLog((e) => e.msg === "starting container log rotation", "that it started", 30_000);

  const once: Outcome = { ran: 0, refusedByLock: 0, failed: [], rotated: 0 };
  const onceLogs: ShimLogEntry[] = [];
  const started = Date.now();
  // Two `once` loops side by side with the daemon: three rotators, often in the same second.
  const onceLoop = async (): Promise<void> => {
    while (Date.now() - started < ONCE_FOR_MS) {
      const r = await runCli(["once", "--json", ...flags]);
      onceLogs.push(...r.logs);
      if (classify(r, once) === "ran") once.rotated += (JSON.parse(r.stdout) as { rotated: number }).rotated;
    }
  };
  const cleanLater = async (): Promise<{ result: CliResult; kind: string; writtenBefore: number }> => {
    await new Promise((r) => setTimeout(r, CLEAN_AFTER_MS));
    // The kubelet cleans a container's logs after it exited and before RemoveContainer.
    h.runtime.setState("gone", "CONTAINER_EXITED");
    const writtenBefore = h.runtime.linesWritten("gone");
    const result = await runCli(["clean", "gone", "--json", ...flags]);
    return { result, kind: classify(result, { ran: 0, refusedByLock: 0, failed: [], rotated: 0 }), writtenBefore };
  };
  const [clean] = await Promise.all([cleanLater(), onceLoop(), onceLoop()]);
  // One more daemon pass after the last `once`, so whatever a pass left half done is finished.
  await new Promise((r) => setTimeout(r, 3_500));
  for (const id of ids) h.runtime.stopWriter(id);
  assert.equal(await daemon.stop(), 0, `the daemon exits 0 on SIGTERM\n${daemon.tail()}`);

  const daemonRotations = daemon.entries((e) => e.msg === "rotated container log").length;
  t.diagnostic(`daemon: ${daemonRotations} rotations; warnings/errors: ${errorKinds(daemon.logs).join(" | ") || "none"}`);
  t.diagnostic(`once: ${once.ran} ran (${once.rotated} rotations), ${once.refusedByLock} refused by the lock, ${once.failed.length} exited 1; warnings/errors: ${errorKinds(onceLogs).join(" | ") || "none"}`);

  const problems: string[] = [];
  for (const [i, id] of ids.entries()) {
    const set = readLogSet(dirOf(i), LOG);
    const audit = auditSequence(set.numbers, h.runtime.linesWritten(id));
    const line = describeAudit(id, set, audit);
    t.diagnostic(line);
    if (!audit.ok || set.unreadable.length > 0 || set.garbled.length > 0) problems.push(line);
    for (const gap of gapWindows(set, audit)) {
      const within = (e: ShimLogEntry) => e.containerId === id && Date.parse(e.ts) >= gap.afterMs - 200 && Date.parse(e.ts) <= gap.beforeMs + 1_000;
      const what = (who: string) => (e: ShimLogEntry) =>
        `${who} ${e.msg}${e.reason ? ` (${String(e.reason)})` : ""} ${String(e.rotatedTo ?? e.file ?? "").replace(/^"|"$/g, "").split("/").at(-1)}`;
      const meanwhile = [...daemon.logs.filter(within).map(what("run")), ...onceLogs.filter(within).map(what("once"))];
      t.diagnostic(`  lines ${gap.from}-${gap.to} lost ${gap.lostFrom}; meanwhile: ${meanwhile.join("; ") || "nothing logged"}`);
    }
    assert.ok(set.files.length >= 5, `${id}: rotated several times (${set.files.length} files)`);
  }

  const goneSet = readLogSet(goneDir, LOG);
  t.diagnostic(`clean while run holds the lock: ${clean.kind} (exit ${clean.result.code}); ${goneSet.files.length} files of the cleaned container left`);
  if (clean.kind === "ran") {
    if (goneSet.files.length + goneSet.tmpLeft.length > 0) {
      problems.push(`clean succeeded but ${goneSet.files.length + goneSet.tmpLeft.length} files of the container are back or left: ${[...goneSet.files, ...goneSet.tmpLeft].slice(0, 5).join(", ")}`);
    }
  } else if (clean.kind === "refused") {
    const audit = auditSequence(goneSet.numbers, clean.writtenBefore);
    if (!audit.ok) problems.push(`clean was refused, yet the container lost lines: ${describeAudit("gone", goneSet, audit)}`);
  } else {
    problems.push(`clean failed: ${clean.result.stderr.trim().slice(0, 300)}`);
  }
  assert.ok(existsSync(goneDir), "the container's directory is the kubelet's to remove");
  assert.deepEqual(problems, [], "every line once and in order, for every container");
});
