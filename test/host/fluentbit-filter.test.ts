// The Fluent Bit face of build/cri-logrotate.wasm, driven through the harness that follows filter_wasm's
// calling convention (test/support/fluentbit-harness.ts): every record comes back byte-identical, and
// the progress file in the preopened directory says how far each path was read.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inTailRecord, loadFluentBitFilter, type FluentBitFilter } from "../support/fluentbit-harness.js";
import { parseProgressFile, FilterFileSource } from "../../host/progress/filter-file.js";

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

async function progressOf(dir: string, name = PROGRESS) {
  return parseProgressFile(await readFile(join(dir, name), "utf8"), name);
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
      assert.equal(p.sec, 1010);
      assert.deepEqual(p.paths.get("/var/log/pods/a/c/0.log"), [{ index: 0, firstOffset: 0, maxOffset: 80, records: 4, firstSec: 1000, lastSec: 1003 }]);
      assert.deepEqual(p.paths.get("/var/log/pods/b/c/0.log"), [{ index: 0, firstOffset: 12, maxOffset: 12, records: 1, firstSec: 1010, lastSec: 1010 }]);
    });
  });

  test("the exact bytes of the file", async () => {
    await withFilter("flush_records=1\n", async (f, dir) => {
      f.filter(TAG, 7, 0, inTailRecord({ path: '/l/we"ird\n name\u00e9.log', offset: 5, log: "x" }));
      const text = await readFile(join(dir, PROGRESS), "utf8");
      assert.equal(text, 'cri-logrotate-progress 1 1 0 7\n"/l/we\\"ird\\n name\\u00e9.log" 0 5 5 1 7 7\n');
      assert.equal((await progressOf(dir)).paths.has('/l/we"ird\n name\u00e9.log'), true);
    });
  });

  test("an offset that does not move forward starts a new generation; the last 4 are kept", async () => {
    await withFilter("flush_records=1\n", async (f, dir) => {
      const feed = (sec: number, offset: number) => f.filter(TAG, sec, 0, inTailRecord({ path: "/l/0.log", offset, log: "x" }));
      feed(100, 0); feed(101, 10); feed(102, 20); // generation 0: the first file
      feed(110, 0); feed(111, 5);                 // generation 1: a new file at the same path
      feed(112, 5);                               // generation 2: an equal offset is not progress
      feed(120, 3);                               // generation 3
      feed(130, 0); feed(131, 40);                // generation 4: generation 0 falls out
      const gens = (await progressOf(dir)).paths.get("/l/0.log");
      assert.deepEqual(gens, [
        { index: 1, firstOffset: 0, maxOffset: 5, records: 2, firstSec: 110, lastSec: 111 },
        { index: 2, firstOffset: 5, maxOffset: 5, records: 1, firstSec: 112, lastSec: 112 },
        { index: 3, firstOffset: 3, maxOffset: 3, records: 1, firstSec: 120, lastSec: 120 },
        { index: 4, firstOffset: 0, maxOffset: 40, records: 2, firstSec: 130, lastSec: 131 },
      ]);
    });
  });

  test("key names and file name from cri-logrotate-filter.conf", async () => {
    const conf = "# keys as in the [INPUT] section\n path_key = file \noffset_key=pos\r\nprogress_file=progress.txt\nflush_records=1\n\n";
    await withFilter(conf, async (f, dir) => {
      f.filter(TAG, 5, 0, '{"log":"x","file":"/l/1.log","pos":33,"path":"/ignored","offset":99}');
      const p = await progressOf(dir, "progress.txt");
      assert.deepEqual([...p.paths.keys()], ["/l/1.log"]);
      assert.equal(p.paths.get("/l/1.log")![0].maxOffset, 33);
      assert.equal(f.stats().configErrors, 0);
      assert.deepEqual((await readdir(dir)).sort(), ["cri-logrotate-filter.conf", "progress.txt"]);
    });
  });

  test("bad config values keep their defaults and are counted, never trap", async () => {
    const conf = "path_key=\noffset_key=a\"b\nprogress_file=../escape\nflush_records=0\nflush_seconds=-1\nbogus=1\nno equals sign\n";
    await withFilter(conf, async (f, dir) => {
      const rec = inTailRecord({ path: "/l/0.log", offset: 1, log: "x" });
      assert.equal(f.filter(TAG, 5, 0, rec), rec);
      assert.equal(f.stats().configErrors, 7);
      const p = await progressOf(dir); // the default name, the default keys
      assert.equal(p.errors, 7);
      assert.equal(p.paths.get("/l/0.log")![0].maxOffset, 1);
    });
  });

  test("flushes by record count", async () => {
    await withFilter("flush_records=100\nflush_seconds=3600\n", async (f, dir) => {
      const feed = (i: number) => f.filter(TAG, 1000, 0, inTailRecord({ path: "/l/0.log", offset: i * 10, log: "x" }));
      feed(0);
      assert.equal(f.stats().flushes, 1, "the first record flushes");
      for (let i = 1; i < 100; i++) feed(i);
      assert.equal(f.stats().flushes, 1);
      assert.equal((await progressOf(dir)).paths.get("/l/0.log")![0].maxOffset, 0);
      feed(100); // the 100th record since the last flush
      assert.equal(f.stats().flushes, 2);
      assert.equal((await progressOf(dir)).paths.get("/l/0.log")![0].maxOffset, 1000);
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
      assert.equal(p.sec, 1005);
      assert.equal(p.paths.get("/l/0.log")![0].maxOffset, 50);
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
      assert.ok(s.lastStatus > 100, `lastStatus ${s.lastStatus} is 100 + errno`);
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
    assert.equal(p.paths.size, 4096);
    assert.deepEqual(p.paths.get("/l/1.log"), [{ index: 0, firstOffset: 10, maxOffset: 20, records: 2, firstSec: 1001, lastSec: 9001 }]);
    assert.deepEqual(p.paths.get("/l/0.log"), [{ index: 0, firstOffset: 5, maxOffset: 5, records: 1, firstSec: 9002, lastSec: 9002 }]);
    assert.equal(p.paths.has("/l/2.log"), false);
    assert.equal(p.paths.has("/l/4096.log"), true);
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
    assert.equal(p.paths.size, 50);
  });
});

describe("FilterFileSource (host side of the progress file)", () => {
  test("reads what the module wrote", async () => {
    await withFilter(undefined, async (f, dir) => {
      f.filter(TAG, 9, 0, inTailRecord({ path: "/l/0.log", offset: 42, log: "x" }));
      const r = await new FilterFileSource(join(dir, PROGRESS)).read();
      assert.deepEqual(r.errors, []);
      // Format v1 carries whole seconds: the first record time is known to within 1000 ms.
      assert.deepEqual(r.claims, [
        { kind: "generation", shipper: "fluent-bit-filter", path: Buffer.from("/l/0.log"), index: 0, firstOffset: 42, maxOffset: 42, records: 1, firstMs: 9000, lastMs: 9000, precisionMs: 1000 },
      ]);
    });
  });

  test("a missing file is an empty report", async () => {
    assert.deepEqual(await new FilterFileSource("/nonexistent/cri-logrotate-progress").read(), { claims: [], errors: [] });
  });

  const corrupt: Record<string, { text: string; line: number }> = {
    "no final newline": { text: "cri-logrotate-progress 1 1 0 7\n\"/a\" 0 1 1 1 7 7", line: 2 },
    "bad magic": { text: "cri-logrotate-progres 1 1 0 7\n", line: 1 },
    "other version": { text: "cri-logrotate-progress 2 1 0 7\n", line: 1 },
    "path not quoted": { text: "cri-logrotate-progress 1 1 0 7\n/a 0 1 1 1 7 7\n", line: 2 },
    "path does not close": { text: "cri-logrotate-progress 1 1 0 7\n\"/a\\\" 0 1 1 1 7 7\n", line: 2 },
    "five numbers": { text: "cri-logrotate-progress 1 1 0 7\n\"/a\" 0 1 1 1 7\n", line: 2 },
    "negative number": { text: "cri-logrotate-progress 1 1 0 7\n\"/a\" 0 1 -1 1 7 7\n", line: 2 },
    "max below first": { text: "cri-logrotate-progress 1 1 0 7\n\"/a\" 0 5 1 1 7 7\n", line: 2 },
    "generations out of order": { text: "cri-logrotate-progress 1 1 0 7\n\"/a\" 1 1 1 1 7 7\n\"/a\" 0 1 1 1 7 7\n", line: 3 },
  };
  for (const [name, tc] of Object.entries(corrupt)) {
    test(`corrupt: ${name} → error naming path and line, nothing claimed`, async () => {
      const dir = await mkdtemp(join(tmpdir(), "crl-pf-"));
      try {
        const file = join(dir, PROGRESS);
        await writeFile(file, tc.text);
        // The source reports, it does not log: the attacher decides what is logged (once).
        const r = await new FilterFileSource(file).read();
        assert.deepEqual(r.claims, []);
        assert.equal(r.errors.length, 1);
        assert.equal(r.errors[0]?.code, "PROGRESS_FILE_CORRUPT");
        assert.equal(r.errors[0]?.path, file);
        assert.match(r.errors[0]!.message, new RegExp(`line ${tc.line}:`));
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});
