// The `cri-logrotate` command. Exit codes: 0 done, 1 a runtime failure (CRI unreachable, a file
// operation failed, another instance holds the lock), 2 bad usage or invalid configuration.
import { DEFAULTS, loadConfig, type Config } from "./config/index.js";
import { ConfigError } from "./errors.js";
import { createShim, type Shim } from "./daemon.js";
import { acquireLock, type Lock } from "./lock.js";
import { bytesAsText, createLogger, type Logger } from "./log.js";
import { createMetrics, currentValue } from "./metrics.js";
import { startMetricsServer } from "./metrics-server.js";
import { packageVersion } from "./assets.js";
import { showPath } from "./paths.js";
import { loadPlugin } from "./plugin/index.js";
import type { Plugin } from "./plugin/types.js";
import type { PlannedContainer, ProgressAttacher } from "./manager/index.js";

export interface Io {
  stdout: { write(chunk: string | Uint8Array): unknown };
  stderr: { write(chunk: string | Uint8Array): unknown };
  /** Resolves when the daemon should stop (SIGTERM/SIGINT in production, a test's trigger otherwise). */
  stopSignal?: Promise<void>;
  /** For tests: reach the running shim. */
  onShim?: (shim: Shim) => void;
}

export const HELP = `cri-logrotate — Kubernetes container log rotation (the kubelet's container log manager) beside the log agent

Usage:
  cri-logrotate run   [flags]        rotate logs every monitor interval until SIGTERM (the daemon)
  cri-logrotate once  [flags]        one rotation pass, then exit
  cri-logrotate plan  [flags]        dry run: what a pass would do and why; touches no file
  cri-logrotate clean <id> [flags]   remove every log of container <id> (live, rotated, .gz, .tmp)
  cri-logrotate logs  <id> [flags]   list container <id>'s logs, oldest first, the live log last
  cri-logrotate help | --help        this text

Flags (a YAML file given with --config sets the same keys; flags win; see docs/configuration.md):
  --config <file>                          YAML configuration file
  --container-log-max-size <quantity>      rotate when the live log reaches this size (default ${DEFAULTS.containerLogMaxSize}; negative disables)
  --container-log-max-files <n>            files kept per container, live log included, > 1 (default ${DEFAULTS.containerLogMaxFiles})
  --container-log-max-workers <n>          containers worked on in parallel, >= 1 (default ${DEFAULTS.containerLogMaxWorkers})
  --container-log-monitor-interval <dur>   time between passes, >= 3s (default ${DEFAULTS.containerLogMonitorInterval})
  --runtime-endpoint <unix://path>         CRI socket (default: containerd's, else CRI-O's, like crictl)
  --runtime-request-timeout <dur>          deadline of every CRI call (default ${DEFAULTS.runtimeRequestTimeout})
  --log-root <dir>                         only paths under this directory are touched (default ${DEFAULTS.logRoot})
  --compression <gzip|none>                compress older rotated files (default ${DEFAULTS.compression})
  --compression-level <1-9>                gzip level (default ${DEFAULTS.compressionLevel})
  --metrics-address <host:port>            Prometheus /metrics and /healthz; 0.0.0.0:9787 to be scraped over the pod IP; "" disables (default ${DEFAULTS.metricsAddress})
  --lock-file <file>                       one instance per log root, outside it (default ${DEFAULTS.lockFile})
  --log-level <debug|info|warn|error>      least severe log line written (default ${DEFAULTS.logLevel})
  --fluent-bit-progress-file <file>        shipper-aware: the progress file the Fluent Bit filter writes
  --in-tail-db <file>                      shipper-aware: Fluent Bit's in_tail SQLite DB
  --vector-checkpoints <file>              shipper-aware: Vector's checkpoints.json
  --fluentd-pos-file <file>                shipper-aware: fluentd in_tail's pos_file
  --promtail-positions <file>              shipper-aware: Promtail's positions.yaml
  --alloy-positions <file>                 shipper-aware: an Alloy loki.source.file positions.yml
  --otel-file-storage <file>               shipper-aware: the collector's file_storage file of a filelog receiver
  --max-unread-bytes-per-container <q>     shipper-aware: unread bytes a container may hold back
  --hold-timeout <dur>                     shipper-aware: longest time an unread file is held
  --log-root-budget <quantity>             shipper-aware: bytes the whole log root may use
  --json                                   plan/logs/clean/once: machine-readable output

Examples:
  cri-logrotate plan --container-log-max-size 50Mi
  cri-logrotate run --config /etc/cri-logrotate/config.yaml
  cri-logrotate clean 3f2a9c…
`;

const COMMANDS = new Set(["run", "once", "plan", "clean", "logs", "help"]);

export async function main(argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    io.stdout.write(HELP);
    return command === undefined ? 2 : 0;
  }
  if (command === "--version") {
    io.stdout.write(`${packageVersion()}\n`);
    return 0;
  }
  if (!COMMANDS.has(command)) {
    io.stderr.write(`cri-logrotate: unknown command "${command}"; run "cri-logrotate --help"\n`);
    return 2;
  }

  let plugin: Plugin;
  try {
    plugin = loadPlugin();
  } catch (err) {
    io.stderr.write(`cri-logrotate: ${(err as Error).message}\n`);
    return 1;
  }
  let config: Config;
  let positionals: string[];
  let json: boolean;
  try {
    const loaded = loadConfig(rest, plugin);
    if (loaded.flags.help) {
      io.stdout.write(HELP);
      return 0;
    }
    ({ config, positionals } = loaded);
    json = loaded.flags.json;
  } catch (err) {
    if (err instanceof ConfigError) {
      io.stderr.write(`cri-logrotate: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
  const needsId = command === "clean" || command === "logs";
  if (needsId ? positionals.length !== 1 || positionals[0] === "" : positionals.length !== 0) {
    io.stderr.write(needsId ? `cri-logrotate ${command}: expected exactly one container id\n` : `cri-logrotate ${command}: unexpected argument ${JSON.stringify(positionals[0])}\n`);
    return 2;
  }

  const logger = createLogger({ stream: io.stderr, level: config.logLevel });
  let shim: Shim;
  try {
    const progress = await progressAttacher(config, plugin, logger);
    // Only the daemon serves metrics; it also reports the process and Node.js runtime.
    const metrics = command === "run" ? createMetrics({ processMetrics: true }) : undefined;
    shim = await createShim({ config, plugin, logger, progress, metrics });
  } catch (err) {
    io.stderr.write(`cri-logrotate: ${(err as Error).message}\n`);
    return 1;
  }
  io.onShim?.(shim);
  // SIGTERM during a one-off command: the CRI reads in flight are given up and no new container is
  // started on; a rotation already under way (rename, reopen) still finishes. clean removes nothing
  // before its reads are done.
  const interrupted = new AbortController();
  void io.stopSignal?.then(() => interrupted.abort());
  const signal = interrupted.signal;
  let lock: Lock | undefined;
  try {
    // Every command that changes files takes the lock: two rotators on one root overwrite each other.
    if (command === "once" || command === "clean") lock = await acquireLock(config.lockFile);
    switch (command) {
      case "run":
        return await runDaemon(shim, config, logger, io);
      case "once": {
        const report = await shim.manager.runOnce({ signal });
        if (signal.aborted) {
          io.stderr.write("cri-logrotate once: stopped by a signal before the pass was done (no step was left half-done)\n");
          return 1;
        }
        const summary = {
          containers: report.watched,
          rotated: report.outcomes.filter((o) => o.kind === "rotate").length,
          compressed: report.outcomes.filter((o) => o.kind === "compress").length,
          removed: report.outcomes.filter((o) => o.kind === "remove").length,
          recovered: report.outcomes.filter((o) => o.kind === "recover").length,
          failures: report.failures.map((f) => ({ containerId: f.id, error: f.error.message })),
        };
        io.stdout.write(json ? JSON.stringify(summary) + "\n" : `${summary.containers} containers: ${summary.rotated} rotated, ${summary.compressed} compressed, ${summary.removed} removed, ${summary.recovered} recovered, ${summary.failures.length} failed\n`);
        return report.failures.length === 0 ? 0 : 1;
      }
      case "plan": {
        const plans = await shim.manager.plan(signal);
        if (signal.aborted) {
          io.stderr.write("cri-logrotate plan: stopped by a signal before the plan was made\n");
          return 1;
        }
        io.stdout.write(json ? JSON.stringify(planJson(plans)) + "\n" : formatPlan(plans));
        return 0;
      }
      case "clean": {
        const { removed, skipped } = await shim.manager.clean(positionals[0]!, signal);
        if (json) io.stdout.write(JSON.stringify({ removed: removed.map(bytesAsText), skipped: skipped.map(bytesAsText) }) + "\n");
        else {
          for (const p of removed) io.stdout.write(`removed ${showPath(p)}\n`);
          for (const p of skipped) io.stdout.write(`skipped ${showPath(p)} (not a regular file)\n`);
        }
        return 0;
      }
      case "logs": {
        const logs = await shim.manager.getAllLogs(positionals[0]!, signal);
        if (json) io.stdout.write(JSON.stringify(logs.map(bytesAsText)) + "\n");
        else for (const p of logs) io.stdout.write(Buffer.concat([p, Buffer.from("\n")]));
        return 0;
      }
    }
    return 2;
  } catch (err) {
    if (signal.aborted) io.stderr.write(`cri-logrotate ${command}: stopped by a signal before it was done (${(err as Error).message})\n`);
    else io.stderr.write(`cri-logrotate ${command}: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await shim.manager.stop();
    shim.close();
    await lock?.release();
  }
}

/**
 * The shipper-aware side, loaded only when the config sets a progress key: its readers (SQLite, JSON, YAML,
 * bbolt) are ~1 MB of heap that a daemon with the kubelet's rules never uses.
 */
async function progressAttacher(config: Config, plugin: Plugin, logger: Logger): Promise<ProgressAttacher | undefined> {
  if (Object.values(config.progress).every((v) => v === undefined)) return undefined;
  const { createProgressAttacher } = await import("./progress/attacher.js");
  return createProgressAttacher(config, plugin, logger);
}

async function runDaemon(shim: Shim, config: Config, logger: Logger, io: Io): Promise<number> {
  let lock;
  try {
    lock = await acquireLock(config.lockFile);
  } catch (err) {
    io.stderr.write(`cri-logrotate: ${(err as Error).message}\n`);
    return 1;
  }
  let server;
  try {
    if (config.metricsAddress !== "") {
      server = await startMetricsServer(config.metricsAddress, shim.metrics.registry, async () => {
        const up = (await currentValue(shim.metrics.runtimeUp)) === 1;
        return { ok: up, detail: up ? "ok" : "container runtime unreachable" };
      });
      logger.info("serving metrics", { address: `${server.address}:${server.port}` });
    }
    shim.manager.start();
    await (io.stopSignal ?? new Promise<void>(() => {}));
    logger.info("stopping: letting the pass in flight finish");
    await shim.manager.stop();
    logger.info("stopped");
    return 0;
  } finally {
    await server?.close();
    await lock.release();
  }
}

// JSON has no raw bytes: paths and names are text when they are UTF-8, else written with \xNN for each byte
// of the parts that are not (as in the log lines) — never decoded to U+FFFD, which would name another file.
function planJson(plans: PlannedContainer[]) {
  return plans
    .filter((p) => p.actions.length > 0)
    .map((p) => ({
      containerId: p.id,
      name: p.name,
      logPath: bytesAsText(p.location.logPath),
      actions: p.actions.map((a) => ({ kind: a.kind, reason: a.reason, file: bytesAsText(a.name), unreadBytes: a.unreadBytes, detail: a.detail })),
    }));
}

export function formatPlan(plans: PlannedContainer[]): string {
  const busy = plans.filter((p) => p.actions.length > 0);
  if (busy.length === 0) return `nothing to do for ${plans.length} running containers\n`;
  let out = "";
  for (const p of busy) {
    out += `${p.id.slice(0, 13)} ${p.name} ${showPath(p.location.logPath)}\n`;
    for (const a of p.actions) out += `  ${a.kind.padEnd(8)} ${showPath(a.name)}  ${a.detail}\n`;
  }
  out += `${busy.length} of ${plans.length} running containers have work\n`;
  return out;
}
