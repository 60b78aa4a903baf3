// npm run bench:plan — plan 10,000 container snapshots of 6 files each in ONE batch through the release
// .wasm (encode, call, decode included) and report µs per container; in the same run, time one
// fs.statSync for scale. Target: <= 2 µs per container.
import { mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { WasmModule, WasmPlugin } from "../host/plugin/index.js";
import { decodePlanResponse, encodePlanRequest } from "../host/plugin/codec.js";
import { expectOk } from "../host/plugin/wasm.js";
import type { ContainerSnapshot, Policy } from "../host/plugin/types.js";
import { median, writeResult } from "./support/results.js";

const CONTAINERS = 10_000;
const ROUNDS = 15;
const now = 1_790_000_000;

function snapshots(): ContainerSnapshot[] {
  const out: ContainerSnapshot[] = [];
  for (let i = 0; i < CONTAINERS; i++) {
    const rotated = [0, 1, 2, 3, 4].map((k) => `0.log.2026112${k}-0${i % 10}0000${k < 4 ? ".gz" : ""}`);
    out.push({
      id: `container-${i.toString(16).padStart(12, "0")}`,
      logName: Buffer.from("0.log"),
      entries: [
        // every third container is over its limit, so the plan holds real actions
        { name: Buffer.from("0.log"), kind: "file", size: i % 3 === 0 ? 20 << 20 : 1 << 20, mtime: now },
        ...rotated.map((name, k) => ({ name: Buffer.from(name), kind: "file" as const, size: 1 << 20, mtime: now - 100 * (5 - k) })),
      ],
    });
  }
  return out;
}

const wasm = new WasmModule();
const plugin = new WasmPlugin(wasm);
const policy: Policy = { maxSize: 10 << 20, maxFiles: 5, compress: true, shipperAware: false };
const batch = snapshots();

let actions = 0;
const perContainer: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const t0 = process.hrtime.bigint();
  const plans = plugin.planRotation(batch, now, policy);
  const ns = Number(process.hrtime.bigint() - t0);
  actions = plans.reduce((n, p) => n + p.actions.length, 0);
  if (r >= 3) perContainer.push(ns / 1000 / CONTAINERS); // the first rounds warm up the JIT
}

// The same work in its three parts (extra fields only; the headline value is the loop above).
const parts = { encode: [] as number[], wasm: [] as number[], decode: [] as number[] };
for (let r = 0; r < ROUNDS; r++) {
  const t0 = process.hrtime.bigint();
  const request = encodePlanRequest(batch, now, policy);
  const t1 = process.hrtime.bigint();
  const payload = expectOk("crl_plan_batch", wasm.call("crl_plan_batch", request));
  const t2 = process.hrtime.bigint();
  decodePlanResponse(payload, batch);
  const t3 = process.hrtime.bigint();
  if (r < 3) continue;
  parts.encode.push(Number(t1 - t0) / 1000 / CONTAINERS);
  parts.wasm.push(Number(t2 - t1) / 1000 / CONTAINERS);
  parts.decode.push(Number(t3 - t2) / 1000 / CONTAINERS);
}

const dir = mkdtempSync(join(tmpdir(), "crl-bench-"));
const file = join(dir, "0.log");
writeFileSync(file, "x");
const statTimes: number[] = [];
for (let r = 0; r < ROUNDS; r++) {
  const n = 20_000;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) statSync(file);
  statTimes.push(Number(process.hrtime.bigint() - t0) / 1000 / n);
}
rmSync(dir, { recursive: true });

const value = median(perContainer);
const peerValue = median(statTimes);
console.log(`planned ${CONTAINERS} containers x 6 files per batch, ${actions} actions, median of ${perContainer.length} rounds`);
writeResult({
  name: "plan",
  value,
  unit: "us/container",
  peer: "one fs.statSync",
  peerValue,
  ratio: value / peerValue,
  target: 2,
  containers: CONTAINERS,
  filesPerContainer: 6,
  actionsPerBatch: actions,
  encodeUs: median(parts.encode),
  wasmUs: median(parts.wasm),
  decodeUs: median(parts.decode),
});
