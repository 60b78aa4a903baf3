// Which shipper progress may be credited to which file, decided by the rules module (crl_credit_progress)
// and asked through the real .wasm. One line of story per case. These are the cases of the former host-side
// matcher with their assertions as they were (offsets, line starts, fully read); the origins were renamed
// one for one (db-inode → inode-path, db-name → inode-former-path, filter-rotated-path →
// generation-rotated-path, filter-live-generation → generation-at-rename, filter-live-path →
// generation-live-path). Times are the old whole seconds × 1000 with the filter's v1 precision (1000 ms).
import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { sharedPlugin } from "../support/harness.js";
import { FaultyFs } from "../support/faulty-fs.js";
import { realFs, type DirEntry } from "../../host/fs.js";
import { FileFacts, findLastLineStart } from "../../host/progress/facts.js";
import type { CreditFile, CreditOrigin, CreditRotation, FileCredit } from "../../host/plugin/types.js";
import type { ProgressClaim } from "../../host/progress/types.js";

const plugin = sharedPlugin();
const B = (s: string) => Buffer.from(s);
const L = "/var/log/pods/ns_pod_uid/app/0.log"; // the live log
const R1 = `${L}.20240102-030405`; // what the host renamed it to at T
const R0 = `${L}.20240102-020000`; // an earlier rotation
const T = 1000; // rotatedAtSec of L → R1
const OLD = 10; // inode renamed to R1
const NEW = 11; // inode now at L

interface FileCase {
  path: string;
  inode: number;
  size: number;
  lastLineStart?: number;
  live: boolean;
}
const rotated = (over: Partial<FileCase> = {}): FileCase => ({ path: R1, inode: OLD, size: 5000, lastLineStart: 4900, live: false, ...over });
const live = (over: Partial<FileCase> = {}): FileCase => ({ path: L, inode: NEW, size: 5000, live: true, ...over });
interface RotationCase {
  livePath: string;
  inode: number;
  rotatedPath: string;
  rotatedAtSec: number;
  liveSinceSec?: number;
}
const rotation = (over: Partial<RotationCase> = {}): RotationCase => ({ livePath: L, inode: OLD, rotatedPath: R1, rotatedAtSec: T, liveSinceSec: 800, ...over });
/** A filter generation (format v1: whole seconds). */
const gen = (path: string, index: number, firstSec: number, maxOffset: number): ProgressClaim => ({
  kind: "generation",
  shipper: "fluent-bit-filter",
  path: B(path),
  index,
  firstOffset: 0,
  maxOffset,
  records: 1,
  firstMs: firstSec * 1000,
  lastMs: (firstSec + 5) * 1000,
  precisionMs: 1000,
});
/** An in_tail DB row. */
const row = (name: string, inode: number, offset: number): ProgressClaim => ({ kind: "inode-name", shipper: "fluent-bit-db", inode: BigInt(inode), path: B(name), offset });

const toFile = (f: FileCase): CreditFile => ({ path: B(f.path), live: f.live, inode: BigInt(f.inode), size: f.size, ...(f.lastLineStart !== undefined ? { lastLineStart: f.lastLineStart } : {}) });
const toRotation = (r: RotationCase): CreditRotation => ({
  livePath: B(r.livePath),
  inode: BigInt(r.inode),
  rotatedPath: B(r.rotatedPath),
  rotatedAtMs: r.rotatedAtSec * 1000,
  ...(r.liveSinceSec !== undefined ? { liveSinceMs: r.liveSinceSec * 1000 } : {}),
});

/** The plan's isFullyRead (assembly/rules/shipper.ts), to say what a result means. */
function fullyRead(readOffset: number | undefined, lastLineStart: number | undefined, size: number): boolean {
  if (readOffset === undefined) return false;
  return readOffset >= size || (lastLineStart !== undefined && readOffset >= lastLineStart);
}

interface Case {
  file: FileCase;
  history?: RotationCase[];
  claims: ProgressClaim[];
  want: { readOffset?: number; lastLineStart?: number; origin: CreditOrigin; fullyRead: boolean };
}

const cases: Record<string, Case> = {
  // --- the in_tail DB: offsets are past the last line read
  "db: inode match under the rotated name (in_tail renamed its row)": {
    file: rotated(), history: [rotation()], claims: [row(R1, OLD, 4000)],
    want: { readOffset: 4000, origin: "inode-path", fullyRead: false },
  },
  "db: offset == size is fully read": {
    file: rotated(), history: [rotation()], claims: [row(R1, OLD, 5000)],
    want: { readOffset: 5000, origin: "inode-path", fullyRead: true },
  },
  "db: offset at the last line's start is NOT fully read (no lastLineStart from the DB)": {
    file: rotated(), history: [rotation()], claims: [row(R1, OLD, 4900)],
    want: { readOffset: 4900, origin: "inode-path", fullyRead: false },
  },
  "db: renamed entry, in_tail has not noticed yet (old name, same inode)": {
    file: rotated(), history: [rotation()], claims: [row(L, OLD, 3000)],
    want: { readOffset: 3000, origin: "inode-former-path", fullyRead: false },
  },
  "db: new file at the old path never gets the old row": {
    file: live(), history: [rotation()], claims: [row(L, OLD, 3000)],
    want: { origin: "none", fullyRead: false },
  },
  "db: inode reused by a stranger's stale row": {
    file: rotated(), history: [rotation()], claims: [row("/var/log/pods/other/x/0.log", OLD, 5000)],
    want: { origin: "none", fullyRead: false },
  },
  "db: offset beyond the size is another file's": {
    file: rotated(), history: [rotation()], claims: [row(R1, OLD, 9000)],
    want: { origin: "none", fullyRead: false },
  },
  "db: the live file by inode and name": {
    file: live(), history: [rotation()], claims: [row(L, NEW, 120)],
    want: { readOffset: 120, origin: "inode-path", fullyRead: false },
  },

  // --- the filter: line-START offsets, generations per path
  "filter: the generation live at the rename is credited": {
    file: rotated(), history: [rotation()], claims: [gen(L, 0, 900, 4900), gen(L, 1, 1001, 50)],
    want: { readOffset: 4900, lastLineStart: 4900, origin: "generation-at-rename", fullyRead: true },
  },
  "filter: start of the line before the last is not fully read": {
    file: rotated(), history: [rotation()], claims: [gen(L, 0, 900, 4800)],
    want: { readOffset: 4800, lastLineStart: 4900, origin: "generation-at-rename", fullyRead: false },
  },
  "filter: new file at the old path is never credited to the rotated one": {
    file: rotated(), history: [rotation()], claims: [gen(L, 1, 1001, 4950)],
    want: { origin: "none", fullyRead: false },
  },
  "filter: ...and is credited to the live file (started after the rotation)": {
    file: live(), history: [rotation()], claims: [gen(L, 0, 900, 4900), gen(L, 1, 1001, 4950)],
    want: { readOffset: 4950, origin: "generation-live-path", fullyRead: false },
  },
  "filter: live file whose newest generation predates the rotation gets nothing": {
    file: live(), history: [rotation()], claims: [gen(L, 0, 900, 4900)],
    want: { origin: "none", fullyRead: false },
  },
  "filter: live file without any known rotation gets nothing": {
    file: live(), claims: [gen(L, 0, 900, 10)],
    want: { origin: "none", fullyRead: false },
  },
  "filter: generation reset, the old inode's generation fell out of the ring": {
    file: rotated(), history: [rotation()], claims: [gen(L, 5, 1001, 10), gen(L, 6, 1002, 10), gen(L, 7, 1003, 10), gen(L, 8, 1004, 4950)],
    want: { origin: "none", fullyRead: false },
  },
  "filter: generation started in the rotation's own second is ambiguous": {
    file: rotated(), history: [rotation()], claims: [gen(L, 0, 1000, 4900)],
    want: { origin: "none", fullyRead: false },
  },
  "filter: no lower bound (no liveSince, no earlier rotation) credits nothing": {
    file: rotated(), history: [rotation({ liveSinceSec: undefined })], claims: [gen(L, 0, 900, 4900)],
    want: { origin: "none", fullyRead: false },
  },
  "filter: the previous rotation is the lower bound": {
    file: rotated(),
    history: [rotation({ inode: 9, rotatedPath: R0, rotatedAtSec: 500, liveSinceSec: undefined }), rotation({ liveSinceSec: undefined })],
    claims: [gen(L, 0, 400, 4999), gen(L, 1, 600, 4900), gen(L, 2, 1001, 7)], // gen 0 is inode 9's
    want: { readOffset: 4900, lastLineStart: 4900, origin: "generation-at-rename", fullyRead: true },
  },
  "filter: several candidate generations credit the smallest": {
    file: rotated(), history: [rotation()], claims: [gen(L, 0, 850, 4900), gen(L, 1, 900, 100)],
    want: { readOffset: 100, lastLineStart: 4900, origin: "generation-at-rename", fullyRead: false },
  },
  "filter: the file at the rotated name is not the inode the host renamed": {
    file: rotated({ inode: 99 }), history: [rotation()], claims: [gen(L, 0, 900, 4900)],
    want: { origin: "none", fullyRead: false },
  },
  "filter: records under the rotated name (in_tail noticed the rename)": {
    file: rotated(), history: [rotation()], claims: [gen(L, 0, 900, 3000), gen(R1, 0, 990, 4900)],
    want: { readOffset: 4900, lastLineStart: 4900, origin: "generation-rotated-path", fullyRead: true },
  },
  "filter: a line start past the size under the rotated name is another file's": {
    file: rotated(), history: [rotation()], claims: [gen(R1, 0, 990, 5000)],
    want: { origin: "none", fullyRead: false },
  },
  "both sources: the larger credit wins": {
    file: rotated(), history: [rotation()], claims: [gen(L, 0, 900, 4900), row(R1, OLD, 3000)],
    want: { readOffset: 4900, lastLineStart: 4900, origin: "generation-at-rename", fullyRead: true },
  },
  "unknown file": {
    file: rotated({ path: "/var/log/pods/x/y/0.log.1", inode: 77 }), history: [rotation()], claims: [gen(L, 0, 900, 4900), row(R1, OLD, 5000)],
    want: { origin: "none", fullyRead: false },
  },
  "no report at all": {
    file: rotated(), history: [rotation()], claims: [],
    want: { origin: "none", fullyRead: false },
  },
};

/** One file through the module, read back the way the attacher hands it to the plan. */
function creditOne(file: FileCase, history: RotationCase[], claims: ProgressClaim[]): FileCredit & { lastLineStart?: number } {
  const [got] = plugin.creditProgress({ files: [toFile(file)], history: history.map(toRotation), claims });
  return { ...got!, lastLineStart: got!.lineStart ? file.lastLineStart : undefined };
}

describe("crl_credit_progress: the former matcher's cases", () => {
  for (const [name, tc] of Object.entries(cases)) {
    test(name, () => {
      const got = creditOne(tc.file, tc.history ?? [], tc.claims);
      assert.deepEqual(
        { readOffset: got.readOffset, lastLineStart: got.lastLineStart, origin: got.origin, fullyRead: fullyRead(got.readOffset, got.lastLineStart, tc.file.size) },
        { readOffset: tc.want.readOffset, lastLineStart: tc.want.lastLineStart, origin: tc.want.origin, fullyRead: tc.want.fullyRead },
        got.detail,
      );
      assert.ok(got.detail.length > 0);
    });
  }

  test("one call, many files, same order", () => {
    const got = plugin.creditProgress({ files: [toFile(live()), toFile(rotated())], history: [toRotation(rotation())], claims: [gen(L, 0, 900, 4900), gen(L, 1, 1001, 50)] });
    assert.deepEqual(got.map((p) => p.origin), ["generation-live-path", "generation-at-rename"]);
  });
});

// The same-second bug: with whole seconds, a generation whose first record lands in the rotation's own
// second can never be credited. With milliseconds (precisionMs 1) it can, when it started before the rename.
describe("generations in milliseconds", () => {
  const T_MS = 1_000_500; // the rotation half a second into second 1000
  const msGen = (firstMs: number, precisionMs: number): ProgressClaim => ({ ...(gen(L, 0, 0, 4900) as Extract<ProgressClaim, { kind: "generation" }>), firstMs, precisionMs });
  const msCases: Record<string, { claim: ProgressClaim; want: CreditOrigin }> = {
    "ms: started 300 ms before the rename, in the same second: credited": { claim: msGen(1_000_200, 1), want: "generation-at-rename" },
    "ms: started in the very millisecond of the rename: ambiguous": { claim: msGen(1_000_500, 1), want: "none" },
    "ms: the last millisecond before the rename: credited": { claim: msGen(1_000_499, 1), want: "generation-at-rename" },
    "s: the same record time in whole seconds (v1) stays ambiguous": { claim: msGen(1_000_000, 1000), want: "none" },
    "s: a second that ended before the rename: credited": { claim: msGen(999_000, 1000), want: "generation-at-rename" },
  };
  for (const [name, tc] of Object.entries(msCases)) {
    test(name, () => {
      const got = plugin.creditProgress({ files: [toFile(rotated())], history: [{ ...toRotation(rotation()), rotatedAtMs: T_MS }], claims: [tc.claim] });
      assert.equal(got[0]!.origin, tc.want, got[0]!.detail);
    });
  }
});

describe("findLastLineStart (through Fs)", () => {
  const dirP = mkdtemp(join(tmpdir(), "crl-lls-"));
  after(async () => rm(await dirP, { recursive: true, force: true }));

  const big = "a".repeat(70000) + "\n" + "b".repeat(150000) + "\n"; // a last line longer than two chunks
  const files: Record<string, { content: string; want: number | undefined }> = {
    "two lines": { content: "one\ntwo\n", want: 4 },
    "one line": { content: "only\n", want: 0 },
    "partial last line": { content: "one\ntw", want: 4 }, // in_tail never emits it: never credited
    "no newline at all": { content: "abc", want: 0 },
    "just a newline": { content: "\n", want: 0 },
    "empty line last": { content: "one\n\n", want: 4 },
    "empty file": { content: "", want: undefined },
    "last line over 64 KiB": { content: big, want: 70001 },
  };
  for (const [name, tc] of Object.entries(files)) {
    test(name, async () => {
      const path = join(await dirP, name.replace(/\W/g, "_"));
      await writeFile(path, tc.content);
      assert.equal(await findLastLineStart(realFs, path, Buffer.byteLength(tc.content)), tc.want);
    });
  }

  test("the cache reads a frozen file once, and again when it changed", async () => {
    const path = join(await dirP, "cached");
    await writeFile(path, "one\ntwo\n");
    const ffs = new FaultyFs();
    const facts = new FileFacts(ffs, 2);
    const entry = (size: number): DirEntry => ({ name: B("cached"), kind: "file", size, mtimeMs: 0, mode: 0o644, inode: 1, birthtimeMs: 5 });
    assert.equal(await facts.lastLineStart(path, entry(8)), 4);
    assert.equal(await facts.lastLineStart(path, entry(8)), 4);
    assert.equal(ffs.callsOf("readRange").length, 1);
    assert.equal(await facts.lastLineStart(path, entry(4)), 0); // same inode, other size: read again
    assert.equal(ffs.callsOf("readRange").length, 2);
  });

  test("a FIFO where a log should be fails at once instead of blocking", async () => {
    const path = join(await dirP, "fifo");
    execFileSync("mkfifo", [path]);
    await assert.rejects(realFs.readRange(path, 0, 10), (err: NodeJS.ErrnoException) => err.code === "ENOTREG");
  });

  test("a symlink is not followed", async () => {
    const target = join(await dirP, "two_lines");
    const link = join(await dirP, "link");
    execFileSync("ln", ["-s", target, link]);
    await assert.rejects(realFs.readRange(link, 0, 10), (err: NodeJS.ErrnoException) => err.code === "ELOOP");
  });
});
