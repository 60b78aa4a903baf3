// Every shipper's position file, in its real format (written by test/support/shipper-files.ts), read by
// its source, credited by the rules in the .wasm (crl_credit_progress) and planned by them
// (crl_plan_batch): an older rotated file is held until the shipper's position reaches its end, and
// compressed from then on. One case per line of story: the rename cases of each shipper, corrupt, partial
// and other-version files, several sources at once, and no source at all.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, mkdir, rm, writeFile, utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { sharedPlugin } from "../support/harness.js";
import { MemoryLogger } from "../support/memory-logger.js";
import {
  FLUENTD_UNWATCHED,
  alloyPositionsYaml,
  otelKnownFiles,
  criLine,
  fluentdPosLine,
  promtailPositionsYaml,
  vectorCheckpointsJson,
  vectorFingerprint,
  type VectorCheckpoint,
} from "../support/shipper-files.js";
import { realFs, type DirEntry, type Fs } from "../../host/fs.js";
import { checkLogPath } from "../../host/paths.js";
import { ShipperProgress, createProgressAttacher } from "../../host/progress/attacher.js";
import { FilterFileSource } from "../../host/progress/filter-file.js";
import { FluentdPosFileSource } from "../../host/progress/fluentd-pos-file.js";
import { InTailDbSource } from "../../host/progress/intail-db.js";
import { readWhole } from "../../host/progress/read-whole.js";
import { ProgressSourceError } from "../../host/errors.js";
import { PositionsYamlSource } from "../../host/progress/positions-yaml.js";
import { VectorCheckpointsSource } from "../../host/progress/vector-checkpoints.js";
import { OtelFileStorageSource } from "../../host/progress/otel-file-storage.js";
import { bucket, writeBolt } from "../support/bbolt-writer.js";
import type { ProgressSource } from "../../host/progress/types.js";
import type { Outcome } from "../../host/executor.js";
import type { Config } from "../../host/config/index.js";

const plugin = sharedPlugin();
const NOW = Date.now();
// The host's rotations of 0.log: an inode long gone (at T0), the older file (T1), the newer one (T2).
const T0 = NOW - 300_000;
const T1 = NOW - 200_000;
const T2 = NOW - 100_000;
const OLDER = "0.log.20260102-030000";
const NEWER = "0.log.20260102-031000";

let root: string;
let sceneCount = 0;
before(async () => {
  root = await mkdtemp(join(tmpdir(), "crl-shippers-"));
});
after(async () => rm(root, { recursive: true, force: true }));

interface FileFacts {
  path: string;
  inode: number;
  dev: number;
  size: number;
  birthMs: number;
  content: Buffer;
  /** Where its last line starts (the Fluent Bit filter's offsets are line starts). */
  lastLineStart: number;
}

/** A container directory with an older and a newer rotated file and the live log, and the host's history. */
interface Scene {
  dir: string;
  state: string; // the shipper's own directory, outside the log root
  live: FileFacts;
  older: FileFacts;
  newer: FileFacts;
  entries: DirEntry[];
}

async function makeScene(opts: { sameFirstLine?: boolean } = {}): Promise<Scene> {
  const n = ++sceneCount;
  const dir = join(root, "pods", `ns_pod-${n}_uid`, "app");
  const state = join(root, "state", String(n));
  await mkdir(dir, { recursive: true });
  await mkdir(state, { recursive: true });
  const lines = (from: number, what: string) => [0, 1, 2].map((i) => criLine(from + i * 1000, `${what} line ${i}`)).join("");
  const olderText = lines(T0 + 20_000, "older");
  await writeFile(join(dir, OLDER), olderText);
  await writeFile(join(dir, NEWER), opts.sameFirstLine ? olderText.split("\n")[0] + "\n" + lines(T1 + 20_000, "newer") : lines(T1 + 20_000, "newer"));
  await writeFile(join(dir, "0.log"), lines(T2 + 20_000, "live"));
  const entries = await realFs.listDir(dir);
  const facts = async (name: string): Promise<FileFacts> => {
    const e = entries.find((x) => x.name.toString() === name)!;
    const { bytes } = await realFs.readRange(join(dir, name), 0, 1 << 20);
    return { path: join(dir, name), inode: e.inode, dev: e.dev!, size: e.size, birthMs: e.birthtimeMs!, content: bytes, lastLineStart: bytes.lastIndexOf(0x0a, bytes.length - 2) + 1 };
  };
  return { dir, state, live: await facts("0.log"), older: await facts(OLDER), newer: await facts(NEWER), entries };
}

/** The history the manager would have told the attacher: three rotations of 0.log. */
function tellRotations(p: ShipperProgress, s: Scene): void {
  const location = checkLogPath(Buffer.from(join(s.dir, "0.log")), join(root, "pods"));
  const rotate = (rotatedPath: string, inode: number, atMs: number) =>
    p.rotated("c1", location, { kind: "rotate", rotatedPath: Buffer.from(rotatedPath), inode, size: 0 } as unknown as Extract<Outcome, { kind: "rotate" }>, atMs);
  rotate(join(s.dir, "0.log.20260102-025000"), 1, T0);
  rotate(s.older.path, s.older.inode, T1);
  rotate(s.newer.path, s.newer.inode, T2);
}

/** One state of the shipper's files: written, given an mtime if set, then read by a refresh. */
interface Snapshot {
  files: Record<string, string | Buffer>;
  mtimeMs?: number;
}

interface Case {
  sources: (s: Scene, fs: Fs) => ProgressSource[];
  snapshots: (s: Scene) => Snapshot[];
  /** What the plan does with the older rotated file. */
  want: "compress" | "hold";
  /** A source error the attacher logged (once). */
  warns?: RegExp;
  scene?: { sameFirstLine?: boolean };
  fs?: (s: Scene) => Fs;
}

async function run(tc: Case) {
  const s = await makeScene(tc.scene);
  const fs = tc.fs ? tc.fs(s) : realFs;
  const logger = new MemoryLogger();
  const p = new ShipperProgress({ sources: tc.sources(s, fs), plugin, logger, fs });
  tellRotations(p, s);
  for (const snap of tc.snapshots(s)) {
    for (const [name, content] of Object.entries(snap.files)) {
      const path = join(s.state, name);
      await writeFile(path, content);
      if (snap.mtimeMs !== undefined) await utimes(path, new Date(snap.mtimeMs), new Date(snap.mtimeMs));
    }
    await p.refresh();
  }
  const location = checkLogPath(Buffer.from(s.live.path), join(root, "pods"));
  const entries = await p.attach("c1", location, s.entries);
  const [plan] = plugin.planRotation([{ id: "c1", logName: Buffer.from("0.log"), entries }], Math.floor(NOW / 1000), { maxSize: 1 << 30, maxFiles: 5, compress: true, shipperAware: true });
  const older = plan!.actions.find((a) => a.name.toString() === OLDER);
  return { scene: s, logger, action: older?.kind, entry: entries.find((e) => e.name.toString() === OLDER)! };
}

// --- the sources, as the config builds them
const vector = (s: Scene, fs: Fs) => [new VectorCheckpointsSource(join(s.state, "checkpoints.json"), fs)];
const fluentd = (s: Scene, fs: Fs) => [new FluentdPosFileSource(join(s.state, "containers.log.pos"), fs)];
const promtail = (s: Scene, fs: Fs) => [new PositionsYamlSource("promtail", join(s.state, "positions.yaml"), fs)];
const alloy = (s: Scene, fs: Fs) => [new PositionsYamlSource("alloy", join(s.state, "positions.yml"), fs)];
const otel = (s: Scene) => [new OtelFileStorageSource({ path: join(s.state, "receiver_filelog_") })];
/** The collector's file_storage: a bbolt file, bucket "default", key file_input.knownFiles. */
const knownFiles = (...files: { firstBytes: Buffer; offset: number }[]) => ({
  files: { receiver_filelog_: writeBolt({ versions: [{ txid: 3, root: bucket([["default", bucket([["file_input.knownFiles", otelKnownFiles(files)]])]]) }] }).bytes },
});

const checkpoints = (...c: VectorCheckpoint[]) => ({ files: { "checkpoints.json": vectorCheckpointsJson(c) } });
const crc = (s: Scene, position: number, modifiedMs = NOW): VectorCheckpoint => ({ fingerprint: { first_lines_checksum: vectorFingerprint(s.older.content) }, position, modifiedMs });
const pos = (...lines: string[]) => ({ files: { "containers.log.pos": lines.join("") } });
const L = (s: Scene) => s.live.path;
/** Promtail/Alloy observations of the live path: the reader on the gone inode, then on the older file. */
const runBeforeRename = (s: Scene, write: (offset: number) => string, lastOffset: number, boundaryMs = T0 + 2000): Snapshot[] => [
  { files: { [fileOf(write)]: write(9000) }, mtimeMs: boundaryMs }, // still the previous file's position
  { files: { [fileOf(write)]: write(40) }, mtimeMs: T0 + 12_000 }, // went down: the reader moved to the older file
  { files: { [fileOf(write)]: write(lastOffset) }, mtimeMs: T1 - 1000 }, // the last sync before the rename
];
const fileOf = (write: (offset: number) => string) => (write(0).includes("? path:") ? "positions.yml" : "positions.yaml");
const promtailAt = (s: Scene) => (offset: number) => promtailPositionsYaml([[L(s), offset]]);
const alloyAt = (s: Scene, labels = '{job="pods"}') => (offset: number) => alloyPositionsYaml([{ path: L(s), labels, offset }]);

const cases: Record<string, Case> = {
  // --- Vector: checkpoints keyed by fingerprint; a renamed file keeps its first line
  "vector: checksum read to the end → compress": { sources: vector, snapshots: (s) => [checkpoints(crc(s, s.older.size))], want: "compress" },
  "vector: one byte short → hold": { sources: vector, snapshots: (s) => [checkpoints(crc(s, s.older.size - 1))], want: "hold" },
  "vector: a checksum as JSON.parse would round it (to a double) is another file's → hold": {
    sources: vector,
    snapshots: (s) => [checkpoints({ fingerprint: { first_lines_checksum: BigInt(Number(vectorFingerprint(s.older.content))) }, position: s.older.size, modifiedMs: NOW })],
    want: "hold",
  },
  "vector: the alias first_line_checksum → compress": {
    sources: vector,
    snapshots: (s) => [checkpoints({ fingerprint: { first_line_checksum: vectorFingerprint(s.older.content) }, position: s.older.size, modifiedMs: NOW })],
    want: "compress",
  },
  "vector: two files share the first line: the checksum is nobody's → hold": {
    sources: vector, scene: { sameFirstLine: true }, snapshots: (s) => [checkpoints(crc(s, s.older.size))], want: "hold",
  },
  "vector: checkpoints.new.json that parses is preferred (an interrupted write) → compress": {
    sources: vector,
    snapshots: (s) => [{ files: { "checkpoints.json": vectorCheckpointsJson([crc(s, 10)]), "checkpoints.new.json": vectorCheckpointsJson([crc(s, s.older.size)]) } }],
    want: "compress",
  },
  "vector: a half-written checkpoints.new.json: the stable file counts → hold": {
    sources: vector,
    snapshots: (s) => [{ files: { "checkpoints.json": vectorCheckpointsJson([crc(s, 10)]), "checkpoints.new.json": vectorCheckpointsJson([crc(s, s.older.size)]).slice(0, 40) } }],
    want: "hold",
  },
  "vector: dev_inode moved after the file's birth → compress": {
    sources: vector,
    snapshots: (s) => [checkpoints({ fingerprint: { dev_inode: [BigInt(s.older.dev), BigInt(s.older.inode)] }, position: s.older.size, modifiedMs: s.older.birthMs + 1000 })],
    want: "compress",
  },
  "vector: dev_inode last moved before the file was born: a reused inode's → hold": {
    sources: vector,
    snapshots: (s) => [checkpoints({ fingerprint: { dev_inode: [BigInt(s.older.dev), BigInt(s.older.inode)] }, position: s.older.size, modifiedMs: s.older.birthMs - 1000 })],
    want: "hold",
  },
  "vector: a legacy `checksum` fingerprint cannot be computed → hold": {
    sources: vector, snapshots: (s) => [checkpoints({ fingerprint: { checksum: vectorFingerprint(s.older.content) }, position: s.older.size, modifiedMs: NOW })], want: "hold",
  },
  "vector: another state version → hold, said once": {
    sources: vector, snapshots: (s) => [{ files: { "checkpoints.json": vectorCheckpointsJson([crc(s, s.older.size)], "2") } }], want: "hold", warns: /PROGRESS_FILE_UNSUPPORTED/,
  },
  "vector: not JSON → hold, said once": { sources: vector, snapshots: () => [{ files: { "checkpoints.json": '{"version":"1","checkpoints":[{' } }], want: "hold", warns: /PROGRESS_FILE_CORRUPT/ },
  "vector: no checkpoints yet → hold": { sources: vector, snapshots: () => [{ files: {} }], want: "hold" },

  // --- fluentd: path<TAB>pos<TAB>inode in hex, updated in place
  "fluentd: the entry under the live path, for the inode the host renamed (follow_inodes) → compress": {
    sources: fluentd, snapshots: (s) => [pos(fluentdPosLine(L(s), s.older.size, s.older.inode))], want: "compress",
  },
  "fluentd: the entry under the rotated name → compress": { sources: fluentd, snapshots: (s) => [pos(fluentdPosLine(s.older.path, s.older.size, s.older.inode))], want: "compress" },
  "fluentd: one byte short → hold": { sources: fluentd, snapshots: (s) => [pos(fluentdPosLine(L(s), s.older.size - 1, s.older.inode))], want: "hold" },
  "fluentd: the path's entry now names the new inode (path mode after the rotation) → hold": {
    sources: fluentd, snapshots: (s) => [pos(fluentdPosLine(L(s), 20, s.live.inode))], want: "hold",
  },
  "fluentd: the inode under a path the host never renamed it from → hold": {
    sources: fluentd, snapshots: (s) => [pos(fluentdPosLine("/var/log/containers/other.log", s.older.size, s.older.inode))], want: "hold",
  },
  "fluentd: unwatched (ffffffffffffffff) → hold": { sources: fluentd, snapshots: (s) => [pos(fluentdPosLine(L(s), FLUENTD_UNWATCHED, s.older.inode))], want: "hold" },
  "fluentd: the last line per key counts (done, then re-watched from 10) → hold": {
    sources: fluentd, snapshots: (s) => [pos(fluentdPosLine(L(s), s.older.size, s.older.inode), fluentdPosLine(L(s), 10, s.older.inode))], want: "hold",
  },
  "fluentd: the last line per key counts (10, then done) → compress": {
    sources: fluentd, snapshots: (s) => [pos(fluentdPosLine(L(s), 10, s.older.inode), fluentdPosLine(L(s), s.older.size, s.older.inode))], want: "compress",
  },
  "fluentd: a line being written (no newline yet) is not a line → hold": {
    sources: fluentd, snapshots: (s) => [pos(fluentdPosLine(L(s), s.older.size, s.older.inode).slice(0, -1))], want: "hold",
  },
  "fluentd: a garbage line is skipped and said once, the good one counts → compress": {
    sources: fluentd, snapshots: (s) => [pos("not a pos line\n", fluentdPosLine(L(s), s.older.size, s.older.inode))], want: "compress", warns: /PROGRESS_FILE_CORRUPT/,
  },
  "fluentd: rewritten between every read (an update in place racing us) → hold, said once": {
    sources: fluentd,
    snapshots: (s) => [pos(fluentdPosLine(L(s), s.older.size, s.older.inode))],
    fs: (s) => flickering(join(s.state, "containers.log.pos")),
    want: "hold",
    warns: /PROGRESS_FILE_BUSY/,
  },

  // --- Promtail / Alloy: path → offset, told apart by runs of observations and the host's history
  "promtail: a run begun after the inode arrived, at the end before the rename → compress": {
    sources: promtail, snapshots: (s) => runBeforeRename(s, promtailAt(s), s.older.size), want: "compress",
  },
  "promtail: one byte short at the last sync before the rename → hold": { sources: promtail, snapshots: (s) => runBeforeRename(s, promtailAt(s), s.older.size - 1), want: "hold" },
  "promtail: the reader may still have been draining the previous file → hold": {
    sources: promtail, snapshots: (s) => runBeforeRename(s, promtailAt(s), s.older.size, T0 + 500), want: "hold",
  },
  "promtail: only the last observation, the run's beginning unseen (a restart) → hold": {
    sources: promtail, snapshots: (s) => [{ files: { "positions.yaml": promtailAt(s)(s.older.size) }, mtimeMs: T1 - 1000 }], want: "hold",
  },
  "promtail: the rotated name read to its end (the glob matched it) → compress": {
    sources: promtail, snapshots: (s) => [{ files: { "positions.yaml": promtailPositionsYaml([[s.older.path, s.older.size]]) }, mtimeMs: T1 + 5000 }], want: "compress",
  },
  "promtail: not YAML → hold, said once": { sources: promtail, snapshots: () => [{ files: { "positions.yaml": 'positions:\n  /a.log: "12' } }], want: "hold", warns: /PROGRESS_FILE_CORRUPT/ },
  "alloy: complex {path, labels} keys, a run before the rename → compress": { sources: alloy, snapshots: (s) => runBeforeRename(s, alloyAt(s), s.older.size), want: "compress" },
  "alloy: two targets read the file, one is behind: the least counts → hold": {
    sources: alloy,
    snapshots: (s) => runBeforeRename(s, (o) => alloyPositionsYaml([{ path: L(s), labels: '{job="a"}', offset: o }, { path: L(s), labels: '{job="b"}', offset: Math.min(o, s.older.size - 1) }]), s.older.size),
    want: "hold",
  },
  "alloy: journal cursors are not offsets and are skipped → hold": {
    sources: alloy, snapshots: () => [{ files: { "positions.yml": alloyPositionsYaml([{ path: "cursor-loki.source.journal.x", labels: "{}", offset: "s=96c0;i=25557" }]) }, mtimeMs: T1 - 1000 }], want: "hold",
  },

  // --- the OpenTelemetry Collector: the file's first bytes (up to 1000) are its fingerprint
  "otel: the first bytes read to the end → compress": { sources: otel, snapshots: (s) => [knownFiles({ firstBytes: s.older.content.subarray(0, 1000), offset: s.older.size })], want: "compress" },
  "otel: one byte short → hold": { sources: otel, snapshots: (s) => [knownFiles({ firstBytes: s.older.content.subarray(0, 1000), offset: s.older.size - 1 })], want: "hold" },
  "otel: a fingerprint taken while the file held 10 bytes is a prefix of every file here → hold": {
    sources: otel, snapshots: (s) => [knownFiles({ firstBytes: s.older.content.subarray(0, 10), offset: s.older.size })], want: "hold",
  },
  "otel: no storage file yet → hold": { sources: otel, snapshots: () => [{ files: {} }], want: "hold" },

  // --- Fluent Bit, through the same path, and several sources at once
  "fluent-bit-db: the row renamed by in_tail, at the end → compress": {
    sources: (s) => [new InTailDbSource(join(s.state, "tail.db"))],
    snapshots: (s) => [{ files: { "tail.db": inTailDb([[s.older.path, s.older.size, s.older.inode]]) } }],
    want: "compress",
  },
  "fluent-bit-filter: the last line's start read under the live name (v1, whole seconds) → compress": {
    sources: (s) => [new FilterFileSource(join(s.state, "cri-logrotate-progress"))],
    snapshots: (s) => [{ files: { "cri-logrotate-progress": `cri-logrotate-progress 1 3 0 1\n${JSON.stringify(L(s))} 0 0 ${s.older.lastLineStart} 3 ${Math.floor((T0 + 20_000) / 1000)} ${Math.floor((T0 + 22_000) / 1000)}\n` } }],
    want: "compress",
  },
  "several sources: Vector one byte short, fluentd at the end → compress (the most any proves)": {
    sources: (s, fs) => [...vector(s, fs), ...fluentd(s, fs)],
    snapshots: (s) => [{ files: { "checkpoints.json": vectorCheckpointsJson([crc(s, s.older.size - 1)]), "containers.log.pos": fluentdPosLine(L(s), s.older.size, s.older.inode) } }],
    want: "compress",
  },
  "several sources: both short → hold": {
    sources: (s, fs) => [...vector(s, fs), ...fluentd(s, fs)],
    snapshots: (s) => [{ files: { "checkpoints.json": vectorCheckpointsJson([crc(s, s.older.size - 1)]), "containers.log.pos": fluentdPosLine(L(s), s.older.size - 2, s.older.inode) } }],
    want: "hold",
  },
};

/** An in_tail DB in Fluent Bit's schema, as a file's bytes. */
function inTailDb(rows: [name: string, offset: number, inode: number][]): Buffer {
  const path = join(root, `db-${++sceneCount}.db`);
  const db = new Database(path);
  db.exec("CREATE TABLE in_tail_files (id INTEGER PRIMARY KEY, name TEXT NOT NULL, offset INTEGER, inode INTEGER, created INTEGER, rotated INTEGER DEFAULT 0, offset_marker INTEGER DEFAULT 0, offset_marker_size INTEGER DEFAULT 0);");
  for (const [name, offset, inode] of rows) db.prepare("INSERT INTO in_tail_files (name, offset, inode, created, rotated) VALUES (?, ?, ?, 0, 1)").run(name, offset, inode);
  const bytes = db.serialize();
  db.close();
  return bytes;
}

/** An Fs whose reads of `file` alternate between two contents, as a pos_file being updated in place would. */
function flickering(file: string): Fs {
  let n = 0;
  return {
    ...realFs,
    async readRange(path, position, length) {
      const got = await realFs.readRange(path, position, length);
      if (String(path) !== file) return got;
      n++;
      return { ...got, bytes: n % 2 ? got.bytes : Buffer.from(got.bytes.toString().replace(/\t0{8}/, "\t00000001")) };
    },
  };
}

describe("each shipper's position file through the rules", () => {
  for (const [name, tc] of Object.entries(cases)) {
    test(name, async () => {
      const got = await run(tc);
      assert.equal(got.action, tc.want, `readOffset ${got.entry.readOffset} lastLineStart ${got.entry.lastLineStart} size ${got.entry.size}`);
      const warnings = got.logger.find({ level: "warn" });
      if (tc.warns) {
        assert.equal(warnings.length, 1, JSON.stringify(warnings));
        assert.match(String(warnings[0]!.fields.code), tc.warns);
      } else {
        assert.deepEqual(warnings, []);
      }
    });
  }
});

describe("without a source", () => {
  test("no progress setting: no attacher, and the kubelet's plan compresses the older file at once", async () => {
    const config = { progress: {} } as Config;
    assert.equal(createProgressAttacher(config, plugin, new MemoryLogger()), undefined);
    const s = await makeScene();
    const entries = s.entries.map((e) => ({ name: e.name, kind: e.kind, size: e.size, mtime: Math.floor(e.mtimeMs / 1000) }));
    const [plan] = plugin.planRotation([{ id: "c1", logName: Buffer.from("0.log"), entries }], Math.floor(NOW / 1000), { maxSize: 1 << 30, maxFiles: 5, compress: true, shipperAware: false });
    // Below maxSize the kubelet does nothing at all; at it, it compresses every rotated file before
    // rotating (the one it rotates now stays plain), whatever the shipper read.
    assert.deepEqual(plan!.actions, []);
    const [atSize] = plugin.planRotation([{ id: "c1", logName: Buffer.from("0.log"), entries }], Math.floor(NOW / 1000), { maxSize: 10, maxFiles: 5, compress: true, shipperAware: false });
    assert.deepEqual(atSize!.actions.map((a) => [a.kind, a.name.toString()]).filter(([k]) => k !== "rotate"), [["compress", OLDER], ["compress", NEWER]]);
  });

  test("every progress setting builds its source", () => {
    const config = {
      progress: {
        fluentBitProgressFile: "/a",
        inTailDb: "/b",
        vectorCheckpoints: "/c/checkpoints.json",
        fluentdPosFile: "/d",
        promtailPositions: "/e",
        alloyPositions: "/f",
        otelFileStorage: "/g/receiver_filelog_",
      },
    } as Config;
    const attacher = createProgressAttacher(config, plugin, new MemoryLogger());
    assert.ok(attacher);
    const names = (attacher as unknown as { o: { sources: ProgressSource[] } }).o.sources.map((s) => s.name.split(" ")[0]);
    assert.deepEqual(names, ["progress.fluentBitProgressFile", "progress.inTailDb", "progress.vectorCheckpoints", "progress.fluentdPosFile", "progress.promtailPositions", "progress.alloyPositions", "otel-file-storage"]);
  });
});

describe("the sources on their own", () => {
  test("vector: u64 checksums and devices exact from their digits; a position beyond any file is corrupt", async () => {
    const dir = await mkdtemp(join(root, "v-"));
    const file = join(dir, "checkpoints.json");
    await writeFile(file, '{"version":"1","checkpoints":[{"fingerprint":{"first_lines_checksum":18446744073709551615},"position":12,"modified":"2026-01-02T03:04:05.123456Z"},{"fingerprint":{"dev_inode":[9007199254740993,18446744073709551614]},"position":0,"modified":"2026-01-02T03:04:05Z"}]}');
    const r = await new VectorCheckpointsSource(file, realFs).read();
    assert.deepEqual(r.errors, []);
    assert.deepEqual(r.claims, [
      { kind: "first-line-crc64", shipper: "vector", checksum: 18446744073709551615n, offset: 12, modifiedMs: Date.UTC(2026, 0, 2, 3, 4, 5, 123) },
      { kind: "dev-inode", shipper: "vector", dev: 9007199254740993n, inode: 18446744073709551614n, offset: 0, modifiedMs: Date.UTC(2026, 0, 2, 3, 4, 5) },
    ]);
    await writeFile(file, '{"version":"1","checkpoints":[{"fingerprint":{"first_lines_checksum":1},"position":9007199254740993,"modified":"2026-01-02T03:04:05Z"}]}');
    assert.equal((await new VectorCheckpointsSource(file, realFs).read()).errors[0]?.code, "PROGRESS_FILE_CORRUPT");
  });

  test("fluentd: a path that is not UTF-8 keeps its bytes", async () => {
    const dir = await mkdtemp(join(root, "f-"));
    const file = join(dir, "pos");
    const path = Buffer.from([0x2f, 0x61, 0xff, 0xfe, 0x2e, 0x6c, 0x6f, 0x67]); // "/a\xff\xfe.log"
    await writeFile(file, Buffer.concat([path, Buffer.from("\t0000000000000010\t00000000000000ff\n")]));
    const r = await new FluentdPosFileSource(file, realFs).read();
    assert.deepEqual(r.claims, [{ kind: "inode-name", shipper: "fluentd", inode: 255n, path, offset: 16 }]);
  });

  test("promtail: an unquoted offset is an offset too; the mtime is when it was taken", async () => {
    const dir = await mkdtemp(join(root, "p-"));
    const file = join(dir, "positions.yaml");
    await writeFile(file, "positions:\n  /var/log/a.log: 42\n  /var/log/b.log: \"7\"\n");
    await utimes(file, new Date(1_700_000_000_000), new Date(1_700_000_000_500));
    const r = await new PositionsYamlSource("promtail", file, realFs).read();
    assert.deepEqual(r.claims.map((c) => c.kind === "path" && [c.path.toString(), c.offset, c.takenAtMs]), [["/var/log/a.log", 42, 1_700_000_000_500], ["/var/log/b.log", 7, 1_700_000_000_500]]);
  });

  const fifoCases: Record<string, (file: string) => ProgressSource> = {
    vector: (f) => new VectorCheckpointsSource(f, realFs),
    fluentd: (f) => new FluentdPosFileSource(f, realFs),
    alloy: (f) => new PositionsYamlSource("alloy", f, realFs),
  };
  for (const [name, make] of Object.entries(fifoCases)) {
    test(`${name}: a FIFO where the position file should be is an error at once, never a hang`, async () => {
      const dir = await mkdtemp(join(root, "fifo-"));
      const file = join(dir, name === "vector" ? "checkpoints.json" : "positions");
      (await import("node:child_process")).execFileSync("mkfifo", [file]);
      const r = await make(file).read();
      assert.deepEqual(r.claims, []);
      assert.equal(r.errors[0]?.code, "PROGRESS_FILE_READ");
    });
  }
});

describe("a position file read whole", () => {
  test("one larger than a position file may be is refused, naming it, and nothing of it is read", async () => {
    const dir = await mkdtemp(join(tmpdir(), "crl-read-whole-"));
    try {
      const file = join(dir, "positions.yml");
      await writeFile(file, "positions:\n" + "  x: 1\n".repeat(200_000)); // 1.4 MB: over the 1 MiB first read
      await assert.rejects(readWhole(realFs, file, 1024 * 1024), (err: unknown) =>
        err instanceof ProgressSourceError && err.code === "PROGRESS_FILE_READ" && err.path === file && /more than the 1048576/.test(err.message));
      assert.equal((await readWhole(realFs, file))?.bytes.length, 11 + 7 * 200_000, "under the default limit it is read whole");
      assert.equal(await readWhole(realFs, join(dir, "missing.yml")), null);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
