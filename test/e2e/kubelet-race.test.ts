// The kubelet rotating beside us: during a hand-over the kubelet's own log manager keeps running and rotates
// the same files whenever a log passes its (larger) limit. On a private containerd, busy pods write numbered
// lines while the real shim (`run` subprocess) and the kubelet's loop (test/support/kubelet-rotator.ts, a
// faithful port, bugs included) work on one log root: ours at 64Ki, the kubelet's at 128Ki, MaxFiles 1000 so
// nothing is pruned by design, compression on. Halfway, the shim is stalled with SIGSTOP for 10 s — the kubelet
// rotates alone meanwhile — and resumed with SIGCONT. At the end the writers stop, and every file is read in
// name order (.gz decompressed, the live log last): every line must be there once, in order, per container.
//
// The kubelet port ticks every 3 s, the shortest containerLogMonitorInterval the kubelet's validation
// accepts. (At 1 s the port rotated one log twice in one wall-clock second while the shim was stopped: the
// kubelet's own mechanism (a) below, losing lines with no shim involved — a case a real kubelet never meets.)
// The stall is 10 s, so the kubelet rotates alone a few times and the shim resumes in the middle of that.
// What can go wrong, and is counted in the diagnostics when it does:
//   (a) same-second names: both rotate in one second; the kubelet compresses the other's `X` and renames the
//       live log onto `X`, replacing or shadowing — a newer X beside an older X.gz, which the "X beside X.gz is
//       unused" rule then deletes;
//   (b) both compress the same `X` into the same `X.tmp` (the kubelet with O_TRUNC, no O_EXCL): bytes
//       interleave, the .gz is corrupt or cut;
//   (c) after the stall, a plan made before it is executed: the live log renamed to a name stamped seconds
//       earlier, sorting before the kubelet's newer file — lines read out of order.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { dirname, join } from "node:path";
import type { CriAdmin } from "../support/cri-admin.js";
import { KubeletRotator, type KubeletEvent } from "../support/kubelet-rotator.js";
import { auditSequence, describeAudit, errorKinds, gapWindows, readLogSet } from "../support/line-audit.js";
import { e2eSkip, startPrivateCri } from "./support/suite.js";
import type { PrivateContainerd } from "./support/containerd.js";
import { runContainer, runPod, stopAndRemoveAll, type RunningContainer, type RunningPod } from "./support/pods.js";
import { ShimProcess } from "./support/shim.js";

const PODS = 3;
const OURS = "64Ki";
const KUBELET_MAX_SIZE = 128 * 1024;
const MAX_FILES = 1000;
const BEFORE_STALL_MS = 12_000;
const STALL_MS = 10_000;
const AFTER_STALL_MS = 12_000;
// Bursts of 200 numbered lines, then a short sleep: about 0.3-0.5 MB/s per container in CRI lines, so a live
// log passes both limits between two looks of either rotator, without a core per writer.
const BURST_WRITER = ["/bin/sh", "-c", "i=0; while true; do j=0; while [ $j -lt 200 ]; do echo line $i; i=$((i+1)); j=$((j+1)); done; sleep 0.02; done"];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const STAMP = /\.(\d{8})-(\d{6})\d*(?:\.gz)?"?$/; // the shim logs paths JSON-quoted

/** The time a rotated name is stamped with (ms since the epoch), or undefined. */
function stampOf(name: string): number | undefined {
  const m = STAMP.exec(name);
  if (m === null) return undefined;
  const [d, t] = [m[1]!, m[2]!];
  return Date.UTC(+d.slice(0, 4), +d.slice(4, 6) - 1, +d.slice(6, 8), +t.slice(0, 2), +t.slice(2, 4), +t.slice(4, 6));
}

function short(p: unknown): string {
  return String(p ?? "").replace(/^"|"$/g, "").split("/").at(-1) ?? "";
}

function iso(ms: number): string {
  return Number.isNaN(ms) ? "?" : new Date(ms).toISOString().slice(11, 23);
}

function kubeletLine(e: KubeletEvent): string {
  switch (e.kind) {
    case "rotated":
      return `rotated to ${short(e.to.toString())}${e.replaced ? " REPLACING a file of that name" : ""}`;
    case "removed":
      return `removed ${short(e.path.toString())} (${e.reason})`;
    case "compressed":
      return `compressed ${short(e.path.toString())}${e.tmpExisted ? " into an existing .tmp" : ""}`;
    case "reopened":
      return "reopened a missing live log";
    case "error":
      return `${e.msg}: ${e.err.message.replace(/"[^"]*\//g, '"')}`;
  }
}

describe("the kubelet's own loop rotating beside the shim on a real containerd", { skip: e2eSkip, timeout: 240_000 }, () => {
  let containerd: PrivateContainerd | undefined;
  let cri: CriAdmin | undefined;
  const pods: RunningPod[] = [];
  let shim: ShimProcess | undefined;
  let kubelet: KubeletRotator | undefined;

  before(async () => {
    ({ containerd, cri } = await startPrivateCri());
  });

  after(async () => {
    try {
      if (shim?.pid !== undefined && shim.running) process.kill(shim.pid, "SIGCONT");
      await shim?.kill();
      await kubelet?.stop();
      if (cri !== undefined && pods.length > 0) await stopAndRemoveAll(cri, pods);
    } finally {
      cri?.close();
      await containerd?.cleanup();
    }
  });

  test("shim and kubelet on one root, with a 10 s SIGSTOP of the shim: every line once and in order", async (t) => {
    const containers: RunningContainer[] = [];
    for (let i = 0; i < PODS; i++) {
      const pod = await runPod(cri!, { namespace: "race", name: `busy-${i}`, uid: `7ac0e000-0000-4000-8000-${String(i).padStart(12, "0")}`, logRoot: containerd!.logRoot });
      pods.push(pod);
      containers.push(await runContainer(cri!, pod, { name: "writer", command: BURST_WRITER }));
    }

    shim = ShimProcess.start([
      "run", "--runtime-endpoint", containerd!.endpoint, "--log-root", containerd!.logRoot, "--metrics-address", "",
      "--lock-file", join(containerd!.base, "cri-logrotate.lock"),
      "--container-log-max-size", OURS, "--container-log-max-files", String(MAX_FILES), "--container-log-monitor-interval", "3s",
      "--compression", "gzip",
    ]);
    await shim.waitForLog((e) => e.msg === "starting container log rotation", "that it started", 30_000);

    const events: KubeletEvent[] = [];
    const eventAt: number[] = [];
    kubelet = new KubeletRotator({
      cri: cri!, maxSize: KUBELET_MAX_SIZE, maxFiles: MAX_FILES, intervalMs: 3_000, workers: 2,
      onEvent: (e) => {
        events.push(e);
        eventAt.push(Date.now());
      },
    });
    kubelet.start();

    await sleep(BEFORE_STALL_MS);
    // Stall the shim in the middle of a plan if it can be caught there: right after it says it compressed a
    // file, the rename of the same plan is next.
    const stallFrom = shim.logs.length;
    await shim.waitForLog((e) => e.msg === "compressed rotated log", "a compression to stall after", 10_000, stallFrom).catch(() => undefined);
    process.kill(shim.pid!, "SIGSTOP");
    const stalledAt = Date.now();
    const kubeletRotationsBefore = kubelet.stats.rotations;
    await sleep(STALL_MS);
    const kubeletRotationsDuringStall = kubelet.stats.rotations - kubeletRotationsBefore;
    process.kill(shim.pid!, "SIGCONT");
    const resumedFrom = shim.logs.length;
    await sleep(AFTER_STALL_MS);

    await kubelet.stop();
    // Writers off: StopPodSandbox kills the containers at once; the shim and the kubelet leave exited
    // containers alone.
    for (const pod of pods) await cri!.stopPodSandbox(pod.podId);
    assert.equal(await shim.stop(), 0, `the shim exits 0 on SIGTERM\n${shim.tail()}`);

    // What each rotator did, and the traces of the three mechanisms.
    const ourRotations = shim.entries((e) => e.msg === "rotated container log");
    const staleNames = ourRotations.filter((e) => {
      const stamp = stampOf(String(e.rotatedTo));
      return stamp !== undefined && e.at - stamp > 2_500; // named well before it was done: a plan from before the stall
    });
    const kubeletRotations = events.filter((e): e is Extract<KubeletEvent, { kind: "rotated" }> => e.kind === "rotated");
    const kubeletReplaced = kubeletRotations.filter((e) => e.replaced).length;
    const kubeletTwinRemovals = events.flatMap((e) => (e.kind === "removed" && e.reason === "unused" && !e.path.toString().endsWith(".tmp") ? [e.path.toString().split("/").slice(-3).join("/")] : []));
    const kubeletTmpReused = events.filter((e) => e.kind === "compressed" && e.tmpExisted).length;
    const kubeletErrors = errorKinds(events.flatMap((e) => (e.kind === "error" ? [{ level: "error", msg: e.msg, err: e.err }] : [])));
    const ourRemovals = new Map<string, number>();
    for (const e of shim.entries((e) => e.msg === "removed log file")) ourRemovals.set(String(e.reason), (ourRemovals.get(String(e.reason)) ?? 0) + 1);
    t.diagnostic(
      `shim: ${ourRotations.length} rotations (${staleNames.length} named > 2.5 s before they were done: ${staleNames.map((e) => String(e.rotatedTo).split("/").slice(-3).join("/")).join(", ") || "none"}), ` +
        `removals by reason: ${[...ourRemovals].map(([r, n]) => `${r} ${n}`).join(", ") || "none"}; warnings/errors: ${errorKinds(shim.logs).join(" | ") || "none"}`,
    );
    t.diagnostic(
      `kubelet: ${kubeletRotations.length} rotations (${kubeletRotationsDuringStall} during the ${STALL_MS / 1000} s stall, ${kubeletReplaced} onto an existing name), ` +
        `${kubelet.stats.compressions} compressions (${kubeletTmpReused} into an existing .tmp), ${kubeletTwinRemovals.length} "X beside X.gz" removals (${kubeletTwinRemovals.join(", ") || "none"}); errors: ${kubeletErrors.join(" | ") || "none"}`,
    );
    t.diagnostic(`stalled at ${new Date(stalledAt).toISOString()}; shim log lines after SIGCONT: ${shim.logs.length - resumedFrom}`);
    assert.ok(ourRotations.length >= PODS * 5, `the shim rotated (${ourRotations.length})`);
    assert.ok(kubeletRotations.length >= PODS, `the kubelet rotated too (${kubeletRotations.length})`);

    const problems: string[] = [];
    let totalLines = 0;
    let totalMissing = 0;
    for (const c of containers) {
      const set = readLogSet(dirname(c.logPath), "0.log");
      const audit = auditSequence(set.numbers);
      totalLines += audit.expected;
      totalMissing += audit.missing;
      const line = describeAudit(`${c.name}@${c.logPath.split("/").at(-3)}`, set, audit);
      t.diagnostic(line);
      if (!audit.ok || set.unreadable.length > 0 || set.garbled.length > 0) problems.push(line);
      // Each gap: what the two rotators did to this container's files while its lines were written.
      for (const gap of gapWindows(set, audit)) {
        const within = (ms: number) => ms >= gap.afterMs - 500 && ms <= gap.beforeMs + 1_500;
        const ours = shim.entries((e) => e.containerId === c.id && within(Date.parse(e.ts)) && e.msg !== "compressed rotated log")
          .map((e) => `shim ${e.msg}${e.reason ? ` (${String(e.reason)})` : ""} ${short(e.rotatedTo ?? e.file ?? e.path)}${e.err ? `: ${(e.err as { message?: string }).message?.replace(/"[^"]*\//g, '"')}` : ""}`);
        const theirs = events.flatMap((e, i) => (e.kind !== "compressed" && "containerId" in e && e.containerId === c.id && within(eventAt[i]!) ? [`kubelet ${kubeletLine(e)}`] : []));
        t.diagnostic(`  lines ${gap.from}-${gap.to} lost ${gap.lostFrom}, written ${iso(gap.afterMs)}..${iso(gap.beforeMs)}; meanwhile: ${[...ours, ...theirs].join("; ") || "nothing logged"}`);
      }
    }
    t.diagnostic(`all containers: ${totalMissing} of ${totalLines} lines missing (${((100 * totalMissing) / Math.max(1, totalLines)).toFixed(1)} %)`);
    assert.deepEqual(problems, [], "every line once and in order, for every container");
  });
});
