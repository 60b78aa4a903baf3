// The single-instance lock, in a real temp directory with real processes.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs/promises";
import * as os from "node:os";
import * as path from "node:path";
import * as net from "node:net";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { acquireLock } from "../../host/lock.js";
import { LockError } from "../../host/errors.js";

let dir: string;
let other: ChildProcess; // a live process that is not us
before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "crl-lock-"));
  other = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60000)"], { stdio: "ignore" });
});
after(async () => {
  other.kill();
  await fs.rm(dir, { recursive: true, force: true });
});

/** A pid that was alive a moment ago and is not any more. */
function deadPid(): number {
  const r = spawnSync(process.execPath, ["-e", "0"]);
  return r.pid!;
}

async function listing(): Promise<string[]> {
  return (await fs.readdir(dir)).sort();
}

test("acquire writes our pid; release removes the file", async () => {
  const file = path.join(dir, "a.lock");
  const lock = await acquireLock(file);
  assert.equal(await fs.readFile(file, "utf8"), `${process.pid}\n`);
  assert.deepEqual(await listing(), ["a.lock", "a.lock.sock"], "no temp files left behind; the holder's socket beside the lock");
  await lock.release();
  assert.deepEqual(await listing(), []);
});

test("a holder in another pid namespace (its pid means nothing here) is seen through its socket", async () => {
  const file = path.join(dir, "ns.lock");
  // What a shim in another pod looks like from here: a pid that is not alive in our namespace, and the
  // socket it listens on beside the lock, on the shared filesystem.
  await fs.writeFile(file, `${deadPid()}\n`);
  const holder = net.createServer((s) => s.destroy());
  await new Promise<void>((r) => holder.listen(`${file}.sock`, () => r()));
  try {
    await assert.rejects(acquireLock(file), (err: unknown) => err instanceof LockError && err.code === "LOCK_HELD");
  } finally {
    await new Promise<void>((r) => holder.close(() => r()));
  }
  // The holder died (the kernel closed its socket; the file may stay): the lock is taken over.
  const lock = await acquireLock(file);
  assert.equal((await fs.readFile(file, "utf8")).trim(), String(process.pid));
  await lock.release();
});

test("a second acquire in this process fails with LOCKED", async () => {
  const file = path.join(dir, "b.lock");
  const lock = await acquireLock(file);
  try {
    await assert.rejects(acquireLock(file), (err: unknown) => {
      assert.ok(err instanceof LockError);
      assert.equal(err.code, "LOCK_HELD");
      assert.equal(err.pid, process.pid);
      return true;
    });
  } finally {
    await lock.release();
  }
});

test("a lock held by another live process fails with LOCKED naming its pid and the file", async () => {
  const file = path.join(dir, "c.lock");
  await fs.writeFile(file, `${other.pid}\n`);
  await assert.rejects(acquireLock(file), (err: unknown) => {
    assert.ok(err instanceof LockError);
    assert.equal(err.code, "LOCK_HELD");
    assert.equal(err.pid, other.pid);
    assert.ok(err.message.includes(`pid ${other.pid}`), err.message);
    assert.ok(err.message.includes(file), err.message);
    return true;
  });
  assert.equal(await fs.readFile(file, "utf8"), `${other.pid}\n`, "a live lock is left alone");
  await fs.unlink(file);
});

// [lock content, why it is stale]
const stale: Record<string, () => string> = {
  "dead pid": () => `${deadPid()}\n`,
  "garbage": () => "not a pid\n",
  "empty": () => "",
  "pid 0 (would signal our process group)": () => "0\n",
  "our own pid from an earlier incarnation": () => `${process.pid}\n`,
};
for (const [name, content] of Object.entries(stale)) {
  test(`a stale lock (${name}) is taken over`, async () => {
    const file = path.join(dir, "d.lock");
    await fs.writeFile(file, content());
    const lock = await acquireLock(file);
    assert.equal(await fs.readFile(file, "utf8"), `${process.pid}\n`);
    assert.deepEqual(await listing(), ["d.lock", "d.lock.sock"], "the stale file moved aside is gone");
    await lock.release();
    assert.deepEqual(await listing(), []);
  });
}

test("two starters racing for one stale lock: exactly one wins", async () => {
  const file = path.join(dir, "e.lock");
  await fs.writeFile(file, `${deadPid()}\n`);
  // Separate processes, since one process refuses its own second acquire.
  const lockUrl = new URL("../../host/lock.js", import.meta.url).href;
  const script = `
    import { acquireLock } from ${JSON.stringify(lockUrl)};
    try { await acquireLock(${JSON.stringify(file)}); console.log("won"); setTimeout(() => {}, 1500); }
    catch (e) { console.log(e.code); }`;
  const run = () =>
    new Promise<string>((resolve) => {
      const p = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
      let out = "";
      p.stdout.on("data", (c) => (out += c));
      p.stdout.on("end", () => resolve(out.trim()));
    });
  const results = (await Promise.all([run(), run(), run()])).sort();
  assert.deepEqual(results, ["LOCK_HELD", "LOCK_HELD", "won"]);
  await fs.rm(file, { force: true });
});

test("release removes only our own lock", async () => {
  const file = path.join(dir, "f.lock");
  const lock = await acquireLock(file);
  // Someone judged us dead and took over: the file is theirs now.
  await fs.unlink(file);
  await fs.writeFile(file, `${other.pid}\n`);
  await lock.release();
  assert.equal(await fs.readFile(file, "utf8"), `${other.pid}\n`);
  await fs.unlink(file);
});

test("a missing directory is created (the default lives on a tmpfs that starts empty)", async () => {
  const file = path.join(dir, "run", "cri-logrotate", "g.lock");
  const lock = await acquireLock(file);
  assert.equal((await fs.readFile(file, "utf8")).trim(), String(process.pid));
  await lock.release();
});

test("a directory that cannot be created is LOCK_FAILED naming the file", async () => {
  await fs.writeFile(path.join(dir, "a-file"), "");
  const file = path.join(dir, "a-file", "g.lock");
  await assert.rejects(acquireLock(file), (err: unknown) => {
    assert.ok(err instanceof LockError);
    assert.equal(err.code, "LOCK_FAILED");
    assert.ok(err.message.includes(file));
    return true;
  });
});
