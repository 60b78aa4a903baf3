// Issue 9 where the runtime's own behaviour matters: a private containerd accepts any log_path a CRI client
// chooses and writes there itself, so two containers of one pod may have log names that are prefixes of each
// other, and a log path may hold bytes that are not UTF-8 (host/cri/runtime.proto carries log_directory and
// log_path as bytes; containerd joins and reports them as they are). The real shim (`once`, `logs`, `clean`
// as child processes) must rotate each container's own files only, losing no line, and keep the raw bytes
// from the CRI answer to the file names. The fake-CRI side of the same classes is test/host/hostile.test.ts.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { gunzipSync } from "node:zlib";
import { after, before, describe, test, type TestContext } from "node:test";
import type { CriAdmin, PodSandboxSpec } from "../support/cri-admin.js";
import { joinPath } from "../../host/fs.js";
import { e2eSkip, startPrivateCri } from "./support/suite.js";
import type { PrivateContainerd } from "./support/containerd.js";
import { E2E_IMAGE } from "./support/image.js";
import { parseCriText } from "./support/logfiles.js";
import { STOP_TIMEOUT_SECONDS, stopAndRemoveAll, writerSequence, type RunningPod } from "./support/pods.js";
import { runCli } from "./support/shim.js";

// About 50-100 lines a second: a `once` a second past 1Ki rotates each container every time.
const STEADY_WRITER = ["/bin/sh", "-c", "i=0; while true; do echo line $i; i=$((i+1)); sleep 0.01; done"];
const ROTATION = ["--container-log-max-size", "1Ki", "--container-log-max-files", "100", "--compression", "gzip"];
const PASSES = 4;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const B = (s: string | Buffer): Buffer => (Buffer.isBuffer(s) ? s : Buffer.from(s));

function entries(dir: Buffer): Buffer[] {
  return (fs.readdirSync(dir, { encoding: "buffer" }) as Buffer[]).sort(Buffer.compare);
}

/** A rotated file of `logName` is exactly `logName.<YYYYMMDD-HHMMSS>[_NNNNNN][.gz]`. */
function isRotatedOf(name: Buffer, logName: Buffer): boolean {
  if (name.length <= logName.length + 1 || !name.subarray(0, logName.length).equals(logName) || name[logName.length] !== 0x2e) return false;
  return /^\d{8}-\d{6}(_\d{6})?(\.gz)?$/.test(name.subarray(logName.length + 1).toString("latin1"));
}

const isGz = (n: Buffer) => n.subarray(-3).toString() === ".gz";
const stemOf = (n: Buffer) => (isGz(n) ? n.subarray(0, -3) : n);

/** One container's files in reading order: rotated by name (never another container's live log), live last. */
function ownFiles(dir: Buffer, logName: Buffer, foreign: Buffer[]): Buffer[] {
  const all = entries(dir).filter((n) => !foreign.some((f) => f.equals(n)));
  return [...all.filter((n) => isRotatedOf(n, logName)).sort((a, b) => Buffer.compare(stemOf(a), stemOf(b))), ...all.filter((n) => n.equals(logName))];
}

/** The writer's line numbers across a container's files (partial entries joined; an unfinished last line left out). */
function sequence(dir: Buffer, logName: Buffer, foreign: Buffer[]): number[] {
  const lines = ownFiles(dir, logName, foreign).flatMap((n) => {
    const raw = fs.readFileSync(joinPath(dir, n));
    return parseCriText((isGz(n) ? gunzipSync(raw) : raw).toString("utf8"), n.toString("latin1"));
  });
  return writerSequence(lines);
}

function assertComplete(seq: number[], what: string): void {
  const wrong = seq.findIndex((n, i) => n !== i);
  assert.ok(wrong < 0, `${what}: line ${seq[wrong]} at position ${wrong} (${seq.length} lines)`);
  assert.ok(seq.length >= 50, `${what}: the writer wrote ${seq.length} lines`);
}

function digest(dir: Buffer, names: Buffer[]): Record<string, string> {
  return Object.fromEntries(names.map((n) => [n.toString("latin1"), createHash("sha256").update(fs.readFileSync(joinPath(dir, n))).digest("hex")]));
}

describe("e2e: hostile log paths on a real containerd", { skip: e2eSkip, timeout: 240_000 }, () => {
  let containerd: PrivateContainerd | undefined;
  let cri: CriAdmin | undefined;
  const pods: RunningPod[] = [];

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

  const common = (): string[] => ["--runtime-endpoint", containerd!.endpoint, "--log-root", containerd!.logRoot, "--lock-file", `${containerd!.logRoot}.lock`, "--metrics-address", ""];

  /** A pod whose log directory is `dirName` (bytes) below the log root, removed when the test ends. */
  const newPod = async (t: TestContext, name: string, dirName: Buffer, uid: string): Promise<{ pod: RunningPod; dir: Buffer }> => {
    const dir = joinPath(containerd!.logRoot, dirName);
    fs.mkdirSync(dir, { recursive: true });
    const spec: PodSandboxSpec = { name, namespace: "hostile", uid, logDirectory: joinPath(containerd!.criLogRoot, dirName), hostNetwork: true };
    const pod: RunningPod = { podId: await cri!.runPodSandbox(spec), logDirectory: dir.toString("latin1"), spec, containers: [] };
    pods.push(pod);
    t.after(async () => {
      await stopAndRemoveAll(cri!, [pod]);
      if (pods.includes(pod)) pods.splice(pods.indexOf(pod), 1);
    });
    return { pod, dir };
  };

  /** A busy container logging to `<pod dir>/<logPath>` (bytes, relative, as the kubelet passes it). */
  const startWriter = async (pod: RunningPod, dir: Buffer, name: string, logPath: Buffer): Promise<string> => {
    const slash = logPath.lastIndexOf(0x2f);
    if (slash > 0) fs.mkdirSync(joinPath(dir, logPath.subarray(0, slash)), { recursive: true });
    const id = await cri!.createContainer(pod.podId, pod.spec, { name, image: E2E_IMAGE, command: STEADY_WRITER, logPath });
    pod.containers.push({ id, name, attempt: 0, logPath: joinPath(dir, logPath).toString("latin1") });
    await cri!.startContainer(id);
    return id;
  };

  test("three containers whose log_path are prefixes of each other: each rotates its own files, logs and clean take only its own", async (t) => {
    const { pod, dir: podDir } = await newPod(t, "prefixes", B("hostile_prefixes_0b1e0000-0000-4000-8000-000000000001"), "0b1e0000-0000-4000-8000-000000000001");
    const logs = { first: B("0.log"), second: B("0.log.1"), third: B("0.log.20240101-000000") };
    const ids: Record<string, string> = {};
    for (const [name, logName] of Object.entries(logs)) ids[name] = await startWriter(pod, podDir, name, Buffer.concat([B("app/"), logName]));
    const dir = joinPath(podDir, "app");
    const others = (name: string) => Object.entries(logs).filter(([n]) => n !== name).map(([, l]) => l);

    for (let pass = 0; pass < PASSES; pass++) {
      await sleep(1000);
      const r = await runCli(["once", "--json", ...common(), ...ROTATION]);
      assert.equal(r.code, 0, r.stderr);
      const s = JSON.parse(r.stdout) as { rotated: number; failures: unknown[] };
      assert.deepEqual([s.rotated, s.failures], [3, []], `pass ${pass}: ${r.stdout}`);
      assert.deepEqual(r.logs.filter((e) => e.level === "warn" || e.level === "error"), [], r.stderr);
    }
    for (const [name, logName] of Object.entries(logs)) {
      const files = ownFiles(dir, logName, others(name));
      assert.equal(files.length, PASSES + 1, `${name}: ${files.map(String).join(", ")}`);
      assert.equal(files.filter(isGz).length, PASSES - 1, `${name}: all rotated files but the newest compressed`);
      assertComplete(sequence(dir, logName, others(name)), name);
    }
    const everyone = Object.entries(logs).flatMap(([n, l]) => ownFiles(dir, l, others(n)));
    assert.deepEqual(entries(dir).map(String), everyone.sort(Buffer.compare).map(String), "nothing else in the directory: no .tmp, no twin, no stray file");

    for (const [name, logName] of Object.entries(logs)) {
      const r = await runCli(["logs", ids[name]!, "--json", ...common()]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout), ownFiles(dir, logName, others(name)).map((n) => joinPath(dir, n).toString()), `logs of ${name}`);
    }

    // Exited, its live log keeps its name (`kubectl logs --previous` reads it) and is still never the first's
    // rotated file, though its name is one: passes that rotate the others leave all its files as they are.
    await cri!.stopContainer(ids.third!, STOP_TIMEOUT_SECONDS);
    const thirdFiles = ownFiles(dir, logs.third, others("third"));
    const thirdBefore = digest(dir, thirdFiles);
    for (let pass = 0; pass < 2; pass++) {
      await sleep(1000);
      const r = await runCli(["once", "--json", ...common(), ...ROTATION]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout) as { rotated: number }).rotated, 2, r.stdout);
    }
    assert.deepEqual(digest(dir, thirdFiles), thirdBefore, "the exited container's files are untouched");
    // The kubelet cleans an exited container's logs before it removes it; the neighbours keep writing.
    const neighbours = ["first", "second"].map((n) => ({ n, rotated: ownFiles(dir, logs[n as "first"], others(n)).filter((f) => !f.equals(logs[n as "first"])) }));
    const before = neighbours.map(({ rotated }) => digest(dir, rotated));
    const cleaned = await runCli(["clean", ids.third!, "--json", ...common()]);
    assert.equal(cleaned.code, 0, cleaned.stderr);
    assert.deepEqual((JSON.parse(cleaned.stdout) as { removed: string[] }).removed.sort(), thirdFiles.map((n) => joinPath(dir, n).toString()).sort());
    assert.deepEqual(neighbours.map(({ rotated }) => digest(dir, rotated)), before, "the neighbours' rotated files are byte for byte as they were");
    for (const n of ["first", "second"] as const) {
      assert.ok(entries(dir).some((e) => e.equals(logs[n])), `${n}'s live log is there`);
      assertComplete(sequence(dir, logs[n], [logs.third]), `${n} after the clean`);
    }
  });

  test("a log path that is not UTF-8: containerd writes it, the shim rotates it and keeps the raw bytes", async (t) => {
    const dirName = Buffer.concat([B("hostile_bytes"), Buffer.from([0xff, 0xfe]), B("_0b1e0000-0000-4000-8000-000000000002")]);
    const { pod, dir: podDir } = await newPod(t, "bytes", dirName, "0b1e0000-0000-4000-8000-000000000002");
    const sub = Buffer.concat([B("app"), Buffer.from([0xe9])]);
    const logName = Buffer.concat([B("0"), Buffer.from([0xff]), B(".log")]);
    const id = await startWriter(pod, podDir, "bytes", Buffer.concat([sub, B("/"), logName]));
    const dir = joinPath(podDir, sub);
    const status = await cri!.containerStatus(id);
    assert.ok(status.logPath.equals(joinPath(joinPath(containerd!.criLogRoot, dirName), Buffer.concat([sub, B("/"), logName]))), `containerd reports the bytes as given: ${status.logPath.toString("hex")}`);

    for (let pass = 0; pass < PASSES; pass++) {
      await sleep(1000);
      const r = await runCli(["once", "--json", ...common(), ...ROTATION]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal((JSON.parse(r.stdout) as { rotated: number }).rotated, 1, r.stdout);
      const rotatedTo = String(r.logs.find((e) => e.msg === "rotated container log")?.rotatedTo);
      assert.ok(rotatedTo.includes("hostile_bytes\\xff\\xfe_") && rotatedTo.includes("/app\\xe9/0\\xff.log."), `logged with \\xNN: ${rotatedTo}`);
    }
    const on = entries(dir);
    assert.equal(on.length, PASSES + 1, on.map((n) => n.toString("hex")).join(", "));
    for (const n of on) assert.ok(n.equals(logName) || isRotatedOf(n, logName), `the raw bytes are kept on disk: ${n.toString("hex")}`);
    assert.equal(on.filter(isGz).length, PASSES - 1);
    assertComplete(sequence(dir, logName, []), "the non-UTF-8 log");
  });
});
