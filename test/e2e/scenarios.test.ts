// The shim end to end: `node bin/cri-logrotate.js` as a real subprocess against a private containerd running
// real containers, checked the way an operator would — by its directory listings, the contents of every file
// (gunzipped) and what it logged. One containerd is shared by every scenario; each scenario has its own pod
// and removes it at its end, so a fast writer of one scenario never competes with the next for the CPU.
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { after, before, describe, test, type TestContext } from "node:test";
import type { CriAdmin } from "../support/cri-admin.js";
import { e2eSkip, startPrivateCri } from "./support/suite.js";
import { readContainerdLog, type PrivateContainerd } from "./support/containerd.js";
import { describeDir, listLogFiles, listTree, readAllLogs, readLogFile, rotatedNamePattern } from "./support/logfiles.js";
import {
  fastWriterCommand, idleCommand, joinPartials, runContainer, runPod, slowWriterCommand, STOP_TIMEOUT_SECONDS, stopAndRemoveAll,
  waitForCri, writerSequence, type CriLogLine, type RunningPod,
} from "./support/pods.js";
import { runCli, ShimProcess } from "./support/shim.js";


const MAX_FILES = 4;
const ROTATED = rotatedNamePattern("0.log");

describe("e2e scenarios: the shim against a real containerd", { skip: e2eSkip, timeout: 240_000 }, () => {
  let containerd: PrivateContainerd | undefined;
  let cri: CriAdmin | undefined;
  const pods: RunningPod[] = [];
  const shims: ShimProcess[] = [];

  before(async () => {
    ({ containerd, cri } = await startPrivateCri());
  });

  after(async () => {
    try {
      await Promise.all(shims.map((s) => s.kill()));
      if (cri !== undefined && pods.length > 0) await stopAndRemoveAll(cri, pods);
    } finally {
      cri?.close();
      await containerd?.cleanup();
    }
  });

  /** The flags every invocation shares: this containerd, its log root, no metrics port. */
  const common = (): string[] => ["--runtime-endpoint", containerd!.endpoint, "--log-root", containerd!.logRoot, "--lock-file", `${containerd!.logRoot}.lock`, "--metrics-address", ""];
  const rotation = (maxFiles = MAX_FILES): string[] =>
    ["--container-log-max-size", "64Ki", "--container-log-max-files", String(maxFiles), "--compression", "gzip"];

  // Whatever a scenario started goes when it ends, passed or failed: a shim left running would hold the log
  // root's lock, and a fast writer left running would compete with the next scenario for the CPU.
  const startShim = (t: TestContext, args: string[]): ShimProcess => {
    const shim = ShimProcess.start(["run", ...args]);
    shims.push(shim);
    t.after(() => shim.kill());
    return shim;
  };

  const newPod = async (t: TestContext, name: string, uidSuffix: number): Promise<RunningPod> => {
    const uid = `5ce7a210-0000-4000-8000-${String(uidSuffix).padStart(12, "0")}`;
    const pod = await runPod(cri!, { namespace: "e2e", name, uid, logRoot: containerd!.logRoot });
    pods.push(pod);
    // StopPodSandbox kills the containers without StopContainer's grace period.
    t.after(async () => {
      await stopAndRemoveAll(cri!, [pod]);
      if (pods.includes(pod)) pods.splice(pods.indexOf(pod), 1);
    });
    return pod;
  };

  test("three containers: the fast one rotates within max files, compressed, without losing a line; slow and idle stay put", async (t) => {
    const pod = await newPod(t, "rotation", 1);
    const fast = await runContainer(cri!, pod, { name: "fast", command: fastWriterCommand });
    const slow = await runContainer(cri!, pod, { name: "slow", command: slowWriterCommand });
    const idle = await runContainer(cri!, pod, { name: "idle", command: idleCommand });
    const fastDir = dirname(fast.logPath);

    const shim = startShim(t, [...common(), ...rotation(), "--container-log-monitor-interval", "3s"]);
    // Right after the shim rotated the fast container (rotate is the last action of its plan, in a pass or in
    // a growth check between passes), its listing is that plan's end state, unless the next plan has begun:
    // growth checks rotate this writer every ~100 ms. Listed synchronously as the line arrives, so the test's
    // own event loop adds no delay; which rotation came next is matched up at the end.
    const afterPass: { names: string[]; rotation: number }[] = [];
    let fastRotationsLogged = 0;
    shim.onLog((e) => {
      if (e.msg !== "rotated container log" || e.containerId !== fast.id) return;
      afterPass.push({ names: readdirSync(fastDir).filter((n) => n.startsWith("0.log")), rotation: fastRotationsLogged++ });
    });
    // And at any instant: the plan removes, then renames, and compresses in the background, so even in the
    // middle of a pass the directory never holds more than max files.
    const poller = pollDir(fastDir, 50);

    const started = Date.now();
    await shim.waitForLog((e) => e.msg === "starting container log rotation", "that it started", 15_000);
    await sleep(20_000 - (Date.now() - started));
    const sampled = await poller.stop();
    assert.equal(shim.running, true, shim.tail());
    assert.equal(await shim.stop(), 0, `the shim exits 0 on SIGTERM\n${shim.tail()}`);
    assert.ok(shim.entries((e) => e.msg === "stopped").length === 1, shim.tail());

    const rotations = shim.entries((e) => e.msg === "rotated container log");
    const fastRotations = rotations.filter((e) => e.containerId === fast.id);
    t.diagnostic(`fast: ${fastRotations.length} rotations, ${shim.entries((e) => e.msg === "compressed rotated log").length} compressions, ` +
      `${shim.entries((e) => e.msg === "removed log file").length} removals; most files seen at once: ${Math.max(...sampled.map((s) => s.length))}`);
    assert.ok(fastRotations.length >= MAX_FILES, `the fast writer's log went over 64Ki every pass: ${fastRotations.length} rotations\n${shim.tail()}`);
    assert.deepEqual(rotations.filter((e) => e.containerId !== fast.id).map((e) => e.containerId), [], "only the fast writer reached 64Ki");
    assert.ok(shim.entries((e) => e.msg === "removed log file" && e.containerId === fast.id).length >= 1, "files beyond max files were removed");
    assert.ok(shim.entries((e) => e.msg === "compressed rotated log" && e.containerId === fast.id).length >= 1, "older rotated files were compressed");
    assert.deepEqual(shim.entries((e) => e.level === "error" || e.level === "warn"), [], "no warning or error");
    for (const e of fastRotations) assert.match(loggedPath(e.rotatedTo), new RegExp(`^${escapeRe(fastDir)}/0\\.log\\.\\d{8}-\\d{6}(_\\d{6})?$`));

    // Never more than max files: at every poll, and right after every pass (a compression's .tmp, and X beside
    // the X.gz just made from it, are one file: see assertRotatedShape).
    const overfull = sampled.filter((names) => new Set(names.filter((n) => !n.endsWith(".tmp")).map(stem)).size > MAX_FILES);
    assert.deepEqual(overfull.slice(0, 3), [], `more than ${MAX_FILES} files at once (${overfull.length} of ${sampled.length} polls)`);
    assert.ok(afterPass.length >= MAX_FILES);
    let checked = 0;
    for (const { names, rotation } of afterPass) {
      // A listing that already holds the name the next rotation renamed the log to was taken while that next
      // plan was under way (its removals, rename, ReopenContainerLog, compressions finishing): not a plan's
      // end state. The 50 ms poller above holds every such moment to max files.
      const next = fastRotations[rotation + 1];
      if (next !== undefined && names.includes(basename(loggedPath(next.rotatedTo)))) continue;
      assertRotatedShape(names, "after a pass");
      checked++;
    }
    assert.ok(checked >= MAX_FILES, `${checked} listings were a plan's end state`);

    // The end state: kubelet names, the newest rotated file plain, at most max-2 .gz (readAllLogs below
    // gunzips them, which throws on anything but valid gzip). Stopped mid-work, an older file may be plain.
    const final = await listLogFiles(fastDir);
    assertRotatedShape(final.all, "at the end");
    assert.equal(final.all.filter((n) => !n.endsWith(".tmp")).length, MAX_FILES, `live + newest plain + ${MAX_FILES - 2} older: ${final.all.join(", ")}`);
    for (const name of final.rotated) assertStampNearNow(name);

    // No loss within what max files keeps: one contiguous run of lines, partials joined, no duplicate, up to
    // the last line written (the oldest file may start with the tail of a line whose head was removed).
    const { files, lines } = await readAllLogs(fastDir);
    const seq = writerLines(lines, { firstMayBeFragment: true });
    assertConsecutive(seq, seq[0]!, files);
    assert.ok(seq[0]! > 0, "the oldest lines were removed with the excess files");
    const suffixed = fastRotations.filter((e) => /_\d{6}$/.test(loggedPath(e.rotatedTo))).length;
    t.diagnostic(`fast: lines ${seq[0]}..${seq.at(-1)} kept across ${files.join(", ")}; ${suffixed} rotations took a collision suffix`);

    // The slow writer (about 5 lines/s) never reaches 64Ki: its one file holds every line from 0.
    assert.deepEqual((await listLogFiles(dirname(slow.logPath))).all, ["0.log"]);
    const slowSeq = writerLines((await readAllLogs(dirname(slow.logPath))).lines);
    assert.ok(slowSeq.length >= 50, `the slow writer wrote ${slowSeq.length} lines in 20 s`);
    assertConsecutive(slowSeq, 0, ["0.log"]);

    // The idle container wrote nothing: one empty live log, and the shim never acted on it.
    assert.deepEqual(await describeNames(dirname(idle.logPath)), ["0.log"]);
    assert.equal((await stat(idle.logPath)).size, 0);
    assert.deepEqual(shim.entries((e) => e.containerId === idle.id), []);
  });

  test("with max files large enough to keep everything, every line from 0 is found exactly once", async (t) => {
    const pod = await newPod(t, "noloss", 2);
    const fast = await runContainer(cri!, pod, { name: "fast", command: fastWriterCommand });
    const fastDir = dirname(fast.logPath);
    // `once` for deterministic passes: each one rotates (0.4 s of the fast writer is far over 64Ki).
    const passes = 4;
    for (let i = 0; i < passes; i++) {
      await sleep(400);
      const r = await runCli(["once", "--json", ...common(), ...rotation(1000)]);
      assert.equal(r.code, 0, r.stderr);
      const summary = JSON.parse(r.stdout) as { rotated: number; failures: unknown[] };
      assert.deepEqual(summary.failures, []);
      assert.equal(summary.rotated, 1, r.stdout);
    }
    await sleep(300);
    const listing = await listLogFiles(fastDir);
    assert.equal(listing.rotated.length, passes, listing.all.join(", "));
    assertRotatedShape(listing.all, "after the last pass", 1000);

    const readAt = Date.now();
    const { files, lines } = await readAllLogs(fastDir);
    const seq = writerLines(lines);
    assertConsecutive(seq, 0, files);
    t.diagnostic(`lines 0..${seq.at(-1)} across ${files.length} files, ${lines.filter((l) => l.tag === "P").length} partial entries joined; read and checked in ${Date.now() - readAt} ms`);
    assert.ok(seq.length > 10_000, `the fast writer wrote ${seq.length} lines`);
  });

  test("a stopped container is left alone; clean removes only its logs before RemoveContainer; clean of an unknown id fails", async (t) => {
    const pod = await newPod(t, "lifecycle", 3);
    const stopper = await runContainer(cri!, pod, { name: "stopper", command: fastWriterCommand });
    const sibling = await runContainer(cri!, pod, { name: "sibling", command: slowWriterCommand });
    const stopperDir = dirname(stopper.logPath);
    const siblingDir = dirname(sibling.logPath);
    await waitFor(async () => existsSync(stopper.logPath) && (await stat(stopper.logPath)).size > 64 * 1024, "the stopper's log to pass 64Ki");
    // While it runs, a pass rotates it like any other, so it has rotated files too when it stops.
    const first = await runCli(["once", "--json", ...common(), ...rotation()]);
    assert.equal(first.code, 0, first.stderr);
    assert.deepEqual(first.logs.filter((e) => e.msg === "rotated container log").map((e) => e.containerId), [stopper.id]);

    await cri!.stopContainer(stopper.id, STOP_TIMEOUT_SECONDS);
    assert.equal((await cri!.containerStatus(stopper.id)).state, "CONTAINER_EXITED");
    const frozen = await describeDir(stopperDir);
    const frozenLines = await readLogFile(stopper.logPath);
    assert.ok((await stat(stopper.logPath)).size > 64 * 1024, "over the limit: were it running, a pass would rotate it");

    // Several passes: an exited container is not listed as running, so nothing is planned for it, and no
    // ReopenContainerLog is attempted (containerd would answer "container is not running").
    for (let i = 0; i < 3; i++) {
      const r = await runCli(["once", "--json", ...common(), ...rotation()]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual((JSON.parse(r.stdout) as { failures: unknown[] }).failures, []);
      assert.deepEqual(r.logs.filter((e) => e.containerId === stopper.id || e.level === "error"), [], r.stderr);
    }
    assert.deepEqual(await describeDir(stopperDir), frozen, "the stopped container's files are untouched");
    assert.deepEqual(await readLogFile(stopper.logPath), frozenLines);

    // The kubelet cleans a container's logs before it removes the container (ContainerStatus still answers).
    const siblingBefore = await listLogFiles(siblingDir);
    const cleaned = await runCli(["clean", stopper.id, "--json", ...common()]);
    assert.equal(cleaned.code, 0, cleaned.stderr);
    const removed = (JSON.parse(cleaned.stdout) as { removed: string[] }).removed;
    assert.deepEqual(removed.sort(), Object.keys(frozen).map((n) => join(stopperDir, n)).sort());
    assert.ok(removed.length >= 2, `the live log and the rotated one: ${removed.join(", ")}`);
    assert.deepEqual((await listLogFiles(stopperDir)).all, [], "every <n>.log* of the container is gone");
    assert.equal(existsSync(stopperDir), true, "the directory is the kubelet's to remove with the pod");
    assert.deepEqual(await listLogFiles(siblingDir), siblingBefore, "the sibling's logs are untouched");
    await cri!.removeContainer(stopper.id);
    pod.containers.splice(pod.containers.indexOf(stopper), 1);

    // An unknown id: ContainerStatus fails, the command exits 1 and touches nothing.
    const tree = await listTree(containerd!.logRoot);
    const unknown = "0".repeat(56) + "deadbeef";
    const refused = await runCli(["clean", unknown, ...common()]);
    assert.equal(refused.code, 1, `${refused.stdout}\n${refused.stderr}`);
    assert.match(refused.stderr, /cri-logrotate clean: .*/);
    assert.deepEqual(await listTree(containerd!.logRoot), tree);
  });

  test("a containerd restart: the shim logs the failure, reconnects by itself and keeps rotating", async (t) => {
    const pod = await newPod(t, "restart", 4);
    const fast = await runContainer(cri!, pod, { name: "fast", command: fastWriterCommand });
    const shim = startShim(t, [...common().slice(0, -2), "--metrics-address", "127.0.0.1:0", ...rotation(), "--container-log-monitor-interval", "3s"]);
    const serving = await shim.waitForLog((e) => e.msg === "serving metrics", "its metrics address");
    const metricsUrl = `http://${String(serving.address)}/metrics`;
    await shim.waitForLog((e) => e.msg === "rotated container log" && e.containerId === fast.id, "a first rotation", 15_000);
    assert.match(await fetchText(metricsUrl), /^cri_logrotate_runtime_up 1$/m);

    // Down long enough for a pass to meet it (the interval is 3 s), then up again on the same state.
    const downFrom = shim.logs.length;
    await containerd!.stop();
    const failure = await shim.waitForLog((e) => e.msg === "failed to list containers", "the failed ListContainers", 10_000, downFrom);
    assert.equal(failure.level, "error");
    assert.match(JSON.stringify(failure.err), /unavailable|does not exist|nobody answers|socket/i);
    assert.match(await fetchText(metricsUrl), /^cri_logrotate_runtime_up 0$/m);
    assert.equal(shim.running, true, "the shim keeps running without its runtime");

    await containerd!.restart();
    const upFrom = shim.logs.length;
    const upAt = Date.now();
    await waitForCri(cri!);
    assert.equal((await cri!.containerStatus(fast.id)).state, "CONTAINER_RUNNING");
    // The same shim process, the same gRPC client: grpc-js reconnects the channel by itself.
    const again = await shim.waitForLog((e) => e.msg === "rotated container log" && e.containerId === fast.id, "a rotation after the restart", 20_000, upFrom);
    t.diagnostic(`first rotation ${again.at - upAt} ms after containerd was back`);
    assert.match(await fetchText(metricsUrl), /^cri_logrotate_runtime_up 1$/m);

    assert.equal(await shim.stop(), 0, shim.tail());
    // The newest rotated file on disk is one the shim made after the restart.
    const after = shim.logs.slice(upFrom).filter((e) => e.msg === "rotated container log" && e.containerId === fast.id).map((e) => loggedPath(e.rotatedTo));
    const { rotated, all } = await listLogFiles(dirname(fast.logPath));
    assertRotatedShape(all, "after the restart");
    assert.ok(after.includes(join(dirname(fast.logPath), rotated.at(-1)!)), `${rotated.at(-1)} is not among ${after.join(", ")}`);

    // What failed while containerd was down: the listing; and, if a growth check caught the live log over the
    // limit, a rotation whose ReopenContainerLog failed — undone by renaming the file back, as the kubelet does.
    const errors = shim.logs.slice(downFrom).filter((e) => e.level === "error");
    const unexpected = errors.filter((e) => e.msg !== "failed to list containers" &&
      !(e.msg === "failed to rotate log for container" && e.containerId === fast.id && /\(renamed back\)/.test(JSON.stringify(e.err))));
    assert.deepEqual(unexpected, [], shim.tail());
    t.diagnostic(`errors while containerd was down: ${JSON.stringify(errors.map((e) => e.msg))}`);
  });

  test("a live log deleted by hand comes back through ReopenContainerLog and grows", async (t) => {
    const pod = await newPod(t, "recover", 5);
    const victim = await runContainer(cri!, pod, { name: "victim", command: slowWriterCommand });
    await waitFor(async () => existsSync(victim.logPath) && (await readLogFile(victim.logPath)).length >= 3, "the victim's first lines");
    const shim = startShim(t, [...common(), ...rotation(), "--container-log-monitor-interval", "3s"]);
    await shim.waitForLog((e) => e.msg === "starting container log rotation", "that it started");

    const lastBefore = writerLines(await readLogFile(victim.logPath)).at(-1)!;
    await rm(victim.logPath);
    const from = shim.logs.length;
    const recovered = await shim.waitForLog((e) => e.msg === "recovered missing container log" && e.containerId === victim.id, "the recovery", 10_000, from);
    assert.equal(recovered.level, "info");
    assert.equal(recovered.path, victim.logPath);

    assert.equal(existsSync(victim.logPath), true);
    const size = (await stat(victim.logPath)).size;
    await waitFor(async () => (await stat(victim.logPath)).size > size, "the recovered log to grow");
    // (firstMayBeFragment: had the reopen cut a line, its head would be in the deleted file.)
    const after = writerLines(await readLogFile(victim.logPath), { firstMayBeFragment: true });
    // Lines written between the rm and the reopen went to the deleted file; the new one continues after them.
    assert.ok(after.length >= 1 && after[0]! > lastBefore, `new lines ${after[0]}.. after ${lastBefore}`);
    assertConsecutive(after, after[0]!, ["0.log"]);

    assert.equal(await shim.stop(), 0, shim.tail());
    assert.deepEqual(shim.entries((e) => e.level === "error"), [], shim.tail());
    assert.deepEqual((await listLogFiles(dirname(victim.logPath))).all, ["0.log"], "a recovery renames nothing");
  });

  test("the shim and containerd left nothing running", async (t) => {
    assert.deepEqual(shims.filter((s) => s.running).map((s) => s.pid), []);
    assert.deepEqual(pods, []);
    t.diagnostic(`containerd log: ${(await readContainerdLog(containerd!)).split("\n").filter((l) => /level=error/.test(l)).length} error lines`);
  });
});

// --- helpers --------------------------------------------------------------------------------------------

/** The names of a container's logs after a finished pass: kubelet names, newest rotated plain, older .gz. */
/**
 * The kubelet's rules on one listing: at most max files, the newest rotated file plain, at most max-2
 * compressed. Compression runs in the background (rotation never waits for it), so an older file may still
 * be plain, or caught mid-compression: its .tmp, or X beside the X.gz just made from it, is one file.
 * With `compressed`, every older file must be compressed (a quiet moment after the work is done).
 */
function assertRotatedShape(names: string[], when: string, maxFiles = MAX_FILES, compressed = false): void {
  const files = [...new Set(names.filter((n) => !n.endsWith(".tmp")).map(stem))];
  assert.ok(files.length <= maxFiles, `${when}: ${files.length} files > ${maxFiles}: ${names.join(", ")}`);
  assert.ok(names.includes("0.log"), `${when}: the live log exists: ${names.join(", ")}`);
  const rotated = names.filter((n) => n !== "0.log" && !n.endsWith(".tmp"));
  for (const n of rotated) assert.match(n, ROTATED, `${when}: ${n} is not a kubelet rotated name`);
  const ordered = [...rotated].sort((a, b) => (stem(a) < stem(b) ? -1 : stem(a) > stem(b) ? 1 : a.endsWith(".gz") ? 1 : -1));
  const newest = ordered.at(-1);
  if (newest !== undefined) assert.doesNotMatch(newest, /\.gz$/, `${when}: the newest rotated file stays plain: ${names.join(", ")}`);
  assert.ok(ordered.filter((n) => n.endsWith(".gz")).length <= maxFiles - 2, `${when}: at most ${maxFiles - 2} compressed: ${names.join(", ")}`);
  if (compressed) for (const n of new Set(ordered.slice(0, -1).map(stem))) assert.ok(names.includes(`${n}.gz`) && !names.includes(n), `${when}: an older rotated file is compressed: ${names.join(", ")}`);
}

/** A path as the shim logs it (quoted by showPath). */
function loggedPath(field: unknown): string {
  const text = String(field);
  return text.startsWith('"') ? (JSON.parse(text) as string) : text;
}

function stem(name: string): string {
  return name.replace(/\.gz$/, "");
}

/** The stamp is the rotation time (UTC or local: either way within a day of now). */
function assertStampNearNow(name: string): void {
  const m = ROTATED.exec(name)!;
  const [, d] = m;
  const at = Date.UTC(+d!.slice(0, 4), +d!.slice(4, 6) - 1, +d!.slice(6, 8), +d!.slice(9, 11), +d!.slice(11, 13), +d!.slice(13, 15));
  assert.ok(Math.abs(at - Date.now()) < 26 * 3600_000, `${name}: stamp far from now`);
}

/**
 * The writer's line numbers, partial entries joined. With `firstMayBeFragment`, a first entry that is the
 * tail of a line whose head (a P entry) was in a file since removed is dropped.
 */
function writerLines(lines: CriLogLine[], opts: { firstMayBeFragment?: boolean } = {}): number[] {
  let joined = joinPartials(lines).filter((l) => l.tag === "F");
  if (opts.firstMayBeFragment && joined.length > 0 && !/^line \d+$/.test(joined[0]!.content)) joined = joined.slice(1);
  return writerSequence(joined);
}

function assertConsecutive(seq: number[], from: number, files: string[]): void {
  assert.ok(seq.length > 0, `no lines in ${files.join(", ")}`);
  const breaks = seq.flatMap((n, i) => (n === from + i ? [] : [`#${i}: ${n} (expected ${from + i})`]));
  assert.deepEqual(breaks.slice(0, 5), [], `expected lines ${from}..${from + seq.length - 1} once each, in order, across ${files.join(", ")}`);
}

async function describeNames(dir: string): Promise<string[]> {
  return Object.keys(await describeDir(dir));
}

/** Lists `dir` every `everyMs` until stopped; returns every listing of the log files. */
function pollDir(dir: string, everyMs: number): { stop(): Promise<string[][]> } {
  const samples: string[][] = [];
  let running = true;
  const loop = (async () => {
    while (running) {
      try {
        samples.push((await listLogFiles(dir)).all);
      } catch {
        /* the directory is being changed under us: skip this sample */
      }
      await sleep(everyMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return samples;
    },
  };
}

async function fetchText(url: string): Promise<string> {
  const res = await fetch(url);
  return res.text();
}

async function waitFor(check: () => Promise<boolean>, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
