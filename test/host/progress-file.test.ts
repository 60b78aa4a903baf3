// The host side of the progress file (host/plugin/progress-file.ts, docs/abi.md "Progress file"): both
// formats, the path bytes, every way a file can be corrupt, and FilterFileSource reading what the module
// really writes.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fluentBitStringBytes, parseProgressFile, type ProgressFile } from "../../host/plugin/progress-file.js";
import { FilterFileSource } from "../../host/progress/filter-file.js";
import { inTailRecord, loadFluentBitFilter } from "../support/fluentbit-harness.js";

const parse = (text: string | Buffer): ProgressFile => parseProgressFile(Buffer.isBuffer(text) ? text : Buffer.from(text, "utf8"), "progress");

describe("parseProgressFile", () => {
  test("format 2: nanoseconds to milliseconds, precision 1 ms", () => {
    const pf = parse('cri-logrotate-progress 2 10 1 1704164645123456789 3\n"/l/0.log" 4 0 900 10 1704164645000999999 1704164645123456789\n');
    assert.equal(pf.format, 2);
    assert.equal(pf.recordsSeen, 10);
    assert.equal(pf.errors, 1);
    assert.equal(pf.flushMs, 1704164645123);
    assert.equal(pf.duplicatesDropped, 3);
    assert.deepEqual(pf.generations, [
      { path: Buffer.from("/l/0.log"), index: 4, firstOffset: 0, maxOffset: 900, records: 10, firstMs: 1704164645000, lastMs: 1704164645123, precisionMs: 1 },
    ]);
  });

  test("format 1 (older modules): whole seconds, precision 1000 ms", () => {
    const pf = parse('cri-logrotate-progress 1 1 0 7\n"/l/we\\"ird\\n name\\u00e9.log" 0 5 5 1 7 8\n');
    assert.equal(pf.format, 1);
    assert.equal(pf.flushMs, 7000);
    assert.equal(pf.duplicatesDropped, 0);
    assert.deepEqual(pf.generations, [
      { path: Buffer.from('/l/we"ird\n name\u00e9.log', "utf8"), index: 0, firstOffset: 5, maxOffset: 5, records: 1, firstMs: 7000, lastMs: 8000, precisionMs: 1000 },
    ]);
  });

  test("paths are bytes: Fluent Bit's U+E080–U+E0FF stand for invalid UTF-8 bytes; raw UTF-8 is read too", () => {
    const pf = parse(Buffer.concat([Buffer.from('cri-logrotate-progress 2 1 0 0 0\n"/l/\\ue0ff\\ue0fe-\\u00e9-'), Buffer.from("中", "utf8"), Buffer.from('.log" 0 0 0 1 0 0\n')]));
    assert.deepEqual(pf.generations[0]!.path, Buffer.concat([Buffer.from("/l/"), Buffer.from([0xff, 0xfe]), Buffer.from("-é-中.log", "utf8")]));
    assert.deepEqual(fluentBitStringBytes("\ue07f\ue080"), Buffer.from([0xee, 0x81, 0xbf, 0x80]), "only U+E080–U+E0FF are bytes");
  });

  const corrupt: Record<string, { text: string; line: number }> = {
    "no final newline": { text: 'cri-logrotate-progress 2 1 0 7 0\n"/a" 0 1 1 1 7 7', line: 2 },
    "bad magic": { text: "cri-logrotate-progres 2 1 0 7 0\n", line: 1 },
    "format 2 header with format 1 fields": { text: "cri-logrotate-progress 2 1 0 7\n", line: 1 },
    "format 1 header with format 2 fields": { text: "cri-logrotate-progress 1 1 0 7 0\n", line: 1 },
    "path not quoted": { text: "cri-logrotate-progress 2 1 0 7 0\n/a 0 1 1 1 7 7\n", line: 2 },
    "path does not close": { text: 'cri-logrotate-progress 2 1 0 7 0\n"/a\\" 0 1 1 1 7 7\n', line: 2 },
    "five numbers": { text: 'cri-logrotate-progress 2 1 0 7 0\n"/a" 0 1 1 1 7\n', line: 2 },
    "negative number": { text: 'cri-logrotate-progress 2 1 0 7 0\n"/a" 0 1 -1 1 7 7\n', line: 2 },
    "leading zero": { text: 'cri-logrotate-progress 2 1 0 7 0\n"/a" 0 01 1 1 7 7\n', line: 2 },
    "time beyond 2^63 ns": { text: 'cri-logrotate-progress 2 1 0 7 0\n"/a" 0 1 1 1 99999999999999999999 7\n', line: 2 },
    "max below first": { text: 'cri-logrotate-progress 2 1 0 7 0\n"/a" 0 5 1 1 7 7\n', line: 2 },
    "generations out of order": { text: 'cri-logrotate-progress 2 1 0 7 0\n"/a" 1 1 1 1 7 7\n"/a" 0 1 1 1 7 7\n', line: 3 },
    "a bad escape in the path": { text: 'cri-logrotate-progress 2 1 0 7 0\n"/a\\x" 0 1 1 1 7 7\n', line: 2 },
  };
  for (const [name, tc] of Object.entries(corrupt)) {
    test(`corrupt: ${name} → PROGRESS_FILE_CORRUPT naming line ${tc.line}`, () => {
      assert.throws(() => parse(tc.text), (err: Error & { code?: string }) => err.code === "PROGRESS_FILE_CORRUPT" && new RegExp(`line ${tc.line}:`).test(err.message));
    });
  }

  test("a format this shim does not know → PROGRESS_FILE_UNSUPPORTED saying what to do", () => {
    assert.throws(() => parse("cri-logrotate-progress 3 1 0 7 0 0\n"), (err: Error & { code?: string }) => err.code === "PROGRESS_FILE_UNSUPPORTED" && /upgrade the shim/.test(err.message));
  });
});

describe("FilterFileSource (host/progress): the generations as claims", () => {
  test("reads what the module wrote: format 2, times in ms, precision 1 ms", async () => {
    const dir = await mkdtemp(join(tmpdir(), "crl-pf-"));
    try {
      const f = loadFluentBitFilter({ progressDir: dir });
      f.filter("kube.x", 9, 500_000_000, inTailRecord({ path: "/l/0.log", offset: 42, log: "x" }));
      const r = await new FilterFileSource(join(dir, "cri-logrotate-progress")).read();
      assert.deepEqual(r.errors, []);
      assert.deepEqual(r.claims, [
        { kind: "generation", shipper: "fluent-bit-filter", path: Buffer.from("/l/0.log"), index: 0, firstOffset: 42, maxOffset: 42, records: 1, firstMs: 9500, lastMs: 9500, precisionMs: 1 },
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("a format 1 file (an older module's): whole seconds, precision 1000 ms", async () => {
    const r = await new FilterFileSource("progress", async () => Buffer.from('cri-logrotate-progress 1 1 0 9\n"/l/0.log" 0 42 42 1 9 9\n')).read();
    assert.deepEqual(r.claims, [
      { kind: "generation", shipper: "fluent-bit-filter", path: Buffer.from("/l/0.log"), index: 0, firstOffset: 42, maxOffset: 42, records: 1, firstMs: 9000, lastMs: 9000, precisionMs: 1000 },
    ]);
  });

  test("a missing file is an empty report", async () => {
    assert.deepEqual(await new FilterFileSource("/nonexistent/cri-logrotate-progress").read(), { claims: [], errors: [] });
  });

  test("a corrupt file: one error naming the path and line, nothing claimed (the source reports, it does not log)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "crl-pf-"));
    try {
      const file = join(dir, "cri-logrotate-progress");
      await writeFile(file, 'cri-logrotate-progress 2 1 0 7 0\n"/a" 0 5 1 1 7 7\n');
      const r = await new FilterFileSource(file).read();
      assert.deepEqual(r.claims, []);
      assert.equal(r.errors.length, 1);
      assert.equal(r.errors[0]?.code, "PROGRESS_FILE_CORRUPT");
      assert.equal(r.errors[0]?.path, file);
      assert.match(r.errors[0]!.message, /line 2:/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
