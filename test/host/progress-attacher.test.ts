// The attacher over real files: facts gathered through Fs (so faults reach them), claims credited by the
// .wasm, and one place deciding what a failure logs (once, again after REPEAT_WARNING_MS, and on recovery).
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile, mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sharedPlugin } from "../support/harness.js";
import { FaultyFs } from "../support/faulty-fs.js";
import { MemoryLogger } from "../support/memory-logger.js";
import { realFs } from "../../host/fs.js";
import { checkLogPath } from "../../host/paths.js";
import { REPEAT_WARNING_MS, ShipperProgress } from "../../host/progress/attacher.js";
import { ProgressSourceError, type ProgressClaim, type ProgressReport, type ProgressSource } from "../../host/progress/types.js";
import type { Outcome } from "../../host/executor.js";

let root: string;
before(async () => {
  root = await mkdtemp(join(tmpdir(), "crl-attach-"));
});
after(async () => rm(root, { recursive: true, force: true }));

/** A source whose next report the test sets. */
class ScriptedSource implements ProgressSource {
  readonly name = "progress.test";
  next: ProgressReport = { claims: [], errors: [] };
  reads = 0;
  async read(): Promise<ProgressReport> {
    this.reads++;
    return this.next;
  }
}

/** A container dir with a live log and one rotated file of two lines ("one\n" at 0, "two\n" at 4). */
async function container(name: string) {
  const dir = join(root, "pods", name, "app");
  await mkdir(dir, { recursive: true });
  const livePath = join(dir, "0.log");
  const rotatedPath = join(dir, "0.log.20240102-030405");
  await writeFile(rotatedPath, "one\ntwo\n");
  await writeFile(livePath, "three\n");
  const location = checkLogPath(Buffer.from(livePath), join(root, "pods"));
  const entries = await realFs.listDir(dir);
  const inodeOf = (p: string) => entries.find((e) => join(dir, e.name.toString()) === p)!.inode;
  return { dir, livePath, rotatedPath, location, entries, oldInode: inodeOf(rotatedPath), newInode: inodeOf(livePath) };
}

function rotate(p: ShipperProgress, c: Awaited<ReturnType<typeof container>>, atMs: number): void {
  const outcome = { kind: "rotate", rotatedPath: Buffer.from(c.rotatedPath), inode: c.oldInode, size: 8 } as unknown as Extract<Outcome, { kind: "rotate" }>;
  p.rotated("c1", c.location, outcome, atMs);
}

describe("ShipperProgress.attach", () => {
  test("a rotated file read to its last line start by the filter is credited as fully read", async () => {
    const c = await container("a");
    const source = new ScriptedSource();
    const p = new ShipperProgress({ sources: [source], plugin: sharedPlugin(), logger: new MemoryLogger() });
    // An earlier rotation (inode 1, at 1000 s) is when this inode arrived at the live path; then it was renamed at 2000 s.
    p.rotated("c1", c.location, { kind: "rotate", rotatedPath: Buffer.from(`${c.livePath}.20240102-020000`), inode: 1, size: 1 } as unknown as Extract<Outcome, { kind: "rotate" }>, 1_000_000);
    rotate(p, c, 2_000_000);
    // A generation under the live name, begun while this inode was there.
    const gen: ProgressClaim = { kind: "generation", shipper: "fluent-bit-filter", path: Buffer.from(c.livePath), index: 0, firstOffset: 0, maxOffset: 4, records: 2, firstMs: 1_500_000, lastMs: 1_500_000, precisionMs: 1 };
    source.next = { claims: [gen], errors: [] };
    await p.refresh();
    const files = await p.attach("c1", c.location, c.entries);
    const rotated = files.find((f) => f.name.toString() === "0.log.20240102-030405")!;
    assert.deepEqual({ readOffset: rotated.readOffset, lastLineStart: rotated.lastLineStart, size: rotated.size }, { readOffset: 4, lastLineStart: 4, size: 8 });
  });

  test("an inode-name claim is credited past the last line, without the line start", async () => {
    const c = await container("b");
    const source = new ScriptedSource();
    const p = new ShipperProgress({ sources: [source], plugin: sharedPlugin(), logger: new MemoryLogger() });
    source.next = { claims: [{ kind: "inode-name", shipper: "fluentd", inode: BigInt(c.oldInode), path: Buffer.from(c.rotatedPath), offset: 8 }], errors: [] };
    await p.refresh();
    const rotated = (await p.attach("c1", c.location, c.entries)).find((f) => f.name.toString().endsWith("030405"))!;
    assert.deepEqual({ readOffset: rotated.readOffset, lastLineStart: rotated.lastLineStart }, { readOffset: 8, lastLineStart: undefined });
  });

  test("a fault reading a log file (through Fs) credits less and is logged once", async () => {
    const c = await container("c");
    const ffs = new FaultyFs();
    ffs.injectError("readRange", Object.assign(new Error("EIO: i/o error"), { code: "EIO" }), { times: Infinity });
    const source = new ScriptedSource();
    const logger = new MemoryLogger();
    const p = new ShipperProgress({ sources: [source], plugin: sharedPlugin(), logger, fs: ffs });
    rotate(p, c, 2_000_000);
    source.next = { claims: [{ kind: "generation", shipper: "fluent-bit-filter", path: Buffer.from(c.rotatedPath), index: 0, firstOffset: 0, maxOffset: 4, records: 2, firstMs: 2_000_100, lastMs: 2_000_100, precisionMs: 1 }], errors: [] };
    for (let pass = 0; pass < 3; pass++) {
      await p.refresh();
      const rotated = (await p.attach("c1", c.location, c.entries)).find((f) => f.name.toString().endsWith("030405"))!;
      // The line start is credited, but where the last line starts is unknown: not fully read.
      assert.deepEqual({ readOffset: rotated.readOffset, lastLineStart: rotated.lastLineStart }, { readOffset: 4, lastLineStart: undefined });
    }
    assert.ok(ffs.callsOf("readRange").length >= 3, "the facts are read through Fs");
    assert.equal(logger.find({ level: "warn" }).length, 1, JSON.stringify(logger.entries));
    assert.equal(p.takeFailures(), 3, "logged once, counted every pass (errors_total{progress})");
    assert.equal(p.takeFailures(), 0, "taken means counted");
  });
});

describe("ShipperProgress.refresh logs each failure once", () => {
  test("three passes of the same error, a recovery, the error again later", async () => {
    const source = new ScriptedSource();
    const logger = new MemoryLogger();
    let now = 0;
    const p = new ShipperProgress({ sources: [source], plugin: sharedPlugin(), logger, now: () => now });
    const err = new ProgressSourceError("PROGRESS_FILE_CORRUPT", "/x", 'corrupt progress file "/x" line 2: bad');
    source.next = { claims: [], errors: [err] };
    for (let i = 0; i < 3; i++) await p.refresh();
    assert.equal(logger.find({ level: "warn" }).length, 1);
    assert.equal(p.takeFailures(), 3, "each failing pass counts, though logged once");
    assert.deepEqual(logger.find({ level: "warn" })[0]!.fields.code, "PROGRESS_FILE_CORRUPT");

    now += REPEAT_WARNING_MS; // still failing: said again, once
    await p.refresh();
    await p.refresh();
    assert.equal(logger.find({ level: "warn" }).length, 2);

    source.next = { claims: [], errors: [] };
    await p.refresh();
    assert.equal(logger.find({ level: "info", msg: "readable again" }).length, 1);

    source.next = { claims: [], errors: [err] };
    await p.refresh();
    assert.equal(logger.find({ level: "warn" }).length, 3);
  });

  test("a source that throws does not stop the others", async () => {
    const broken: ProgressSource = { name: "progress.broken", read: async () => Promise.reject(new Error("boom")) };
    const good = new ScriptedSource();
    const logger = new MemoryLogger();
    const p = new ShipperProgress({ sources: [broken, good], plugin: sharedPlugin(), logger });
    await p.refresh();
    assert.equal(good.reads, 1);
    assert.equal(logger.find({ level: "warn" })[0]!.fields.code, "PROGRESS_SOURCE_FAILED");
  });
});

describe("path observations kept across passes", () => {
  test("a long run keeps its beginning: forty syncs after the reader moved on, the rotated file is still credited", async () => {
    const c = await container("d");
    const source = new ScriptedSource();
    const p = new ShipperProgress({ sources: [source], plugin: sharedPlugin(), logger: new MemoryLogger() });
    p.rotated("c1", c.location, { kind: "rotate", rotatedPath: Buffer.from(`${c.livePath}.20240102-020000`), inode: 1, size: 1 } as unknown as Extract<Outcome, { kind: "rotate" }>, 1_000_000);
    rotate(p, c, 2_000_000);
    const seen = (offset: number, takenAtMs: number): ProgressReport => ({ claims: [{ kind: "path", shipper: "promtail", path: Buffer.from(c.livePath), offset, takenAtMs }], errors: [] });
    const passes: ProgressReport[] = [seen(9000, 1_003_000), seen(0, 1_013_000)]; // the previous file, then this one from 0
    for (let i = 1; i <= 40; i++) passes.push(seen(Math.min(8, i), 1_013_000 + i * 10_000)); // up to 8 (the size), all before the rename
    for (const r of passes) {
      source.next = r;
      await p.refresh();
      await p.refresh(); // the same snapshot read twice is one observation
    }
    const rotated = (await p.attach("c1", c.location, c.entries)).find((f) => f.name.toString().endsWith("030405"))!;
    assert.equal(rotated.readOffset, 8);
  });
});
