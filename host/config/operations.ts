// What an operator watches: the metrics/health endpoint and the log level.
import { ConfigError } from "../errors.js";
import { LOG_LEVELS, type LogLevel } from "../log.js";
import { parseListenAddress } from "./address.js";
import { asChoice, asString, dflt, type Sourced } from "./values.js";

export const OPERATIONS_DEFAULTS = Object.freeze({
  metricsAddress: "127.0.0.1:9787",
  logLevel: "info" as LogLevel,
});

export interface OperationsSettings {
  /** host:port for /metrics and /healthz; "" disables the server. */
  metricsAddress: string;
  logLevel: LogLevel;
}

type Key = keyof typeof OPERATIONS_DEFAULTS;

export function readOperationsSettings(setting: (key: Key) => Sourced | undefined): OperationsSettings {
  const get = (key: Key) => setting(key) ?? dflt(key, OPERATIONS_DEFAULTS[key]);
  const metricsSrc = get("metricsAddress");
  const metricsAddress = asString(metricsSrc, OPERATIONS_DEFAULTS.metricsAddress);
  if (metricsAddress !== "" && parseListenAddress(metricsAddress) === null) {
    throw new ConfigError(
      `${metricsSrc.where} must be host:port (127.0.0.1:9787, 0.0.0.0:9787 to be scraped over the pod IP, [::]:9787) or "" to disable metrics, got ${JSON.stringify(metricsAddress)}`,
    );
  }
  return { metricsAddress, logLevel: asChoice(get("logLevel"), LOG_LEVELS) };
}
