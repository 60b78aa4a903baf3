// cri-logrotate's settings: the kubelet's four container-log settings under their kubelet names and
// defaults, plus what the daemon needs on its own. Sources, lowest to highest: defaults, the YAML file
// (--config), flags. Each section of settings has its own file; this one reads the sources and puts the
// sections together. Every problem is a ConfigError whose message says what to change; the CLI prints it
// and exits 2.
import * as fs from "node:fs";
import { parseArgs } from "node:util";
import { parse as parseYaml } from "yaml";
import { ConfigError } from "../errors.js";
import type { Plugin } from "../plugin/types.js";
import { FILES_DEFAULTS, readFilesSettings, type FilesSettings } from "./files.js";
import { KUBELET_DEFAULTS, readKubeletSettings, type KubeletSettings } from "./kubelet.js";
import { OPERATIONS_DEFAULTS, readOperationsSettings, type OperationsSettings } from "./operations.js";
import { PROGRESS_KEYS, readProgressConfig, type ProgressConfig, type ProgressKey } from "./progress.js";
import { RUNTIME_DEFAULTS, readRuntimeSettings, type RuntimeSettings } from "./runtime.js";
import { describe, type Sourced } from "./values.js";

export { parseDuration, parseDurationNs } from "./duration.js";
export type { ProgressConfig } from "./progress.js";

export interface Config extends KubeletSettings, RuntimeSettings, FilesSettings, OperationsSettings {
  progress: ProgressConfig;
}

export interface LoadedConfig {
  config: Config;
  /** Arguments that are not flags, in order (the CLI's operands after the subcommand). */
  positionals: string[];
  flags: { help: boolean; json: boolean };
}

/** Every default (the first four are the kubelet's). */
export const DEFAULTS = Object.freeze({ ...KUBELET_DEFAULTS, ...RUNTIME_DEFAULTS, ...FILES_DEFAULTS, ...OPERATIONS_DEFAULTS });

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
  lockFile: "lock-file",
  growthChecks: "growth-checks",
  metricsAddress: "metrics-address",
  logLevel: "log-level",
} as const;
type TopKey = keyof typeof TOP_KEYS;

const FLAG_OPTIONS = {
  config: { type: "string" },
  help: { type: "boolean", short: "h" },
  json: { type: "boolean" },
  ...Object.fromEntries([...Object.values(TOP_KEYS), ...Object.values(PROGRESS_KEYS)].map((flag) => [flag, { type: "string" }])),
} as const satisfies Record<string, { type: "string" | "boolean"; short?: string }>;

function parseFlags(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: FLAG_OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    // node's message already names the flag ("Unknown option '--foo'"); add where to look.
    throw new ConfigError(`${(err as Error).message}; run with --help for the list of flags`, { cause: err });
  }
}

type ReadFile = (file: string, encoding: "utf8") => string;

function readYaml(file: string, readFile: ReadFile): Record<string, unknown> {
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
  if (!isPlainObject(doc)) throw new ConfigError(`config file "${file}" must be a YAML mapping of settings (key: value), got ${describe(doc)}`);
  return doc;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function checkKeys(obj: Record<string, unknown>, known: readonly string[], where: string): void {
  for (const key of Object.keys(obj)) {
    if (!known.includes(key)) {
      const near = known.find((k) => k.toLowerCase() === key.toLowerCase());
      throw new ConfigError(`unknown key "${key}" in ${where}${near ? ` (did you mean "${near}"?)` : ""}; known keys: ${known.join(", ")}`);
    }
  }
}

/**
 * Reads flags (argv after the subcommand) and the optional --config YAML file, applies defaults and
 * validates. The kubelet's four checks go through the plugin, so their wording is the kubelet's.
 */
export function loadConfig(argv: string[], plugin: Plugin, readFile: ReadFile = fs.readFileSync): LoadedConfig {
  const { values, positionals } = parseFlags(argv);
  const flags = { help: values.help === true, json: values.json === true };
  // --help must work even when the settings are broken: show it with the defaults.
  const flagValues = flags.help ? {} : (values as Record<string, string | boolean | undefined>);
  return { config: resolve(flagValues, plugin, readFile), positionals, flags };
}

function resolve(flagValues: Record<string, string | boolean | undefined>, plugin: Plugin, readFile: ReadFile): Config {
  const configPath = flagValues.config as string | undefined;
  let file: Record<string, unknown> = {};
  let progressFile: Record<string, unknown> = {};
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

  return {
    ...readKubeletSettings(top, plugin),
    ...readRuntimeSettings(top),
    ...readFilesSettings(top),
    ...readOperationsSettings(top),
    progress: readProgressConfig(prog, plugin),
  };
}
