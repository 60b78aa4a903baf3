// The kubelet port (kubelet-rotator.ts) as a process of its own, so a benchmark can measure it like the shim
// (its CPU in /proc/<pid>/stat, its own core) and a test can stall or kill it:
//
//   node dist/test/support/kubelet-rotator-main.js --runtime-endpoint unix:///run/containerd/containerd.sock \
//     --max-size 10485760 --max-files 5 --interval-ms 10000 --workers 1
//
// Runs until SIGTERM or SIGINT (lets the container in work finish, exits 0). Writes one JSON line per event
// on stderr: {"msg":"started"} first, then rotated / compressed / removed / reopened / error.
import { parseArgs } from "node:util";
import { createCriClient } from "../../host/cri/client.js";
import { KubeletRotator, type KubeletEvent } from "./kubelet-rotator.js";

const { values } = parseArgs({
  options: {
    "runtime-endpoint": { type: "string" },
    "max-size": { type: "string" },
    "max-files": { type: "string", default: "5" },
    "interval-ms": { type: "string", default: "10000" },
    workers: { type: "string", default: "1" },
  },
});

function integer(name: string, text: string | undefined): number {
  const n = Number(text);
  if (text === undefined || !Number.isSafeInteger(n)) {
    process.stderr.write(`kubelet-rotator: --${name} must be an integer, got ${JSON.stringify(text)}\n`);
    process.exit(2);
  }
  return n;
}

function line(fields: Record<string, unknown>): void {
  process.stderr.write(JSON.stringify({ ts: new Date().toISOString(), ...fields }) + "\n");
}

function eventFields(e: KubeletEvent): Record<string, unknown> {
  switch (e.kind) {
    case "rotated":
      return { msg: "rotated", containerId: e.containerId, path: e.from.toString(), rotatedTo: e.to.toString(), size: e.size, replaced: e.replaced };
    case "compressed":
      return { msg: "compressed", containerId: e.containerId, path: e.path.toString(), tmpExisted: e.tmpExisted };
    case "removed":
      return { msg: "removed", containerId: e.containerId, path: e.path.toString(), reason: e.reason };
    case "reopened":
      return { msg: "reopened", containerId: e.containerId, path: e.path.toString() };
    case "error":
      return { msg: e.msg, level: "error", containerId: e.containerId, err: { message: e.err.message } };
  }
}

const cri = createCriClient({ endpoint: values["runtime-endpoint"], timeoutMs: 120_000 }); // the kubelet's runtime request timeout: 2 min
const rotator = new KubeletRotator({
  cri,
  maxSize: integer("max-size", values["max-size"]),
  maxFiles: integer("max-files", values["max-files"]),
  intervalMs: integer("interval-ms", values["interval-ms"]),
  workers: integer("workers", values.workers),
  onEvent: (e) => line(eventFields(e)),
});
rotator.start();
line({ msg: "started", pid: process.pid, maxSize: rotator.maxSize, maxFiles: rotator.maxFiles, intervalMs: rotator.intervalMs, workers: rotator.workers });

let stopping = false;
const stop = async (): Promise<void> => {
  if (stopping) return;
  stopping = true;
  await rotator.stop();
  cri.close();
  line({ msg: "stopped", stats: rotator.stats });
  process.exit(0);
};
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());
