// The Fluent Bit face of build/cri-logrotate.wasm, driven through the harness that follows filter_wasm's
// calling convention (test/support/fluentbit-harness.ts): every record comes back byte-identical (but the
// re-reads and heartbeats it drops on purpose), and the progress file in the preopened directory says how
// far each path was read. The host's parser of that file has its own tests (progress-file.test.ts).
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inTailRecord, loadFluentBitFilter, type FluentBitFilter } from "../support/fluentbit-harness.js";
import { parseProgressFile, type ProgressFile } from "../../host/plugin/progress-file.js";
import { FilterStatus, RestoreStatus } from "../../host/plugin/status.js";

const TAG = "tail.app";
const PROGRESS = "cri-logrotate-progress";

async function withFilter(conf: string | undefined, fn: (f: FluentBitFilter, dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "crl-fb-"));
  try {
    if (conf !== undefined) await writeFile(join(dir, "cri-logrotate-filter.conf"), conf);
    await fn(loadFluentBitFilter({ progressDir: dir }), dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function progressOf(dir: string, name = PROGRESS): Promise<ProgressFile> {
  return parseProgressFile(await readFile(join(dir, name)), name);
}

interface Gen {
  index: number;
  firstOffset: number;
  maxOffset: number;
  records: number;
  firstMs: number;
  lastMs: number;
}

/** The generations of one path, without the path and the precision (always 1 ms in format 2). */
function gensOf(p: ProgressFile, path: string): Gen[] {
  return p.generations
    .filter((g) => g.path.equals(Buffer.from(path, "utf8")))
    .map(({ index, firstOffset, maxOffset, records, firstMs, lastMs }) => ({ index, firstOffset, maxOffset, records, firstMs, lastMs }));
}

function pathsOf(p: ProgressFile): string[] {
  return [...new Set(p.generations.map((g) => g.path.toString("utf8")))];
}

const bigLine = "x".repeat(64 * 1024 - 7) + "\u00e9end"; // a 64 KiB log line, non-ASCII near its end

// Each case: the record body as Fluent Bit hands it over, and what the module should make of it.
// tracked: credited to a path; error: counted as a record error; neither: passed on silently.
const passThrough: Record<string, { record: string | Buffer; tracked: boolean; error: boolean }> = {
  "quotes and backslashes": { record: inTailRecord({ path: "/l/0.log", offset: 0, log: 'say "hi" \\ C:\\dir\\' }), tracked: true, error: false },
  "control characters": { record: inTailRecord({ path: "/l/0.log", offset: 9, log: "a\u0001b\nc\td\r\u001f" }), tracked: true, error: false },
  "non-ASCII escaped": { record: inTailRecord({ path: "/l/caf\u00e9.log", offset: 3, log: "caf\u00e9 \u4e2d\u6587" }), tracked: true, error: false },
  "emoji surrogate pair": { record: inTailRecord({ path: "/l/0.log", offset: 51, log: "ok \u{1F600} \u{1F4A9}" }), tracked: true, error: false },
  "raw UTF-8 (not escaped)": { record: '{"log":"caf\u00e9 \u{1F600}","path":"/l/0.log","offset":60}', tracked: true, error: false },
  "64 KiB log line": { record: inTailRecord({ path: "/l/0.log", offset: 100, log: bigLine }), tracked: true, error: false },
  "empty object": { record: "{}", tracked: false, error: false },
  "white space around": { record: ' \n {"path":"/l/0.log" , "offset" : 7 } \t', tracked: true, error: false },
  "nested values skipped": { record: '{"k":{"path":"/nested","offset":1},"a":[1,{"x":"]}\\""},[],{}],"n":null,"t":true,"f":false,"e":-1.5e3,"path":"/top","offset":7}', tracked: true, error: false },
  "missing keys": { record: '{"log":"no path here","stream":"stdout"}', tracked: false, error: false },
  "path without offset": { record: '{"log":"x","path":"/l/0.log"}', tracked: false, error: false },
  "path not a string": { record: '{"path":42,"offset":1}', tracked: false, error: false },
  "offset as string": { record: '{"path":"/l/0.log","offset":"12"}', tracked: false, error: true },
  "offset fraction": { record: '{"path":"/l/0.log","offset":1.5}', tracked: false, error: true },
  "offset exponent": { record: '{"path":"/l/0.log","offset":1e3}', tracked: false, error: true },
  "negative offset": { record: '{"path":"/l/0.log","offset":-5}', tracked: false, error: true },
  "huge offset": { record: '{"path":"/l/0.log","offset":99999999999999999999999}', tracked: false, error: true },
  "offset above 2^53": { record: '{"path":"/l/0.log","offset":9007199254740992}', tracked: false, error: true },
  "non-JSON garbage": { record: "hello, not json at all", tracked: false, error: true },
  "invalid UTF-8 bytes": { record: Buffer.from([0x7b, 0x22, 0x6c, 0x22, 0x3a, 0x22, 0xff, 0xfe, 0x22, 0x7d]), tracked: false, error: false },
  "garbage bytes": { record: Buffer.from([0xff, 0x00, 0x01, 0x7b]), tracked: false, error: true },
  "truncated JSON": { record: '{"log":"abc","path":"/l/0.log","off', tracked: false, error: true },
  "truncated in escape": { record: '{"log":"abc\\u00', tracked: false, error: true },
  "unbalanced brackets": { record: '{"a":[1,2}],"path":"/l/0.log","offset":1}', tracked: false, error: true },
  "too deep": { record: '{"a":' + "[".repeat(100) + "]".repeat(100) + ',"path":"/l/0.log","offset":1}', tracked: false, error: true },
  "trailing bytes": { record: '{"path":"/l/0.log","offset":1} {}', tracked: false, error: true },
  "raw newline in string": { record: '{"log":"a\nb","path":"/l/0.log","offset":1}', tracked: false, error: true },
};

describe("crl_fluentbit_filter returns every record unchanged", () => {
  for (const [name, tc] of Object.entries(passThrough)) {
    test(name, async () => {
      await withFilter(undefined, async (f) => {
        const input = Buffer.isBuffer(tc.record) ? tc.record : Buffer.from(tc.record, "utf8");
        const got = f.filterBytes(TAG, 1700000000, 5, input);
        // garbage with a NUL: Fluent Bit's strdup would stop there too, so compare up to the first NUL
        const nul = input.indexOf(0);
        assert.deepEqual(got, nul >= 0 ? input.subarray(0, nul) : input);
        const s = f.stats();
        assert.equal(s.recordsSeen, 1);
        assert.equal(s.recordsTracked, tc.tracked ? 1 : 0, "tracked");
        assert.equal(s.recordErrors, tc.error ? 1 : 0, `record errors (last status ${s.lastStatus})`);
      });
    });
  }

  test("an empty record comes back as {} (\"\" would make Fluent Bit drop the event)", async () => {
    await withFilter(undefined, async (f) => {
      assert.equal(f.filter(TAG, 1, 0, ""), "{}");
    });
  });

  test("many records through one instance, with the string API", async () => {
    await withFilter(undefined, async (f) => {
      for (const tc of Object.values(passThrough)) {
        if (Buffer.isBuffer(tc.record)) continue;
        assert.equal(f.filter(TAG, 1, 0, tc.record), tc.record);
      }
    });
  });
});

describe("progress file", () => {
  test("appears atomically at the first record and holds the highest offset per path", async () => {
    await withFilter("flush_records=1\n", async (f, dir) => {
      f.filter(TAG, 1000, 0, inTailRecord({ path: "/var/log/pods/a/c/0.log", offset: 0, log: "one" }));
      assert.deepEqual((await readdir(dir)).sort(), ["cri-logrotate-filter.conf", PROGRESS]);
      for (const [i, off] of [9, 51, 80].entries()) f.filter(TAG, 1001 + i, 0, inTailRecord({ path: "/var/log/pods/a/c/0.log", offset: off, log: "x" }));
      f.filter(TAG, 1010, 0, inTailRecord({ path: "/var/log/pods/b/c/0.log", offset: 12, log: "y" }));
      assert.deepEqual((await readdir(dir)).sort(), ["cri-logrotate-filter.conf", PROGRESS], "no .tmp left behind");
      const p = await progressOf(dir);
      assert.equal(p.recordsSeen, 5);
      assert.equal(p.errors, 0);
      assert.equal(p.flushMs, 1010_000);
      assert.deepEqual(gensOf(p, "/var/log/pods/a/c/0.log"), [{ index: 0, firstOffset: 0, maxOffset: 80, records: 4, firstMs: 1000_000, lastMs: 1003_000 }]);
      assert.deepEqual(gensOf(p, "/var/log/pods/b/c/0.log"), [{ index: 0, firstOffset: 12, maxOffset: 12, records: 1, firstMs: 1010_000, lastMs: 1010_000 }]);
    });
  });

  test("the exact bytes of the file", async () => {
    await withFilter("flush_records=1\n", async (f, dir) => {
      f.filter(TAG, 7, 123456789, inTailRecord({ path: '/l/we"ird\n name\u00e9.log', offset: 5, log: "x" }));
      const text = await readFile(join(dir, PROGRESS), "utf8");
      assert.equal(text, 'cri-logrotate-progress 2 1 0 7123456789 0\n"/l/we\\"ird\\n name\\u00e9.log" 0 5 5 1 7123456789 7123456789\n');
      assert.deepEqual(pathsOf(await progressOf(dir)), ['/l/we"ird\n name\u00e9.log']);
    });
  });

  test("an offset that does not move forward starts a new generation; the last 4 are written", async () => {
    await withFilter("flush_records=1\n", async (f, dir) => {
      const feed = (sec: number, offset: number) => f.filter(TAG, sec, 0, inTailRecord({ path: "/l/0.log", offset, log: "x" }));
      feed(100, 0); feed(101, 10); feed(102, 20); // generation 0: the first file
      feed(110, 0); feed(111, 5);                 // generation 1: a new file at the same path
      feed(112, 5);                               // generation 2: an equal offset is not progress
      feed(120, 3);                               // generation 3
      feed(130, 0); feed(131, 40);                // generation 4: generation 0 falls out
      const gens = gensOf(await progressOf(dir), "/l/0.log");
      assert.deepEqual(gens, [
        { index: 1, firstOffset: 0, maxOffset: 5, records: 2, firstMs: 110_000, lastMs: 111_000 },
        { index: 2, firstOffset: 5, maxOffset: 5, records: 1, firstMs: 112_000, lastMs: 112_000 },
        { index: 3, firstOffset: 3, maxOffset: 3, records: 1, firstMs: 120_000, lastMs: 120_000 },
        { index: 4, firstOffset: 0, maxOffset: 40, records: 2, firstMs: 130_000, lastMs: 131_000 },
      ]);
    });
  });

  test("key names and file name from cri-logrotate-filter.conf", async () => {
    const conf = "# keys as in the [INPUT] section\n path_key = file \noffset_key=pos\r\nprogress_file=progress.txt\nflush_records=1\n\n";
    await withFilter(conf, async (f, dir) => {
      f.filter(TAG, 5, 0, '{"log":"x","file":"/l/1.log","pos":33,"path":"/ignored","offset":99}');
      const p = await progressOf(dir, "progress.txt");
      assert.deepEqual(pathsOf(p), ["/l/1.log"]);
      assert.equal(gensOf(p, "/l/1.log")[0]!.maxOffset, 33);
      assert.equal(f.stats().configErrors, 0);
      assert.deepEqual((await readdir(dir)).sort(), ["cri-logrotate-filter.conf", "progress.txt"]);
    });
  });

  test("bad config values keep their defaults and are counted, never trap", async () => {
    const conf = "path_key=\noffset_key=a\"b\nprogress_file=../escape\nflush_records=0\nflush_seconds=-1\nbogus=1\nno equals sign\nheartbeat_tag=has space\ndrop_duplicates=maybe\n";
    await withFilter(conf, async (f, dir) => {
      const rec = inTailRecord({ path: "/l/0.log", offset: 1, log: "x" });
      assert.equal(f.filter(TAG, 5, 0, rec), rec);
      assert.equal(f.stats().configErrors, 9);
      const p = await progressOf(dir); // the default name, the default keys
      assert.equal(p.errors, 9);
      assert.equal(gensOf(p, "/l/0.log")[0]!.maxOffset, 1);
    });
  });

  test("flushes by record count", async () => {
    await withFilter("flush_records=100\nflush_seconds=3600\n", async (f, dir) => {
      const feed = (i: number) => f.filter(TAG, 1000, 0, inTailRecord({ path: "/l/0.log", offset: i * 10, log: "x" }));
      feed(0);
      assert.equal(f.stats().flushes, 1, "the first record flushes");
      for (let i = 1; i < 100; i++) feed(i);
      assert.equal(f.stats().flushes, 1);
      assert.equal(gensOf(await progressOf(dir), "/l/0.log")[0]!.maxOffset, 0);
      feed(100); // the 100th record since the last flush
      assert.equal(f.stats().flushes, 2);
      assert.equal(gensOf(await progressOf(dir), "/l/0.log")[0]!.maxOffset, 1000);
    });
  });

  test("flushes by record time", async () => {
    await withFilter("flush_records=1000000\nflush_seconds=5\n", async (f, dir) => {
      const feed = (sec: number, offset: number) => f.filter(TAG, sec, 0, inTailRecord({ path: "/l/0.log", offset, log: "x" }));
      feed(1000, 0);
      for (let s = 1001; s <= 1004; s++) feed(s, (s - 1000) * 10);
      feed(990, 45); // an older timestamp never flushes
      assert.equal(f.stats().flushes, 1);
      feed(1005, 50);
      assert.equal(f.stats().flushes, 2);
      const p = await progressOf(dir);
      assert.equal(p.flushMs, 1005_000);
      assert.equal(gensOf(p, "/l/0.log")[0]!.maxOffset, 50);
    });
  });

  test("a write failure is counted and records still pass", async () => {
    // progress_file names a directory: path_open(O_TRUNC) fails, the record comes back anyway
    await withFilter("progress_file=sub\n", async (f, dir) => {
      const { mkdir } = await import("node:fs/promises");
      await mkdir(join(dir, "sub.tmp"));
      const rec = inTailRecord({ path: "/l/0.log", offset: 1, log: "x" });
      assert.equal(f.filter(TAG, 5, 0, rec), rec);
      const s = f.stats();
      assert.equal(s.ioErrors, 1);
      assert.equal(s.flushes, 0);
      assert.ok(s.lastStatus > FilterStatus.WRITE_FAILED, `lastStatus ${s.lastStatus} is WRITE_FAILED + errno`);
    });
  });
});

test("a full table evicts the path seen least recently and keeps finding the others", async (t) => {
  await withFilter("flush_records=1000000\nflush_seconds=100000\n", async (f, dir) => {
    const feed = (i: number, sec: number, offset: number) => f.filter(TAG, sec, 0, inTailRecord({ path: `/l/${i}.log`, offset, log: "x" }));
    const start = process.hrtime.bigint();
    for (let i = 0; i < 4096; i++) feed(i, 1000 + i, 10);
    const perRecordUs = Number(process.hrtime.bigint() - start) / 4096 / 1000;
    feed(4096, 9000, 10); // the 4097th path: /l/0.log (oldest record time) goes
    assert.equal(f.stats().evictions, 1);
    feed(1, 9001, 20); // still found after the index rebuild: same generation
    feed(0, 9002, 5); // back as a new path
    assert.equal(f.stats().evictions, 2); // /l/2.log made room
    feed(3, 200000, 30); // flush by time
    const p = await progressOf(dir);
    t.diagnostic(`${perRecordUs.toFixed(1)} µs per record while filling 4096 paths`);
    const paths = new Set(pathsOf(p));
    assert.equal(paths.size, 4096);
    assert.deepEqual(gensOf(p, "/l/1.log"), [{ index: 0, firstOffset: 10, maxOffset: 20, records: 2, firstMs: 1001_000, lastMs: 9001_000 }]);
    assert.deepEqual(gensOf(p, "/l/0.log"), [{ index: 0, firstOffset: 5, maxOffset: 5, records: 1, firstMs: 9002_000, lastMs: 9002_000 }]);
    assert.equal(paths.has("/l/2.log"), false);
    assert.equal(paths.has("/l/4096.log"), true);
  });
});

test("20,000 records keep memory flat", async (t) => {
  await withFilter("flush_records=500\n", async (f, dir) => {
    const record = (i: number) =>
      inTailRecord({
        path: `/var/log/pods/ns_pod-${i % 50}_uid/c/0.log`,
        offset: i * 120,
        log: `line ${i} ` + "\u00e9\"\\".repeat(i % 300) + (i % 997 === 0 ? "y".repeat(32 * 1024) : ""),
      });
    for (let i = 0; i < 2000; i++) f.filter(TAG, 1000 + (i >> 6), 0, record(i)); // warm-up
    const warm = f.memoryPages();
    for (let i = 2000; i < 22000; i++) {
      const r = record(i);
      if (f.filter(TAG, 1000 + (i >> 6), 0, r) !== r) assert.fail(`record ${i} changed`);
    }
    const after = f.memoryPages();
    const s = f.stats();
    t.diagnostic(`memory: ${warm} pages (${warm * 64} KiB) after warm-up, ${after} pages after 20,000 more records; ${s.flushes} flushes, ${s.paths} paths`);
    assert.equal(after, warm, "memory pages grew after warm-up");
    assert.equal(s.recordsTracked, 22000);
    assert.equal(s.recordErrors + s.ioErrors, 0);
    const p = await progressOf(dir);
    assert.equal(pathsOf(p).length, 50);
  });
});

/** One record of a file as in_tail reads it: the line at `offset`, written at `ns` (record time), saying `log`. */
interface Line {
  path: string;
  offset: number;
  ns: bigint;
  log?: string;
}

const LIVE = "/var/log/pods/ns_pod_uid/app/0.log";
const ROTATED = `${LIVE}.20240102-030405`;
const T = 1_704_164_645_000_000_000n; // 2024-01-02T03:04:05Z in ns

/** A file's lines: offsets 0, 100, 200, … with times T + startNs + i µs (distinct to the nanosecond). */
function lines(path: string, from: number, to: number, startNs = 0n, log = "line"): Line[] {
  const out: Line[] = [];
  for (let i = from; i < to; i++) out.push({ path, offset: i * 100, ns: T + startNs + BigInt(i) * 1000n, log: `${log} ${i}` });
  return out;
}

/** Feeds the lines; returns "p" (passed unchanged) or "d" (dropped) per line. */
function feed(f: FluentBitFilter, ls: Line[]): string {
  let out = "";
  for (const l of ls) {
    const sec = Number(l.ns / 1_000_000_000n);
    const nsec = Number(l.ns % 1_000_000_000n);
    const time = new Date(Number(l.ns / 1_000_000n)).toISOString().replace(/\.(\d+)Z$/, `.${String(nsec).padStart(9, "0")}Z`);
    const rec = inTailRecord({ path: l.path, offset: l.offset, log: l.log ?? "x", time });
    const got = f.filterOrDrop(TAG, sec, nsec, rec);
    if (got !== null) assert.equal(got.toString("utf8"), rec, "a passed record comes back unchanged");
    out += got === null ? "d" : "p";
  }
  return out;
}

const p = (n: number) => "p".repeat(n);
const d = (n: number) => "d".repeat(n);

// Each case: what in_tail hands the filter, in order, and what must come out ("p" passed, "d" dropped).
// Only a line this instance has passed before may be dropped.
const rereads: Record<string, { conf?: string; steps: [Line[], string][] }> = {
  "a file read again from its head under the same name: the lines already passed are dropped": {
    steps: [[lines(LIVE, 0, 5), p(5)], [lines(LIVE, 0, 8), d(5) + p(3)]],
  },
  "a rotated file re-read under its rotated name: its head was passed under the live name, its rest under the rotated one": {
    steps: [
      [lines(LIVE, 0, 4), p(4)], // read before in_tail noticed the rename
      [lines(LIVE, 0, 2, 5_000_000_000n, "new file"), p(2)], // the new live file
      [lines(ROTATED, 4, 7), p(3)], // the rest, once in_tail knows the new name
      [lines(ROTATED, 0, 9), d(7) + p(2)], // purged after Rotate_Wait and found again by the *.log* glob
    ],
  },
  "read again twice: the second re-read is recognised too": {
    steps: [[lines(LIVE, 0, 3), p(3)], [lines(ROTATED, 0, 5), d(3) + p(2)], [lines(ROTATED, 0, 6), d(5) + p(1)]],
  },
  "a collision-suffixed rotated name (…-030405_000001) is a rotated name": {
    steps: [[lines(LIVE, 0, 3), p(3)], [lines(`${ROTATED}_000001`, 0, 4), d(3) + p(1)]],
  },
  "a name that only looks rotated (…-0304051) is not: its live path is not consulted": {
    steps: [[lines(LIVE, 0, 3), p(3)], [lines(`${ROTATED}1`, 0, 4), p(4)]],
  },
  "a new file at the live path (same offsets, later times) is never dropped": {
    steps: [[lines(LIVE, 0, 5), p(5)], [lines(LIVE, 0, 5, 60_000_000_000n), p(5)]],
  },
  "same offset and time but other content is not a re-read": {
    steps: [[lines(LIVE, 0, 3), p(3)], [lines(LIVE, 0, 3, 0n, "other"), p(3)]],
  },
  "one nanosecond apart is not a re-read": {
    steps: [[lines(LIVE, 0, 3), p(3)], [lines(LIVE, 0, 3, 1n), p(3)]],
  },
  "at a live path, later generations are other files: a re-read of the first drops only its own lines": {
    steps: [
      [lines(LIVE, 0, 3), p(3)], // file A
      [lines(LIVE, 0, 9, 60_000_000_000n, "B"), p(9)], // file B at the same path, further
      [lines(LIVE, 0, 6), d(3) + p(3)], // file A again: lines 3..5 of A were never passed
    ],
  },
  "a rotated name whose live path the filter never saw: re-read only of what was passed under it": {
    steps: [[lines(ROTATED, 2, 5), p(3)], [lines(ROTATED, 0, 6), p(6)]], // its first line 0 was never passed: not recognised
  },
  "another container's rotated file with the same first line is not this one": {
    steps: [[lines(LIVE, 0, 3), p(3)], [lines("/var/log/pods/other/app/0.log.20240102-030405", 0, 3), p(3)]],
  },
  "drop_duplicates=false passes re-reads": {
    conf: "drop_duplicates=false\n",
    steps: [[lines(LIVE, 0, 3), p(3)], [lines(LIVE, 0, 3), p(3)]],
  },
  "recognised 7 rotations later (8 generations kept per path)": {
    steps: [
      [lines(LIVE, 0, 3), p(3)],
      ...Array.from({ length: 7 }, (_, k): [Line[], string] => [lines(LIVE, 0, 2, BigInt(k + 1) * 60_000_000_000n, `f${k}`), p(2)]),
      [lines(ROTATED, 0, 4), d(3) + p(1)],
    ],
  },
  "not recognised 8 rotations later (its generation is gone): passed again, never lost": {
    steps: [
      [lines(LIVE, 0, 3), p(3)],
      ...Array.from({ length: 8 }, (_, k): [Line[], string] => [lines(LIVE, 0, 2, BigInt(k + 1) * 60_000_000_000n, `f${k}`), p(2)]),
      [lines(ROTATED, 0, 4), p(4)],
    ],
  },
};

describe("re-reads: a line passed once is not passed again", () => {
  for (const [name, tc] of Object.entries(rereads)) {
    test(name, async () => {
      await withFilter(tc.conf ?? "flush_records=1000000\n", async (f) => {
        const got = tc.steps.map(([ls]) => feed(f, ls));
        assert.deepEqual(got, tc.steps.map(([, want]) => want));
        const dropped = tc.steps.reduce((n, [, want]) => n + want.split("d").length - 1, 0);
        assert.equal(f.stats().duplicatesDropped, dropped);
      });
    });
  }

  test("the progress file counts the drops and still advances the re-read generation", async () => {
    await withFilter("flush_records=1\n", async (f, dir) => {
      feed(f, lines(LIVE, 0, 3));
      feed(f, lines(ROTATED, 0, 5));
      const pf = await progressOf(dir);
      assert.equal(pf.duplicatesDropped, 3);
      assert.deepEqual(gensOf(pf, ROTATED).map((g) => [g.firstOffset, g.maxOffset, g.records]), [[0, 400, 5]]);
    });
  });
});

describe("heartbeat", () => {
  const HEARTBEAT = "cri-logrotate.heartbeat";
  test("heartbeat records are dropped, and write what changed once flush_seconds passed", async () => {
    await withFilter("flush_records=1000000\nflush_seconds=2\n", async (f, dir) => {
      const log = (sec: number, offset: number) => f.filter(TAG, sec, 0, inTailRecord({ path: LIVE, offset, log: "x" }));
      assert.equal(f.filterOrDrop(HEARTBEAT, 100, 0, '{"cri-logrotate":"heartbeat"}'), null, "dropped");
      log(100, 0); // the first tracked record flushes
      log(100, 10); // pending, nothing due
      assert.equal(f.stats().flushes, 1);
      f.filterOrDrop(HEARTBEAT, 101, 0, "{}"); // 1 s later: not yet
      assert.equal(f.stats().flushes, 1);
      f.filterOrDrop(HEARTBEAT, 102, 0, "{}"); // 2 s later: written
      assert.equal(f.stats().flushes, 2);
      assert.equal(gensOf(await progressOf(dir), LIVE)[0]!.maxOffset, 10);
      f.filterOrDrop(HEARTBEAT, 110, 0, "{}"); // nothing changed: no write
      const s = f.stats();
      assert.equal(s.flushes, 2);
      assert.equal(s.heartbeats, 4);
      assert.equal(s.recordsTracked, 2);
    });
  });

  test("heartbeat_tag sets the tag; other tags are records", async () => {
    await withFilter("heartbeat_tag=hb\n", async (f) => {
      assert.equal(f.filterOrDrop("hb", 1, 0, "{}"), null);
      assert.equal(f.filterOrDrop(HEARTBEAT, 1, 0, "{}")?.toString(), "{}");
      assert.equal(f.stats().heartbeats, 1);
    });
  });
});

describe("restart", () => {
  test("the generations of the last progress file are read back and written again; new records open new generations", async () => {
    const dir = await mkdtemp(join(tmpdir(), "crl-fb-"));
    try {
      await writeFile(join(dir, "cri-logrotate-filter.conf"), "flush_records=1\n");
      const first = loadFluentBitFilter({ progressDir: dir });
      feed(first, lines(ROTATED, 0, 3));
      feed(first, lines(LIVE, 0, 2));
      // Fluent Bit restarts: a new instance on the same directory.
      const second = loadFluentBitFilter({ progressDir: dir });
      assert.equal(feed(second, lines(LIVE, 2, 4)), "pp"); // in_tail resumes from its DB
      const s = second.stats();
      assert.equal(s.restoreStatus, RestoreStatus.RESTORED);
      assert.equal(s.restoredGenerations, 2);
      const pf = await progressOf(dir);
      assert.deepEqual(gensOf(pf, ROTATED).map((g) => [g.index, g.firstOffset, g.maxOffset]), [[0, 0, 200]], "known before the restart, still reported");
      assert.deepEqual(gensOf(pf, LIVE).map((g) => [g.index, g.firstOffset, g.maxOffset]), [[0, 0, 100], [1, 200, 300]], "a restored generation is never continued");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("what a previous Fluent Bit passed is passed again (its in-flight records may never have been delivered)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "crl-fb-"));
    try {
      await writeFile(join(dir, "cri-logrotate-filter.conf"), "flush_records=1\n");
      feed(loadFluentBitFilter({ progressDir: dir }), lines(LIVE, 0, 3));
      assert.equal(feed(loadFluentBitFilter({ progressDir: dir }), lines(LIVE, 0, 3)), "ppp");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  const unreadable: Record<string, { text: string; status: number }> = {
    "a format 1 file (an older module's)": { text: 'cri-logrotate-progress 1 1 0 7\n"/l/0.log" 0 5 5 1 7 7\n', status: RestoreStatus.OTHER_FORMAT },
    "a corrupt file": { text: 'cri-logrotate-progress 2 1 0 7 0\n"/l/0.log" 0 5\n', status: RestoreStatus.CORRUPT },
    "generations out of order": { text: 'cri-logrotate-progress 2 1 0 7 0\n"/l/0.log" 3 5 5 1 7 7\n"/l/0.log" 1 5 5 1 7 7\n', status: RestoreStatus.CORRUPT },
    "not a progress file": { text: "hello\n", status: RestoreStatus.CORRUPT },
  };
  for (const [name, tc] of Object.entries(unreadable)) {
    test(`${name}: starts empty, says why, and is replaced at the first flush`, async () => {
      await withFilter(undefined, async (f, dir) => {
        await writeFile(join(dir, PROGRESS), tc.text);
        feed(f, lines(LIVE, 0, 1));
        const s = f.stats();
        assert.equal(s.restoreStatus, tc.status);
        assert.equal(s.restoredGenerations, 0);
        assert.deepEqual(pathsOf(await progressOf(dir)), [LIVE]);
      });
    });
  }
});
