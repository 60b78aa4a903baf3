// Crash safety: the real daemon is SIGKILLed at random moments while it rotates and gzips fast logs,
// and started again (taking over its stale lock) each time. Whatever step a kill interrupts — between
// rename and reopen, mid-gzip, between the .gz rename and removing the source — the next pass finishes
// or undoes it, and not one line is lost or doubled.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { readdirSync } from "node:fs";
import { repoFile } from "../support/repo.js";
import { startHarness, lineNumbers } from "../support/harness.js";

test("SIGKILL at random moments loses no line; the next pass heals what a kill interrupted", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const ids = ["c1", "c2", "c3"];
  const dirs = ids.map((id) => join(h.logRoot, `ns_${id}_uid`, "app"));
  ids.forEach((id, i) =>
    h.runtime.addContainer({ id, name: "app", state: "CONTAINER_RUNNING", logPath: join(dirs[i]!, "0.log"), writer: { linesPerTick: 30, intervalMs: 10, lineBytes: 100 } }),
  );
  const args = (command: string) => [
    repoFile("bin/cri-logrotate.js"), command,
    "--runtime-endpoint", `unix://${h.runtime.socketPath}`, "--log-root", h.logRoot, "--lock-file", `${h.base}/run/lock`, "--metrics-address", "",
    // Nothing is pruned, so every line ever written must still be there; growth checks rotate every ~0.3 s.
    "--container-log-max-size", "32Ki", "--container-log-max-files", "100000", "--container-log-monitor-interval", "3s",
  ];
  // A fixed sequence of kill delays (ms), so a failure can be replayed.
  const delays = [700, 1100, 450, 1600, 900, 1300, 600, 2000];
  let killedMidWork = 0;
  for (const delay of delays) {
    const child = spawn(process.execPath, args("run"), { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    await new Promise((r) => setTimeout(r, delay));
    child.kill("SIGKILL");
    await new Promise((r) => child.on("close", r));
    if (/rotated container log/.test(stderr)) killedMidWork++;
    assert.doesNotMatch(stderr, /holds the lock file/, "a dead instance's lock is taken over");
  }
  assert.ok(killedMidWork >= delays.length / 2, `the daemon was working when killed (${killedMidWork} of ${delays.length})`);

  const leftovers = dirs.flatMap((d) => readdirSync(d)).filter((n) => n.endsWith(".tmp")).length;
  const missingLive = dirs.filter((d) => !readdirSync(d).includes("0.log")).length;
  t.diagnostic(`killed mid-work ${killedMidWork} times; before healing: ${leftovers} .tmp left, ${missingLive} live logs missing`);
  // One more pass heals: live logs are over the limit by now, so it cleans leftovers, compresses, rotates.
  const heal = spawn(process.execPath, args("once"), { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  heal.stdout.on("data", (d) => (out += d));
  assert.equal(await new Promise((r) => heal.on("close", r)), 0, out);
  ids.forEach((id) => h.runtime.stopWriter(id));

  ids.forEach((id, i) => {
    const names = readdirSync(dirs[i]!);
    assert.deepEqual(names.filter((n) => n.endsWith(".tmp")), [], `${id}: no .tmp left`);
    const twins = names.filter((n) => !n.endsWith(".gz") && names.includes(`${n}.gz`));
    assert.deepEqual(twins, [], `${id}: no file left beside its .gz`);
    const written = h.runtime.linesWritten(id);
    const lines = lineNumbers(dirs[i]!, "0.log");
    assert.equal(lines.length, written, `${id}: ${written} lines written, ${lines.length} found across ${names.length} files`);
    assert.ok(lines.every((n, k) => n === k), `${id}: every line once, in order`);
    assert.ok(names.length > 5, `${id}: rotated several times (${names.length} files)`);
  });
});
