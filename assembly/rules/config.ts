// The kubelet's checks on its container log settings, in its own words, so that a configuration the
// kubelet rejects is rejected here with the same message.
//
// Order of the checks (the first failure is returned):
//  1. containerLogMaxSize parses as a quantity   (logs.NewContainerLogManager → parseMaxSize)
//  2. containerLogMaxFiles > 1                    (logs.NewContainerLogManager)
//  3. containerLogMaxWorkers >= 1                 (kubelet apis/config/validation/validation.go)
//  4. containerLogMonitorInterval >= 3s           (kubelet apis/config/validation/validation.go)
// The order only decides which message a configuration with several mistakes gets. The kubelet itself
// reports 3 and 4 together when it loads its configuration, and only later, in the constructor, checks
// maxFiles before maxSize. One fixed order is used here instead, pinned by test/fixtures/config.json.

import { bytesToDisplay } from "./bytes";
import { parseQuantity } from "./quantity";

export class ConfigResult {
  constructor(
    public ok: bool,
    public maxSize: i64,
    public error: string,
  ) {}
}

/** The kubelet's lower bound on containerLogMonitorInterval: 3 seconds. */
export const MIN_MONITOR_INTERVAL_MILLIS: i64 = 3000;

function invalid(message: string): ConfigResult {
  return new ConfigResult(false, 0, message);
}

/**
 * Validates the kubelet's container log settings. On success `maxSize` is the parsed size in bytes; a
 * negative size is valid and means rotation is disabled (NewContainerLogManager returns the stub
 * manager), and 0 is valid too (every running container is rotated on every pass).
 */
export function validateConfig(
  maxSizeText: Uint8Array,
  maxFiles: i32,
  maxWorkers: i32,
  monitorIntervalMillis: i64,
): ConfigResult {
  const size = parseQuantity(maxSizeText);
  if (!size.ok) {
    // fmt.Errorf("failed to parse container log max size %q: %w", maxSize, err)
    return invalid("failed to parse container log max size " + bytesToDisplay(maxSizeText) + ": " + size.error);
  }
  if (maxFiles <= 1) {
    // fmt.Errorf("invalid MaxFiles %d, must be > 1", maxFiles): the live log plus at least one
    // rotated file.
    return invalid("invalid MaxFiles " + maxFiles.toString() + ", must be > 1");
  }
  if (maxWorkers < 1) {
    return invalid("invalid configuration: containerLogMaxWorkers must be greater than or equal to 1");
  }
  // Kubernetes compares Duration.Seconds() < 3, i.e. the exact duration; milliseconds are exact here.
  if (monitorIntervalMillis < MIN_MONITOR_INTERVAL_MILLIS) {
    return invalid(
      "invalid configuration: containerLogMonitorInterval must be a positive time duration greater than or equal to 3s",
    );
  }
  return new ConfigResult(true, size.value, "");
}
