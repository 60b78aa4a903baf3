// The executor — the only code that renames, compresses and removes log files — against real temp dirs and
// the fake runtime over a real socket: the kubelet's TestRotateLatestLog and TestCompressLog, plus the
// refusals (symlinks, directories, FIFOs, overwrites), a second rotator acting in between, and faults
// injected through FaultyFs.

import { after, before, describe, test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { gunzipSync } from "node:zlib";
import { Executor, type Outcome, type Target } from "../../host/executor.js";
import { ExecError } from "../../host/errors.js";
import { realFs, type Fs } from "../../host/fs.js";
import { startHarness, listing, modeOf, sharedPlugin, writeFiles, type Harness } from "../support/harness.js";
import { FaultyFs } from "../support/faulty-fs.js";

const TS = "20260102-030404"; // the second before the harness's FakeClock: our rotated names stamp it (assembly/rules/names.ts)

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

let seq = 0;
/** A fresh pod directory and a RUNNING container whose live log is `<dir>/test-log`. */
function fixture(files: Record<string, string> = {}): { dir: string; id: string; target: Target; executor: (fs?: Fs) => Executor } {
  const n = ++seq;
  const id = `container-${n}`;
  const dir = join(h.logRoot, `pod-${n}`);
  writeFiles(dir, files);
  h.runtime.addContainer({ id, name: `c${n}`, state: "CONTAINER_RUNNING", logPath: join(dir, "test-log") });
  return {
    dir,
    id,
    target: { id, dir: Buffer.from(dir), logName: Buffer.from("test-log") },
    executor: (f: Fs = realFs) => new Executor({ fs: f, cri: h.cri, clock: h.clock, rotatedName: (l, e, now) => sharedPlugin().rotatedName(l, e, now) }),
  };
}

/** The plan's action, as the rules would give it. */
function action(kind: "rotate" | "compress" | "remove", name: string) {
  const reason = kind === "rotate" ? ("size-limit" as const) : kind === "compress" ? ("compress-rotated" as const) : ("excess" as const);
  return { kind, reason, name: Buffer.from(name), unreadBytes: 0, detail: "" };
}

function expectKind<K extends Outcome["kind"]>(o: Outcome, kind: K): Extract<Outcome, { kind: K }> {
  assert.equal(o.kind, kind, JSON.stringify({ ...o, action: undefined }));
  return o as Extract<Outcome, { kind: K }>;
}

async function rejectsWith(p: Promise<unknown>, code: string, message?: RegExp): Promise<ExecError> {
  let caught: unknown;
  await p.then(
    () => assert.fail(`expected ExecError ${code}`),
    (err) => (caught = err),
  );
  assert.ok(caught instanceof ExecError, `expected ExecError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  if (message) assert.match(caught.message, message);
  return caught;
}

describe("rotate (kubelet TestRotateLatestLog)", () => {
  test("should successfully rotate log when MaxFiles is 2", async () => {
    const { dir, target, executor } = fixture({ "test-log": "line 1\nline 2\n" });
    const before = fs.statSync(join(dir, "test-log")).ino;
    h.runtime.clearCalls();
    const out = expectKind(await executor().rotate(target, action("rotate", `test-log.${TS}`)), "rotate");
    h.runtime.assertCalls(["ReopenContainerLog"]);
    assert.equal(out.inode, before);
    assert.equal(out.size, 14);
    assert.equal(fs.readFileSync(join(dir, `test-log.${TS}`), "utf8"), "line 1\nline 2\n");
    assert.equal(fs.statSync(join(dir, `test-log.${TS}`)).ino, before);
    // Upstream's fake creates no new file, so there the original is simply gone. Ours behaves like containerd:
    // the reopen creates a new, empty live log — a different inode from the one rotated away.
    assert.deepEqual(listing(dir), ["test-log", `test-log.${TS}`]);
    assert.equal(fs.statSync(join(dir, "test-log")).size, 0);
    assert.notEqual(fs.statSync(join(dir, "test-log")).ino, before);
  });

  test("should restore original log when ReopenContainerLog fails", async () => {
    const { dir, id, target, executor } = fixture({ "test-log": "line 1\n" });
    h.runtime.injectError("ReopenContainerLog", new Error("reopen boom"));
    h.runtime.clearCalls();
    const err = await rejectsWith(executor().rotate(target, action("rotate", `test-log.${TS}`)), "EXEC_REOPEN_FAILED", /renamed back/);
    assert.match(err.message, new RegExp(id));
    assert.match(String((err.cause as Error).message), /reopen boom/);
    h.runtime.assertCalls(["ReopenContainerLog"]);
    assert.deepEqual(listing(dir), ["test-log"]);
    assert.equal(fs.readFileSync(join(dir, "test-log"), "utf8"), "line 1\n");
  });

  test("an existing rotated file is never overwritten: the name is chosen from the directory at the rename", async () => {
    const { dir, target, executor } = fixture({ "test-log": "new\n", [`test-log.${TS}`]: "old\n" });
    const out = expectKind(await executor().rotate(target, action("rotate", `test-log.${TS}`)), "rotate");
    assert.equal(out.rotatedPath.toString(), join(dir, `test-log.${TS}_000001`));
    assert.deepEqual(listing(dir), ["test-log", `test-log.${TS}`, `test-log.${TS}_000001`]);
    assert.equal(fs.readFileSync(join(dir, `test-log.${TS}`), "utf8"), "old\n");
    assert.equal(fs.readFileSync(join(dir, `test-log.${TS}_000001`), "utf8"), "new\n");
  });

  test("a second rotator taking the name between our look and our claim: we look again, nothing replaced", async () => {
    const { dir, target, executor } = fixture({ "test-log": "ours\n" });
    const ffs = new FaultyFs();
    let raced = false;
    ffs.trace = {
      enter(call) {
        // Right before we claim the name we chose, the kubelet renames a log of its own onto it.
        if (call.op === "createExclusive" && !raced && call.path.endsWith(`test-log.${TS}`)) {
          raced = true;
          fs.writeFileSync(join(dir, `test-log.${TS}`), "the kubelet's\n");
        }
      },
      exit() {},
    };
    const out = expectKind(await executor(ffs).rotate(target, action("rotate", `test-log.${TS}`)), "rotate");
    assert.ok(raced);
    assert.equal(out.rotatedPath.toString(), join(dir, `test-log.${TS}_000001`));
    assert.equal(fs.readFileSync(join(dir, `test-log.${TS}`), "utf8"), "the kubelet's\n");
    assert.equal(fs.readFileSync(join(dir, `test-log.${TS}_000001`), "utf8"), "ours\n");
    assert.equal(ffs.callsOf("listDir").length, 2, "a fresh look before the second try");
  });

  test("a second rotator renaming its log onto our placeholder before our rename: its file stays, we choose again", async () => {
    const { dir, target, executor } = fixture({ "test-log": "ours\n", "kubelets-log": "the kubelet's\n" });
    const ffs = new FaultyFs();
    let looks = 0;
    ffs.trace = {
      enter(call) {
        // The second look at our claimed name is the one right before the rename: the kubelet (which stamped
        // its name before we claimed it) renames onto it just then.
        if (call.op === "lstat" && call.path.endsWith(`test-log.${TS}`) && ++looks === 2) fs.renameSync(join(dir, "kubelets-log"), join(dir, `test-log.${TS}`));
      },
      exit() {},
    };
    const out = expectKind(await executor(ffs).rotate(target, action("rotate", `test-log.${TS}`)), "rotate");
    assert.equal(looks >= 2, true);
    assert.equal(out.rotatedPath.toString(), join(dir, `test-log.${TS}_000001`));
    assert.equal(fs.readFileSync(join(dir, `test-log.${TS}`), "utf8"), "the kubelet's\n");
    assert.equal(fs.readFileSync(join(dir, `test-log.${TS}_000001`), "utf8"), "ours\n");
  });

  test("the kubelet renaming the live log onto our placeholder as we rename: our rename fails, its file is kept", async () => {
    const { dir, target, executor } = fixture({ "test-log": "the kubelet rotates this\n" });
    const ffs = new FaultyFs();
    ffs.trace = {
      enter(call) {
        if (call.op === "rename" && call.path.endsWith("/test-log")) fs.renameSync(join(dir, "test-log"), join(dir, `test-log.${TS}`));
      },
      exit() {},
    };
    await assert.rejects(executor(ffs).rotate(target, action("rotate", `test-log.${TS}`)), (err: unknown) => err instanceof ExecError && err.code === "EXEC_ROTATE_FAILED");
    assert.equal(fs.readFileSync(join(dir, `test-log.${TS}`), "utf8"), "the kubelet rotates this\n", "never removed: it is not our placeholder");
  });

  test("the live log is renamed (not linked and unlinked): a reader's open descriptor follows it to the new name", async () => {
    const { dir, target, executor } = fixture({ "test-log": "line\n" });
    const fd = fs.openSync(join(dir, "test-log"), "r");
    try {
      expectKind(await executor().rotate(target, action("rotate", `test-log.${TS}`)), "rotate");
      assert.equal(fs.readlinkSync(`/proc/self/fd/${fd}`), join(dir, `test-log.${TS}`));
    } finally {
      fs.closeSync(fd);
    }
  });

  test("the name is taken from the clock at the rename, not from the plan", async () => {
    const { dir, target, executor } = fixture({ "test-log": "x\n" });
    h.clock.advance(5000); // the plan was made 5 s ago (a stall)
    try {
      const out = expectKind(await executor().rotate(target, action("rotate", `test-log.${TS}`)), "rotate");
      assert.equal(out.rotatedPath.toString(), join(dir, "test-log.20260102-030409"));
    } finally {
      h.clock.advance(-5000);
    }
  });

  const refusals: Record<string, { setup: (dir: string) => void; expect: RegExp; listing: string[] }> = {
    "a symlink live log is not rotated": {
      setup: (dir) => {
        writeFiles(dir, { "elsewhere": "not a log\n" });
        fs.symlinkSync(join(dir, "elsewhere"), join(dir, "test-log"));
      },
      expect: /it is a symlink/,
      listing: ["elsewhere", "test-log"],
    },
    "a directory live log is not rotated": {
      setup: (dir) => fs.mkdirSync(join(dir, "test-log"), { recursive: true }),
      expect: /it is a directory/,
      listing: ["test-log"],
    },
    "a missing live log is not rotated": {
      setup: (dir) => fs.mkdirSync(dir, { recursive: true }),
      expect: /it is missing/,
      listing: [],
    },
  };
  for (const [name, tc] of Object.entries(refusals)) {
    test(`refuses: ${name}`, async () => {
      const { dir, target, executor } = fixture();
      tc.setup(dir);
      const contents = snapshot(dir);
      h.runtime.clearCalls();
      await rejectsWith(executor().rotate(target, action("rotate", `test-log.${TS}`)), "EXEC_REFUSED", tc.expect);
      h.runtime.assertCalls([], "a refused rotation asks nothing of the runtime");
      assert.deepEqual(listing(dir), tc.listing);
      assert.deepEqual(snapshot(dir), contents);
    });
  }
});

describe("compress (kubelet TestCompressLog)", () => {
  for (const mode of [0o640, 0o600]) {
    test(`keeps the mode ${mode.toString(8)}, round-trips, leaves no .tmp and removes the source`, async () => {
      const { dir, executor } = fixture();
      const src = join(dir, `test-log.00000000-000000`);
      writeFiles(dir, { [`test-log.00000000-000000`]: "test log content" });
      fs.chmodSync(src, mode); // writeFileSync's mode is narrowed by the umask
      const out = expectKind(await executor().compress(target(dir), action("compress", "test-log.00000000-000000"), 6), "compress");
      assert.deepEqual(listing(dir), ["test-log.00000000-000000.gz"]);
      assert.equal(modeOf(`${src}.gz`), mode);
      assert.equal(gunzipSync(fs.readFileSync(`${src}.gz`)).toString("utf8"), "test log content");
      assert.equal(out.bytesIn, 16);
      assert.equal(out.bytesOut, fs.statSync(`${src}.gz`).size);
    });
  }

  test("compressing a missing file is skipped (someone else removed it) and creates nothing", async () => {
    const { dir, executor } = fixture({ "test-log": "" });
    const out = expectKind(await executor().compress(target(dir), action("compress", "test-unknown-log"), 6), "skip");
    assert.match(out.why, /already gone/);
    assert.deepEqual(listing(dir), ["test-log"]);
  });

  test("a FIFO swapped in for the source is refused at once (the open never blocks)", async () => {
    const { dir, executor } = fixture();
    fs.mkdirSync(dir, { recursive: true });
    execFileSync("mkfifo", [join(dir, "test-log.00000000-000000")]);
    await rejectsWith(executor().compress(target(dir), action("compress", "test-log.00000000-000000"), 6), "EXEC_COMPRESS_FAILED", /cannot open/);
    assert.deepEqual(listing(dir), ["test-log.00000000-000000"]);
  });

  test("a file that is not the one planned (another inode now) is left alone", async () => {
    const { dir, executor } = fixture({ "test-log.00000000-000000": "replaced by someone\n" });
    const out = expectKind(await executor().compress(target(dir), action("compress", "test-log.00000000-000000"), 6, { inode: 1 }), "skip");
    assert.match(out.why, /another file now/);
    assert.deepEqual(listing(dir), ["test-log.00000000-000000"]);
  });

  test("another compressor's .tmp is never truncated: created exclusively, or skipped", async () => {
    const { dir, executor } = fixture({ "test-log.00000000-000000": "plain", "test-log.00000000-000000.tmp": "half of the kubelet's gzip" });
    const before = snapshot(dir);
    const out = expectKind(await executor().compress(target(dir), action("compress", "test-log.00000000-000000"), 6), "skip");
    assert.match(out.why, /\.tmp" exists/);
    assert.deepEqual(snapshot(dir), before);
  });

  test("a symlink source is refused and nothing is touched", async () => {
    const { dir, executor } = fixture();
    const outside = join(h.base, "outside-secret");
    fs.writeFileSync(outside, "secret\n");
    fs.mkdirSync(dir, { recursive: true });
    fs.symlinkSync(outside, join(dir, "test-log.00000000-000000"));
    const before = snapshot(dir);
    await rejectsWith(executor().compress(target(dir), action("compress", "test-log.00000000-000000"), 6), "EXEC_COMPRESS_FAILED");
    assert.deepEqual(snapshot(dir), before);
    assert.equal(fs.readlinkSync(join(dir, "test-log.00000000-000000")), outside);
    assert.equal(fs.readFileSync(outside, "utf8"), "secret\n");
    assert.deepEqual(fs.readdirSync(h.base).filter((n) => n.startsWith("outside-secret")), ["outside-secret"]);
  });

  test("an existing .gz is never overwritten (the rules decide what X beside X.gz means)", async () => {
    const { dir, executor } = fixture({ "test-log.00000000-000000": "plain", "test-log.00000000-000000.gz": "not really gzip" });
    const before = snapshot(dir);
    const out = expectKind(await executor().compress(target(dir), action("compress", "test-log.00000000-000000"), 6), "skip");
    assert.match(out.why, /\.gz" exists/);
    assert.deepEqual(snapshot(dir), before);
  });

  test("a .gz appearing while we compress (a second compressor) is kept; our copy is dropped", async () => {
    const { dir, executor } = fixture({ "test-log.00000000-000000": "plain" });
    const ffs = new FaultyFs();
    ffs.trace = {
      enter(call) {
        if (call.op === "link" && call.to?.endsWith(".gz")) fs.writeFileSync(join(dir, "test-log.00000000-000000.gz"), "theirs");
      },
      exit() {},
    };
    const out = expectKind(await executor(ffs).compress(target(dir), action("compress", "test-log.00000000-000000"), 6), "skip");
    assert.match(out.why, /appeared meanwhile/);
    assert.deepEqual(listing(dir), ["test-log.00000000-000000", "test-log.00000000-000000.gz"]);
    assert.equal(fs.readFileSync(join(dir, "test-log.00000000-000000.gz"), "utf8"), "theirs");
  });

  test("cancelled: the temp file is removed and the source kept", async () => {
    const { dir, executor } = fixture();
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(join(dir, "test-log.00000000-000000"), Buffer.alloc(8 << 20, 7));
    const abort = new AbortController();
    abort.abort();
    const out = expectKind(await executor().compress(target(dir), action("compress", "test-log.00000000-000000"), 6, {}, abort.signal), "skip");
    assert.match(out.why, /cancelled/);
    assert.deepEqual(listing(dir), ["test-log.00000000-000000"]);
  });

  const faults: Record<string, { op: "write" | "sync" | "link" | "createExclusive"; afterBytes?: number }> = {
    // (createExclusive here is the .tmp's: the source is a rotated file, not the live log)
    "the write fails half-way": { op: "write", afterBytes: 1000 },
    "the write fails at once": { op: "write" },
    "fsync of the .tmp fails": { op: "sync" },
    "creating the .tmp fails": { op: "createExclusive" },
    "linking .tmp to .gz fails": { op: "link" },
  };
  for (const [name, tc] of Object.entries(faults)) {
    test(`${name}: no .tmp is left and the source is intact`, async () => {
      const { dir, executor } = fixture();
      // Incompressible, so gzip writes well past afterBytes in several chunks.
      const content = Buffer.from(Array.from({ length: 256 * 1024 }, (_, i) => (i * 7919 + (i >> 5) * 104729) & 0xff));
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(join(dir, "test-log.00000000-000000"), content);
      const ffs = new FaultyFs();
      ffs.injectError(tc.op, Object.assign(new Error(`injected ${tc.op} failure`), { code: "EIO" }), { afterBytes: tc.afterBytes });
      const err = await rejectsWith(executor(ffs).compress(target(dir), action("compress", "test-log.00000000-000000"), 6), "EXEC_COMPRESS_FAILED");
      assert.match(String((err.cause as Error)?.message), new RegExp(`injected ${tc.op} failure`));
      assert.deepEqual(listing(dir), ["test-log.00000000-000000"]);
      assert.ok(fs.readFileSync(join(dir, "test-log.00000000-000000")).equals(content));
      if (tc.op === "write" && tc.afterBytes) {
        // The fault really did strike mid-file: a .tmp with data existed and was removed.
        assert.ok(ffs.callsOf("remove").some((c) => c.path.endsWith(".tmp")));
      }
    });
  }
});

describe("remove", () => {
  test("removes a regular file and returns its size; a missing file is already what was wanted", async () => {
    const { dir, executor } = fixture({ "test-log.00000000-000000.gz": "12345" });
    const ex = executor();
    assert.equal(expectKind(await ex.remove(target(dir), action("remove", "test-log.00000000-000000.gz")), "remove").size, 5);
    assert.deepEqual(listing(dir), []);
    assert.match(expectKind(await ex.remove(target(dir), action("remove", "test-log.00000000-000000.gz")), "skip").why, /already gone/);
  });

  test("a file that is not the one planned (another inode) is not removed", async () => {
    const { dir, executor } = fixture({ "test-log.00000000-000000": "newer, same name\n" });
    expectKind(await executor().remove(target(dir), action("remove", "test-log.00000000-000000"), { inode: 1 }), "skip");
    assert.deepEqual(listing(dir), ["test-log.00000000-000000"]);
  });

  const refusals: Record<string, { setup: (path: string) => void; kind: string }> = {
    symlink: { setup: (p) => fs.symlinkSync(join(h.base, "outside-target"), p), kind: "symlink" },
    "dangling symlink": { setup: (p) => fs.symlinkSync("/nonexistent/for/sure", p), kind: "symlink" },
    directory: { setup: (p) => fs.mkdirSync(p), kind: "directory" },
  };
  for (const [name, tc] of Object.entries(refusals)) {
    test(`refuses a ${name}`, async () => {
      fs.writeFileSync(join(h.base, "outside-target"), "keep me\n");
      const { dir, executor } = fixture();
      fs.mkdirSync(dir, { recursive: true });
      const p = join(dir, "test-log.00000000-000000");
      tc.setup(p);
      await rejectsWith(executor().remove(target(dir), action("remove", "test-log.00000000-000000")), "EXEC_REFUSED", new RegExp(`it is a ${tc.kind}`));
      assert.ok(fs.lstatSync(p)); // still there
      assert.equal(fs.readFileSync(join(h.base, "outside-target"), "utf8"), "keep me\n");
    });
  }
});

describe("recover", () => {
  test("a missing live log is recreated through ReopenContainerLog", async () => {
    const { dir, target, executor } = fixture();
    fs.mkdirSync(dir, { recursive: true });
    h.runtime.clearCalls();
    await executor().recover(target, action("remove", "test-log"));
    h.runtime.assertCalls(["ReopenContainerLog"]);
    assert.deepEqual(listing(dir), ["test-log"]);
  });

  test("a failed reopen is reported and creates nothing", async () => {
    const { dir, target, executor } = fixture();
    fs.mkdirSync(dir, { recursive: true });
    h.runtime.injectError("ReopenContainerLog", new Error("no such container"));
    await rejectsWith(executor().recover(target, action("remove", "test-log")), "EXEC_RECOVER_FAILED", /doesn't exist, reopen container log/);
    assert.deepEqual(listing(dir), []);
  });
});

/** The target of a fixture's directory (compress and remove need only the directory). */
function target(dir: string): Target {
  return { id: "unused", dir: Buffer.from(dir), logName: Buffer.from("test-log") };
}

/** name → (kind, content or link target) for every entry of dir: to show that nothing changed. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!fs.existsSync(dir)) return out;
  for (const name of fs.readdirSync(dir).sort()) {
    const p = join(dir, name);
    const st = fs.lstatSync(p);
    out[name] = st.isSymbolicLink() ? `link:${fs.readlinkSync(p)}` : st.isDirectory() ? "dir" : `file:${st.mode & 0o777}:${fs.readFileSync(p, "base64")}`;
  }
  return out;
}
