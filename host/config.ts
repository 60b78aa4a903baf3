// cri-logrotate's settings: the kubelet's four container-log settings under their kubelet names and
// defaults, plus what the daemon needs on its own (CRI endpoint, log root, compression, metrics, lock,
// shipper progress). Sources, lowest to highest: DEFAULTS, the YAML file (--config), flags.
// Every problem is a ConfigError whose message says what to change; the CLI prints it and exits 2.
import * as fs from "node:fs";
import * as path from "node:path";
import { parseArgs } from "node:util";
import { parse as parseYaml } from "yaml";
import type { Plugin } from "./plugin/types.js";

export interface ProgressConfig {
  /** File written by the Fluent Bit filter_wasm face: how far the agent has read each log. */
  fluentBitProgressFile?: string;
  /** Fluent Bit in_tail SQLite offsets database, a second source of the same fact. */
  inTailDb?: string;
  /** Bytes not yet shipped that one container may hold back before they are dropped anyway. */
  maxUnreadBytesPerContainer?: number;
  /** How long an unread rotated file may be held before it is compressed/removed anyway. */
  holdTimeoutSeconds?: number;
  /** Bytes the whole log root may use before held files are released, oldest first. */
  logRootBudget?: number;
}

export interface Config {
  containerLogMaxSize: string;
  /** containerLogMaxSize parsed by the kubelet's rules; negative disables rotation. */
  maxSizeBytes: number;
  containerLogMaxFiles: number;
  containerLogMaxWorkers: number;
  containerLogMonitorInterval: string;
  monitorIntervalMs: number;
  /** Unset: the CRI client tries containerd's socket, then CRI-O's, like crictl. */
  runtimeEndpoint?: string;
  runtimeRequestTimeoutMs: number;
  logRoot: string;
  compression: "gzip" | "none";
  compressionLevel: number;
  /** host:port on a loopback address; "" disables the metrics server. */
  metricsAddress: string;
  lockFile: string;
  /**
   * Between passes, re-check the live logs that are growing fast and rotate as soon as one reaches
   * containerLogMaxSize (the kubelet only looks once per interval and overshoots under heavy writes).
   */
  growthChecks: boolean;
  progress: ProgressConfig;
}

export interface LoadedConfig {
  config: Config;
  /** Arguments that are not flags, in order (the CLI's operands after the subcommand). */
  positionals: string[];
  flags: { help: boolean; json: boolean };
}

export type ConfigErrorCode = "INVALID_CONFIG";

/** A configuration the daemon cannot run with. `message` says what to change. */
export class ConfigError extends Error {
  readonly code: ConfigErrorCode = "INVALID_CONFIG";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "ConfigError";
  }
}

/** Every default in one place. The first four are the kubelet's (pkg/kubelet/apis/config/v1beta1/defaults.go). */
export const DEFAULTS = Object.freeze({
  containerLogMaxSize: "10Mi",
  containerLogMaxFiles: 5,
  containerLogMaxWorkers: 1,
  containerLogMonitorInterval: "10s",
  runtimeEndpoint: undefined as string | undefined,
  runtimeRequestTimeout: "10s",
  logRoot: "/var/log/pods",
  compression: "gzip" as "gzip" | "none",
  compressionLevel: 6,
  metricsAddress: "127.0.0.1:9787",
  growthChecks: true,
  /** Relative to logRoot: the lock lives with the tree it protects. */
  lockFileName: ".cri-logrotate.lock",
});

// ---------------------------------------------------------------------------------------------------
// Go durations (time.ParseDuration), as metav1.Duration reads them in the kubelet config.

const DURATION_UNITS: ReadonlyMap<string, bigint> = new Map([
  ["ns", 1n],
  ["us", 1_000n],
  ["\u00b5s", 1_000n], // micro sign
  ["\u03bcs", 1_000n], // Greek mu
  ["ms", 1_000_000n],
  ["s", 1_000_000_000n],
  ["m", 60_000_000_000n],
  ["h", 3_600_000_000_000n],
]);
const MAX_DURATION_NS = (1n << 63n) - 1n;
const DURATION_HINT = 'use a Go duration such as "10s", "1m30s", "500ms" or "1h" (units ns, us, ms, s, m, h)';

/** Parses Go's duration syntax ("10s", "1m30s", "-1.5h", "0") into nanoseconds, exactly. */
export function parseDurationNs(text: string): bigint {
  const bad = (why: string) => new ConfigError(`invalid duration ${JSON.stringify(text)}: ${why}; ${DURATION_HINT}`);
  let s = text;
  let negative = false;
  if (s.startsWith("-") || s.startsWith("+")) {
    negative = s[0] === "-";
    s = s.slice(1);
  }
  if (s === "0") return 0n; // the one unit-less value Go accepts
  if (s === "") throw bad("it is empty");
  let total = 0n;
  while (s !== "") {
    const m = /^([0-9]*)(?:\.([0-9]*))?/.exec(s)!;
    const [whole = "", frac] = [m[1], m[2]];
    if (whole === "" && (frac === undefined || frac === "")) throw bad("expected a number");
    s = s.slice(m[0].length);
    const unitMatch = /^[^0-9.]+/.exec(s);
    if (!unitMatch) throw bad(`missing unit after ${JSON.stringify(m[0])}`);
    const unitName = unitMatch[0];
    const unit = DURATION_UNITS.get(unitName);
    if (unit === undefined) throw bad(`unknown unit ${JSON.stringify(unitName)}`);
    s = s.slice(unitName.length);
    let value = BigInt(whole === "" ? "0" : whole) * unit;
    if (frac) {
      // Exact: frac digits scaled by the unit, truncated toward zero like Go.
      value += (BigInt(frac) * unit) / 10n ** BigInt(frac.length);
    }
    total += value;
    if (total > MAX_DURATION_NS) throw bad("it is too large");
  }
  return negative ? -total : total;
}

/** Parses a Go duration into milliseconds (fractional below 1ms: "1us" is 0.001). */
export function parseDuration(text: string): number {
  return Number(parseDurationNs(text)) / 1e6;
}

function asBoolean(src: Sourced): boolean {
  const v = src.value;
  if (typeof v === "boolean") return v;
  if (v === "true") return true;
  if (v === "false") return false;
  throw new ConfigError(`${src.where} must be true or false, got ${JSON.stringify(v)}`);
}

// ---------------------------------------------------------------------------------------------------
// Sources.

/** YAML keys (camelCase, as the Config names) → flag. */
const TOP_KEYS = {
  containerLogMaxSize: "container-log-max-size",
  containerLogMaxFiles: "container-log-max-files",
  containerLogMaxWorkers: "container-log-max-workers",
  containerLogMonitorInterval: "container-log-monitor-interval",
  runtimeEndpoint: "runtime-endpoint",
  runtimeRequestTimeout: "runtime-request-timeout",
  logRoot: "log-root",
  compression: "compression",
  compressionLevel: "compression-level",
  metricsAddress: "metrics-address",
  lockFile: "lock-file",
  growthChecks: "growth-checks",
} as const;
const PROGRESS_KEYS = {
  fluentBitProgressFile: "fluent-bit-progress-file",
  inTailDb: "in-tail-db",
  maxUnreadBytesPerContainer: "max-unread-bytes-per-container",
  holdTimeout: "hold-timeout",
  logRootBudget: "log-root-budget",
} as const;
type TopKey = keyof typeof TOP_KEYS;
type ProgressKey = keyof typeof PROGRESS_KEYS;

/** A value and where it came from, so an error can point at the line to change. */
interface Sourced {
  value: unknown;
  where: string; // e.g. `--log-root` or `logRoot in "/etc/cri-logrotate.yaml"`
  fromFlag: boolean;
}

const FLAG_OPTIONS = {
  config: { type: "string" },
  help: { type: "boolean", short: "h" },
  json: { type: "boolean" },
  ...Object.fromEntries(
    [...Object.values(TOP_KEYS), ...Object.values(PROGRESS_KEYS)].map((flag) => [flag, { type: "string" }]),
  ),
} as const satisfies Record<string, { type: "string" | "boolean"; short?: string }>;

function parseFlags(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: FLAG_OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    // node's message already names the flag ("Unknown option '--foo'"); add where to look.
    throw new ConfigError(`${(err as Error).message}; run with --help for the list of flags`, { cause: err });
  }
}

function readYaml(file: string, readFile: (p: string, enc: "utf8") => string): Record<string, unknown> {
  let text: string;
  try {
    text = readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(`cannot read config file "${file}"${code ? ` (${code})` : ""}: ${(err as Error).message}`, { cause: err });
  }
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`config file "${file}" is not valid YAML: ${(err as Error).message}`, { cause: err });
  }
  if (doc === null || doc === undefined) return {}; // an empty file means "all defaults"
  if (!isPlainObject(doc)) {
    throw new ConfigError(`config file "${file}" must be a YAML mapping of settings (key: value), got ${describe(doc)}`);
  }
  return doc;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return `${typeof v} ${JSON.stringify(v)}`;
}

function checkKeys(obj: Record<string, unknown>, known: readonly string[], where: string): void {
  for (const key of Object.keys(obj)) {
    if (!known.includes(key)) {
      const near = known.find((k) => k.toLowerCase() === key.toLowerCase());
      throw new ConfigError(
        `unknown key "${key}" in ${where}${near ? ` (did you mean "${near}"?)` : ""}; known keys: ${known.join(", ")}`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------------
// Typed readers. Each takes a Sourced value and returns the typed one or throws with `where`.

function asString(s: Sourced, example: string): string {
  if (typeof s.value !== "string") {
    throw new ConfigError(`${s.where} must be a string such as ${JSON.stringify(example)}, got ${describe(s.value)} (quote it in YAML)`);
  }
  return s.value;
}

function asInteger(s: Sourced): number {
  let n: number;
  if (s.fromFlag) {
    const text = s.value as string;
    if (!/^[+-]?[0-9]+$/.test(text.trim())) throw new ConfigError(`${s.where} must be an integer, got ${JSON.stringify(text)}`);
    n = Number(text);
  } else {
    // The kubelet's int32 fields are YAML ints; "5" (a string) is a type error there too.
    if (typeof s.value !== "number" || !Number.isInteger(s.value)) {
      throw new ConfigError(`${s.where} must be an integer, got ${describe(s.value)}`);
    }
    n = s.value;
  }
  if (n < -(2 ** 31) || n > 2 ** 31 - 1) throw new ConfigError(`${s.where} must fit in 32 bits, got ${n}`);
  return n;
}

function asDurationMs(s: Sourced): { text: string; ms: number } {
  const text = asString(s, "10s");
  try {
    return { text, ms: parseDuration(text) };
  } catch (err) {
    throw new ConfigError(`${s.where}: ${(err as Error).message}`, { cause: err });
  }
}

function asAbsolutePath(s: Sourced, what: string): string {
  const p = asString(s, "/var/log/pods");
  if (!path.posix.isAbsolute(p)) throw new ConfigError(`${s.where} must be an absolute path (${what}), got ${JSON.stringify(p)}`);
  return p;
}

function asQuantity(s: Sourced, plugin: Plugin): number {
  let text: string;
  if (typeof s.value === "number" && Number.isInteger(s.value)) text = String(s.value);
  else text = asString(s, "64Mi");
  let n: bigint;
  try {
    n = plugin.parseQuantity(text);
  } catch (err) {
    throw new ConfigError(`${s.where} is not a quantity (${(err as Error).message}); use a size such as "64Mi" or "1Gi"`, { cause: err });
  }
  if (n < 0n) throw new ConfigError(`${s.where} must not be negative, got ${JSON.stringify(text)}; leave it unset for no limit`);
  return Number(n);
}

const LOOPBACK_V4 = /^127\.(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\.(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])\.(25[0-5]|2[0-4][0-9]|1?[0-9]?[0-9])$/;

/** Splits "host:port" / "[::1]:port"; null unless the host is loopback and the port a valid number. */
export function parseLoopbackAddress(address: string): { host: string; port: number } | null {
  const m = /^(?:\[([^\]]+)\]|([^:\[\]]+)):([0-9]{1,5})$/.exec(address);
  if (!m) return null;
  const port = Number(m[3]);
  if (port > 65535) return null;
  if (m[1] !== undefined) return m[1] === "::1" ? { host: "::1", port } : null;
  const host = m[2]!;
  if (host === "localhost" || LOOPBACK_V4.test(host)) return { host, port };
  return null;
}

// ---------------------------------------------------------------------------------------------------

/**
 * Reads flags (argv after the subcommand) and the optional --config YAML file, applies defaults and
 * validates. The kubelet's four checks go through the plugin, so their wording is the kubelet's.
 */
export function loadConfig(
  argv: string[],
  plugin: Plugin,
  readFile: (file: string, encoding: "utf8") => string = fs.readFileSync,
): LoadedConfig {
  const { values, positionals } = parseFlags(argv);
  const flags = { help: values.help === true, json: values.json === true };
  // --help must work even when the settings are broken: show it with the defaults.
  if (flags.help) return { config: resolve({}, plugin, readFile), positionals, flags };
  return { config: resolve(values as Record<string, string | boolean | undefined>, plugin, readFile), positionals, flags };
}

function resolve(
  flagValues: Record<string, string | boolean | undefined>,
  plugin: Plugin,
  readFile: (file: string, encoding: "utf8") => string,
): Config {

  let file: Record<string, unknown> = {};
  let progressFile: Record<string, unknown> = {};
  const configPath = flagValues.config as string | undefined;
  if (configPath !== undefined) {
    file = readYaml(configPath, readFile);
    const inFile = `config file "${configPath}"`;
    checkKeys(file, [...Object.keys(TOP_KEYS), "progress"], inFile);
    if (file.progress !== undefined && file.progress !== null) {
      if (!isPlainObject(file.progress)) {
        throw new ConfigError(`progress in ${inFile} must be a mapping of ${Object.keys(PROGRESS_KEYS).join(", ")}, got ${describe(file.progress)}`);
      }
      progressFile = file.progress;
      checkKeys(progressFile, Object.keys(PROGRESS_KEYS), `the progress section of ${inFile}`);
    }
  }

  // Flag over file; undefined when neither sets it. A YAML null counts as unset.
  const pick = (key: string, flag: string, from: Record<string, unknown>, yamlName: string): Sourced | undefined => {
    const f = flagValues[flag];
    if (typeof f === "string") return { value: f, where: `--${flag}`, fromFlag: true };
    const v = from[key];
    if (v !== undefined && v !== null) return { value: v, where: `${yamlName} in config file "${configPath}"`, fromFlag: false };
    return undefined;
  };
  const top = (key: TopKey) => pick(key, TOP_KEYS[key], file, key);
  const prog = (key: ProgressKey) => pick(key, PROGRESS_KEYS[key], progressFile, `progress.${key}`);
  const dflt = (key: string, value: unknown): Sourced => ({ value, where: key, fromFlag: false });

  // The kubelet's four, typed, then checked by the plugin with the kubelet's messages.
  const containerLogMaxSize = asString(top("containerLogMaxSize") ?? dflt("containerLogMaxSize", DEFAULTS.containerLogMaxSize), "10Mi");
  const containerLogMaxFiles = asInteger(top("containerLogMaxFiles") ?? dflt("containerLogMaxFiles", DEFAULTS.containerLogMaxFiles));
  const containerLogMaxWorkers = asInteger(top("containerLogMaxWorkers") ?? dflt("containerLogMaxWorkers", DEFAULTS.containerLogMaxWorkers));
  const interval = asDurationMs(top("containerLogMonitorInterval") ?? dflt("containerLogMonitorInterval", DEFAULTS.containerLogMonitorInterval));
  let maxSize: bigint;
  try {
    maxSize = plugin.validateConfig({
      containerLogMaxSize,
      containerLogMaxFiles,
      containerLogMaxWorkers,
      // The codec truncates to whole ms, which keeps ">= 3s" exact: 2999.9ms becomes 2999 and fails.
      containerLogMonitorIntervalMs: interval.ms,
    });
  } catch (err) {
    if ((err as { code?: string }).code === "INVALID_CONFIG") throw new ConfigError((err as Error).message, { cause: err });
    throw err; // a broken plugin is not a config problem
  }

  const runtimeEndpointSrc = top("runtimeEndpoint");
  let runtimeEndpoint: string | undefined;
  if (runtimeEndpointSrc) {
    const v = asString(runtimeEndpointSrc, "unix:///run/containerd/containerd.sock");
    const socket = v.startsWith("unix://") ? v.slice("unix://".length) : v;
    if (!path.posix.isAbsolute(socket)) {
      throw new ConfigError(
        `${runtimeEndpointSrc.where} must be a unix socket: "unix:///path/to/runtime.sock" or an absolute path, got ${JSON.stringify(v)}`,
      );
    }
    runtimeEndpoint = v;
  }

  const timeoutSrc = top("runtimeRequestTimeout") ?? dflt("runtimeRequestTimeout", DEFAULTS.runtimeRequestTimeout);
  const timeout = asDurationMs(timeoutSrc);
  if (!(timeout.ms > 0)) {
    throw new ConfigError(`${timeoutSrc.where} must be a positive duration such as "10s", got ${JSON.stringify(timeout.text)}`);
  }

  const logRootSrc = top("logRoot") ?? dflt("logRoot", DEFAULTS.logRoot);
  const logRoot = asAbsolutePath(logRootSrc, "the directory holding the pods' logs, e.g. /var/log/pods");
  const normal = path.posix.normalize(logRoot).replace(/(.)\/+$/, "$1");
  if (normal !== logRoot) {
    throw new ConfigError(`${logRootSrc.where} must be a normalised path (no "..", ".", "//" or trailing "/"): write ${JSON.stringify(normal)} instead of ${JSON.stringify(logRoot)}`);
  }
  if (logRoot === "/") {
    throw new ConfigError(`${logRootSrc.where} must not be "/": point it at the pods' log directory, e.g. /var/log/pods`);
  }

  const compressionSrc = top("compression") ?? dflt("compression", DEFAULTS.compression);
  const compression = asString(compressionSrc, "gzip");
  if (compression !== "gzip" && compression !== "none") {
    throw new ConfigError(`${compressionSrc.where} must be "gzip" or "none", got ${JSON.stringify(compression)}`);
  }
  const levelSrc = top("compressionLevel") ?? dflt("compressionLevel", DEFAULTS.compressionLevel);
  const compressionLevel = asInteger(levelSrc);
  if (compressionLevel < 1 || compressionLevel > 9) {
    throw new ConfigError(`${levelSrc.where} must be between 1 (fastest) and 9 (smallest), got ${compressionLevel}`);
  }

  const metricsSrc = top("metricsAddress") ?? dflt("metricsAddress", DEFAULTS.metricsAddress);
  const metricsAddress = asString(metricsSrc, "127.0.0.1:9787");
  if (metricsAddress !== "" && parseLoopbackAddress(metricsAddress) === null) {
    throw new ConfigError(
      `${metricsSrc.where} must be host:port on a loopback address (127.0.0.1:9787, [::1]:9787, localhost:9787) ` +
        `or "" to disable metrics, got ${JSON.stringify(metricsAddress)}; the endpoint is unauthenticated, so it is never exposed beyond the node`,
    );
  }

  const lockSrc = top("lockFile");
  const lockFile = lockSrc ? asAbsolutePath(lockSrc, "where the single-instance lock lives") : path.posix.join(logRoot, DEFAULTS.lockFileName);

  const growthSrc = top("growthChecks") ?? dflt("growthChecks", DEFAULTS.growthChecks);
  const growthChecks = asBoolean(growthSrc);

  const progress: ProgressConfig = {};
  const fb = prog("fluentBitProgressFile");
  if (fb) progress.fluentBitProgressFile = asAbsolutePath(fb, "the file the Fluent Bit filter writes");
  const db = prog("inTailDb");
  if (db) progress.inTailDb = asAbsolutePath(db, "Fluent Bit's in_tail DB file");
  const unread = prog("maxUnreadBytesPerContainer");
  if (unread) progress.maxUnreadBytesPerContainer = asQuantity(unread, plugin);
  const hold = prog("holdTimeout");
  if (hold) {
    const d = asDurationMs(hold);
    if (d.ms < 0) throw new ConfigError(`${hold.where} must not be negative, got ${JSON.stringify(d.text)}; leave it unset for no limit`);
    // The rules count whole seconds; round up so a sub-second timeout still holds for a moment.
    progress.holdTimeoutSeconds = Math.ceil(d.ms / 1000);
  }
  const budget = prog("logRootBudget");
  if (budget) progress.logRootBudget = asQuantity(budget, plugin);

  const config: Config = {
    containerLogMaxSize,
    maxSizeBytes: Number(maxSize),
    containerLogMaxFiles,
    containerLogMaxWorkers,
    containerLogMonitorInterval: interval.text,
    monitorIntervalMs: interval.ms,
    runtimeRequestTimeoutMs: timeout.ms,
    logRoot,
    compression,
    compressionLevel,
    metricsAddress,
    lockFile,
    growthChecks,
    progress,
  };
  if (runtimeEndpoint !== undefined) config.runtimeEndpoint = runtimeEndpoint;
  return config;
}
