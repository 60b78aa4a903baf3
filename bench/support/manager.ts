// The LogManager the benchmarks measure: real fs and clock, no logging, the kubelet's defaults.
import type { Cri } from "../../host/cri/types.js";
import { systemClock } from "../../host/clock.js";
import { realFs } from "../../host/fs.js";
import { silentLogger } from "../../host/log.js";
import { LogManager } from "../../host/manager/index.js";
import type { Plugin, Policy } from "../../host/plugin/types.js";

export const KUBELET_DEFAULT_POLICY: Policy = { maxSize: 10 * 1024 * 1024, maxFiles: 5, compress: true, shipperAware: false };

export function benchManager(cri: Cri, plugin: Plugin, logRoot: string, policy: Policy = KUBELET_DEFAULT_POLICY): LogManager {
  return new LogManager({
    cri,
    plugin,
    fs: realFs,
    clock: systemClock,
    logger: silentLogger,
    policy,
    logRoot,
    workers: 1,
    intervalMs: 10_000,
    compressionLevel: 6,
  });
}
