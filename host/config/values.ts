// Reading one setting: a value, where it came from (a flag or a key of the YAML file), and typed readers
// that throw a ConfigError pointing at that place.
import * as path from "node:path";
import { ConfigError } from "../errors.js";
import type { Plugin } from "../plugin/types.js";
import { parseDuration } from "./duration.js";

/** A value and where it came from, so an error can point at the line to change. */
export interface Sourced {
  value: unknown;
  where: string; // e.g. `--log-root` or `logRoot in config file "/etc/cri-logrotate.yaml"`
  fromFlag: boolean;
}

/** A default, described by its key. */
export function dflt(key: string, value: unknown): Sourced {
  return { value, where: key, fromFlag: false };
}

export function describe(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "a list";
  if (typeof v === "object") return "a mapping";
  return `${typeof v} ${JSON.stringify(v)}`;
}

export function asString(s: Sourced, example: string): string {
  if (typeof s.value !== "string") {
    throw new ConfigError(`${s.where} must be a string such as ${JSON.stringify(example)}, got ${describe(s.value)} (quote it in YAML)`);
  }
  return s.value;
}

export function asBoolean(s: Sourced): boolean {
  const v = s.value;
  if (typeof v === "boolean") return v;
  if (v === "true") return true;
  if (v === "false") return false;
  throw new ConfigError(`${s.where} must be true or false, got ${JSON.stringify(v)}`);
}

export function asInteger(s: Sourced): number {
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

export function asDurationMs(s: Sourced): { text: string; ms: number } {
  const text = asString(s, "10s");
  try {
    return { text, ms: parseDuration(text) };
  } catch (err) {
    throw new ConfigError(`${s.where}: ${(err as Error).message}`, { cause: err });
  }
}

export function asAbsolutePath(s: Sourced, what: string): string {
  const p = asString(s, "/var/log/pods");
  if (!path.posix.isAbsolute(p)) throw new ConfigError(`${s.where} must be an absolute path (${what}), got ${JSON.stringify(p)}`);
  return p;
}

/** A Kubernetes quantity of bytes (the rules parse it), never negative. */
export function asQuantity(s: Sourced, plugin: Plugin): number {
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

/** One of `choices`. */
export function asChoice<T extends string>(s: Sourced, choices: readonly T[]): T {
  const v = asString(s, choices[0]!);
  if (!(choices as readonly string[]).includes(v)) {
    throw new ConfigError(`${s.where} must be one of ${choices.map((c) => JSON.stringify(c)).join(", ")}, got ${JSON.stringify(v)}`);
  }
  return v as T;
}
