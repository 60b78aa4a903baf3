// npm run bench:pass — one steady-state pass over 500 RUNNING containers, none needing rotation: our
// LogManager (ListContainers, one lstat per container, one batch plan; paths learned on the first pass)
// against the kubelet's sequence with one worker (ListContainers, then ContainerStatus + stat per container,
// one after another). Same fake runtime (in a child process, as containerd would be), same CRI client,
// same socket; passes alternate, medians over ROUNDS. Target: ours <= 0.2 x the kubelet's.
import { mkdtempSync, mkdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCriClient } from "../host/cri/client.js";
import { loadPlugin } from "../host/plugin/index.js";
import type { Policy } from "../host/plugin/types.js";
import { kubeletPass } from "./support/kubelet-sequence.js";
import { startRuntimeChild } from "./support/fake-runtime-server.js";
import { benchManager } from "./support/manager.js";
import { median, writeResult } from "./support/results.js";

const CONTAINERS = 500;
const WARMUP = 5;
const ROUNDS = 15;
const policy: Policy = { maxSize: 10 * 1024 * 1024, maxFiles: 5, compress: true, shipperAware: false }; // kubelet defaults

const base = mkdtempSync(join(tmpdir(), "crl-bench-pass-"));
const logRoot = join(base, "pods");
mkdirSync(logRoot);
const socketPath = join(base, "cri.sock");
const runtime = await startRuntimeChild(socketPath, logRoot, CONTAINERS);
const cri = createCriClient({ endpoint: `unix://${socketPath}`, timeoutMs: 10_000 });
try {
  const manager = benchManager(cri, loadPlugin(), logRoot, policy);

  const first = await manager.runOnce(); // discovers the 500 log paths (ContainerStatus each, once)
  if (first.watched !== CONTAINERS) throw new Error(`first pass watched ${first.watched} containers, expected ${CONTAINERS}`);

  async function ours(): Promise<number> {
    const t0 = process.hrtime.bigint();
    const report = await manager.runOnce();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const actions = report.planned.reduce((n, p) => n + p.actions.length, 0);
    if (report.watched !== CONTAINERS || actions !== 0 || report.failures.length > 0) {
      throw new Error(`our pass: watched ${report.watched}, ${actions} actions, ${report.failures.length} failures; expected a quiet pass`);
    }
    return ms;
  }
  async function peer(): Promise<number> {
    const t0 = process.hrtime.bigint();
    const r = await kubeletPass(cri, policy.maxSize);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.running !== CONTAINERS || r.overLimit + r.missing + r.errors !== 0) throw new Error(`kubelet pass: ${JSON.stringify(r)}; expected a quiet pass`);
    return ms;
  }

  for (let i = 0; i < WARMUP; i++) {
    await ours();
    await peer();
  }
  const oursMs: number[] = [];
  const peerMs: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate who goes first, so a noisy neighbour hurts both sides alike.
    if (r % 2 === 0) {
      oursMs.push(await ours());
      peerMs.push(await peer());
    } else {
      peerMs.push(await peer());
      oursMs.push(await ours());
    }
  }

  const value = median(oursMs);
  const peerValue = median(peerMs);
  console.log(`${CONTAINERS} running containers (live log + 2 rotated each, none over ${policy.maxSize} bytes), median of ${ROUNDS} passes each`);
  console.log(`ours ms:    ${oursMs.map((x) => x.toFixed(1)).join(" ")}`);
  console.log(`kubelet ms: ${peerMs.map((x) => x.toFixed(1)).join(" ")}`);
  writeResult({
    name: "pass",
    value,
    unit: "ms",
    peer: "kubelet sequence (ContainerStatus per container, serial)",
    peerValue,
    ratio: value / peerValue,
    target: 0.2,
    containers: CONTAINERS,
    rounds: ROUNDS,
    oursMin: Math.min(...oursMs),
    peerMin: Math.min(...peerMs),
  });
} finally {
  cri.close();
  await runtime.stop();
  rmSync(base, { recursive: true, force: true });
}
