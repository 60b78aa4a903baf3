// The executor — the only code that renames, compresses and removes log files — against real temp dirs and
// the fake runtime over a real socket: the kubelet's TestRotateLatestLog and TestCompressLog, plus the
// refusals (symlinks, directories, overwrites) and faults injected through FaultyFs.

import { after, before, describe, test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { Executor, type Target } from "../../host/executor.js";
import { ExecError } from "../../host/errors.js";
import { realFs, type Fs } from "../../host/fs.js";
import { startHarness, listing, modeOf, writeFiles, type Harness } from "../support/harness.js";
import { FaultyFs } from "../support/faulty-fs.js";

const TS = "20260102-030405";

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
    target: { id, dir, logName: Buffer.from("test-log") },
    executor: (f: Fs = realFs) => new Executor({ fs: f, cri: h.cri, compressionLevel: 6 }),
  };
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
    const out = await executor().rotate(target, Buffer.from(`test-log.${TS}`));
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
    const err = await rejectsWith(executor().rotate(target, Buffer.from(`test-log.${TS}`)), "EXEC_REOPEN_FAILED", /renamed back/);
    assert.match(err.message, new RegExp(id));
    assert.match(String((err.cause as Error).message), /reopen boom/);
    h.runtime.assertCalls(["ReopenContainerLog"]);
    assert.deepEqual(listing(dir), ["test-log"]);
    assert.equal(fs.readFileSync(join(dir, "test-log"), "utf8"), "line 1\n");
  });

  const refusals: Record<string, { setup: (dir: string) => void; expect: RegExp; listing: string[] }> = {
    "an existing rotated file is never overwritten": {
      setup: (dir) => writeFiles(dir, { "test-log": "new\n", [`test-log.${TS}`]: "old\n" }),
      expect: /exists and would be overwritten/,
      listing: ["test-log", `test-log.${TS}`],
    },
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
      await rejectsWith(executor().rotate(target, Buffer.from(`test-log.${TS}`)), "EXEC_REFUSED", tc.expect);
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
      const out = await executor().compress(dir, Buffer.from("test-log.00000000-000000"));
      assert.deepEqual(listing(dir), ["test-log.00000000-000000.gz"]);
      assert.equal(modeOf(`${src}.gz`), mode);
      assert.equal(gunzipSync(fs.readFileSync(`${src}.gz`)).toString("utf8"), "test log content");
      assert.equal(out.bytesIn, 16);
      assert.equal(out.bytesOut, fs.statSync(`${src}.gz`).size);
    });
  }

  test("compressing a missing file is an error and creates nothing", async () => {
    const { dir, executor } = fixture({ "test-log": "" });
    await rejectsWith(executor().compress(dir, Buffer.from("test-unknown-log")), "EXEC_COMPRESS_FAILED", /cannot open/);
    assert.deepEqual(listing(dir), ["test-log"]);
  });

  test("a symlink source is refused and nothing is touched", async () => {
    const { dir, executor } = fixture();
    const outside = join(h.base, "outside-secret");
    fs.writeFileSync(outside, "secret\n");
    fs.mkdirSync(dir, { recursive: true });
    fs.symlinkSync(outside, join(dir, "test-log.00000000-000000"));
    const before = snapshot(dir);
    await rejectsWith(executor().compress(dir, Buffer.from("test-log.00000000-000000")), "EXEC_COMPRESS_FAILED");
    assert.deepEqual(snapshot(dir), before);
    assert.equal(fs.readlinkSync(join(dir, "test-log.00000000-000000")), outside);
    assert.equal(fs.readFileSync(outside, "utf8"), "secret\n");
    assert.deepEqual(fs.readdirSync(h.base).filter((n) => n.startsWith("outside-secret")), ["outside-secret"]);
  });

  test("an existing .gz is never overwritten", async () => {
    const { dir, executor } = fixture({ "test-log.00000000-000000": "plain", "test-log.00000000-000000.gz": "not really gzip" });
    const before = snapshot(dir);
    await rejectsWith(executor().compress(dir, Buffer.from("test-log.00000000-000000")), "EXEC_REFUSED", /already exists/);
    assert.deepEqual(snapshot(dir), before);
  });

  const faults: Record<string, { op: "write" | "sync" | "rename" | "openWrite"; afterBytes?: number }> = {
    "the write fails half-way": { op: "write", afterBytes: 1000 },
    "the write fails at once": { op: "write" },
    "fsync of the .tmp fails": { op: "sync" },
    "creating the .tmp fails": { op: "openWrite" },
    "renaming .tmp to .gz fails": { op: "rename" },
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
      const err = await rejectsWith(executor(ffs).compress(dir, Buffer.from("test-log.00000000-000000")), "EXEC_COMPRESS_FAILED");
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
    assert.equal(await ex.remove(Buffer.from(join(dir, "test-log.00000000-000000.gz"))), 5);
    assert.deepEqual(listing(dir), []);
    assert.equal(await ex.remove(Buffer.from(join(dir, "test-log.00000000-000000.gz"))), 0);
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
      await rejectsWith(executor().remove(Buffer.from(p)), "EXEC_REFUSED", new RegExp(`it is a ${tc.kind}`));
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
    await executor().recover(target);
    h.runtime.assertCalls(["ReopenContainerLog"]);
    assert.deepEqual(listing(dir), ["test-log"]);
  });

  test("a failed reopen is reported and creates nothing", async () => {
    const { dir, target, executor } = fixture();
    fs.mkdirSync(dir, { recursive: true });
    h.runtime.injectError("ReopenContainerLog", new Error("no such container"));
    await rejectsWith(executor().recover(target), "EXEC_RECOVER_FAILED", /doesn't exist, reopen container log/);
    assert.deepEqual(listing(dir), []);
  });
});

describe("run", () => {
  test("stops at the first failing action and reports the ones that ran", async () => {
    const { dir, target, executor } = fixture({ "test-log": "live", "a.tmp": "x", "b": "y" });
    fs.mkdirSync(join(dir, "sub"));
    const seen: string[] = [];
    const action = (kind: "remove", name: string) => ({ kind, reason: "unused-tmp" as const, name: Buffer.from(name), unreadBytes: 0, detail: "" });
    await rejectsWith(executor().run(target, [action("remove", "a.tmp"), action("remove", "sub"), action("remove", "b")], (o) => seen.push(o.path.toString())), "EXEC_REFUSED");
    assert.deepEqual(seen, [join(dir, "a.tmp")]);
    assert.deepEqual(listing(dir), ["b", "sub", "test-log"]);
  });
});

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
