// Which files the shim manages and how: the log root, compression, and where its own state lives (never
// inside the log root: the kubelet's GC removes every entry of /var/log/pods that is not a live pod's
// directory, see kuberuntime_gc.go evictPodLogsDirectories).
import * as path from "node:path";
import { ConfigError } from "../errors.js";
import { asAbsolutePath, asBoolean, asInteger, asString, dflt, type Sourced } from "./values.js";

export const FILES_DEFAULTS = Object.freeze({
  logRoot: "/var/log/pods",
  compression: "gzip" as "gzip" | "none",
  compressionLevel: 6,
  lockFile: "/run/cri-logrotate/cri-logrotate.lock",
  growthChecks: true,
});

export interface FilesSettings {
  logRoot: string;
  compression: "gzip" | "none";
  compressionLevel: number;
  /** The single-instance lock; outside logRoot. Its directory is created when missing. */
  lockFile: string;
  /**
   * Watch live logs as they grow and rotate as soon as one reaches containerLogMaxSize (the kubelet only
   * looks once per interval and overshoots under heavy writes). Off: the kubelet's timing.
   */
  growthChecks: boolean;
}

type Key = keyof typeof FILES_DEFAULTS;

/** `inner` is `outer` or below it. */
function isWithin(inner: string, outer: string): boolean {
  return inner === outer || inner.startsWith(outer.endsWith("/") ? outer : `${outer}/`);
}

export function readFilesSettings(setting: (key: Key) => Sourced | undefined): FilesSettings {
  const get = (key: Key) => setting(key) ?? dflt(key, FILES_DEFAULTS[key]);
  const logRootSrc = get("logRoot");
  const logRoot = asAbsolutePath(logRootSrc, "the directory holding the pods' logs, e.g. /var/log/pods");
  const normal = path.posix.normalize(logRoot).replace(/(.)\/+$/, "$1");
  if (normal !== logRoot) {
    throw new ConfigError(`${logRootSrc.where} must be a normalised path (no "..", ".", "//" or trailing "/"): write ${JSON.stringify(normal)} instead of ${JSON.stringify(logRoot)}`);
  }
  if (logRoot === "/") throw new ConfigError(`${logRootSrc.where} must not be "/": point it at the pods' log directory, e.g. /var/log/pods`);

  const compressionSrc = get("compression");
  const compression = asString(compressionSrc, "gzip");
  if (compression !== "gzip" && compression !== "none") {
    throw new ConfigError(`${compressionSrc.where} must be "gzip" or "none", got ${JSON.stringify(compression)}`);
  }
  const levelSrc = get("compressionLevel");
  const compressionLevel = asInteger(levelSrc);
  if (compressionLevel < 1 || compressionLevel > 9) {
    throw new ConfigError(`${levelSrc.where} must be between 1 (fastest) and 9 (smallest), got ${compressionLevel}`);
  }

  const lockSrc = get("lockFile");
  const lockFile = path.posix.normalize(asAbsolutePath(lockSrc, "where the single-instance lock lives"));
  if (isWithin(lockFile, logRoot)) {
    throw new ConfigError(
      `${lockSrc.where} must be outside logRoot ${JSON.stringify(logRoot)}: the kubelet removes unknown entries of the pod log directory; use e.g. ${JSON.stringify(FILES_DEFAULTS.lockFile)}`,
    );
  }
  return { logRoot, compression, compressionLevel, lockFile, growthChecks: asBoolean(get("growthChecks")) };
}
