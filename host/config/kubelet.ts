// The kubelet's four container-log settings, under their kubelet names and defaults, checked by the rules
// module so that the messages are the kubelet's own.
import { ConfigError, PluginError } from "../errors.js";
import type { Plugin } from "../plugin/types.js";
import { asDurationMs, asInteger, asString, dflt, type Sourced } from "./values.js";

/** pkg/kubelet/apis/config/v1beta1/defaults.go */
export const KUBELET_DEFAULTS = Object.freeze({
  containerLogMaxSize: "10Mi",
  containerLogMaxFiles: 5,
  containerLogMaxWorkers: 1,
  containerLogMonitorInterval: "10s",
});

export interface KubeletSettings {
  containerLogMaxSize: string;
  /** containerLogMaxSize parsed by the kubelet's rules; negative disables rotation. */
  maxSizeBytes: number;
  containerLogMaxFiles: number;
  containerLogMaxWorkers: number;
  containerLogMonitorInterval: string;
  monitorIntervalMs: number;
}

type Key = keyof typeof KUBELET_DEFAULTS;

export function readKubeletSettings(setting: (key: Key) => Sourced | undefined, plugin: Plugin): KubeletSettings {
  const get = (key: Key) => setting(key) ?? dflt(key, KUBELET_DEFAULTS[key]);
  const containerLogMaxSize = asString(get("containerLogMaxSize"), "10Mi");
  const containerLogMaxFiles = asInteger(get("containerLogMaxFiles"));
  const containerLogMaxWorkers = asInteger(get("containerLogMaxWorkers"));
  const interval = asDurationMs(get("containerLogMonitorInterval"));
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
    if (err instanceof PluginError && err.code === "PLUGIN_INVALID_CONFIG") throw new ConfigError(err.message, { cause: err });
    throw err; // a broken plugin is not a config problem
  }
  return {
    containerLogMaxSize,
    maxSizeBytes: Number(maxSize),
    containerLogMaxFiles,
    containerLogMaxWorkers,
    containerLogMonitorInterval: interval.text,
    monitorIntervalMs: interval.ms,
  };
}
