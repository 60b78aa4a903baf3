// Wires the pieces together for the CLI: config → rules module → CRI → manager, plus the daemon's
// operations side (metrics server, health, lock, signals). Everything here is composition; the behaviour
// lives in the modules it wires.
import { connectCri } from "./cri/client.js";
import type { Cri } from "./cri/types.js";
import type { Config } from "./config/index.js";
import { realFs, type Fs } from "./fs.js";
import { systemClock, type Clock } from "./clock.js";
import type { Logger } from "./log.js";
import { LogManager, type ManagerObserver, type ProgressAttacher } from "./manager/index.js";
import { createMetrics, type Metrics } from "./metrics.js";
import type { Plugin, Policy } from "./plugin/types.js";

export function policyOf(config: Config, shipperAware: boolean): Policy {
  return {
    maxSize: config.maxSizeBytes,
    maxFiles: config.containerLogMaxFiles,
    compress: config.compression !== "none",
    shipperAware,
    maxUnreadBytesPerContainer: config.progress.maxUnreadBytesPerContainer,
    holdTimeoutSeconds: config.progress.holdTimeoutSeconds,
    logRootBudget: config.progress.logRootBudget,
  };
}

/** Turns the manager's reports into the Prometheus metrics of docs/operations.md. */
export function metricsObserver(m: Metrics): ManagerObserver {
  return {
    passFinished(seconds, watched) {
      m.passDuration.observe(seconds);
      m.containersWatched.set(watched);
    },
    outcome(o) {
      switch (o.kind) {
        case "rotate":
          m.rotations.inc();
          break;
        case "compress":
          m.compressions.inc();
          m.compressedBytesIn.inc(o.bytesIn);
          m.compressedBytesOut.inc(o.bytesOut);
          break;
        case "remove":
          m.removals.inc({ reason: o.action.reason });
          break;
        case "recover":
          m.recoveries.inc();
          break;
      }
      if ((o.kind === "remove" || o.kind === "compress") && o.action.unreadBytes > 0) {
        m.unreadBytesDropped.inc({ reason: o.action.reason }, o.action.unreadBytes);
      }
    },
    held(files, bytes) {
      m.heldFiles.set(files);
      m.heldUnreadBytes.set(bytes);
    },
    error(kind) {
      m.error(kind);
    },
    runtimeUp(up) {
      m.runtimeUp.set(up ? 1 : 0);
    },
    compressionBacklog(files, bytes) {
      m.compressionBacklogFiles.set(files);
      m.compressionBacklogBytes.set(bytes);
    },
    compressionDropped(files) {
      m.compressionsDropped.inc(files);
    },
  };
}

export interface ShimDeps {
  config: Config;
  plugin: Plugin;
  logger: Logger;
  cri?: Cri;
  fs?: Fs;
  clock?: Clock;
  metrics?: Metrics;
  progress?: ProgressAttacher;
}

export interface Shim {
  manager: LogManager;
  cri: Cri;
  metrics: Metrics;
  close(): void;
}

/** Connects to the runtime (Version check) unless a Cri is given, and builds the manager. */
export async function createShim(deps: ShimDeps): Promise<Shim> {
  const { config, plugin, logger } = deps;
  const cri =
    deps.cri ??
    (await connectCri({ endpoint: config.runtimeEndpoint, timeoutMs: config.runtimeRequestTimeoutMs, logger })).cri;
  const metrics = deps.metrics ?? createMetrics();
  const manager = new LogManager({
    cri,
    plugin,
    fs: deps.fs ?? realFs,
    clock: deps.clock ?? systemClock,
    logger,
    policy: policyOf(config, deps.progress !== undefined),
    logRoot: config.logRoot,
    workers: config.containerLogMaxWorkers,
    intervalMs: config.monitorIntervalMs,
    compressionLevel: config.compressionLevel,
    observer: metricsObserver(metrics),
    progress: deps.progress,
    growthChecks: config.growthChecks,
  });
  return { manager, cri, metrics, close: () => cri.close() };
}
