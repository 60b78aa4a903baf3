// The bbolt reader on files with the real layout: files the real library wrote (test/fixtures/bbolt/), the test
// writer checked byte for byte against them, then every shape and every breakage written by the test writer.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile, mkdir, symlink, readFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync } from "node:zlib";
import { BoltError, type BoltReader, fnv1a64, openBolt, viewBolt } from "../../host/progress/bbolt.js";
import { BoltBuilder, branchChildOffset, bucket, bucketValue, commitInPlace, metaOffset, writeBolt, type BoltFile } from "../support/bbolt-writer.js";

const here = dirname(fileURLToPath(import.meta.url));
// dist/test/host → the repository's test/fixtures/bbolt
const fixtures = join(here, "..", "..", "..", "test", "fixtures", "bbolt");

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "crl-bbolt-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

let n = 0;
async function put(bytes: Buffer): Promise<string> {
  const path = join(dir, `db-${n++}`);
  await writeFile(path, bytes);
  return path;
}

interface Entry {
  key: string;
  len?: number;
  sha256?: string;
  bucket?: Entry[];
}
interface Manifest {
  pageSize: number;
  txid: number;
  size: number;
  sha256: string;
  tree: Entry[];
}

/** Everything the reader sees, in the shape the real library's dump has. */
async function dump(db: BoltReader, path: Buffer[] = []): Promise<Entry[]> {
  const keys = await db.keys(path);
  assert.ok(keys, `bucket ${path.map(String).join("/")} exists`);
  const out: Entry[] = [];
  for (const k of keys) {
    if (k.bucket) {
      out.push({ key: k.key.toString("hex"), bucket: await dump(db, [...path, k.key]) });
    } else {
      const v = await db.get(path, k.key);
      assert.ok(v, `value of ${k.key.toString("hex")}`);
      out.push({ key: k.key.toString("hex"), len: v.length, sha256: createHash("sha256").update(v).digest("hex") });
    }
  }
  return out;
}

// bbolt's dump omits the "bucket" field for an empty nested bucket (omitempty); compare in that shape.
function normalize(entries: Entry[]): Entry[] {
  return entries.map((e) => (e.bucket ? (e.bucket.length ? { key: e.key, bucket: normalize(e.bucket) } : { key: e.key }) : e));
}

function fixture(name: string): { bytes: Buffer; manifest: Manifest } {
  return {
    bytes: gunzipSync(readFileSync(join(fixtures, `${name}.db.gz`))),
    manifest: JSON.parse(readFileSync(join(fixtures, `${name}.json`), "utf8")) as Manifest,
  };
}

async function expectBoltError(p: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof BoltError, `a BoltError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.match(err.message, message);
    return true;
  });
}

const B = (s: string) => Buffer.from(s);

describe("checksum", () => {
  test("FNV-1a 64 check values", () => {
    // The published FNV-1a 64 test vectors: "" → offset basis, "a", "foobar".
    assert.equal(fnv1a64(Buffer.alloc(0)), 0xcbf29ce484222325n);
    assert.equal(fnv1a64(B("a")), 0xaf63dc4c8601ec8cn);
    assert.equal(fnv1a64(B("foobar")), 0x85944171f73967e8n);
  });
});

describe("files written by the real bbolt", () => {
  for (const name of ["fresh-4096", "collector-first-4096", "shapes-1024", "shapes-4096", "shapes-16384"]) {
    test(`${name}: reads what bbolt reads`, async () => {
      const { bytes, manifest } = fixture(name);
      assert.equal(createHash("sha256").update(bytes).digest("hex"), manifest.sha256);
      const db = await openBolt(await put(bytes));
      try {
        assert.equal(db.meta.pageSize, manifest.pageSize);
        assert.equal(db.meta.txid, BigInt(manifest.txid));
        assert.deepEqual(normalize(await dump(db)), normalize(manifest.tree));
      } finally {
        await db.close();
      }
    });
  }

  test("fresh-4096: the test writer writes the same bytes as bbolt's init", () => {
    const { bytes } = fixture("fresh-4096");
    const b = new BoltBuilder(4096);
    const freelist = b.freelist([]); // page 2
    const root = b.leaf([]); // page 3
    b.meta(0, { txid: 0, root, freelist, pgid: 4 });
    b.meta(1, { txid: 1, root, freelist, pgid: 4 });
    assert.ok(b.bytes().equals(bytes));
  });

  test("collector-first-4096: the test writer writes the same bytes as bbolt's commits", async () => {
    const { bytes } = fixture("collector-first-4096");
    const db = await openBolt(await put(bytes));
    const value = await db.get([B("default")], B("file_input.knownFiles"));
    await db.close();
    assert.ok(value);
    // txid 2 created the empty inline bucket in a new root (page 4; pages 2 and 3 were still init's), txid 3
    // put the checkpoint into it and wrote the root into page 2 (freed by txid 2); page 3 is init's old root.
    const b = new BoltBuilder(4096);
    b.leaf([{ key: "default", value: bucketValue(0, 0, [{ key: "file_input.knownFiles", value }]), flags: 1 }], 2);
    b.leaf([], 3);
    b.leaf([{ key: "default", value: bucketValue(0, 0, []), flags: 1 }], 4);
    b.meta(0, { txid: 2, root: 4, pgid: 5 });
    b.meta(1, { txid: 3, root: 2, pgid: 5 });
    assert.ok(b.bytes().equals(bytes));
  });
});

// ---- Files from the test writer ---------------------------------------------------------------------

const manyKeys = (count: number, valueSize: number, prefix = "k") =>
  Array.from({ length: count }, (_, i) => [`${prefix}${String(i).padStart(6, "0")}`, Buffer.alloc(valueSize, i % 251)] as [string, Buffer]);

interface ReadCase {
  spec: Parameters<typeof writeBolt>[0];
  /** [bucket path, key, expected value (undefined = absent)] */
  expect: Array<[string[], string, Buffer | string | undefined]>;
  /** What the layout must contain for the case to test what it says. */
  layout?: (f: BoltFile) => void;
  txid?: bigint;
}

const hasBranch = (f: BoltFile) => assert.ok(f.layout.some((p) => p.flags === 0x01), "a branch page");
const hasOverflow = (f: BoltFile) => assert.ok(f.layout.some((p) => p.overflow > 0), "an overflow page");

const readCases: Record<string, ReadCase> = {
  "the newer meta wins (txid 5 in page 1 over txid 4 in page 0)": {
    spec: { versions: [{ txid: 4, root: bucket([["default", bucket([["k", "old"]])]]) }, { txid: 5, root: bucket([["default", bucket([["k", "new"]])]]) }] },
    expect: [[["default"], "k", "new"]],
    txid: 5n,
  },
  "the newer meta wins (txid 8 in page 0 over txid 7 in page 1)": {
    spec: { versions: [{ txid: 7, root: bucket([["default", bucket([["k", "old"]])]]) }, { txid: 8, root: bucket([["default", bucket([["k", "new"]])]]) }] },
    expect: [[["default"], "k", "new"]],
    txid: 8n,
  },
  "a freelist page is read past, not needed": {
    spec: { freelist: true, versions: [{ txid: 3, root: bucket([["default", bucket([["k", "v"]])]]) }] },
    expect: [[["default"], "k", "v"]],
  },
  "many keys: leaves under a branch page": {
    spec: { versions: [{ txid: 3, root: bucket([["default", bucket(manyKeys(2000, 20))]]) }] },
    expect: [
      [["default"], "k000000", Buffer.alloc(20, 0)],
      [["default"], "k001000", Buffer.alloc(20, 1000 % 251)],
      [["default"], "k001999", Buffer.alloc(20, 1999 % 251)],
      [["default"], "k002000", undefined], // after the last key
      [["default"], "a", undefined], // before the first key
      [["default"], "k0010005", undefined], // between two keys
    ],
    layout: hasBranch,
  },
  "three levels of branch pages (small fill)": {
    spec: { fill: 200, versions: [{ txid: 3, root: bucket([["default", bucket(manyKeys(600, 8))]]) }] },
    expect: [
      [["default"], "k000000", Buffer.alloc(8, 0)],
      [["default"], "k000377", Buffer.alloc(8, 377 % 251)],
      [["default"], "k000599", Buffer.alloc(8, 599 % 251)],
    ],
    layout: (f) => {
      hasBranch(f);
      assert.ok(f.layout.filter((p) => p.flags === 0x01).length > 10, "several branch levels");
    },
  },
  "an inline nested bucket": {
    spec: { versions: [{ txid: 3, root: bucket([["default", bucket([["a", "1"], ["b", "22"]])]]) }] },
    expect: [
      [["default"], "a", "1"],
      [["default"], "b", "22"],
    ],
    layout: (f) => assert.equal(f.layout.filter((p) => p.flags === 0x02).length, 2, "only the two roots are pages: default is inline"),
  },
  "a non-inline nested bucket inside a nested bucket, beside an inline one": {
    spec: {
      versions: [
        {
          txid: 3,
          root: bucket([
            ["default", bucket([["deep", bucket(manyKeys(500, 30, "d"))], ["small", bucket([["x", "y"]])], ["plain", "value"]])],
            ["other", bucket([])],
          ]),
        },
      ],
    },
    expect: [
      [["default", "deep"], "d000499", Buffer.alloc(30, 499 % 251)],
      [["default", "small"], "x", "y"],
      [["default"], "plain", "value"],
      [["other"], "x", undefined],
    ],
    layout: hasBranch,
  },
  "a value larger than a page (4096): overflow pages": {
    spec: { versions: [{ txid: 3, root: bucket([["default", bucket([["big", Buffer.alloc(3 * 4096 + 5, 7)], ["small", "s"]], { inline: false })]]) }] },
    expect: [
      [["default"], "big", Buffer.alloc(3 * 4096 + 5, 7)],
      [["default"], "small", "s"],
    ],
    layout: hasOverflow,
  },
  "missing bucket, missing key, a key that is a bucket, a path through a value": {
    spec: { versions: [{ txid: 3, root: bucket([["default", bucket([["k", "v"], ["sub", bucket([["x", "1"]])]])]]) }] },
    expect: [
      [["nope"], "k", undefined],
      [["default"], "nope", undefined],
      [["default"], "sub", undefined], // a bucket, not a value (bbolt's Get returns nil too)
      [["default", "k"], "x", undefined], // "k" is a value, not a bucket
      [["default", "sub"], "x", "1"],
    ],
  },
};
for (const pageSize of [1024, 8192, 16384, 65536]) {
  readCases[`page size ${pageSize}: branch pages, overflow value, inline bucket`] = {
    spec: {
      pageSize,
      versions: [
        {
          txid: 9,
          root: bucket([
            ["default", bucket([...manyKeys(Math.ceil((pageSize * 3) / 40), 20), ["zbig", Buffer.alloc(pageSize * 2 + 1, 3)], ["zin", bucket([["i", "j"]])]])],
          ]),
        },
      ],
    },
    expect: [
      [["default"], "k000001", Buffer.alloc(20, 1)],
      [["default"], "zbig", Buffer.alloc(pageSize * 2 + 1, 3)],
      [["default", "zin"], "i", "j"],
    ],
    layout: (f) => {
      hasBranch(f);
      hasOverflow(f);
    },
  };
}

describe("reading files from the test writer", () => {
  for (const [name, tc] of Object.entries(readCases)) {
    test(name, async () => {
      const file = writeBolt(tc.spec);
      tc.layout?.(file);
      const db = await openBolt(await put(file.bytes));
      try {
        if (tc.txid !== undefined) assert.equal(db.meta.txid, tc.txid);
        for (const [path, key, want] of tc.expect) {
          const got = await db.get(path.map(B), B(key));
          assert.deepEqual(got, want === undefined ? undefined : typeof want === "string" ? B(want) : want, `${path.join("/")}:${key}`);
        }
      } finally {
        await db.close();
      }
    });
  }

  test("keys() lists a branch-split bucket in order, buckets marked", async () => {
    const entries = manyKeys(1500, 10);
    const file = writeBolt({ versions: [{ txid: 3, root: bucket([["default", bucket([...entries, ["zz", bucket([])]])]]) }] });
    const db = await openBolt(await put(file.bytes));
    const keys = await db.keys([B("default")]);
    await db.close();
    assert.deepEqual(
      keys?.map((k) => `${k.key}${k.bucket ? "/" : ""}`),
      [...entries.map(([k]) => k), "zz/"],
    );
  });
});

// ---- Broken files ------------------------------------------------------------------------------------

const twoVersions = (): BoltFile =>
  writeBolt({ versions: [{ txid: 4, root: bucket([["default", bucket([["k", "old"]])]]) }, { txid: 5, root: bucket([["default", bucket([["k", "new"]])]]) }] });
const branchy = (): BoltFile => writeBolt({ versions: [{ txid: 3, root: bucket([["default", bucket(manyKeys(2000, 20), { inline: false })]]) }] });

/** Leaf pages that hold a bucket's data (not a version's root page). */
const dataLeaves = (f: BoltFile) => f.layout.filter((p) => p.flags === 0x02 && !f.metas.some((m) => m.root === p.id));

/** The default bucket's root page in a branchy() file: a branch page. */
function branchRoot(f: BoltFile): number {
  const branch = f.layout.filter((p) => p.flags === 0x01).at(-1);
  assert.ok(branch);
  return branch.id;
}

interface BrokenCase {
  make: () => Buffer | Promise<Buffer>;
  /** Where the error shows: opening, or reading the key. */
  at: "open" | "get";
  code: string;
  message: RegExp;
}

const brokenCases: Record<string, BrokenCase> = {
  "both metas with bad checksums": {
    make: () => {
      const f = twoVersions();
      f.bytes[metaOffset(0, f.pageSize) + 20] ^= 0xff;
      f.bytes[metaOffset(1, f.pageSize) + 20] ^= 0xff;
      return f.bytes;
    },
    at: "open",
    code: "BOLT_NOT_BOLT",
    message: /no valid meta page \(meta 0: checksum .* torn or corrupt; meta 1: /,
  },
  "not a bbolt file": {
    make: () => Buffer.alloc(16384, "not bbolt at all "),
    at: "open",
    code: "BOLT_NOT_BOLT",
    message: /bad magic/,
  },
  "an empty file (being created)": {
    make: () => Buffer.alloc(0),
    at: "open",
    code: "BOLT_NOT_BOLT",
    message: /is empty/,
  },
  "a big-endian file": {
    make: () => {
      const f = twoVersions();
      for (const slot of [0, 1] as const) f.bytes.writeUInt32BE(0xed0cdaed, metaOffset(slot, f.pageSize));
      return f.bytes;
    },
    at: "open",
    code: "BOLT_NOT_BOLT",
    message: /big-endian/,
  },
  "another format version": {
    make: () => {
      const b = new BoltBuilder(4096);
      const root = b.leaf([]);
      b.meta(0, { txid: 0, root, version: 3 });
      b.meta(1, { txid: 1, root, version: 3 });
      return b.bytes();
    },
    at: "open",
    code: "BOLT_NOT_BOLT",
    message: /format version 3/,
  },
  "truncated: the last page cut off": {
    make: () => {
      const f = branchy();
      return f.bytes.subarray(0, f.bytes.length - 100);
    },
    at: "open",
    code: "BOLT_CORRUPT",
    message: /truncated: meta \d \(txid 3\) uses \d+ pages of 4096 bytes/,
  },
  "truncated inside meta 1": {
    make: () => twoVersions().bytes.subarray(0, 4096 + 40),
    at: "open",
    code: "BOLT_CORRUPT",
    message: /truncated/,
  },
  "a branch element pointing at its own page (a cycle)": {
    make: () => {
      const f = branchy();
      const id = branchRoot(f);
      f.bytes.writeBigUInt64LE(BigInt(id), branchChildOffset(id, 0, f.pageSize));
      return f.bytes;
    },
    at: "get",
    code: "BOLT_CORRUPT",
    message: /page \d+ is (reached twice on one path \(a cycle\)|referenced twice \(a cycle)/,
  },
  "a page id past the high-water mark": {
    make: () => {
      const f = branchy();
      const id = branchRoot(f);
      f.bytes.writeBigUInt64LE(1_000_000n, branchChildOffset(id, 0, f.pageSize));
      return f.bytes;
    },
    at: "get",
    code: "BOLT_CORRUPT",
    message: /page id 1000000 out of range/,
  },
  "a child pointing at a meta page": {
    make: () => {
      const f = branchy();
      const id = branchRoot(f);
      f.bytes.writeBigUInt64LE(1n, branchChildOffset(id, 0, f.pageSize));
      return f.bytes;
    },
    at: "get",
    code: "BOLT_CORRUPT",
    message: /page id 1 out of range/,
  },
  "a child pointing at the freelist page": {
    make: () => {
      const f = writeBolt({ freelist: true, versions: [{ txid: 3, root: bucket([["default", bucket(manyKeys(2000, 20), { inline: false })]]) }] });
      const freelist = f.layout.filter((p) => p.flags === 0x10).at(-1)!.id;
      f.bytes.writeBigUInt64LE(BigInt(freelist), branchChildOffset(branchRoot(f), 0, f.pageSize));
      return f.bytes;
    },
    at: "get",
    code: "BOLT_CORRUPT",
    message: /is a freelist page, expected a branch or leaf page/,
  },
  "a page whose header names another page (stale)": {
    make: () => {
      const f = branchy();
      const leaf = dataLeaves(f)[0]; // holds k000000
      f.bytes.writeBigUInt64LE(BigInt(leaf.id + 1), leaf.id * f.pageSize);
      return f.bytes;
    },
    at: "get",
    code: "BOLT_CORRUPT",
    message: /says it is page/,
  },
  "unknown page flags": {
    make: () => {
      const f = branchy();
      f.bytes.writeUInt16LE(0x20, branchRoot(f) * f.pageSize + 8);
      return f.bytes;
    },
    at: "get",
    code: "BOLT_CORRUPT",
    message: /unknown flags 0x20/,
  },
  "an element past the page end": {
    make: () => {
      const f = writeBolt({ versions: [{ txid: 3, root: bucket([["default", bucket([["k", "v"]], { inline: false })]]) }] });
      const leaf = dataLeaves(f)[0]; // default's own leaf
      f.bytes.writeUInt32LE(1_000_000, leaf.id * f.pageSize + 16 + 12); // element 0's vsize
      return f.bytes;
    },
    at: "get",
    code: "BOLT_CORRUPT",
    message: /element 0's value ends at byte \d+, past the page end/,
  },
  "more elements than the page holds": {
    make: () => {
      const f = branchy();
      f.bytes.writeUInt16LE(0xffff, branchRoot(f) * f.pageSize + 10);
      return f.bytes;
    },
    at: "get",
    code: "BOLT_CORRUPT",
    message: /65535 elements do not fit/,
  },
  "an overflow count past the end": {
    make: () => {
      const f = branchy();
      f.bytes.writeUInt32LE(1_000_000, branchRoot(f) * f.pageSize + 12);
      return f.bytes;
    },
    at: "get",
    code: "BOLT_CORRUPT",
    message: /claims 1000000 overflow pages/,
  },
  "keys out of order": {
    make: () => {
      const f = writeBolt({ versions: [{ txid: 3, root: bucket([["default", bucket([["a", "1"], ["b", "2"]], { inline: false })]]) }] });
      const leaf = dataLeaves(f)[0];
      // The keys start right after the two elements: "a" "1" "b" "2"; make the second key "0".
      f.bytes[leaf.id * f.pageSize + 16 + 2 * 16 + 2] = "0".charCodeAt(0);
      return f.bytes;
    },
    at: "get",
    code: "BOLT_CORRUPT",
    message: /keys out of order at element 1/,
  },
  "an inline bucket whose page is cut short": {
    make: () => {
      const b = new BoltBuilder(4096);
      const value = bucketValue(0, 0, [{ key: "k", value: "v" }]);
      const root = b.leaf([{ key: "default", value: value.subarray(0, value.length - 1), flags: 1 }]);
      b.meta(0, { txid: 2, root });
      b.meta(1, { txid: 1, root });
      return b.bytes();
    },
    at: "get",
    code: "BOLT_CORRUPT",
    message: /inline bucket page: element 0's value ends at byte \d+, past the page end/,
  },
};

describe("broken files: an error naming the file and what is wrong, never a hang or a made-up value", () => {
  for (const [name, tc] of Object.entries(brokenCases)) {
    test(name, async () => {
      const path = await put(await tc.make());
      if (tc.at === "open") {
        await expectBoltError(openBolt(path), tc.code, new RegExp(`^bbolt file "${path}": .*${tc.message.source}`));
        return;
      }
      const db = await openBolt(path);
      try {
        // k000000 lies under the first child of every branch page; keys() walks every page.
        await expectBoltError(db.get([B("default")], B("k000000")), tc.code, new RegExp(`^bbolt file "${path}": .*${tc.message.source}`));
        await expectBoltError(db.keys([B("default")]), tc.code, tc.message);
      } finally {
        await db.close();
      }
    });
  }

  for (const [which, slot] of [["txid 5 (page 1)", 1], ["txid 8 (page 0)", 0]] as const) {
    test(`a corrupted newer meta, ${which}, falls back to the older one`, async () => {
      const txids = slot === 1 ? [4, 5] : [7, 8];
      const f = writeBolt({
        versions: [
          { txid: txids[0], root: bucket([["default", bucket([["k", "old"]])]]) },
          { txid: txids[1], root: bucket([["default", bucket([["k", "new"]])]]) },
        ],
      });
      f.bytes[metaOffset(slot, f.pageSize) + 44] ^= 0x01; // a torn meta: a bit of its pgid
      const db = await openBolt(await put(f.bytes));
      try {
        assert.equal(db.meta.txid, BigInt(txids[0]));
        assert.deepEqual(await db.get([B("default")], B("k")), B("old"));
      } finally {
        await db.close();
      }
    });
  }

  test("meta 0 torn: meta 1 is found at its own page size (16384)", async () => {
    const f = writeBolt({ pageSize: 16384, versions: [{ txid: 4, root: bucket([["default", bucket([["k", "old"]])]]) }, { txid: 5, root: bucket([["default", bucket([["k", "new"]])]]) }] });
    f.bytes.fill(0, 0, 16384);
    const db = await openBolt(await put(f.bytes));
    try {
      assert.equal(db.meta.pageSize, 16384);
      assert.deepEqual(await db.get([B("default")], B("k")), B("new"));
    } finally {
      await db.close();
    }
  });

  test("a read limit: BOLT_TOO_LARGE instead of reading a huge file", async () => {
    const f = branchy();
    const db = await openBolt(await put(f.bytes), { maxReadBytes: 3 * 4096 });
    try {
      await expectBoltError(db.get([B("default")], B("k001500")), "BOLT_TOO_LARGE", /more than 12288 bytes/);
    } finally {
      await db.close();
    }
  });
});

describe("opening", () => {
  const cases: Record<string, { make: () => Promise<string>; code: string; message: RegExp }> = {
    "a missing file": { make: async () => join(dir, "nope"), code: "BOLT_MISSING", message: /does not exist/ },
    "a directory": {
      make: async () => {
        const d = join(dir, `d-${n++}`);
        await mkdir(d);
        return d;
      },
      code: "BOLT_OPEN",
      message: /is not a regular file/,
    },
    "a symbolic link (not followed)": {
      make: async () => {
        const target = await put(twoVersions().bytes);
        const link = join(dir, `link-${n++}`);
        await symlink(target, link);
        return link;
      },
      code: "BOLT_OPEN",
      message: /is a symbolic link/,
    },
    "a FIFO (opened without blocking)": {
      make: async () => {
        const fifo = join(dir, `fifo-${n++}`);
        execFileSync("mkfifo", [fifo]);
        return fifo;
      },
      code: "BOLT_OPEN",
      message: /is not a regular file/,
    },
  };
  for (const [name, tc] of Object.entries(cases)) {
    test(name, async () => {
      await expectBoltError(openBolt(await tc.make()), tc.code, tc.message);
    });
  }
});

describe("viewBolt: one consistent snapshot while the collector commits", () => {
  const version = (txid: number, v: string) => ({ txid, root: bucket([["default", bucket([["k", v]])]]) });

  test("a commit during the read: read again, the newer value", async () => {
    const path = await put(writeBolt({ versions: [version(4, "a"), version(5, "b")] }).bytes);
    let calls = 0;
    const got = await viewBolt(path, async (db) => {
      const v = await db.get([B("default")], B("k"));
      if (calls++ === 0) await writeFile(path, writeBolt({ versions: [version(5, "b"), version(6, "c")] }).bytes);
      return v?.toString();
    });
    assert.equal(got, "c");
    assert.equal(calls, 2);
  });

  test("a commit during every read: BOLT_BUSY, no value", async () => {
    const path = await put(writeBolt({ versions: [version(4, "a"), version(5, "b")] }).bytes);
    let txid = 5;
    await expectBoltError(
      viewBolt(path, async (db) => {
        const v = await db.get([B("default")], B("k"));
        txid++;
        await writeFile(path, writeBolt({ versions: [version(txid - 1, "x"), version(txid, "y")] }).bytes);
        return v;
      }),
      "BOLT_BUSY",
      /a commit landed during each of 3 reads/,
    );
  });

  test("pages reused by later commits during the read: read again, from the newest meta", async () => {
    const b = new BoltBuilder(4096);
    const root = (v: string, at?: number) => b.leaf([{ key: "default", value: bucketValue(0, 0, [{ key: "k", value: v }]), flags: 1 }], at);
    b.meta(0, { txid: 4, root: root("a") }); // page 2
    b.meta(1, { txid: 5, root: root("b") }); // page 3: what the read starts from
    const before = b.bytes();
    const path = await put(before);
    let calls = 0;
    const got = await viewBolt(path, async (db) => {
      if (calls++ === 0) {
        // Commit 6 writes a new root (page 4); commit 7 reuses page 3, which commit 6 freed.
        b.meta(0, { txid: 6, root: root("c") });
        b.meta(1, { txid: 7, root: root("d", 3) });
        await commitInPlace(path, before, b.bytes(), 4096);
      }
      return (await db.get([B("default")], B("k")))?.toString();
    });
    assert.equal(got, "d");
    assert.equal(calls, 2);
  });

  test("no commit: one read, the file closed", async () => {
    const path = await put(writeBolt({ versions: [version(4, "a"), version(5, "b")] }).bytes);
    let calls = 0;
    const got = await viewBolt(path, async (db) => {
      calls++;
      return (await db.get([B("default")], B("k")))?.toString();
    });
    assert.equal(got, "b");
    assert.equal(calls, 1);
    // The reader closed its descriptor: the file can be replaced and read again.
    assert.ok((await readFile(path)).length > 0);
  });
});
