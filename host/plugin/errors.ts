import type { StatusName } from "./status.js";

export type PluginErrorCode = StatusName | `UNKNOWN_${number}` | "PLUGIN_LOAD" | "PLUGIN_TRAP" | "PLUGIN_BAD_RESPONSE";

/** A failure reported by (or while talking to) cri-logrotate.wasm. `code` is stable; match on it. */
export class PluginError extends Error {
  readonly code: PluginErrorCode;
  constructor(code: PluginErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "PluginError";
    this.code = code;
  }
}
