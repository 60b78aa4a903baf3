// Path safety. A log path comes from the container runtime, so the manager checks it before acting: absolute,
// normalised, strictly under the log root, reached without symlinks. Names with '*', '[' or a newline are
// legal and rotate normally — we never glob, so they match nothing else. Each case runs a pass through the
// manager with the path as the fake runtime reports it, and proves that nothing unrelated changed.

import { describe, test } from "node:test";
import * as assert from "node:assert/strict";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { basename, join } from "node:path";
import { checkLogPath, checkNoSymlinks } from "../../host/paths.js";
import { PathError } from "../../host/errors.js";
import { realFs } from "../../host/fs.js";
import { startHarness, listing, writeFiles, type Harness } from "../support/harness.js";

const TS = "20260102-030404"; // the second before the harness's FakeClock: our rotated names stamp it (assembly/rules/names.ts)
const BIG = "x".repeat(100); // over the harness's 10-byte maxSize

/** A digest of every entry below `dir` (kind, mode, content or link target), never following links. */
function treeDigest(dir: string, skip: (path: string) => boolean = () => false): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const name of fs.readdirSync(d).sort()) {
      const p = join(d, name);
      if (skip(p)) continue;
      const st = fs.lstatSync(p);
      if (st.isSymbolicLink()) out[p] = `link ${fs.readlinkSync(p)}`;
      else if (st.isDirectory()) {
        out[p] = `dir ${(st.mode & 0o7777).toString(8)}`;
        walk(p);
      } else if (st.isFile()) out[p] = `file ${(st.mode & 0o7777).toString(8)} ${createHash("sha256").update(fs.readFileSync(p)).digest("hex")}`;
      else out[p] = "other";
    }
  };
  walk(dir);
  return out;
}

interface Case {
  /** Builds the files and returns the log path the runtime reports. */
  setup(h: Harness): string;
  /** Refused: the reason logged. Otherwise the container's directory after one pass. */
  refused?: RegExp;
  rotated?: { dir: (h: Harness) => string; listing: string[] };
}

/** Files outside the log root and in a neighbouring pod that no case may touch (a glob or a followed link would). */
function sentinels(h: Harness): void {
  writeFiles(join(h.base, "outside"), { "0.log": BIG, "0.log.20250101-000000": BIG, "target.log": BIG });
  writeFiles(join(h.logRoot, "neighbour"), { "0.log": BIG, "0.log.20250101-000000": BIG });
}

const cases: Record<string, Case> = {
  "empty path": {
    setup: () => "",
    refused: /log path is empty/,
  },
  "relative path": {
    setup: (h) => {
      writeFiles(join(h.logRoot, "pod"), { "0.log": BIG });
      return "pod/0.log";
    },
    refused: /is not absolute/,
  },
  'path with ".."': {
    setup: (h) => {
      writeFiles(join(h.logRoot, "pod"), { "0.log": BIG });
      return `${h.logRoot}/pod/../neighbour/0.log`;
    },
    refused: /is not normalised/,
  },
  'path with "//"': {
    setup: (h) => {
      writeFiles(join(h.logRoot, "pod"), { "0.log": BIG });
      return `${h.logRoot}/pod//0.log`;
    },
    refused: /is not normalised/,
  },
  "outside the root": {
    setup: (h) => join(h.base, "outside", "0.log"),
    refused: /is outside the log root/,
  },
  "a sibling directory whose name starts like the root": {
    setup: (h) => {
      writeFiles(`${h.logRoot}-evil/pod`, { "0.log": BIG });
      return `${h.logRoot}-evil/pod/0.log`;
    },
    refused: /is outside the log root/,
  },
  "the root itself": {
    setup: (h) => h.logRoot,
    refused: /is outside the log root/,
  },
  "directly in the root": {
    setup: (h) => {
      writeFiles(h.logRoot, { "0.log": BIG });
      return join(h.logRoot, "0.log");
    },
    refused: /directly in the log root/,
  },
  "the live log is a symlink to a file outside the root": {
    setup: (h) => {
      fs.mkdirSync(join(h.logRoot, "pod"));
      fs.symlinkSync(join(h.base, "outside", "target.log"), join(h.logRoot, "pod", "0.log"));
      return join(h.logRoot, "pod", "0.log");
    },
    refused: /is a symlink/,
  },
  "the pod directory is a symlink": {
    setup: (h) => {
      fs.symlinkSync(join(h.base, "outside"), join(h.logRoot, "pod"));
      return join(h.logRoot, "pod", "0.log");
    },
    refused: /is a symlink/,
  },
  // Legal names: a glob would match the look-alikes beside them; a byte comparison matches nothing else.
  "a name with '*'": {
    setup: (h) => {
      writeFiles(join(h.logRoot, "pod"), {
        "app*.log": BIG,
        "app*.log.20250101-000000": "older",
        "app-other.log": BIG, // "app*.log"
        "app-other.log.20250101-000000": BIG, // "app*.log.*"
      });
      return join(h.logRoot, "pod", "app*.log");
    },
    rotated: {
      dir: (h) => join(h.logRoot, "pod"),
      listing: ["app*.log", "app*.log.20250101-000000.gz", `app*.log.${TS}`, "app-other.log", "app-other.log.20250101-000000"],
    },
  },
  "a name with '['": {
    setup: (h) => {
      writeFiles(join(h.logRoot, "pod"), {
        "app[1].log": BIG,
        "app[1].log.20250101-000000": "older",
        "app1.log": BIG, // "app[1].log"
        "app1.log.20250101-000000": BIG, // "app[1].log.*"
      });
      return join(h.logRoot, "pod", "app[1].log");
    },
    rotated: {
      dir: (h) => join(h.logRoot, "pod"),
      listing: ["app1.log", "app1.log.20250101-000000", "app[1].log", "app[1].log.20250101-000000.gz", `app[1].log.${TS}`],
    },
  },
  "a name with a newline": {
    setup: (h) => {
      writeFiles(join(h.logRoot, "pod"), {
        "app\n.log": BIG,
        "app\n.log.20250101-000000": "older",
        "app": BIG, // what a line-based tool would see
        ".log.20250101-000000": BIG,
      });
      return join(h.logRoot, "pod", "app\n.log");
    },
    rotated: {
      dir: (h) => join(h.logRoot, "pod"),
      listing: [".log.20250101-000000", "app", "app\n.log", "app\n.log.20250101-000000.gz", `app\n.log.${TS}`],
    },
  },
};

describe("the manager with unsafe and unusual log paths", () => {
  for (const [name, tc] of Object.entries(cases)) {
    test(name, async (t) => {
      const h = await startHarness();
      t.after(() => h.close());
      sentinels(h);
      const logPath = tc.setup(h);
      const c = h.runtime.addContainer({ id: "c", name: "c", state: "CONTAINER_RUNNING", logPath: "/placeholder" });
      c.logPath = logPath; // exactly as given: addContainer would resolve a relative path
      const ownDir = tc.rotated?.dir(h);
      const skip = (p: string) => p === join(h.base, "cri.sock") || p === ownDir;
      const before = treeDigest(h.base, skip);
      const ownBefore = ownDir ? treeDigest(ownDir) : {};

      const manager = h.manager();
      const planned = await manager.plan();
      const report = await manager.runOnce();
      const second = await manager.runOnce(); // a refused path stays refused (and is logged once)

      const warnings = h.logger.find({ level: "warn", msg: "refusing container log" });
      if (tc.refused) {
        assert.deepEqual(planned.flatMap((p) => p.actions).filter((a) => a.kind !== "report"), [], "nothing but a report");
        assert.deepEqual([...report.outcomes, ...second.outcomes], []);
        // A path refused when it is learned fails the pass that learns it (here plan()); a live log that is
        // not a regular file fails the first pass that acts on it. Either is refused once, never again.
        const failures = [...report.failures, ...second.failures];
        assert.ok(failures.length <= 1 && failures.every((f) => f.id === "c" && (f.error as PathError).code === "PATH_UNSAFE" && tc.refused!.test(f.error.message)), String(failures.map((f) => f.error.message)));
        assert.equal(warnings.length, 1, `expected one warning, got ${JSON.stringify(h.logger.entries.map((e) => e.msg))}`);
        assert.equal(warnings[0]!.fields.containerId, "c");
        assert.equal(Buffer.from(warnings[0]!.fields.path as Buffer).toString(), logPath, "the path as the runtime gave it (bytes)");
        assert.match(String(warnings[0]!.fields.reason), tc.refused);
        assert.equal(h.runtime.callNames().filter((m) => m === "ReopenContainerLog").length, 0);
      } else {
        assert.deepEqual(warnings, []);
        assert.deepEqual(report.failures, []);
        assert.deepEqual(listing(ownDir!), tc.rotated!.listing);
        assert.equal(fs.readFileSync(join(ownDir!, `${tc.rotated!.listing.find((n) => n.endsWith(TS))}`), "utf8"), BIG);
        // The look-alikes beside it are exactly as they were.
        const own = basename(logPath);
        const ownAfter = treeDigest(ownDir!);
        for (const [p, d] of Object.entries(ownBefore)) {
          if (!basename(p).startsWith(own)) assert.equal(ownAfter[p], d, `${JSON.stringify(basename(p))} changed`);
        }
      }
      assert.deepEqual(treeDigest(h.base, skip), before, "something outside the container's own directory changed");
    });
  }
});

describe("checkLogPath", () => {
  const root = "/var/log/pods";
  const ok: Record<string, [string, string, string]> = {
    "a kubelet path": ["/var/log/pods/ns_pod_uid/app/0.log", "/var/log/pods/ns_pod_uid/app", "0.log"],
    "a root given with a trailing slash": ["/var/log/pods/ns_pod_uid/app/0.log", "/var/log/pods/ns_pod_uid/app", "0.log"],
    "a CRI-O style path": ["/var/log/pods/ns_pod_uid/app.log", "/var/log/pods/ns_pod_uid", "app.log"],
    "'*', '[' and a newline are legal": ["/var/log/pods/p/a*[\n.log", "/var/log/pods/p", "a*[\n.log"],
    "non-ASCII": ["/var/log/pods/p/journal-é.log", "/var/log/pods/p", "journal-é.log"],
  };
  test("accepts bytes that are not UTF-8, kept byte for byte (containerd reports them as they are)", () => {
    const path = Buffer.concat([Buffer.from("/var/log/pods/p\xff"), Buffer.from([0xfe, 0x2f]), Buffer.from("0.log")]);
    const loc = checkLogPath(path, root);
    assert.ok(loc.logPath.equals(path));
    assert.ok(loc.dir.equals(path.subarray(0, path.lastIndexOf(0x2f))));
    assert.equal(loc.logName.toString(), "0.log");
  });
  for (const [name, [path, dir, logName]] of Object.entries(ok)) {
    test(`accepts ${name}`, () => {
      const loc = checkLogPath(Buffer.from(path), name.includes("trailing slash") ? `${root}/` : root);
      assert.deepEqual(loc, { logPath: Buffer.from(path), dir: Buffer.from(dir), logName: Buffer.from(logName) });
    });
  }
  const refused: Record<string, [string, RegExp]> = {
    empty: ["", /empty/],
    relative: ["ns_pod_uid/app/0.log", /not absolute/],
    "dot-relative": ["./var/log/pods/p/0.log", /not absolute/],
    "..": ["/var/log/pods/p/../../../etc/passwd", /not normalised/],
    "a trailing ..": ["/var/log/pods/p/..", /not normalised/],
    ".": ["/var/log/pods/./p/0.log", /not normalised/],
    "//": ["/var/log/pods//p/0.log", /not normalised/],
    "a trailing /": ["/var/log/pods/p/0.log/", /not normalised/],
    NUL: ["/var/log/pods/p/0.log\0.x", /NUL/],
    "outside": ["/etc/passwd", /outside the log root/],
    "a sibling with the root as prefix": ["/var/log/pods-evil/p/0.log", /outside the log root/],
    "the root": ["/var/log/pods", /outside the log root/],
    "directly in the root": ["/var/log/pods/0.log", /directly in the log root/],
  };
  for (const [name, [path, why]] of Object.entries(refused)) {
    test(`refuses ${name}`, () => {
      assert.throws(() => checkLogPath(Buffer.from(path), root), (err: unknown) => err instanceof PathError && err.code === "PATH_UNSAFE" && why.test(err.message));
    });
  }
});

describe("checkNoSymlinks", () => {
  test("every directory below the root must be a real directory", async (t) => {
    const h = await startHarness();
    t.after(() => h.close());
    fs.mkdirSync(join(h.logRoot, "a", "b"), { recursive: true });
    fs.symlinkSync(join(h.logRoot, "a"), join(h.logRoot, "link"));
    fs.writeFileSync(join(h.logRoot, "file"), "");
    const rows: Record<string, [string, RegExp | null]> = {
      "real directories": [join(h.logRoot, "a", "b"), null],
      "a symlinked pod directory": [join(h.logRoot, "link"), /is a symlink/],
      "below a symlinked directory": [join(h.logRoot, "link", "b"), /is a symlink/],
      "a file where a directory should be": [join(h.logRoot, "file"), /is not a directory/],
      "a missing directory": [join(h.logRoot, "missing", "b"), /does not exist/],
    };
    for (const [name, [dir, why]] of Object.entries(rows)) {
      if (why === null) await checkNoSymlinks(realFs, Buffer.from(dir), h.logRoot);
      else await assert.rejects(checkNoSymlinks(realFs, Buffer.from(dir), h.logRoot), (err: unknown) => err instanceof PathError && why.test(err.message), name);
    }
  });
});

test("a log directory that does not exist yet is looked at again next pass, not refused for good", async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const dir = join(h.logRoot, "ns_late_uid", "app");
  h.runtime.addContainer({ id: "late", name: "app", state: "CONTAINER_RUNNING", logPath: join(dir, "0.log") });
  const manager = h.manager();
  const first = await manager.runOnce();
  assert.deepEqual([first.outcomes, first.failures], [[], []]);
  assert.deepEqual(h.logger.find({ level: "warn", msg: "refusing" }), [], "not a refusal");
  const warned = h.logger.find({ level: "warn", msg: "does not exist" });
  assert.equal(warned.length, 1, "a missing directory is said, once");
  assert.equal(warned[0]!.fields.containerId, "late");
  assert.equal(fs.existsSync(dir), false, "nothing created");
  await manager.runOnce();
  assert.equal(h.logger.find({ level: "warn", msg: "does not exist" }).length, 1, "rate-limited: not every pass");
  writeFiles(dir, { "0.log": BIG });
  const third = await manager.runOnce();
  assert.deepEqual(third.outcomes.map((o) => o.kind), ["rotate"]);
  assert.equal(h.runtime.callNames().filter((m) => m === "ContainerStatus").length, 1, "the path is kept: an lstat per pass, not a ContainerStatus");
});
