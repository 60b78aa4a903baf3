// How to reach the container runtime.
import * as path from "node:path";
import { ConfigError } from "../errors.js";
import { asDurationMs, asString, dflt, type Sourced } from "./values.js";

export interface RuntimeSettings {
  /** Unset: the CRI client tries containerd's socket, then CRI-O's, like crictl. */
  runtimeEndpoint?: string;
  runtimeRequestTimeoutMs: number;
}

export const RUNTIME_DEFAULTS = Object.freeze({ runtimeRequestTimeout: "10s" });

export function readRuntimeSettings(setting: (key: "runtimeEndpoint" | "runtimeRequestTimeout") => Sourced | undefined): RuntimeSettings {
  const out: RuntimeSettings = { runtimeRequestTimeoutMs: 0 };
  const endpoint = setting("runtimeEndpoint");
  if (endpoint) {
    const v = asString(endpoint, "unix:///run/containerd/containerd.sock");
    const socket = v.startsWith("unix://") ? v.slice("unix://".length) : v;
    if (!path.posix.isAbsolute(socket)) {
      throw new ConfigError(`${endpoint.where} must be a unix socket: "unix:///path/to/runtime.sock" or an absolute path, got ${JSON.stringify(v)}`);
    }
    out.runtimeEndpoint = v;
  }
  const timeoutSrc = setting("runtimeRequestTimeout") ?? dflt("runtimeRequestTimeout", RUNTIME_DEFAULTS.runtimeRequestTimeout);
  const timeout = asDurationMs(timeoutSrc);
  if (!(timeout.ms > 0)) {
    throw new ConfigError(`${timeoutSrc.where} must be a positive duration such as "10s", got ${JSON.stringify(timeout.text)}`);
  }
  out.runtimeRequestTimeoutMs = timeout.ms;
  return out;
}
