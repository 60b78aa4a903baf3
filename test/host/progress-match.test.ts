// matchProgress: which shipper progress may be credited to which file. One line of story per case.
import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { matchProgress, findLastLineStart, LastLineStartCache, type ReadAt } from "../../host/progress/match.js";
import type { DbFileProgress, FileProgress, FileProgressQuery, FilterGeneration, ProgressReport, RotationRecord } from "../../host/progress/types.js";

const L = "/var/log/pods/ns_pod_uid/app/0.log"; // the live log
const R1 = `${L}.20240102-030405`; // what the host renamed it to at T
const R0 = `${L}.20240102-020000`; // an earlier rotation
const T = 1000; // rotatedAtSec of L → R1
const OLD = 10; // inode renamed to R1
const NEW = 11; // inode now at L

const rotated = (over: Partial<FileProgressQuery> = {}): FileProgressQuery => ({ name: "0.log.20240102-030405", path: R1, inode: OLD, size: 5000, lastLineStart: 4900, live: false, ...over });
const live = (over: Partial<FileProgressQuery> = {}): FileProgressQuery => ({ name: "0.log", path: L, inode: NEW, size: 5000, live: true, ...over });
const rotation = (over: Partial<RotationRecord> = {}): RotationRecord => ({ livePath: L, inode: OLD, rotatedPath: R1, rotatedAtSec: T, liveSinceSec: 800, ...over });
const gen = (index: number, firstSec: number, maxOffset: number): FilterGeneration => ({ index, firstOffset: 0, maxOffset, records: 1, firstSec, lastSec: firstSec + 5 });
/** A generation as a format 2 progress file gives it: first time in ms, precision 1 ms. */
const msGen = (index: number, firstMs: number, maxOffset: number): FilterGeneration => ({ ...gen(index, Math.floor(firstMs / 1000), maxOffset), firstMs, lastMs: firstMs + 5000, precisionMs: 1 });
const row = (id: number, name: string, inode: number, offset: number): DbFileProgress => ({ id, name, inode, offset, created: 0, rotated: name !== L });
const report = (paths: Record<string, FilterGeneration[]> = {}, db: DbFileProgress[] = []): ProgressReport => ({
  filter: { file: "p", recordsSeen: 0, errors: 0, sec: 0, paths: new Map(Object.entries(paths)) },
  db,
  errors: [],
});

/** The rules' isFullyRead (assembly/rules/shipper.ts), to say what a result means. */
function fullyRead(p: FileProgress, size: number): boolean {
  if (p.readOffset === undefined) return false;
  return p.readOffset >= size || (p.lastLineStart !== undefined && p.readOffset >= p.lastLineStart);
}

interface Case {
  file: FileProgressQuery;
  history?: RotationRecord[];
  report: ProgressReport;
  want: { readOffset?: number; lastLineStart?: number; origin: FileProgress["origin"]; fullyRead: boolean };
}

const cases: Record<string, Case> = {
  // --- the in_tail DB: offsets are past the last line read
  "db: inode match under the rotated name (in_tail renamed its row)": {
    file: rotated(), history: [rotation()], report: report({}, [row(1, R1, OLD, 4000)]),
    want: { readOffset: 4000, origin: "db-inode", fullyRead: false },
  },
  "db: offset == size is fully read": {
    file: rotated(), history: [rotation()], report: report({}, [row(1, R1, OLD, 5000)]),
    want: { readOffset: 5000, origin: "db-inode", fullyRead: true },
  },
  "db: offset at the last line's start is NOT fully read (no lastLineStart from the DB)": {
    file: rotated(), history: [rotation()], report: report({}, [row(1, R1, OLD, 4900)]),
    want: { readOffset: 4900, origin: "db-inode", fullyRead: false },
  },
  "db: renamed entry, in_tail has not noticed yet (old name, same inode)": {
    file: rotated(), history: [rotation()], report: report({}, [row(1, L, OLD, 3000)]),
    want: { readOffset: 3000, origin: "db-name", fullyRead: false },
  },
  "db: new file at the old path never gets the old row": {
    file: live(), history: [rotation()], report: report({}, [row(1, L, OLD, 3000)]),
    want: { origin: "none", fullyRead: false },
  },
  "db: inode reused by a stranger's stale row": {
    file: rotated(), history: [rotation()], report: report({}, [row(1, "/var/log/pods/other/x/0.log", OLD, 5000)]),
    want: { origin: "none", fullyRead: false },
  },
  "db: offset beyond the size is another file's": {
    file: rotated(), history: [rotation()], report: report({}, [row(1, R1, OLD, 9000)]),
    want: { origin: "none", fullyRead: false },
  },
  "db: the live file by inode and name": {
    file: live(), history: [rotation()], report: report({}, [row(2, L, NEW, 120)]),
    want: { readOffset: 120, origin: "db-inode", fullyRead: false },
  },

  // --- the filter: line-START offsets, generations per path
  "filter: the generation live at the rename is credited": {
    file: rotated(), history: [rotation()], report: report({ [L]: [gen(0, 900, 4900), gen(1, 1001, 50)] }),
    want: { readOffset: 4900, lastLineStart: 4900, origin: "filter-live-generation", fullyRead: true },
  },
  "filter: start of the line before the last is not fully read": {
    file: rotated(), history: [rotation()], report: report({ [L]: [gen(0, 900, 4800)] }),
    want: { readOffset: 4800, lastLineStart: 4900, origin: "filter-live-generation", fullyRead: false },
  },
  "filter: new file at the old path is never credited to the rotated one": {
    file: rotated(), history: [rotation()], report: report({ [L]: [gen(1, 1001, 4950)] }),
    want: { origin: "none", fullyRead: false },
  },
  "filter: ...and is credited to the live file (started after the rotation)": {
    file: live(), history: [rotation()], report: report({ [L]: [gen(0, 900, 4900), gen(1, 1001, 4950)] }),
    want: { readOffset: 4950, origin: "filter-live-path", fullyRead: false },
  },
  "filter: live file whose newest generation predates the rotation gets nothing": {
    file: live(), history: [rotation()], report: report({ [L]: [gen(0, 900, 4900)] }),
    want: { origin: "none", fullyRead: false },
  },
  "filter: live file without any known rotation gets nothing": {
    file: live(), report: report({ [L]: [gen(0, 900, 10)] }),
    want: { origin: "none", fullyRead: false },
  },
  "filter: generation reset, the old inode's generation fell out of the ring": {
    file: rotated(), history: [rotation()], report: report({ [L]: [gen(5, 1001, 10), gen(6, 1002, 10), gen(7, 1003, 10), gen(8, 1004, 4950)] }),
    want: { origin: "none", fullyRead: false },
  },
  "filter: generation started in the rotation's own second is ambiguous": {
    file: rotated(), history: [rotation()], report: report({ [L]: [gen(0, 1000, 4900)] }),
    want: { origin: "none", fullyRead: false },
  },
  // --- format 2 progress files carry ms times (precision 1 ms); the host keeps its rotation times in ms
  "filter ms: a generation that started in the previous rotation's second, but after it, is credited": {
    file: rotated(), history: [rotation({ liveSinceMs: 800_400, rotatedAtMs: T * 1000 + 700 })],
    report: report({ [L]: [msGen(0, 800_450, 4900)] }),
    want: { readOffset: 4900, lastLineStart: 4900, origin: "filter-live-generation", fullyRead: true },
  },
  "filter ms: ... and one that started in the rename's second, before it, too": {
    file: rotated(), history: [rotation({ liveSinceMs: 800_400, rotatedAtMs: T * 1000 + 700 })],
    report: report({ [L]: [msGen(0, T * 1000 + 100, 4900)] }),
    want: { readOffset: 4900, lastLineStart: 4900, origin: "filter-live-generation", fullyRead: true },
  },
  "filter ms: a generation that started after the rename is the next file's": {
    file: rotated(), history: [rotation({ liveSinceMs: 800_400, rotatedAtMs: T * 1000 + 700 })],
    report: report({ [L]: [msGen(0, T * 1000 + 701, 4900)] }),
    want: { origin: "none", fullyRead: false },
  },
  "filter ms: a generation that started before the inode came to the live path is the previous file's": {
    file: rotated(), history: [rotation({ liveSinceMs: 800_400, rotatedAtMs: T * 1000 + 700 })],
    report: report({ [L]: [msGen(0, 800_399, 4900)] }),
    want: { origin: "none", fullyRead: false },
  },
  "filter ms: whole seconds (a format 1 file) against ms history: the second must lie inside": {
    file: rotated(), history: [rotation({ liveSinceMs: 800_400, rotatedAtMs: T * 1000 + 700 })],
    report: report({ [L]: [{ ...gen(0, 800, 4900), firstMs: 800_000, precisionMs: 1000 }] }),
    want: { origin: "none", fullyRead: false },
  },
  "filter ms: the live file, its generation started in the rotation's second but after it": {
    file: live(), history: [rotation({ rotatedAtMs: T * 1000 + 700 })],
    report: report({ [L]: [msGen(3, T * 1000 + 750, 4000)] }),
    want: { readOffset: 4000, origin: "filter-live-path", fullyRead: false },
  },
  "filter: no lower bound (no liveSince, no earlier rotation) credits nothing": {
    file: rotated(), history: [rotation({ liveSinceSec: undefined })], report: report({ [L]: [gen(0, 900, 4900)] }),
    want: { origin: "none", fullyRead: false },
  },
  "filter: the previous rotation is the lower bound": {
    file: rotated(),
    history: [rotation({ inode: 9, rotatedPath: R0, rotatedAtSec: 500, liveSinceSec: undefined }), rotation({ liveSinceSec: undefined })],
    report: report({ [L]: [gen(0, 400, 4999), gen(1, 600, 4900), gen(2, 1001, 7)] }), // gen 0 is inode 9's
    want: { readOffset: 4900, lastLineStart: 4900, origin: "filter-live-generation", fullyRead: true },
  },
  "filter: several candidate generations credit the smallest": {
    file: rotated(), history: [rotation()], report: report({ [L]: [gen(0, 850, 4900), gen(1, 900, 100)] }),
    want: { readOffset: 100, lastLineStart: 4900, origin: "filter-live-generation", fullyRead: false },
  },
  "filter: the file at the rotated name is not the inode the host renamed": {
    file: rotated({ inode: 99 }), history: [rotation()], report: report({ [L]: [gen(0, 900, 4900)] }),
    want: { origin: "none", fullyRead: false },
  },
  "filter: records under the rotated name (in_tail noticed the rename)": {
    file: rotated(), history: [rotation()], report: report({ [L]: [gen(0, 900, 3000)], [R1]: [gen(0, 990, 4900)] }),
    want: { readOffset: 4900, lastLineStart: 4900, origin: "filter-rotated-path", fullyRead: true },
  },
  "filter: a line start past the size under the rotated name is another file's": {
    file: rotated(), history: [rotation()], report: report({ [R1]: [gen(0, 990, 5000)] }),
    want: { origin: "none", fullyRead: false },
  },
  "both sources: the larger credit wins": {
    file: rotated(), history: [rotation()], report: report({ [L]: [gen(0, 900, 4900)] }, [row(1, R1, OLD, 3000)]),
    want: { readOffset: 4900, lastLineStart: 4900, origin: "filter-live-generation", fullyRead: true },
  },
  "unknown file": {
    file: rotated({ path: "/var/log/pods/x/y/0.log.1", inode: 77 }), history: [rotation()], report: report({ [L]: [gen(0, 900, 4900)] }, [row(1, R1, OLD, 5000)]),
    want: { origin: "none", fullyRead: false },
  },
  "no report at all": {
    file: rotated(), history: [rotation()], report: { db: [], errors: [] },
    want: { origin: "none", fullyRead: false },
  },
};

describe("matchProgress", () => {
  for (const [name, tc] of Object.entries(cases)) {
    test(name, () => {
      const [got] = matchProgress([tc.file], tc.history ?? [], tc.report);
      assert.deepEqual(
        { readOffset: got.readOffset, lastLineStart: got.lastLineStart, origin: got.origin, fullyRead: fullyRead(got, tc.file.size) },
        { readOffset: tc.want.readOffset, lastLineStart: tc.want.lastLineStart, origin: tc.want.origin, fullyRead: tc.want.fullyRead },
        got.detail,
      );
      assert.ok(got.detail.length > 0);
    });
  }

  test("one call, many files, same order", () => {
    const r = report({ [L]: [gen(0, 900, 4900), gen(1, 1001, 50)] });
    const got = matchProgress([live(), rotated()], [rotation()], r);
    assert.deepEqual(got.map((p) => p.origin), ["filter-live-path", "filter-live-generation"]);
  });
});

describe("findLastLineStart", () => {
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
      assert.equal(await findLastLineStart(path, Buffer.byteLength(tc.content)), tc.want);
    });
  }

  test("the cache reads a frozen file once, and again when it changed", async () => {
    const content = Buffer.from("one\ntwo\n");
    const reads: number[] = [];
    const readAt: ReadAt = async (_p, pos, len) => {
      reads.push(pos);
      return content.subarray(pos, pos + len);
    };
    const cache = new LastLineStartCache(2, readAt);
    assert.equal(await cache.get("/f", 1, 8), 4);
    assert.equal(await cache.get("/f", 1, 8), 4);
    assert.equal(reads.length, 1);
    assert.equal(await cache.get("/f", 1, 4), 0); // same inode, other size: read again
    assert.equal(reads.length, 2);
  });
});
