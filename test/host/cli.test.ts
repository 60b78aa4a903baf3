// The cri-logrotate command, in-process against the fake runtime (and once as a real subprocess for
// SIGTERM): exit codes, dry run touching nothing, clean/logs, config errors in the kubelet's words.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { existsSync, readFileSync } from "node:fs";
import { main, type Io } from "../../host/cli.js";
import { repoFile } from "../support/repo.js";
import { startHarness, writeFiles, listing, type Harness } from "../support/harness.js";

let h: Harness;
let podDir: string;

before(async () => {
  h = await startHarness();
  podDir = join(h.logRoot, "default_web_uid1", "app");
  writeFiles(podDir, { "0.log": "x".repeat(100), "0.log.20250101-000000": "old\n", "0.log.20250101-000001": "older\n" });
  h.runtime.addContainer({ id: "c-web", name: "app", state: "CONTAINER_RUNNING", logPath: join(podDir, "0.log") });
  h.runtime.addContainer({ id: "c-gone", name: "gone", state: "CONTAINER_EXITED", logPath: join(h.logRoot, "default_old_uid2", "gone", "0.log") });
  writeFiles(join(h.logRoot, "default_old_uid2", "gone"), { "0.log": "a\n", "0.log.20250101-000000.gz": "zz", "0.log.20250101-000001": "b\n", "1.log": "keep\n" });
});
after(() => h.close());

function io(stopSignal?: Promise<void>): Io & { out: () => string; err: () => string } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    stdout: { write: (c) => out.push(c.toString()) },
    stderr: { write: (c) => err.push(c.toString()) },
    stopSignal,
    out: () => out.join(""),
    err: () => err.join(""),
  };
}

function flags(...extra: string[]): string[] {
  return ["--runtime-endpoint", `unix://${h.runtime.socketPath}`, "--log-root", h.logRoot, "--lock-file", join(h.base, "run", "lock"), "--metrics-address", "", ...extra];
}

test("--help and no arguments print the usage", async () => {
  const a = io();
  assert.equal(await main(["--help"], a), 0);
  assert.match(a.out(), /cri-logrotate plan/);
  const b = io();
  assert.equal(await main([], b), 2);
});

test("an unknown command is a usage error (exit 2)", async () => {
  const a = io();
  assert.equal(await main(["rotate-everything"], a), 2);
  assert.match(a.err(), /unknown command "rotate-everything"/);
});

const invalid: Record<string, { args: string[]; message: string }> = {
  "maxFiles 1": { args: ["--container-log-max-files", "1"], message: "invalid MaxFiles 1, must be > 1" },
  "workers 0": { args: ["--container-log-max-workers", "0"], message: "invalid configuration: containerLogMaxWorkers must be greater than or equal to 1" },
  "interval 2s": { args: ["--container-log-monitor-interval", "2s"], message: "containerLogMonitorInterval must be a positive time duration greater than or equal to 3s" },
  "bad size": { args: ["--container-log-max-size", "10Qi"], message: 'failed to parse container log max size "10Qi"' },
};
for (const [name, tc] of Object.entries(invalid)) {
  test(`invalid config exits 2 with the kubelet's message: ${name}`, async () => {
    const a = io();
    assert.equal(await main(["once", ...flags(...tc.args)], a), 2);
    assert.ok(a.err().includes(tc.message), a.err());
  });
}

test("plan is a dry run: says what it would do and why, touches nothing", async () => {
  const before = listing(podDir);
  const a = io();
  assert.equal(await main(["plan", ...flags("--container-log-max-size", "10", "--container-log-max-files", "3")], a), 0);
  assert.match(a.out(), /rotate\s+"0\.log\.\d{8}-\d{6}"/);
  assert.match(a.out(), /remove\s+"0\.log\.20250101-000000"/);
  assert.deepEqual(listing(podDir), before);
  const j = io();
  assert.equal(await main(["plan", "--json", ...flags("--container-log-max-size", "10", "--container-log-max-files", "3")], j), 0);
  const plans = JSON.parse(j.out());
  assert.equal(plans[0].containerId, "c-web");
  assert.deepEqual(plans[0].actions.map((x: { kind: string }) => x.kind), ["remove", "rotate", "compress"], "the compression after the rotation: it never waits for compression");
});

test("logs lists rotated files oldest first and the live log last", async () => {
  const a = io();
  assert.equal(await main(["logs", "c-web", "--json", ...flags()], a), 0);
  assert.deepEqual(JSON.parse(a.out()), ["0.log.20250101-000000", "0.log.20250101-000001", "0.log"].map((n) => join(podDir, n)));
});

test("clean needs exactly one id, and removes a stopped container's logs only", async () => {
  const none = io();
  assert.equal(await main(["clean", ...flags()], none), 2);
  const a = io();
  assert.equal(await main(["clean", "c-gone", ...flags()], a), 0);
  assert.deepEqual(listing(join(h.logRoot, "default_old_uid2", "gone")), ["1.log"]);
  assert.match(a.out(), /removed .*0\.log\.20250101-000000\.gz/);
});

test("an unreachable runtime is a clear error and exit 1", async () => {
  const a = io();
  assert.equal(await main(["once", "--runtime-endpoint", join(h.base, "nobody.sock"), "--log-root", h.logRoot, "--lock-file", join(h.base, "run", "lock"), "--metrics-address", ""], a), 1);
  assert.match(a.err(), /nobody\.sock/);
});

test("once rotates and reports; run stops on its signal, releases the lock; a second instance is refused", async () => {
  const a = io();
  assert.equal(await main(["once", "--json", ...flags("--container-log-max-size", "10", "--container-log-max-files", "3")], a), 0);
  const summary = JSON.parse(a.out());
  assert.equal(summary.rotated, 1);
  assert.equal(summary.failures.length, 0);

  let stop!: () => void;
  const signal = new Promise<void>((r) => (stop = r));
  const daemon = io(signal);
  const running = main(["run", ...flags()], daemon);
  const lockFile = join(h.base, "run", "lock");
  for (let i = 0; i < 100 && !existsSync(lockFile); i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(readFileSync(lockFile, "utf8").trim(), String(process.pid));
  const second = io();
  assert.equal(await main(["run", ...flags()], second), 1);
  assert.match(second.err(), /holds the lock file|already held/);
  stop();
  assert.equal(await running, 0);
  assert.equal(existsSync(lockFile), false);
});

test("SIGTERM stops the real daemon with exit 0", async () => {
  const child = spawn(process.execPath, [repoFile("bin/cri-logrotate.js"), "run", ...flags("--metrics-address", "127.0.0.1:0")], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  for (let i = 0; i < 200 && !stderr.includes("starting container log rotation"); i++) await new Promise((r) => setTimeout(r, 25));
  assert.match(stderr, /starting container log rotation/);
  child.kill("SIGTERM");
  const code = await new Promise<number | null>((r) => child.on("close", r));
  assert.equal(code, 0, stderr);
  assert.match(stderr, /"msg":"stopped"/);
});
