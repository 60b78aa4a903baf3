// Issue 9 at the level a user meets it: the real command (`node bin/cri-logrotate.js once|run|plan|clean|logs`
// as a child process, `--lock-file` in the test's temp dir) over the fake CRI on a real unix socket, on real
// temp directories. Each class of hostile tree or runtime answer is a table where the cases share a shape;
// every case asserts final directory listings, exit codes, log lines and CRI call counts. Where only an
// in-process run can make the fault happen (a read error as root, a FIFO swapped in between the look and the
// open, a clock that jumps), the manager is driven directly with a FaultyFs or a FakeClock.
//
// The classes are numbered as in the issue (see docs/operations.md, "Hostile and odd trees"):
//   1 prefix-named logs of two containers in one directory     6 nothing of ours inside the log root
//   2 odd files where X.gz / X.tmp would go; uncompressible X  7 limits apply per container
//   3 a rotated file stamped in the future; clock jumps         8 paths as bytes; a directory that stays missing
//   4 FIFOs: swapped in for a rotated file, as the live log     9 exit codes, and SIGTERM while a CRI call hangs
// (5, two rotators, is test/host/two-rotators.test.ts; 10, the kubelet beside us, test/e2e/kubelet-race.test.ts.)
import { describe, test, type TestContext } from "node:test";
import * as assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { loadConfig } from "../../host/config/index.js";
import { joinPath } from "../../host/fs.js";
import { startHarness, sharedPlugin, TEST_NOW_MS, type Harness } from "../support/harness.js";
import { FaultyFs } from "../support/faulty-fs.js";
import { runCli, ShimProcess, SHIM_BIN, type CliResult, type ShimLogEntry } from "../e2e/support/shim.js";
import type { RuntimeMethod } from "../fake-cri/index.js";
import { errorKinds } from "../support/line-audit.js";

// ---- helpers -------------------------------------------------------------------------------------------

const B = (s: string | Buffer): Buffer => (Buffer.isBuffer(s) ? s : Buffer.from(s));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function harness(t: TestContext): Promise<Harness> {
  const h = await startHarness();
  t.after(() => h.close());
  return h;
}

/** The flags every command gets: this fake runtime, this log root, a lock in the temp dir, no metrics port. */
function flags(h: Harness, ...extra: string[]): string[] {
  return ["--runtime-endpoint", `unix://${h.runtime.socketPath}`, "--log-root", h.logRoot, "--lock-file", join(h.base, "run", "cri-logrotate.lock"), "--metrics-address", "", ...extra];
}

const ROTATION = ["--container-log-max-size", "512", "--container-log-max-files", "100", "--compression", "gzip"];

function cli(h: Harness, args: string[], ...extra: string[]): Promise<CliResult> {
  return runCli([...args, ...flags(h, ...extra)], 60_000);
}

interface OnceSummary {
  containers: number;
  rotated: number;
  compressed: number;
  removed: number;
  recovered: number;
  failures: { containerId: string; error: string }[];
}

function summary(r: CliResult): OnceSummary {
  try {
    return JSON.parse(r.stdout) as OnceSummary;
  } catch {
    throw new Error(`once printed no JSON summary (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
}

function warningsAndErrors(logs: ShimLogEntry[]): ShimLogEntry[] {
  return logs.filter((e) => e.level === "warn" || e.level === "error");
}

function brief(logs: ShimLogEntry[]): string {
  return logs.map((e) => `${e.level} ${e.msg} ${JSON.stringify({ ...e, ts: undefined, at: undefined, level: undefined, msg: undefined })}`).join("\n");
}

/** A rotated file of `logName` is exactly `logName.<YYYYMMDD-HHMMSS>[_NNNNNN][.gz]` (a `.tmp` is not read). */
function isRotatedOf(name: Buffer, logName: Buffer): boolean {
  if (name.length <= logName.length + 1 || !name.subarray(0, logName.length).equals(logName) || name[logName.length] !== 0x2e) return false;
  return /^\d{8}-\d{6}(_\d{6})?(\.gz)?$/.test(name.subarray(logName.length + 1).toString("latin1"));
}

const stemOf = (n: Buffer) => (n.subarray(-3).toString() === ".gz" ? n.subarray(0, -3) : n);

/** Every directory entry, names as bytes. */
function entries(dir: string | Buffer): Buffer[] {
  return (fs.readdirSync(dir, { encoding: "buffer" }) as Buffer[]).sort(Buffer.compare);
}

function names(dir: string | Buffer): string[] {
  return entries(dir).map((n) => n.toString("latin1"));
}

/**
 * One container's files as a shipper that missed nothing reads them: its rotated files in name order
 * (`.gz` decompressed), the live log last. `foreign` are other containers' live logs in the directory: never
 * this container's, whatever their names look like.
 */
function ownFiles(dir: string | Buffer, logName: string | Buffer, foreign: (string | Buffer)[] = []): Buffer[] {
  const own = B(logName);
  const others = foreign.map(B);
  const all = entries(dir).filter((n) => !others.some((o) => o.equals(n)));
  const rotated = all.filter((n) => isRotatedOf(n, own)).sort((a, b) => Buffer.compare(stemOf(a), stemOf(b)));
  return [...rotated, ...all.filter((n) => n.equals(own))];
}

/** The number of every CRI line of one container's files, in reading order. */
function lineNumbers(dir: string | Buffer, logName: string | Buffer, foreign: (string | Buffer)[] = []): number[] {
  const out: number[] = [];
  for (const name of ownFiles(dir, logName, foreign)) {
    if (!fs.lstatSync(joinPath(dir, name)).isFile()) continue; // an odd entry named like a log holds no lines (and a FIFO would block)
    let data = fs.readFileSync(joinPath(dir, name));
    if (name.subarray(-3).toString() === ".gz") data = gunzipSync(data);
    for (const line of data.toString("latin1").split("\n")) {
      if (line === "") continue;
      const m = /^\S+ stdout F (\d+)/.exec(line);
      if (!m) throw new Error(`not a fake-writer line in ${name.toString("latin1")}: ${JSON.stringify(line.slice(0, 80))}`);
      out.push(Number(m[1]));
    }
  }
  return out;
}

function assertAllLines(dir: string | Buffer, logName: string | Buffer, written: number, foreign: (string | Buffer)[] = [], what = String(logName)): void {
  const got = lineNumbers(dir, logName, foreign);
  const firstWrong = got.findIndex((n, i) => n !== i);
  assert.ok(firstWrong < 0 && got.length === written, `${what}: ${got.length} lines of ${written}, first wrong at ${firstWrong} (files: ${ownFiles(dir, logName, foreign).map((n) => n.toString("latin1")).join(", ")})`);
}

/** Name → kind, mode and content digest of every entry of a directory, links not followed. */
function digest(dir: string | Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of entries(dir)) {
    const p = joinPath(dir, name);
    const st = fs.lstatSync(p);
    const key = name.toString("latin1");
    if (st.isSymbolicLink()) out[key] = `link ${fs.readlinkSync(p)}`;
    else if (st.isFile()) out[key] = `file ${(st.mode & 0o7777).toString(8)} ${createHash("sha256").update(fs.readFileSync(p)).digest("hex")}`;
    else out[key] = st.isDirectory() ? "dir" : st.isFIFO() ? "fifo" : "other";
  }
  return out;
}

/** Every path below `dir`, relative, as latin1 text (bytes kept one to one). */
function tree(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: Buffer, rel: string) => {
    for (const name of entries(d)) {
      const p = joinPath(d, name);
      const r = rel === "" ? name.toString("latin1") : `${rel}/${name.toString("latin1")}`;
      out.push(r);
      if (fs.lstatSync(p).isDirectory()) walk(p, r);
    }
  };
  walk(B(dir), "");
  return out.sort();
}

function mkfifo(path: string): void {
  execFileSync("mkfifo", [path]);
}

function calls(h: Harness, method: RuntimeMethod, containerId?: string): number {
  return h.runtime.calls.filter((c) => c.method === method && (containerId === undefined || c.request?.container_id === containerId)).length;
}

async function until(what: string, check: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

/** The daemon (`run`) over the fake runtime, stopped (SIGKILL) when the test ends whatever happened. */
async function daemon(t: TestContext, h: Harness, ...extra: string[]): Promise<ShimProcess> {
  const shim = ShimProcess.start(["run", ...flags(h, "--container-log-monitor-interval", "3s", ...extra)]);
  t.after(() => shim.kill());
  await shim.waitForLog((e) => e.msg === "starting container log rotation", "that it started", 30_000);
  return shim;
}

/** SIGTERM; resolves with the exit code and how long it took. */
async function sigterm(shim: ShimProcess): Promise<{ code: number | null; ms: number }> {
  const at = Date.now();
  const code = await shim.stop(20_000);
  return { code, ms: Date.now() - at };
}

const WRITER = { linesPerTick: 20, intervalMs: 0, lineBytes: 50 }; // 1,000 bytes a tick: over 512 each time

// ---- 1. prefix-named logs ------------------------------------------------------------------------------

const prefixCases: Record<string, { first: string; second: string }> = {
  "0.log beside 0.log.1": { first: "0.log", second: "0.log.1" },
  "x.log beside x.log.2": { first: "x.log", second: "x.log.2" },
  // The second container's live log has exactly the name of a rotated file of the first.
  "0.log beside a live log named 0.log.20240101-000000": { first: "0.log", second: "0.log.20240101-000000" },
};

describe("1. two containers whose log names are prefixes of each other, in one directory", () => {
  for (const [name, tc] of Object.entries(prefixCases)) {
    test(name, async (t) => {
      const h = await harness(t);
      const dir = join(h.logRoot, "ns_pod_uid", "app");
      h.runtime.addContainer({ id: "first", name: "app", state: "CONTAINER_RUNNING", logPath: join(dir, tc.first), writer: WRITER });
      h.runtime.addContainer({ id: "second", name: "app", state: "CONTAINER_RUNNING", logPath: join(dir, tc.second), writer: WRITER });
      const PASSES = 5;
      for (let pass = 0; pass < PASSES; pass++) {
        h.runtime.tick("first");
        h.runtime.tick("second");
        const r = await cli(h, ["once", "--json"], ...ROTATION);
        assert.equal(r.code, 0, r.stderr);
        const s = summary(r);
        assert.deepEqual([s.rotated, s.failures], [2, []], `pass ${pass}: both rotate, nothing fails`);
        assert.deepEqual(warningsAndErrors(r.logs), [], brief(r.logs));
        assert.equal(r.logs.filter((e) => e.msg === "removed log file").length, 0, "nothing is in excess at max files 100");
      }
      // Each container: its live log, PASSES rotated files (all but the newest compressed), nothing else.
      const firstFiles = ownFiles(dir, tc.first, [tc.second]).map(String);
      const secondFiles = ownFiles(dir, tc.second, [tc.first]).map(String);
      for (const [own, files] of [[tc.first, firstFiles], [tc.second, secondFiles]] as const) {
        assert.equal(files.length, PASSES + 1, `${own}: ${files.join(", ")}`);
        assert.equal(files.filter((f) => f.endsWith(".gz")).length, PASSES - 1);
        assert.equal(files.at(-1), own, "the live log is there");
      }
      assert.deepEqual(names(dir), [...firstFiles, ...secondFiles].sort(), "no file of anyone else's, no .tmp, no twin");
      assertAllLines(dir, tc.first, h.runtime.linesWritten("first"), [tc.second], "first");
      assertAllLines(dir, tc.second, h.runtime.linesWritten("second"), [tc.first], "second");

      // logs lists one container's files only, oldest first, the live log last.
      for (const [id, own, files] of [["first", tc.first, firstFiles], ["second", tc.second, secondFiles]] as const) {
        const r = await cli(h, ["logs", id, "--json"]);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(JSON.parse(r.stdout), files.map((f) => join(dir, f)), `logs ${id} (${own})`);
      }

      // clean of the first (after it exited) removes its files and nothing of the second's.
      const secondBefore = Object.fromEntries(Object.entries(digest(dir)).filter(([n]) => secondFiles.includes(n)));
      h.runtime.setState("first", "CONTAINER_EXITED");
      const c = await cli(h, ["clean", "first", "--json"]);
      assert.equal(c.code, 0, c.stderr);
      assert.deepEqual((JSON.parse(c.stdout) as { removed: string[] }).removed.sort(), firstFiles.map((f) => join(dir, f)).sort());
      assert.deepEqual(digest(dir), secondBefore, "the second container's files are exactly as they were");
      assertAllLines(dir, tc.second, h.runtime.linesWritten("second"), [], "second, after clean of the first");
    });
  }

  test("clean of one while its prefix-named neighbour has exited too (a pod being torn down)", async (t) => {
    const h = await harness(t);
    const dir = join(h.logRoot, "ns_pod_uid", "app");
    const [first, second] = ["0.log", "0.log.20240101-000000"];
    h.runtime.addContainer({ id: "first", name: "app", state: "CONTAINER_RUNNING", logPath: join(dir, first), writer: WRITER });
    h.runtime.addContainer({ id: "second", name: "app", state: "CONTAINER_RUNNING", logPath: join(dir, second), writer: WRITER });
    for (let pass = 0; pass < 2; pass++) {
      h.runtime.tick("first");
      h.runtime.tick("second");
      const r = await cli(h, ["once", "--json"], ...ROTATION);
      assert.equal(r.code, 0, r.stderr);
    }
    const secondFiles = ownFiles(dir, second, [first]).map(String);
    const secondBefore = Object.fromEntries(Object.entries(digest(dir)).filter(([n]) => secondFiles.includes(n)));
    h.runtime.setState("first", "CONTAINER_EXITED");
    h.runtime.setState("second", "CONTAINER_EXITED");
    for (const id of ["first", "second"]) {
      const r = await cli(h, ["logs", id, "--json"]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), ownFiles(dir, id === "first" ? first : second, [id === "first" ? second : first]).map((f) => join(dir, String(f))), `logs ${id}`);
    }
    const c = await cli(h, ["clean", "first", "--json"]);
    assert.equal(c.code, 0, c.stderr);
    assert.deepEqual(digest(dir), secondBefore, "the second container's live log is not the first's rotated file");
    assertAllLines(dir, second, h.runtime.linesWritten("second"), [], "second");
  });

  test("an exited container's live log named like a running neighbour's rotated file is never compressed or removed", async (t) => {
    // The runtime keeps an exited container's log until the container is removed: `kubectl logs --previous`
    // reads it. A `once` is a fresh process that never saw that container running.
    const h = await harness(t);
    const dir = join(h.logRoot, "ns_pod_uid", "app");
    const [first, second] = ["0.log", "0.log.20240101-000000"];
    h.runtime.addContainer({ id: "first", name: "app", state: "CONTAINER_RUNNING", logPath: join(dir, first), writer: WRITER });
    h.runtime.addContainer({ id: "second", name: "app", state: "CONTAINER_RUNNING", logPath: join(dir, second), writer: WRITER });
    h.runtime.tick("second");
    h.runtime.setState("second", "CONTAINER_EXITED");
    const before = digest(dir)[second];
    for (let pass = 0; pass < 4; pass++) {
      h.runtime.tick("first");
      const r = await cli(h, ["once", "--json"], "--container-log-max-size", "512", "--container-log-max-files", "3");
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual([summary(r).rotated, summary(r).failures], [1, []]);
      assert.equal(digest(dir)[second], before, `pass ${pass}: the exited container's log is untouched (${names(dir).join(", ")})`);
    }
    assert.equal(ownFiles(dir, first, [second]).length, 3, "the running one keeps max files of its own");
    assertAllLines(dir, second, h.runtime.linesWritten("second"), [], "second");
  });
});


describe("1b. containers learned before they run (every listed container's path is asked once)", () => {
  test("created first, running later: its directory is checked then and it rotates; a bad path is refused then, once", async (t) => {
    const h = await harness(t);
    const dir = join(h.logRoot, "ns_pod_uid", "app");
    h.runtime.addContainer({ id: "later", name: "app", state: "CONTAINER_CREATED", logPath: join(dir, "0.log") });
    const bad = h.runtime.addContainer({ id: "bad", name: "app", state: "CONTAINER_CREATED", logPath: "/placeholder" });
    bad.logPath = "ns_pod_uid/bad/0.log"; // not absolute
    const manager = h.manager({ policy: { maxSize: 512, maxFiles: 5 } });
    const first = await manager.runOnce();
    assert.deepEqual([first.outcomes, first.failures, manager.watched], [[], [], 0], "nothing of a container that does not run");
    assert.deepEqual(h.logger.find({ level: "warn" }), [], "not refused before it runs");
    assert.equal(calls(h, "ContainerStatus"), 2, "both paths asked once");

    h.runtime.setState("later", "CONTAINER_RUNNING");
    h.runtime.setState("bad", "CONTAINER_RUNNING");
    h.runtime.startWriter("later", WRITER);
    h.runtime.tick("later");
    const second = await manager.runOnce();
    assert.deepEqual(second.outcomes.map((o) => o.kind), ["rotate"]);
    assert.deepEqual(second.failures.map((f) => f.id), ["bad"], "the refusal fails the pass it is found in");
    const third = await manager.runOnce();
    assert.deepEqual(third.failures, [], "once");
    const refused = h.logger.find({ level: "warn", msg: "refusing container log path" });
    assert.equal(refused.length, 1);
    assert.deepEqual([refused[0]!.fields.containerId, String(refused[0]!.fields.path)], ["bad", "ns_pod_uid/bad/0.log"]);
    assert.equal(calls(h, "ContainerStatus"), 2, "never asked again");
    assert.equal(manager.watched, 1);
  });
});

// ---- 2. odd files where X.gz or X.tmp would go; a file that cannot be compressed --------------------------

/** An older rotated file of 0.log, there before the daemon starts: the first one the rules compress. */
const OLD = "0.log.20250101-000000";

interface ObstacleCase {
  /** The odd entry's name. */
  at: string;
  make(path: string, h: Harness): void;
  /**
   * OLD itself is the odd entry: it blocks nothing, so the rules step around it without a report (it is
   * never opened, compressed or removed).
   */
  replacesOld?: boolean;
}

const obstacles: Record<string, ObstacleCase> = {
  "a symlink at X.gz": { at: `${OLD}.gz`, make: (p, h) => fs.symlinkSync(join(h.base, "outside", "target"), p) },
  "a directory at X.gz": { at: `${OLD}.gz`, make: (p) => fs.mkdirSync(p) },
  "a FIFO at X.gz": { at: `${OLD}.gz`, make: mkfifo },
  "a symlink at X.tmp": { at: `${OLD}.tmp`, make: (p, h) => fs.symlinkSync(join(h.base, "outside", "target"), p) },
  "a directory at X.tmp": { at: `${OLD}.tmp`, make: (p) => fs.mkdirSync(p) },
  "a FIFO at X.tmp": { at: `${OLD}.tmp`, make: mkfifo },
  "a FIFO named like a rotated file": { at: OLD, make: mkfifo, replacesOld: true },
  "a directory named like a rotated file": { at: OLD, make: (p) => fs.mkdirSync(p), replacesOld: true },
};

describe("2. an odd file where X.gz or X.tmp would go: rotation goes on every time, the odd file is reported once", () => {
  for (const [name, tc] of Object.entries(obstacles)) {
    test(name, async (t) => {
      const h = await harness(t);
      const dir = join(h.logRoot, "ns_pod_uid", "app");
      fs.mkdirSync(join(h.base, "outside"));
      fs.writeFileSync(join(h.base, "outside", "target"), "not a log\n");
      fs.mkdirSync(dir, { recursive: true });
      if (!tc.replacesOld) fs.writeFileSync(join(dir, OLD), "2025-01-01T00:00:00Z stdout F old\n");
      tc.make(join(dir, tc.at), h);
      h.runtime.addContainer({ id: "c", name: "app", state: "CONTAINER_RUNNING", logPath: join(dir, "0.log"), writer: WRITER });
      const fixed = digest(dir);
      delete fixed["0.log"];

      const shim = await daemon(t, h, ...ROTATION);
      const ROTATIONS = 4;
      for (let i = 1; i <= ROTATIONS; i++) {
        h.runtime.tick("c"); // over the limit: the daemon sees it grow and rotates at once
        await shim.waitForLog(() => shim.entries((e) => e.msg === "rotated container log").length >= i, `rotation ${i}`, 20_000);
        assert.ok(fs.statSync(join(dir, "0.log")).size < 512, `after rotation ${i} the live log is below the limit again`);
      }
      // The rotated files but the newest are compressed in the background.
      await shim.waitForLog(() => shim.entries((e) => e.msg === "compressed rotated log").length >= ROTATIONS - 1, "the compressions", 20_000);
      const { code, ms } = await sigterm(shim);
      assert.equal(code, 0, shim.tail());
      assert.ok(ms < 10_000, `SIGTERM took ${ms} ms`);

      assert.equal(shim.entries((e) => e.msg === "rotated container log").length, ROTATIONS, "one rotation per write over the limit, none missed");
      const reports = shim.entries((e) => e.msg === "stepping around a file");
      assert.equal(reports.length, tc.replacesOld ? 0 : 1, `the odd file is reported once (an odd X blocks nothing):\n${brief(warningsAndErrors(shim.logs))}`);
      for (const r of reports) assert.deepEqual([r.containerId, r.reason, r.file], ["c", "compression-blocked", OLD]);
      assert.deepEqual(warningsAndErrors(shim.logs).filter((e) => !reports.includes(e)), [], "nothing else went wrong");
      // Nothing of what was there changed; the new rotated files are ours and in shape.
      const after = digest(dir);
      for (const [n, d] of Object.entries(fixed)) assert.equal(after[n], d, `${n} is as it was`);
      assert.equal(fs.readFileSync(join(h.base, "outside", "target"), "utf8"), "not a log\n");
      const fresh = names(dir).filter((n) => !(n in fixed) && n !== "0.log");
      assert.equal(fresh.length, ROTATIONS, fresh.join(", "));
      assert.ok(fresh.every((n) => isRotatedOf(B(n), B("0.log"))), fresh.join(", "));
      assert.equal(fresh.filter((n) => n.endsWith(".gz")).length, ROTATIONS - 1, "all but the newest compressed");
      assertAllLines(dir, "0.log", h.runtime.linesWritten("c"), tc.replacesOld ? [] : [OLD], "c");

      // clean removes the container's regular files and skips the odd entry, which it never follows.
      h.runtime.setState("c", "CONTAINER_EXITED");
      const c = await cli(h, ["clean", "c", "--json"]);
      assert.equal(c.code, 0, c.stderr);
      assert.deepEqual((JSON.parse(c.stdout) as { skipped: string[] }).skipped, [join(dir, tc.at)]);
      assert.deepEqual(names(dir), [tc.at], "only the odd entry is left");
      assert.equal(fs.readFileSync(join(h.base, "outside", "target"), "utf8"), "not a log\n");
    });
  }

  test("a rotated file that cannot be read (EIO): rotation goes on every pass, one warning, every failure counted", async (t) => {
    const h = await harness(t);
    const dir = join(h.logRoot, "ns_pod_uid", "app");
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(join(dir, OLD), "2025-01-01T00:00:00Z stdout F old\n");
    h.runtime.addContainer({ id: "c", name: "app", state: "CONTAINER_RUNNING", logPath: join(dir, "0.log"), writer: WRITER });
    const ffs = new FaultyFs();
    ffs.injectError("openRead", Object.assign(new Error("EIO: i/o error, open"), { code: "EIO" }), { match: (p) => p.endsWith(`/${OLD}`), times: Infinity });
    const errors: string[] = [];
    const observer = { passFinished() {}, outcome() {}, held() {}, error: (kind: string) => void errors.push(kind), runtimeUp() {}, compressionBacklog() {}, compressionDropped() {} };
    const manager = h.manager({ fs: ffs, observer, policy: { maxSize: 512, maxFiles: 100 } });
    const PASSES = 5;
    for (let pass = 0; pass < PASSES; pass++) {
      h.runtime.tick("c");
      h.clock.advance(1000);
      const report = await manager.runOnce();
      assert.deepEqual(report.failures, [], "a compression that fails is not the container's failure");
      assert.equal(report.outcomes.filter((o) => o.kind === "rotate").length, 1, `pass ${pass} rotates`);
      assert.ok(fs.statSync(join(dir, "0.log")).size < 512);
    }
    const warned = h.logger.find({ level: "warn", msg: "failed to compress a rotated log" });
    assert.equal(warned.length, 1, "warned once (again only after 10 minutes)");
    assert.equal(String(warned[0]!.fields.path), join(dir, OLD));
    assert.equal(errors.filter((k) => k === "compress").length, ffs.callsOf("openRead").filter((c) => c.path.endsWith(`/${OLD}`)).length, "every failed try is counted");
    assert.ok(errors.filter((k) => k === "compress").length >= PASSES - 1, "tried again each time it is planned");
    assert.ok(fs.existsSync(join(dir, OLD)), "the file stays, uncompressed");
    assert.equal(ownFiles(dir, "0.log").length, PASSES + 2);
    assert.deepEqual(names(dir).filter((n) => n.endsWith(".tmp")), []);
  });
});

// ---- 3. names stay bounded: a future stamp, clocks jumping both ways ------------------------------------

/** A small deterministic PRNG, so a failing sequence of jumps can be replayed. */
function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const DAY = 86_400_000;
const clockCases: Record<string, { future: boolean; jump: (rand: () => number, pass: number) => number }> = {
  "a rotated file stamped 2099-12-31 23:59:59, the clock steady": { future: true, jump: () => 1000 },
  "a rotated file stamped in the future, the clock jumping both ways (and past the stamp, and back)": {
    future: true,
    jump: (rand, pass) => (pass === 150 ? Date.UTC(2100, 0, 1) - TEST_NOW_MS : pass === 200 ? -(Date.UTC(2100, 0, 1) - TEST_NOW_MS) : [1000, 0, -3_600_000, DAY, -DAY, -365 * DAY, 365 * DAY][Math.floor(rand() * 7)]!),
  },
  "no future stamp, the clock jumping back and forth": { future: false, jump: (rand) => [1000, 0, -1000, -3_600_000, 3_600_000, -DAY][Math.floor(rand() * 6)]! },
};

describe("3. 300 rotations: every name at most L+27 bytes and after every existing rotated name", () => {
  for (const [name, tc] of Object.entries(clockCases)) {
    test(name, async (t) => {
      const h = await harness(t);
      const dir = join(h.logRoot, "ns_pod_uid", "app");
      const LOG = B("0.log");
      fs.mkdirSync(dir, { recursive: true });
      if (tc.future) fs.writeFileSync(join(dir, "0.log.20991231-235959"), "from a clock that ran ahead\n");
      h.runtime.addContainer({ id: "c", name: "app", state: "CONTAINER_RUNNING", logPath: join(dir, "0.log"), writer: { linesPerTick: 1, intervalMs: 0, lineBytes: 64 } });
      const manager = h.manager({ policy: { maxSize: 32, maxFiles: 5 } });
      const rand = prng(9);
      let longest = 0;
      for (let pass = 0; pass < 300; pass++) {
        h.clock.advance(tc.jump(rand, pass));
        h.runtime.tick("c");
        const before = entries(dir).filter((n) => isRotatedOf(n, LOG)).map(stemOf);
        const report = await manager.runOnce();
        assert.deepEqual(report.failures, [], `pass ${pass}`);
        const rotated = report.outcomes.filter((o) => o.kind === "rotate");
        assert.equal(rotated.length, 1, `pass ${pass} rotates`);
        const made = (rotated[0] as { rotatedPath: Buffer }).rotatedPath.subarray(dir.length + 1);
        for (const old of before) assert.ok(Buffer.compare(made, old) > 0, `pass ${pass}: ${made} sorts after ${old}`);
        for (const n of entries(dir)) {
          assert.ok(n.equals(LOG) || isRotatedOf(n, LOG), `pass ${pass}: ${n} is a rotated name`);
          assert.ok(n.length <= LOG.length + 27, `pass ${pass}: ${n} is ${n.length} bytes`);
          longest = Math.max(longest, n.length);
        }
      }
      t.diagnostic(`longest name: ${longest} bytes (L = ${LOG.length}); last names: ${names(dir).join(", ")}`);
      assert.equal(ownFiles(dir, LOG).length, 5, "max files kept all along");
    });
  }

  test("the command too: once after once beside a future stamp, names continue it", async (t) => {
    const h = await harness(t);
    const dir = join(h.logRoot, "ns_pod_uid", "app");
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(join(dir, "0.log.20991231-235959"), "from a clock that ran ahead\n");
    h.runtime.addContainer({ id: "c", name: "app", state: "CONTAINER_RUNNING", logPath: join(dir, "0.log"), writer: WRITER });
    for (let pass = 1; pass <= 3; pass++) {
      h.runtime.tick("c");
      const r = await cli(h, ["once", "--json"], ...ROTATION);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(summary(r).rotated, 1);
      assert.equal(r.logs.find((e) => e.msg === "rotated container log")?.rotatedTo, join(dir, `0.log.20991231-235959_${String(pass).padStart(6, "0")}`));
    }
    assert.deepEqual(names(dir), ["0.log", "0.log.20991231-235959.gz", "0.log.20991231-235959_000001.gz", "0.log.20991231-235959_000002.gz", "0.log.20991231-235959_000003"]);
    assertAllLines(dir, "0.log", h.runtime.linesWritten("c"), ["0.log.20991231-235959.gz"], "c");
  });
});

// ---- 4. FIFOs: swapped in for a rotated file just before it is read; as the live log -----------------------

describe("4. a FIFO never hangs a pass, the daemon or its SIGTERM", () => {
  test("swapped in for a rotated file between the look and the open: the pass completes, the next one rotates", async (t) => {
    const h = await harness(t);
    const dir = join(h.logRoot, "ns_pod_uid", "app");
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(join(dir, OLD), "2025-01-01T00:00:00Z stdout F old\n");
    h.runtime.addContainer({ id: "c", name: "app", state: "CONTAINER_RUNNING", logPath: join(dir, "0.log"), writer: WRITER });
    const ffs = new FaultyFs();
    let swapped = 0;
    // The moment the compressor opens OLD, it is a FIFO with nobody writing to it: a blocking open would
    // wait forever.
    ffs.trace = {
      enter(call) {
        if (call.op === "openRead" && call.path.endsWith(`/${OLD}`) && swapped === 0) {
          swapped++;
          fs.rmSync(join(dir, OLD));
          mkfifo(join(dir, OLD));
        }
      },
      exit() {},
    };
    const manager = h.manager({ fs: ffs, policy: { maxSize: 512, maxFiles: 100 } });
    for (let pass = 0; pass < 3; pass++) {
      h.runtime.tick("c");
      h.clock.advance(1000);
      const report = await manager.runOnce();
      assert.deepEqual(report.failures, []);
      assert.equal(report.outcomes.filter((o) => o.kind === "rotate").length, 1, `pass ${pass} rotates`);
    }
    assert.equal(swapped, 1);
    const warned = h.logger.find({ level: "warn", msg: "failed to compress a rotated log" });
    assert.equal(warned.length, 1);
    assert.match(String((warned[0]!.fields.err as Error).cause), /not a regular file/);
    assert.ok(fs.lstatSync(join(dir, OLD)).isFIFO(), "the FIFO is left where it is");
    assert.equal(ownFiles(dir, "0.log").filter((n) => n.subarray(-3).toString() === ".gz").length, 2, "the other rotated files are compressed");
  });

  test("FIFOs swapped in again and again while the daemon rotates: it keeps passing; SIGTERM exits 0 within 10 s", async (t) => {
    const h = await harness(t);
    const dir = join(h.logRoot, "ns_pod_uid", "app");
    h.runtime.addContainer({ id: "c", name: "app", state: "CONTAINER_RUNNING", logPath: join(dir, "0.log"), writer: WRITER });
    const shim = await daemon(t, h, ...ROTATION);
    const rotations = () => shim.entries((e) => e.msg === "rotated container log").length;
    // Every plain rotated file becomes a FIFO as fast as the test can make them, while the writer keeps the
    // daemon rotating: the newest before the next rotation makes it due for compression (so the plan sees a
    // FIFO), the others while they are planned, queued or about to be opened.
    let swaps = 0;
    const stopAt = Date.now() + 4_000;
    let n = 0;
    while (Date.now() < stopAt) {
      h.runtime.tick("c");
      const plain = entries(dir).filter((e) => isRotatedOf(e, B("0.log")) && e.subarray(-3).toString() !== ".gz").map(String).sort();
      for (const name of plain) {
        const p = join(dir, name);
        if (!fs.lstatSync(p, { throwIfNoEntry: false })?.isFile()) continue;
        const fifo = join(h.base, `fifo-${n++}`);
        mkfifo(fifo);
        fs.renameSync(fifo, p);
        swaps++;
      }
      await sleep(30);
    }
    assert.ok(swaps >= 5, `${swaps} FIFOs swapped in`);
    const before = rotations();
    for (let i = 0; i < 3; i++) {
      h.runtime.tick("c");
      await shim.waitForLog(() => rotations() > before + i, `a rotation after the swaps (${i + 1})`, 20_000);
    }
    const { code, ms } = await sigterm(shim);
    assert.equal(code, 0, shim.tail());
    assert.ok(ms < 10_000, `SIGTERM took ${ms} ms`);
    t.diagnostic(`${swaps} FIFOs swapped in; ${rotations()} rotations; ${errorKinds(shim.logs).join(" | ") || "no warning"}`);
    assert.ok(fs.statSync(join(dir, "0.log")).size < 512, "the live log stayed bounded");
    for (const e of warningsAndErrors(shim.logs)) assert.match(e.msg, /failed to compress a rotated log|stepping around a file/, brief([e]));
  });

  test("a FIFO as the live log: refused and reported once, the others rotate; once exits 1 naming it, run exits 0 on SIGTERM", async (t) => {
    const h = await harness(t);
    const fifoDir = join(h.logRoot, "ns_fifo_uid", "app");
    const okDir = join(h.logRoot, "ns_ok_uid", "app");
    fs.mkdirSync(fifoDir, { recursive: true });
    mkfifo(join(fifoDir, "0.log"));
    // A reader holds the FIFO open, so that nothing in this process blocks if something opens it to write.
    const reader = fs.openSync(join(fifoDir, "0.log"), fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    t.after(() => fs.closeSync(reader));
    h.runtime.addContainer({ id: "fifo", name: "app", state: "CONTAINER_RUNNING", logPath: join(fifoDir, "0.log") });
    h.runtime.addContainer({ id: "ok", name: "app", state: "CONTAINER_RUNNING", logPath: join(okDir, "0.log"), writer: WRITER });

    h.runtime.tick("ok");
    const r = await cli(h, ["once", "--json"], ...ROTATION);
    const s = summary(r);
    assert.equal(s.rotated, 1, "the other container rotates");
    const refused = r.logs.filter((e) => e.msg === "refusing container log path");
    assert.equal(refused.length, 1, brief(r.logs));
    assert.equal(refused[0]!.containerId, "fifo");
    assert.deepEqual(s.failures.map((f) => f.containerId), ["fifo"], "the refused container is in the summary");
    assert.equal(r.code, 1, "a refused container makes once exit 1 (docs/operations.md, Exit codes)");

    const shim = await daemon(t, h, ...ROTATION);
    for (let i = 1; i <= 3; i++) {
      h.runtime.tick("ok");
      await shim.waitForLog(() => shim.entries((e) => e.msg === "rotated container log" && e.containerId === "ok").length >= i, `rotation ${i} of the other container`, 20_000);
    }
    const { code, ms } = await sigterm(shim);
    assert.equal(code, 0, shim.tail());
    assert.ok(ms < 10_000, `SIGTERM took ${ms} ms`);
    assert.equal(shim.entries((e) => e.msg === "refusing container log path" && e.containerId === "fifo").length, 1, "reported once");
    assert.ok(fs.lstatSync(join(fifoDir, "0.log")).isFIFO());
    assert.deepEqual(names(fifoDir), ["0.log"], "nothing made beside it");
    assert.equal(calls(h, "ReopenContainerLog", "fifo"), 0, "never reopened");
  });
});

// ---- 6. nothing of ours inside the log root ---------------------------------------------------------------

interface CommandCase {
  args: string[];
  /** Entries the command may add to the tree: rotated files of c's log. */
  rotates?: boolean;
  /** The exited container's files go. */
  cleans?: boolean;
  daemon?: boolean;
}

const commands: Record<string, CommandCase> = {
  plan: { args: ["plan"] },
  once: { args: ["once"], rotates: true },
  "logs <id>": { args: ["logs", "c"] },
  "clean <id>": { args: ["clean", "gone"], cleans: true },
  run: { args: [], rotates: true, daemon: true },
};

describe("6. no command creates anything inside the log root; the lock lives outside it", () => {
  for (const [name, tc] of Object.entries(commands)) {
    test(name, async (t) => {
      const h = await harness(t);
      const lockFile = join(h.base, "run", "cri-logrotate.lock");
      const cDir = join(h.logRoot, "ns_pod_uid", "app");
      const goneDir = join(h.logRoot, "ns_gone_uid", "app");
      h.runtime.addContainer({ id: "c", name: "app", state: "CONTAINER_RUNNING", logPath: join(cDir, "0.log"), writer: WRITER });
      fs.mkdirSync(goneDir, { recursive: true });
      fs.writeFileSync(join(goneDir, "0.log"), "bye\n");
      fs.writeFileSync(join(goneDir, "0.log.20250101-000000.gz"), "");
      h.runtime.addContainer({ id: "gone", name: "app", state: "CONTAINER_EXITED", logPath: join(goneDir, "0.log") });
      h.runtime.tick("c");
      const before = tree(h.logRoot);

      if (tc.daemon) {
        const shim = await daemon(t, h, ...ROTATION);
        await shim.waitForLog((e) => e.msg === "rotated container log", "a rotation", 20_000);
        assert.ok(fs.existsSync(lockFile), "the daemon holds its lock where it was told");
        const during = tree(h.logRoot).filter((p) => !before.includes(p));
        assert.deepEqual(during.filter((p) => !isRotatedOf(B(p.split("/").at(-1)!), B("0.log"))), [], "while it runs");
        assert.equal((await sigterm(shim)).code, 0, shim.tail());
      } else {
        const r = await cli(h, tc.args, ...ROTATION);
        assert.equal(r.code, 0, r.stderr);
      }
      const after = tree(h.logRoot);
      const added = after.filter((p) => !before.includes(p));
      const removed = before.filter((p) => !after.includes(p));
      assert.deepEqual(added.filter((p) => !(tc.rotates && p.startsWith("ns_pod_uid/app/") && isRotatedOf(B(p.split("/").at(-1)!), B("0.log")))), [], "nothing but rotated files was created");
      if (tc.rotates) assert.equal(added.length, 1, "one rotated file");
      assert.deepEqual(removed, tc.cleans ? ["ns_gone_uid/app/0.log", "ns_gone_uid/app/0.log.20250101-000000.gz"] : []);
      assert.equal(fs.existsSync(lockFile), false, "a lock taken is released");
    });
  }

  const inside: Record<string, (root: string) => string> = {
    "directly in the log root": (root) => join(root, ".cri-logrotate.lock"),
    "in a pod directory": (root) => join(root, "ns_pod_uid", "cri-logrotate.lock"),
    "in a directory that does not exist yet": (root) => join(root, "state", "cri-logrotate.lock"),
  };
  for (const [name, where] of Object.entries(inside)) {
    test(`a lock file ${name} is refused at start (exit 2) and nothing is created`, async (t) => {
      const h = await harness(t);
      fs.mkdirSync(join(h.logRoot, "ns_pod_uid"));
      const before = tree(h.logRoot);
      for (const command of ["once", "run", "plan"]) {
        const r = await cli(h, [command], "--lock-file", where(h.logRoot));
        assert.equal(r.code, 2, `${command}: ${r.stderr}`);
        assert.match(r.stderr, /lock/i);
        assert.deepEqual(tree(h.logRoot), before, command);
      }
    });
  }

  test("the default lock file is outside the default log root (/run, a tmpfs the kubelet's GC never visits)", () => {
    const { config } = loadConfig([], sharedPlugin());
    assert.equal(config.lockFile, "/run/cri-logrotate/cri-logrotate.lock");
    assert.equal(config.logRoot, "/var/log/pods");
    assert.ok(!config.lockFile.startsWith(`${config.logRoot}/`));
  });
});

// ---- 7. limits apply per container ----------------------------------------------------------------------

/** `0.log.<YYYYMMDD-HHMMSS>` for `ms`. */
function stampedName(logName: string, ms: number): string {
  const d = new Date(ms).toISOString(); // 2024-01-01T00:00:00.000Z
  return `${logName}.${d.slice(0, 4)}${d.slice(5, 7)}${d.slice(8, 10)}-${d.slice(11, 13)}${d.slice(14, 16)}${d.slice(17, 19)}`;
}

describe("7. one container past a limit is reported and skipped; the others rotate", () => {
  test("a 5,000-byte container id and a directory of 70,000 rotated files: once exits 1, prints the count", { timeout: 180_000 }, async (t) => {
    const h = await harness(t);
    const LONG = "f".repeat(5000);
    const dirOf = (pod: string) => join(h.logRoot, `ns_${pod}_uid`, "app");
    for (const pod of ["a", "b"]) h.runtime.addContainer({ id: pod, name: "app", state: "CONTAINER_RUNNING", logPath: join(dirOf(pod), "0.log"), writer: WRITER });
    h.runtime.addContainer({ id: LONG, name: "app", state: "CONTAINER_RUNNING", logPath: join(dirOf("long"), "0.log"), writer: WRITER });
    h.runtime.addContainer({ id: "crowded", name: "app", state: "CONTAINER_RUNNING", logPath: join(dirOf("crowded"), "0.log"), writer: WRITER });
    const start = Date.UTC(2024, 0, 1);
    for (let i = 0; i < 70_000; i++) fs.closeSync(fs.openSync(join(dirOf("crowded"), stampedName("0.log", start + i * 1000)), "w"));
    const untouched = { long: digest(dirOf("long")), crowdedCount: entries(dirOf("crowded")).length };

    for (const json of [true, false]) {
      for (const id of ["a", "b", LONG, "crowded"]) h.runtime.tick(id);
      const r = await cli(h, json ? ["once", "--json"] : ["once"], ...ROTATION);
      assert.equal(r.code, 1, "a container refused makes once exit 1 (docs/operations.md, Exit codes)");
      if (json) {
        const s = summary(r);
        assert.equal(s.rotated, 2, "the other two rotate");
        assert.deepEqual(s.failures.map((f) => (f.containerId === LONG ? "LONG" : f.containerId)).sort(), ["LONG", "crowded"]);
        assert.match(s.failures.find((f) => f.containerId === LONG)!.error, /5000 bytes.*4096/);
        assert.match(s.failures.find((f) => f.containerId === "crowded")!.error, /70001.*65536/);
      } else {
        // The first run's rotated files are compressed now.
        assert.equal(r.stdout, "4 containers: 2 rotated, 2 compressed, 0 removed, 0 recovered, 2 failed\n");
      }
    }
    for (const pod of ["a", "b"]) assertAllLines(dirOf(pod), "0.log", h.runtime.linesWritten(pod), [], pod);
    for (const pod of ["a", "b"]) assert.equal(ownFiles(dirOf(pod), "0.log").length, 3);
    const long = digest(dirOf("long"));
    assert.deepEqual(Object.keys(long), Object.keys(untouched.long), "the long-id container's directory: nothing done");
    assert.equal(entries(dirOf("crowded")).length, untouched.crowdedCount, "the crowded directory: nothing done");
    assert.equal(fs.statSync(join(dirOf("crowded"), "0.log")).size, 2000, "its live log was not rotated");
  });
});

// ---- 8. paths are bytes; a directory that stays missing ----------------------------------------------------

/** Runs a command and keeps stdout as bytes (runCli decodes it as UTF-8). */
function runRaw(args: string[]): Promise<{ code: number | null; stdout: Buffer; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SHIM_BIN, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    child.once("error", reject);
    child.once("close", (code) => resolve({ code, stdout: Buffer.concat(out), stderr }));
  });
}

describe("8. paths are bytes end to end; a missing log directory costs no ContainerStatus", () => {
  test("a log path that is not UTF-8: rotated at the limit, names on disk keep the raw bytes", async (t) => {
    const h = await harness(t);
    const dir = Buffer.concat([B(`${h.logRoot}/ns_p`), Buffer.from([0xff, 0xfe]), B("_uid/app"), Buffer.from([0xe9])]);
    const logName = Buffer.concat([B("0"), Buffer.from([0xff]), B(".log")]);
    const logPath = joinPath(dir, logName);
    h.runtime.addContainer({ id: "c", name: "app", state: "CONTAINER_RUNNING", logPath, writer: WRITER });
    for (let pass = 1; pass <= 3; pass++) {
      h.runtime.tick("c");
      const r = await cli(h, ["once", "--json"], ...ROTATION);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(summary(r).rotated, 1, `pass ${pass}`);
      const rotatedTo = String(r.logs.find((e) => e.msg === "rotated container log")?.rotatedTo);
      assert.ok(rotatedTo.startsWith(`${h.logRoot}/ns_p\\xff\\xfe_uid/app\\xe9/0\\xff.log.`), `logged as \\xNN: ${rotatedTo}`);
    }
    const on = entries(dir);
    assert.equal(on.length, 4, on.map((n) => n.toString("latin1")).join(", "));
    for (const n of on) assert.ok(n.equals(logName) || isRotatedOf(n, logName), `raw bytes kept: ${n.toString("hex")}`);
    assert.equal(on.filter((n) => n.subarray(-3).toString() === ".gz").length, 2);
    assertAllLines(dir, logName, h.runtime.linesWritten("c"), [], "c");
    // `logs` prints the paths as they are on disk.
    const listed = await runRaw(["logs", "c", ...flags(h)]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.deepEqual(listed.stdout, Buffer.concat(ownFiles(dir, logName).map((n) => Buffer.concat([joinPath(dir, n), B("\n")]))));
    // --json cannot hold raw bytes: they are written \xNN, as in the log lines, never as U+FFFD.
    const json = await cli(h, ["logs", "c", "--json"]);
    assert.equal(json.code, 0, json.stderr);
    const paths = JSON.parse(json.stdout) as string[];
    assert.equal(paths.length, 4);
    assert.ok(paths.every((p) => !p.includes("\ufffd") && p.startsWith(`${h.logRoot}/ns_p\\xff\\xfe_uid/app\\xe9/0\\xff.log`)), paths.join("\n"));
    h.runtime.tick("c");
    const plan = await cli(h, ["plan", "--json"], ...ROTATION);
    assert.equal(plan.code, 0, plan.stderr);
    const [planned] = JSON.parse(plan.stdout) as { logPath: string; actions: { kind: string; file: string }[] }[];
    assert.equal(planned!.logPath, `${h.logRoot}/ns_p\\xff\\xfe_uid/app\\xe9/0\\xff.log`);
    assert.ok(planned!.actions.some((a) => a.kind === "rotate" && a.file.startsWith("0\\xff.log.")), JSON.stringify(planned));
  });

  test("a log directory that stays missing: warned once, one ContainerStatus over 5 passes; rotated once it appears", { timeout: 120_000 }, async (t) => {
    const h = await harness(t);
    const lateDir = join(h.logRoot, "ns_late_uid", "app");
    const okDir = join(h.logRoot, "ns_ok_uid", "app");
    h.runtime.addContainer({ id: "late", name: "app", state: "CONTAINER_RUNNING", logPath: join(lateDir, "0.log") });
    h.runtime.addContainer({ id: "ok", name: "app", state: "CONTAINER_RUNNING", logPath: join(okDir, "0.log"), writer: WRITER });
    const shim = await daemon(t, h, ...ROTATION);
    const listed = calls(h, "ListContainers");
    await until("5 passes", () => calls(h, "ListContainers") >= listed + 5, 60_000);
    assert.equal(calls(h, "ContainerStatus", "late"), 1, "its path is kept: an lstat per pass, not a ContainerStatus");
    const warned = shim.entries((e) => e.msg.startsWith("container log directory does not exist"));
    assert.equal(warned.length, 1, brief(warningsAndErrors(shim.logs)));
    assert.equal(warned[0]!.containerId, "late");
    assert.equal(warned[0]!.level, "warn");
    assert.equal(fs.existsSync(join(h.logRoot, "ns_late_uid")), false, "nothing created for it");

    h.runtime.startWriter("late", WRITER); // the directory and the log appear
    h.runtime.tick("late");
    await shim.waitForLog((e) => e.msg === "rotated container log" && e.containerId === "late", "the late container's rotation", 30_000);
    assert.equal(calls(h, "ContainerStatus", "late"), 1, "still one ContainerStatus");
    assert.equal((await sigterm(shim)).code, 0, shim.tail());
    assert.equal(shim.entries((e) => e.msg.startsWith("container log directory does not exist")).length, 1);
    assertAllLines(lateDir, "0.log", h.runtime.linesWritten("late"), [], "late");
  });
});

// ---- 9. exit codes; SIGTERM while a CRI call hangs ----------------------------------------------------------

interface ExitCase {
  setup(h: Harness): void;
  extra?: (h: Harness) => string[];
  /** What the summary's failure says. */
  failure: RegExp;
}

const addOk = (h: Harness) => h.runtime.addContainer({ id: "ok", name: "app", state: "CONTAINER_RUNNING", logPath: join(h.logRoot, "ns_ok_uid", "app", "0.log"), writer: WRITER });
const withPath = (h: Harness, logPath: string) => {
  const c = h.runtime.addContainer({ id: "odd", name: "app", state: "CONTAINER_RUNNING", logPath: "/placeholder" });
  c.logPath = logPath; // exactly as given: addContainer resolves a relative path
};

const exitCases: Record<string, ExitCase> = {
  "ListContainers past runtimeRequestTimeout": {
    setup: (h) => h.runtime.delay("ListContainers", Infinity),
    extra: () => ["--runtime-request-timeout", "1s"],
    failure: /ListContainers|deadline/i,
  },
  "ContainerStatus past runtimeRequestTimeout": {
    setup: (h) => h.runtime.delay("ContainerStatus", Infinity),
    extra: () => ["--runtime-request-timeout", "1s"],
    failure: /ContainerStatus|deadline/i,
  },
  "ListContainers failing (UNAVAILABLE)": {
    setup: (h) => h.runtime.injectError("ListContainers", { code: 14, details: "runtime is restarting" }, "persistent"),
    failure: /runtime is restarting|ListContainers/,
  },
  "a malformed answer: a container listed with an empty id": {
    setup: (h) => void h.runtime.addContainer({ id: "", name: "app", state: "CONTAINER_RUNNING", logPath: join(h.logRoot, "ns_x_uid", "app", "0.log") }),
    failure: /empty id/,
  },
  "a malformed answer: a relative log path": { setup: (h) => withPath(h, "ns_x_uid/app/0.log"), failure: /not absolute/ },
  "a malformed answer: an empty log path": { setup: (h) => withPath(h, ""), failure: /empty/ },
  "a missing log root": { setup: () => {}, extra: (h) => ["--log-root", join(h.base, "no-such-root")], failure: /does not exist/ },
};

interface HangCase {
  command: string[];
  method: RuntimeMethod;
  code: number;
}

const hangCases: Record<string, HangCase> = {
  "once while ListContainers hangs": { command: ["once"], method: "ListContainers", code: 1 },
  "once while ContainerStatus hangs": { command: ["once"], method: "ContainerStatus", code: 1 },
  "plan while ListContainers hangs": { command: ["plan"], method: "ListContainers", code: 1 },
  "clean while ListContainers hangs": { command: ["clean", "gone"], method: "ListContainers", code: 1 },
  "clean while ContainerStatus hangs": { command: ["clean", "gone"], method: "ContainerStatus", code: 1 },
  "logs while ContainerStatus hangs": { command: ["logs", "gone"], method: "ContainerStatus", code: 1 },
  "run while ListContainers hangs": { command: ["run"], method: "ListContainers", code: 0 },
  "run while ContainerStatus hangs": { command: ["run"], method: "ContainerStatus", code: 0 },
};

describe("9. exit codes of once, and SIGTERM while a CRI call hangs", () => {
  for (const [name, tc] of Object.entries(exitCases)) {
    test(`once exits 1: ${name}`, async (t) => {
      const h = await harness(t);
      addOk(h);
      tc.setup(h);
      const r = await cli(h, ["once", "--json"], ...ROTATION, ...(tc.extra?.(h) ?? []));
      assert.equal(r.code, 1, `${r.stdout}\n${r.stderr}`);
      const s = summary(r);
      assert.ok(s.failures.some((f) => tc.failure.test(f.error)), JSON.stringify(s.failures));
      assert.ok(warningsAndErrors(r.logs).length >= 1, "and it is logged");
    });
  }

  test("once exits 0 when nothing failed (the baseline of the cases above)", async (t) => {
    const h = await harness(t);
    addOk(h);
    h.runtime.tick("ok");
    const r = await cli(h, ["once", "--json"], ...ROTATION);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual([summary(r).rotated, summary(r).failures], [1, []]);
  });

  for (const [name, tc] of Object.entries(hangCases)) {
    test(`${name}: SIGTERM ends it within 10 s, exit ${tc.code}`, async (t) => {
      const h = await harness(t);
      addOk(h);
      const goneDir = join(h.logRoot, "ns_gone_uid", "app");
      fs.mkdirSync(goneDir, { recursive: true });
      fs.writeFileSync(join(goneDir, "0.log"), "bye\n");
      h.runtime.addContainer({ id: "gone", name: "app", state: "CONTAINER_EXITED", logPath: join(goneDir, "0.log") });
      h.runtime.delay(tc.method, Infinity);
      // A deadline far away: only the signal can end the call.
      const shim = ShimProcess.start([...tc.command, ...flags(h, ...ROTATION, "--runtime-request-timeout", "5m", "--container-log-monitor-interval", "3s")]);
      t.after(() => shim.kill());
      await until(`a ${tc.method} call`, () => calls(h, tc.method) > 0, 30_000);
      await sleep(200);
      assert.equal(shim.running, true, `still waiting for the runtime\n${shim.tail()}`);
      const { code, ms } = await sigterm(shim);
      assert.ok(ms < 10_000, `SIGTERM took ${ms} ms\n${shim.tail()}`);
      assert.equal(code, tc.code, shim.tail());
      assert.deepEqual(names(goneDir), ["0.log"], "nothing removed");
      if (tc.command[0] === "run") {
        assert.equal(shim.entries((e) => e.msg === "stopped").length, 1, shim.tail());
        assert.deepEqual(warningsAndErrors(shim.logs), [], "a call given up on SIGTERM is not a runtime failure");
      } else {
        assert.match(shim.otherStderr.join("\n"), /stopped by a signal before/, shim.tail());
      }
    });
  }
});
