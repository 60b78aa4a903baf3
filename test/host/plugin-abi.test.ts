// The boundary itself: module shape, every malformed-request status, odd names, and a fuzz run that
// throws thousands of random and mutated buffers at every entry (no trap, memory stays bounded).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { WasmModule, defaultWasmPath, expectOk } from "../../host/plugin/wasm.js";
import { WasmPlugin } from "../../host/plugin/index.js";
import { PluginError } from "../../host/errors.js";
import { decodePlanResponse, encodeGrowthRequest, encodePlanRequest, encodeListRequest, encodeRotatedNameRequest, encodeValidateRequest } from "../../host/plugin/codec.js";
import { encodeCreditRequest } from "../../host/plugin/credit-codec.js";
import { statusName } from "../../host/plugin/status.js";
import type { ContainerSnapshot, Policy } from "../../host/plugin/types.js";

const wasm = new WasmModule();
const plugin = new WasmPlugin(wasm);
const policy: Policy = { maxSize: 10, maxFiles: 3, compress: true, shipperAware: false };

function snapshot(names: Buffer[], liveSize = 100): ContainerSnapshot {
  return {
    id: "c1",
    logName: Buffer.from("0.log"),
    entries: [{ name: Buffer.from("0.log"), kind: "file", size: liveSize, mtime: 0 }, ...names.map((name) => ({ name, kind: "file" as const, size: 5, mtime: 0 }))],
  };
}

test("module shape: a WASI reactor importing only wasi_snapshot_preview1, runtime exported", () => {
  const mod = new WebAssembly.Module(new Uint8Array(readFileSync(defaultWasmPath())));
  const imports = WebAssembly.Module.imports(mod);
  assert.ok(imports.length > 0);
  for (const i of imports) assert.equal(i.module, "wasi_snapshot_preview1", `${i.module}.${i.name}`);
  const exports = WebAssembly.Module.exports(mod).map((e) => e.name);
  for (const name of ["_initialize", "memory", "__new", "__pin", "__unpin", "__collect", "crl_abi_version", "crl_plan_batch", "crl_parse_quantity", "crl_validate_config", "crl_list_logs", "crl_rotated_name", "crl_check_growth", "crl_credit_progress"]) {
    assert.ok(exports.includes(name), `exports ${name}`);
  }
  assert.ok(!exports.includes("_start"), "a reactor has no _start");
  assert.equal(plugin.abiVersion(), 2);
});

function valid(): Buffer {
  return Buffer.from(encodePlanRequest([snapshot([Buffer.from("0.log.20240101-000000")])], 1_700_000_000, policy));
}

function patched(offset: number, bytes: number[]): Buffer {
  const b = valid();
  bytes.forEach((v, i) => (b[offset + i] = v));
  return b;
}

// Offsets in a plan request: magic 0, version 4, maxSize 8, maxFiles 16, flags 20, limits 24..47, now 48,
// count 56, first container from 60: id len 60, "c1" 64, logName len 66, "0.log" 70, liveOnly 75, entry
// count 76, first entry name len 80, name 84..88, kind 89, flags 90, size 91.
const malformed: Record<string, { request: Buffer; status: string }> = {
  "empty request": { request: Buffer.alloc(0), status: "TRUNCATED" },
  "bad magic": { request: patched(0, [0x58]), status: "BAD_MAGIC" },
  "other ABI version": { request: patched(4, [1, 0, 0, 0]), status: "BAD_VERSION" },
  "maxFiles 1": { request: patched(16, [1, 0, 0, 0]), status: "BAD_POLICY" },
  "unknown flag bit": { request: patched(20, [0x81, 0, 0, 0]), status: "BAD_POLICY" },
  "limit below -1": { request: patched(24, [0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), status: "BAD_POLICY" },
  "container count past the end": { request: patched(56, [0x10, 0, 0, 0]), status: "TRUNCATED" },
  "container count past the limit": { request: patched(56, [0xff, 0xff, 0xff, 0x7f]), status: "TOO_LARGE" },
  "entry count past the end": { request: patched(76, [0xff, 0xff, 0, 0]), status: "TRUNCATED" },
  "a name longer than the request": { request: patched(80, [0x01, 0x20, 0, 0]), status: "TRUNCATED" },
  "truncated inside an entry": { request: valid().subarray(0, 100), status: "TRUNCATED" },
  "trailing byte": { request: Buffer.concat([valid(), Buffer.from([0])]), status: "TRAILING_BYTES" },
};

for (const [name, tc] of Object.entries(malformed)) {
  test(`plan_batch rejects ${name} with ${tc.status}`, () => {
    const res = wasm.call("crl_plan_batch", tc.request);
    assert.equal(statusName(res.status), tc.status, res.payload.toString());
    assert.ok(res.payload.length > 0, "an error says what is wrong");
  });
}

// One container's bad part rejects that container only: the one beside it is planned (issue: a 5,000-byte
// id or 70,000 siblings made the whole batch fail and nothing was rotated).
const healthy = (): ContainerSnapshot => ({ ...snapshot([Buffer.from("0.log.20240101-000000")]), id: "healthy" });
const bad: Record<string, { container: ContainerSnapshot | (() => Buffer); code: string; message: RegExp }> = {
  "an empty id": { container: { ...snapshot([]), id: "" }, code: "PLUGIN_BAD_NAME", message: /id is empty/ },
  "a 5,000-byte id": { container: { ...snapshot([]), id: "x".repeat(5000) }, code: "PLUGIN_TOO_LARGE", message: /id is 5000 bytes, the limit is 4096/ },
  "a log name '..'": { container: { ...snapshot([]), logName: Buffer.from("..") }, code: "PLUGIN_BAD_NAME", message: /logName is "\.\."/ },
  "an entry name '.'": { container: snapshot([Buffer.from(".")]), code: "PLUGIN_BAD_NAME", message: /entry 1 name is "\."/ },
  "a name holding '/'": { container: snapshot([Buffer.from("0.log.a/b")]), code: "PLUGIN_BAD_NAME", message: /holds '\/' at byte 7/ },
  "a name holding NUL": { container: snapshot([Buffer.from("0.log.a\0b")]), code: "PLUGIN_BAD_NAME", message: /holds NUL/ },
  "a 5,000-byte name": { container: snapshot([Buffer.from("0.log." + "y".repeat(4994))]), code: "PLUGIN_TOO_LARGE", message: /name is 5000 bytes/ },
  "70,000 entries": {
    container: { ...snapshot(Array.from({ length: 70_000 }, (_, i) => Buffer.from(`0.log.2024${String(i).padStart(4, "0")}-000000`))) },
    code: "PLUGIN_TOO_LARGE",
    message: /entry count is 70001, the limit is 65536/,
  },
};
// Its own instance: 70,000 entries grow linear memory, which the fuzz test below bounds.
const bigPlugin = new WasmPlugin(new WasmModule());
for (const [name, tc] of Object.entries(bad)) {
  test(`plan_batch: ${name} rejects that container only`, () => {
    const c = tc.container as ContainerSnapshot;
    const plans = bigPlugin.planRotation([healthy(), c, healthy()], 1_700_000_000, policy);
    assert.deepEqual(plans.map((p) => p.outcome), ["planned", "rejected", "planned"]);
    assert.equal((plans[1]!.error as PluginError).code, tc.code);
    assert.match(plans[1]!.error!.message, tc.message);
    assert.ok(plans[0]!.actions.some((a) => a.kind === "rotate"), "the healthy ones are planned");
  });
}

test("plan_batch: an entry kind 9, unknown entry flags, a negative size or a digest out of range reject the container", () => {
  const cases: [number, number[], RegExp][] = [
    [89, [9], /kind is 9, must be 0\.\.3/],
    [90, [0x80], /flags has unknown bits/],
    [98, [0x80], /size is negative/],
  ];
  for (const [offset, bytes, message] of cases) {
    const plans = decodePlanResponse(expectOk("crl_plan_batch", wasm.call("crl_plan_batch", patched(offset, bytes))), [snapshot([])]);
    assert.equal(plans[0]!.outcome, "rejected");
    assert.match(plans[0]!.error!.message, message);
  }
});

test("a pointer outside linear memory is BAD_POINTER, not a trap", () => {
  const res = wasm.rawCall("crl_plan_batch", 0x7fff_fff0, 64);
  assert.equal(statusName(res.status), "BAD_POINTER");
  assert.equal(statusName(wasm.rawCall("crl_list_logs", 16, 0xffff_ffff).status), "BAD_POINTER");
});

test("validate_config and list_logs reject bad magic and truncation", () => {
  const v = Buffer.from(encodeValidateRequest({ containerLogMaxSize: "10Mi", containerLogMaxFiles: 5, containerLogMaxWorkers: 1, containerLogMonitorIntervalMs: 10_000 }));
  assert.equal(statusName(wasm.call("crl_validate_config", v.subarray(0, 10)).status), "TRUNCATED");
  v[0] = 0;
  assert.equal(statusName(wasm.call("crl_validate_config", v).status), "BAD_MAGIC");
  const l = Buffer.from(encodeListRequest(Buffer.from("0.log"), [{ name: Buffer.from("a/b"), kind: "file", size: 0, mtime: 0 }]));
  assert.equal(statusName(wasm.call("crl_list_logs", l).status), "BAD_NAME");
});

test("rotated_name answers from the entries given, and refuses a live log name too long for any rotated name", () => {
  const entries = [{ name: Buffer.from("0.log.20231114-221320"), kind: "symlink" as const, size: 0, mtime: 0 }];
  assert.equal(plugin.rotatedName(Buffer.from("0.log"), entries, 1_700_000_000).toString(), "0.log.20231114-221320_000001");
  assert.throws(() => plugin.rotatedName(Buffer.from("x".repeat(229)), [], 0), (err: unknown) => err instanceof PluginError && err.code === "PLUGIN_BAD_NAME" && /too long/.test(err.message));
});

test("names travel as raw bytes: newline, space, '*', '[', invalid UTF-8", () => {
  const logNames = ["a\nb.log", "a b.log", "*.log", "[x].log"].map((s) => Buffer.from(s)).concat([Buffer.from([0xff, 0xfe, 0x2e, 0x6c, 0x6f, 0x67])]);
  for (const logName of logNames) {
    const rotated = [".20240101-000000", ".20240101-000001.gz"].map((s) => Buffer.concat([logName, Buffer.from(s)]));
    const entries = [logName, ...rotated].map((name) => ({ name, kind: "file" as const, size: 1, mtime: 0 }));
    const listed = plugin.listLogs(logName, entries);
    assert.deepEqual(listed.map((b) => b.toString("hex")), [...rotated, logName].map((b) => b.toString("hex")));
  }
  const odd = Buffer.from([0xff, 0x0a, 0x2a, 0x5b, 0x20, 0x2e, 0x6c, 0x6f, 0x67]); // "\xff\n*[ .log"
  const rotated = [".20231114-100000", ".20231114-110000"].map((s) => Buffer.concat([odd, Buffer.from(s)]));
  const entries = [odd, ...rotated].map((name, i) => ({ name, kind: "file" as const, size: i === 0 ? 100 : 5, mtime: 0 }));
  const [plan] = plugin.planRotation([{ id: "c1", logName: odd, entries }], 1_700_000_000, { ...policy, maxFiles: 10 });
  const compressed = plan!.actions.filter((a) => a.kind === "compress").map((a) => a.name.toString("hex")).sort();
  assert.deepEqual(compressed, rotated.map((b) => b.toString("hex")).sort(), "both older files are compressed when rotating");
  const rotate = plan!.actions.find((a) => a.kind === "rotate")!;
  assert.equal(rotate.name.toString("hex"), Buffer.concat([odd, Buffer.from(".20231114-221319")]).toString("hex"));
});

// A credit request with one of each: a rotation, a rotated and a live file, a claim of every kind.
const creditRequest = () =>
  encodeCreditRequest({
    history: [{ livePath: Buffer.from("/p/0.log"), inode: 10n, rotatedPath: Buffer.from("/p/0.log.1"), rotatedAtMs: 2000, liveSinceMs: 1000 }],
    files: [
      { path: Buffer.from("/p/0.log.1"), live: false, dev: 1n, inode: 10n, size: 100, lastLineStart: 90, firstLineCrc64: 7n, firstBytes: Buffer.from("abcdefgh12"), bornMs: 500 },
      { path: Buffer.from("/p/0.log"), live: true, inode: 11n, size: 5 },
    ],
    claims: [
      { kind: "inode-name", shipper: "fluentd", inode: 10n, path: Buffer.from("/p/0.log"), offset: 100 },
      { kind: "dev-inode", shipper: "vector", dev: 1n, inode: 10n, offset: 50, modifiedMs: 900 },
      { kind: "first-line-crc64", shipper: "vector", checksum: (1n << 64n) - 1n, offset: 50 },
      { kind: "first-bytes", shipper: "otel", firstBytes: Buffer.from("abcdefgh"), offset: 60 },
      { kind: "path", shipper: "alloy", path: Buffer.from("/p/0.log"), offset: 70, takenAtMs: 1500 },
      { kind: "generation", shipper: "fluent-bit-filter", path: Buffer.from("/p/0.log"), index: 0, firstOffset: 0, maxOffset: 90, records: 3, firstMs: 1200, lastMs: 1300, precisionMs: 1 },
    ],
  });

// Offsets in that request: magic 0, version 4, rotation count 8, first rotation's livePath length 12.
const creditMalformed: Record<string, { request: Buffer; status: string }> = {
  "empty request": { request: Buffer.alloc(0), status: "TRUNCATED" },
  "bad magic": { request: patchedCopy(creditRequest(), 0, [0x58]), status: "BAD_MAGIC" },
  "other ABI version": { request: patchedCopy(creditRequest(), 4, [0x7f, 0, 0, 0]), status: "BAD_VERSION" },
  "rotation count past the end": { request: patchedCopy(creditRequest(), 8, [0x10, 0, 0, 0]), status: "TRUNCATED" },
  "rotation count past the limit": { request: patchedCopy(creditRequest(), 8, [0xff, 0xff, 0xff, 0x7f]), status: "TOO_LARGE" },
  "path past the limit": { request: patchedCopy(creditRequest(), 12, [0x01, 0x20, 0, 0]), status: "TOO_LARGE" },
  "path holds NUL": { request: patchedCopy(creditRequest(), 17, [0]), status: "BAD_NAME" },
  "trailing byte": { request: Buffer.concat([creditRequest(), Buffer.from([0])]), status: "TRAILING_BYTES" },
  "truncated inside a claim": { request: creditRequest().subarray(0, creditRequest().length - 5), status: "TRUNCATED" },
  "unknown claim kind": { request: withLastClaimByte(0, 9), status: "BAD_VALUE" },
  "unknown shipper": { request: withLastClaimByte(1, 0), status: "BAD_VALUE" },
  "negative file size": {
    request: encodeCreditRequest({ history: [], files: [{ path: Buffer.from("/a"), live: true, inode: 1n, size: -1 }], claims: [] }),
    status: "BAD_VALUE",
  },
  "generation precision 0": {
    request: encodeCreditRequest({ history: [], files: [], claims: [{ kind: "generation", shipper: "fluent-bit-filter", path: Buffer.from("/a"), index: 0, firstOffset: 0, maxOffset: 0, records: 0, firstMs: 0, lastMs: 0, precisionMs: 0 }] }),
    status: "BAD_VALUE",
  },
};

function patchedCopy(b: Buffer, offset: number, bytes: number[]): Buffer {
  const c = Buffer.from(b);
  bytes.forEach((v, i) => (c[offset + i] = v));
  return c;
}

/** The request with a byte of its last claim (a generation: kind, shipper, path "/p/0.log", 4 i64) patched. */
function withLastClaimByte(at: number, value: number): Buffer {
  const b = creditRequest();
  return patchedCopy(b, b.length - (2 + 4 + 8 + 4 * 8) + at, [value]);
}

for (const [name, tc] of Object.entries(creditMalformed)) {
  test(`credit_progress rejects ${name} with ${tc.status}`, () => {
    const res = wasm.call("crl_credit_progress", tc.request);
    assert.equal(statusName(res.status), tc.status, res.payload.toString());
    assert.ok(res.payload.length > 0, "an error says what is wrong");
  });
}

test("credit_progress answers the valid request, one credit per file", () => {
  const res = wasm.call("crl_credit_progress", creditRequest());
  assert.equal(statusName(res.status), "OK", res.payload.toString());
  assert.equal(statusName(wasm.rawCall("crl_credit_progress", 0x7fff_fff0, 64).status), "BAD_POINTER");
});

/** xorshift32: deterministic, so a failing fuzz case can be replayed from its seed. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function mutate(base: Buffer, next: () => number): Buffer {
  const b = Buffer.from(base);
  switch (next() % 4) {
    case 0: // flip a few bytes
      for (let i = next() % 4; i >= 0; i--) b[next() % b.length] = next() & 0xff;
      return b;
    case 1: // truncate
      return b.subarray(0, next() % b.length);
    case 2: // set a 32-bit field to an extreme
      b.writeUInt32LE([0, 1, 0xffffffff, 0x7fffffff, 4097][next() % 5]!, (next() % Math.max(1, b.length - 4)) & ~0);
      return b;
    default: // random bytes
      return Buffer.from(Array.from({ length: next() % 200 }, () => next() & 0xff));
  }
}

test("fuzz: 10,500 random and mutated requests never trap and memory stays bounded", () => {
  const next = rng(0x5eed);
  const bases: Record<string, Buffer> = {
    crl_plan_batch: Buffer.from(encodePlanRequest([snapshot([Buffer.from("0.log.20240101-000000"), Buffer.from("0.log.20240101-000001.gz")]), snapshot([])], 1_700_000_000, { ...policy, shipperAware: true, logRootBudget: 100 })),
    crl_list_logs: Buffer.from(encodeListRequest(Buffer.from("0.log"), [{ name: Buffer.from("0.log.20240101-000000"), kind: "file", size: 1, mtime: 0 }])),
    crl_rotated_name: Buffer.from(encodeRotatedNameRequest(Buffer.from("0.log"), [{ name: Buffer.from("0.log.20240101-000000_000001"), kind: "file", size: 1, mtime: 0 }], 1_700_000_000)),
    crl_check_growth: Buffer.from(encodeGrowthRequest([{ size: 5, atMs: 10, prevSize: 1, prevAtMs: 5 }, { size: 50, atMs: 10, prevSize: -1, prevAtMs: -1 }], 10, 1000)),
    crl_validate_config: Buffer.from(encodeValidateRequest({ containerLogMaxSize: "10Mi", containerLogMaxFiles: 5, containerLogMaxWorkers: 1, containerLogMonitorIntervalMs: 10_000 })),
    crl_parse_quantity: Buffer.from("1.5Gi"),
    crl_credit_progress: creditRequest(),
  };
  const entries = Object.keys(bases);
  let pagesAfterWarmup = 0;
  const statuses = new Map<string, number>();
  for (let i = 0; i < 10_500; i++) {
    const entry = entries[i % entries.length]!;
    const request = mutate(bases[entry]!, next);
    const res = wasm.call(entry, request); // a trap would throw PLUGIN_TRAP
    const s = statusName(res.status);
    statuses.set(s, (statuses.get(s) ?? 0) + 1);
    if (i === 1000) pagesAfterWarmup = wasm.memoryPages;
  }
  assert.ok(statuses.size >= 4, `the fuzz reached several statuses: ${[...statuses].join(" ")}`);
  assert.ok(wasm.memoryPages <= pagesAfterWarmup + 2, `memory grew from ${pagesAfterWarmup} to ${wasm.memoryPages} pages`);
  assert.ok(wasm.memoryPages < 64, `memory is ${wasm.memoryPages} pages`);
});
