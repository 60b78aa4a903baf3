// The OpenTelemetry Collector file_storage source on bbolt files holding checkpoints in the collector's own
// encoding: written by the test writer (test/support/bbolt-writer.ts) with values encoded as Go's
// encoding/json encodes the collector's reader.Metadata — checked byte for byte against a value the real
// encoder wrote (test/fixtures/bbolt/collector-first-4096) — and that real file itself.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { once } from "node:events";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { openBolt } from "../../host/progress/bbolt.js";
import { type FirstBytesClaim, OtelFileStorageSource, otelFileStoragePath } from "../../host/progress/otel-file-storage.js";
import { BoltBuilder, branchChildOffset, bucket, bucketValue, commitInPlace, writeBolt, type BucketSpec } from "../support/bbolt-writer.js";

const here = dirname(fileURLToPath(import.meta.url));
const fixtures = join(here, "..", "..", "..", "test", "fixtures", "bbolt");

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "crl-otel-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
async function put(bytes: Buffer): Promise<string> {
  const path = join(dir, `receiver_filelog_${n++}`);
  await writeFile(path, bytes);
  return path;
}

// ---- The collector's checkpoint encoding -------------------------------------------------------------

interface FileState {
  /** The file's first bytes (the fingerprint), or null for a reader without one. */
  first: Buffer | string | null;
  offset: number;
  records?: number;
  attributes?: Record<string, unknown>;
  fileType?: string;
}

/** encoding/json's output: HTML-sensitive characters and U+2028/2029 escaped as \u00XX. */
function goJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/** One reader.Metadata, fields in declaration order (Fingerprint, Offset, RecordNum, FileAttributes, ...). */
function metadata(f: FileState): Record<string, unknown> {
  const first = f.first === null ? null : typeof f.first === "string" ? Buffer.from(f.first) : f.first;
  return {
    Fingerprint: first === null ? null : { first_bytes: first.toString("base64") },
    Offset: f.offset,
    RecordNum: f.records ?? 1,
    FileAttributes: f.attributes ?? { "log.file.name": "0.log" },
    HeaderFinalized: false,
    FlushState: { LastDataChange: "2024-01-02T03:04:06.000000001Z", LastDataLength: 0 },
    TokenLenState: { MinimumLength: 0 },
    FileType: f.fileType ?? "",
  };
}

/** What checkpoint.SaveKey stores: a json.Encoder stream, the count then each file, each value + "\n". */
function knownFiles(files: FileState[]): Buffer {
  return Buffer.from([files.length, ...files.map(metadata)].map((v) => goJson(v) + "\n").join(""));
}

/** The protobuf encoding (checkpoint.proto MetadataList) of the same files. */
function knownFilesProtobuf(files: FileState[]): Buffer {
  const varint = (v: number) => {
    const out: number[] = [];
    do {
      out.push((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
      v = Math.floor(v / 128);
    } while (v > 0);
    return Buffer.from(out);
  };
  const field = (tag: number, body: Buffer) => Buffer.concat([Buffer.from([tag]), varint(body.length), body]);
  return Buffer.concat(
    files.map((f) => field(0x0a, Buffer.concat([field(0x0a, field(0x0a, Buffer.from(f.first ?? ""))), Buffer.from([0x10]), varint(f.offset)]))),
  );
}

const line = (s: string) => `${s}\n`;
const LIVE = line("2024-01-02T03:04:05.000000000Z stdout F hello");
const ROTATED = line("2024-01-02T03:00:00.000000000Z stderr F bye <&>");
const OTHER = line("2024-01-02T03:00:01.123456789Z stdout P partial line of another container");
/** A fingerprint of the default size: the first 1000 bytes of a longer file. */
const LONG = Buffer.from(Array.from({ length: 40 }, (_, i) => line(`2024-01-02T03:00:${String(i).padStart(2, "0")}.000000000Z stdout F line ${i} ${"x".repeat(20)}`)).join("")).subarray(0, 1000);

const claim = (first: Buffer | string, offset: number): FirstBytesClaim => ({ kind: "first-bytes", shipper: "otel", firstBytes: Buffer.from(first), offset });

type Entries = BucketSpec["entries"];
const storage = (entries: Entries, opts: { pageSize?: number } = {}) => writeBolt({ pageSize: opts.pageSize, versions: [{ txid: 7, root: bucket([["default", bucket(entries)]]) }] }).bytes;

describe("encoding", () => {
  test("the test encoder writes what the collector's Go encoder wrote (byte for byte)", async () => {
    const bytes = gunzipSync(readFileSync(join(fixtures, "collector-first-4096.db.gz")));
    const db = await openBolt(await put(bytes));
    const real = await db.get([Buffer.from("default")], Buffer.from("file_input.knownFiles"));
    await db.close();
    const mine = knownFiles([
      { first: LIVE, offset: LIVE.length, attributes: { "log.file.name": "0.log" } },
      {
        first: ROTATED,
        offset: ROTATED.length,
        attributes: { "log.file.name": "0.log.20240102-030405 <&>", "log.file.path": "/var/log/pods/ns_pod_uid/c/0.log.20240102-030405 <&>" },
      },
    ]);
    assert.equal(mine.toString(), real?.toString());
  });
});

interface SourceCase {
  file: () => Buffer | Promise<Buffer>;
  archive?: boolean;
  claims: FirstBytesClaim[];
  /** [code, message pattern] per error, in order. */
  errors?: Array<[string, RegExp]>;
}

const cases: Record<string, SourceCase> = {
  "the real file written by bbolt with the collector's encoder": {
    file: () => gunzipSync(readFileSync(join(fixtures, "collector-first-4096.db.gz"))),
    claims: [claim(LIVE, LIVE.length), claim(ROTATED, ROTATED.length)],
  },
  "several files: the live log, a rotated one, another container's": {
    file: () =>
      storage([
        [
          "file_input.knownFiles",
          knownFiles([
            { first: LIVE, offset: 4096 },
            { first: ROTATED, offset: 10_485_760, attributes: { "log.file.name": "0.log.20240102-030405" } },
            { first: OTHER, offset: OTHER.length - 1 },
          ]),
        ],
      ]),
    claims: [claim(LIVE, 4096), claim(ROTATED, 10_485_760), claim(OTHER, OTHER.length - 1)],
  },
  "the older key name $.file_input.knownFiles": {
    file: () => storage([["$.file_input.knownFiles", knownFiles([{ first: LIVE, offset: 12 }])]]),
    claims: [claim(LIVE, 12)],
  },
  "both key names (an upgraded collector): both read, the rules take the most proven": {
    file: () =>
      storage([
        ["$.file_input.knownFiles", knownFiles([{ first: LIVE, offset: 12 }])],
        ["file_input.knownFiles", knownFiles([{ first: LIVE, offset: 40 }])],
      ]),
    claims: [claim(LIVE, 40), claim(LIVE, 12)],
  },
  "an empty list": {
    file: () => storage([["file_input.knownFiles", knownFiles([])]]),
    claims: [],
  },
  "fingerprints of the default size (1000 bytes), 60 files: a value over overflow pages": {
    file: () =>
      storage([
        [
          "file_input.knownFiles",
          knownFiles(Array.from({ length: 60 }, (_, i) => ({ first: Buffer.concat([Buffer.from(`${i} `), LONG]).subarray(0, 1000), offset: 100_000 + i }))),
        ],
      ]),
    claims: Array.from({ length: 60 }, (_, i) => claim(Buffer.concat([Buffer.from(`${i} `), LONG]).subarray(0, 1000), 100_000 + i)),
  },
  "page size 16384": {
    file: () => storage([["file_input.knownFiles", knownFiles([{ first: LONG, offset: 5000 }])]], { pageSize: 16384 }),
    claims: [claim(LONG, 5000)],
  },
  "a JSON stream cut inside an entry: the complete entries before it": {
    file: () => {
      const full = knownFiles([
        { first: LIVE, offset: 1 },
        { first: ROTATED, offset: 2 },
        { first: OTHER, offset: 3 },
      ]);
      return storage([["file_input.knownFiles", full.subarray(0, full.length - 40)]]);
    },
    claims: [claim(LIVE, 1), claim(ROTATED, 2)],
    errors: [["PROGRESS_FILE_CORRUPT", /key "file_input.knownFiles": entry 3 of 3 is not JSON; 1 entries not read/]],
  },
  "a JSON stream cut between entries": {
    file: () => {
      const full = knownFiles([
        { first: LIVE, offset: 1 },
        { first: ROTATED, offset: 2 },
      ]);
      const cut = full.subarray(0, full.indexOf("\n", full.indexOf("\n") + 1) + 1); // count + first entry
      return storage([["file_input.knownFiles", cut]]);
    },
    claims: [claim(LIVE, 1)],
    errors: [["PROGRESS_FILE_CORRUPT", /holds 1 of the 2 entries it announces \(cut short\)/]],
  },
  "entries after the announced count: ignored, as the collector does": {
    file: () => storage([["file_input.knownFiles", Buffer.concat([Buffer.from("1\n"), knownFiles([{ first: LIVE, offset: 1 }, { first: ROTATED, offset: 2 }]).subarray(2)])]]),
    claims: [claim(LIVE, 1)],
    errors: [["PROGRESS_FILE_CORRUPT", /holds 1 entries after the 1 it announces/]],
  },
  "a protobuf checkpoint (feature gate filelog.protobufCheckpointEncoding): reported, never misread": {
    file: () => storage([["file_input.knownFiles", knownFilesProtobuf([{ first: LIVE, offset: 46 }, { first: ROTATED, offset: 48 }])]]),
    claims: [],
    errors: [["PROGRESS_FILE_UNSUPPORTED", /key "file_input.knownFiles" is protobuf-encoded \(feature gate filelog.protobufCheckpointEncoding\)/]],
  },
  "an empty value: the protobuf encoding of an empty list": {
    file: () => storage([["file_input.knownFiles", Buffer.alloc(0)]]),
    claims: [],
    errors: [["PROGRESS_FILE_UNSUPPORTED", /is protobuf-encoded/]],
  },
  "a value that is neither encoding": {
    file: () => storage([["file_input.knownFiles", "{\"not\":\"a checkpoint\"}"]]),
    claims: [],
    errors: [["PROGRESS_FILE_CORRUPT", /not a checkpoint: neither the JSON stream nor protobuf/]],
  },
  "entries that prove nothing on purpose: .gz offsets, no fingerprint, an empty one": {
    file: () =>
      storage([
        [
          "file_input.knownFiles",
          knownFiles([
            { first: LIVE, offset: 300, fileType: ".gz" }, // Offset counts compressed bytes
            { first: null, offset: 10 },
            { first: "", offset: 10 }, // would match every file
            { first: ROTATED, offset: 7 },
          ]),
        ],
      ]),
    claims: [claim(ROTATED, 7)],
  },
  "entries that are wrong: each left out with an error, the others kept": {
    file: () => {
      const good = goJson(metadata({ first: LIVE, offset: 5 }));
      const lines = [
        "5",
        good.replace(`"first_bytes":"${Buffer.from(LIVE).toString("base64")}"`, '"first_bytes":"not base64!"'),
        good.replace('"Offset":5', '"Offset":-1'),
        good.replace('"Offset":5', '"Offset":1152921504606846976'), // 2^60: past a safe integer
        good.replace('"Offset":5', '"Offset":"5"'),
        good,
      ];
      return storage([["file_input.knownFiles", lines.join("\n") + "\n"]]);
    },
    claims: [claim(LIVE, 5)],
    errors: [
      ["PROGRESS_FILE_CORRUPT", /entry 1 of 5: Fingerprint.first_bytes is not base64/],
      ["PROGRESS_FILE_CORRUPT", /entry 2 of 5: Offset -1 is not a byte offset/],
      ["PROGRESS_FILE_CORRUPT", /entry 3 of 5: Offset 1152921504606847000 is not a byte offset/],
      ["PROGRESS_FILE_CORRUPT", /entry 4 of 5: Offset "5" is not a byte offset/],
    ],
  },
  "archive slots (polls_to_archive): read, in both namings; the index and other keys are not checkpoints": {
    file: () =>
      storage([
        ["file_input.knownFiles", knownFiles([{ first: LIVE, offset: 100 }])],
        ["file_input.knownFiles0", knownFiles([{ first: ROTATED, offset: 2000 }])],
        ["file_input.knownFiles1", knownFiles([{ first: OTHER, offset: 30 }])],
        ["file_input.knownFilesArchive2", knownFiles([{ first: LONG, offset: 999 }])], // earlier builds' name
        ["file_input.knownFilesArchiveIndex", "1\n"],
        ["file_input.knonwFilesPollsToArchive", "3\n"], // sic, the collector's key
        ["file_input.knownFilesX", knownFiles([{ first: LIVE, offset: 1 }])],
      ]),
    claims: [claim(LIVE, 100), claim(ROTATED, 2000), claim(OTHER, 30), claim(LONG, 999)],
  },
  "archive slots not read when turned off": {
    file: () =>
      storage([
        ["file_input.knownFiles", knownFiles([{ first: LIVE, offset: 100 }])],
        ["file_input.knownFiles0", knownFiles([{ first: ROTATED, offset: 2000 }])],
      ]),
    archive: false,
    claims: [claim(LIVE, 100)],
  },
  "no checkpoint yet (the bucket exists, the key does not)": {
    file: () => storage([]),
    claims: [],
  },
  "no default bucket yet": {
    file: () => writeBolt({ versions: [{ txid: 3, root: bucket([]) }] }).bytes,
    claims: [],
  },
  "not a bbolt file": {
    file: () => Buffer.from("2\n{}\n{}\n"),
    claims: [],
    errors: [["PROGRESS_FILE_CORRUPT", /file_storage ".*" could not be read, nothing claimed from it: bbolt file ".*": no valid meta page/]],
  },
  "an empty file (the collector is creating it)": {
    file: () => Buffer.alloc(0),
    claims: [],
    errors: [["PROGRESS_FILE_CORRUPT", /is empty \(not initialized yet\)/]],
  },
  "a corrupt tree (a cycle): an error, no claims, no hang": {
    file: () => {
      const f = writeBolt({
        versions: [
          {
            txid: 3,
            root: bucket([
              [
                "default",
                bucket([
                  ["file_input.knownFiles", knownFiles([{ first: LIVE, offset: 1 }])],
                  ...Array.from({ length: 400 }, (_, i) => [`pad-${i}`, "x".repeat(40)] as [string, string]),
                ]),
              ],
            ]),
          },
        ],
      });
      const branch = f.layout.filter((p) => p.flags === 0x01).at(-1)!;
      f.bytes.writeBigUInt64LE(BigInt(branch.id), branchChildOffset(branch.id, 0, f.pageSize));
      return f.bytes;
    },
    claims: [],
    errors: [["PROGRESS_FILE_CORRUPT", /a cycle/]],
  },
};

describe("OtelFileStorageSource", () => {
  for (const [name, tc] of Object.entries(cases)) {
    test(name, async () => {
      const path = await put(await tc.file());
      const report = await new OtelFileStorageSource({ path, archive: tc.archive }).read();
      assert.deepEqual(report.claims, tc.claims);
      assert.deepEqual(
        report.errors.map((e) => e.code),
        (tc.errors ?? []).map(([code]) => code),
        report.errors.map((e) => e.message).join("\n"),
      );
      report.errors.forEach((e, i) => {
        assert.match(e.message, tc.errors![i][1]);
        assert.equal(e.path, path);
      });
    });
  }

  test("a missing file: an empty report (the collector has not started)", async () => {
    assert.deepEqual(await new OtelFileStorageSource({ path: join(dir, "receiver_filelog_") }).read(), { claims: [], errors: [] });
  });

  test("while the collector holds its flock on the file: read all the same, nothing blocks", async () => {
    const path = await put(storage([["file_input.knownFiles", knownFiles([{ first: LIVE, offset: 46 }])]]));
    const holder = spawn("flock", ["--exclusive", path, "sh", "-c", "echo locked; sleep 30"], { stdio: ["ignore", "pipe", "inherit"] });
    try {
      const [first] = (await once(holder.stdout!, "data")) as [Buffer];
      assert.equal(first.toString().trim(), "locked");
      const report = await new OtelFileStorageSource({ path }).read();
      assert.deepEqual(report, { claims: [claim(LIVE, 46)], errors: [] });
    } finally {
      holder.kill();
      await once(holder, "exit");
    }
  });

  test("commits while reading (in place, as bbolt writes them): always one true snapshot, never an error", async () => {
    // Each commit writes the bucket's new root page, then its meta into page txid % 2.
    const b = new BoltBuilder(4096);
    const commitLeaf = (offset: number) =>
      b.leaf([{ key: "default", value: bucketValue(0, 0, [{ key: "file_input.knownFiles", value: knownFiles([{ first: LIVE, offset }]) }]), flags: 1 }]);
    const commit = (txid: number) => b.meta((txid % 2) as 0 | 1, { txid, root: commitLeaf(txid * 10) });
    commit(5);
    commit(6);
    let before = b.bytes();
    const path = await put(before);
    const source = new OtelFileStorageSource({ path });
    for (let txid = 7; txid < 27; txid++) {
      const reading = source.read();
      commit(txid);
      const after = b.bytes();
      await commitInPlace(path, before, after, 4096);
      before = after;
      const report = await reading;
      assert.deepEqual(report.errors, [], `txid ${txid}`);
      // The snapshot before this commit or after it: never a mix, never more than was committed.
      assert.equal(report.claims.length, 1);
      assert.ok([(txid - 1) * 10, txid * 10].includes(report.claims[0].offset), `txid ${txid}: offset ${report.claims[0].offset}`);
    }
    assert.deepEqual((await source.read()).claims, [claim(LIVE, 260)]);
  });
});

describe("otelFileStoragePath", () => {
  const cases: Record<string, [dir: string | undefined, name: string, want: string]> = {
    "an unnamed receiver keeps the trailing underscore": [undefined, "", "/var/lib/otelcol/file_storage/receiver_filelog_"],
    "a named receiver (filelog/k8s)": ["/data", "k8s", "/data/receiver_filelog_k8s"],
    "unsafe characters as ~ and four hex digits, the tilde too": ["/data", "a/b c~é", "/data/receiver_filelog_a~002Fb~0020c~007E~00E9"],
  };
  for (const [name, [d, receiver, want]] of Object.entries(cases)) {
    test(name, () => assert.equal(otelFileStoragePath(d, receiver), want));
  }
});
