// The kubelet's steady-state pass (pkg/kubelet/logs, containerLogMaxWorkers = 1), call for call, for the
// benchmarks to compare against: rotateLogs lists the containers with an empty filter and queues the
// RUNNING ones; the single worker's processContainer then, for each id in turn, asks ContainerStatus
// (verbose=false), os.Stat's status.log_path (following symlinks, as Go's os.Stat does), recovers a missing
// log with ReopenContainerLog, and compares the size with MaxSize. Nothing here is cached between passes:
// the kubelet keeps no state across ticks.
import { stat } from "node:fs/promises";
import type { Cri } from "../../host/cri/types.js";

export interface KubeletPassResult {
  running: number;
  /** Containers whose live log reached MaxSize: the kubelet would call rotateLog for them. */
  overLimit: number;
  missing: number;
  errors: number;
}

export async function kubeletPass(cri: Cri, maxSize: number): Promise<KubeletPassResult> {
  const result: KubeletPassResult = { running: 0, overLimit: 0, missing: 0, errors: 0 };
  const containers = await cri.listContainers();
  const queue = containers.filter((c) => c.state === "CONTAINER_RUNNING").map((c) => c.id);
  result.running = queue.length;
  for (const id of queue) {
    let logPath: Buffer;
    try {
      logPath = (await cri.containerStatus(id)).logPath;
    } catch {
      result.errors++; // "Failed to get container status"; next tick
      continue;
    }
    let size: number;
    try {
      size = (await stat(logPath)).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
        result.errors++;
        continue;
      }
      result.missing++;
      try {
        await cri.reopenContainerLog(id);
        size = (await stat(logPath)).size;
      } catch {
        result.errors++;
        continue;
      }
    }
    if (size < maxSize) continue; // V(7) "Container log doesn't need rotation"
    result.overLimit++;
  }
  return result;
}
