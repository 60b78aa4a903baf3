// Go durations (time.ParseDuration), as metav1.Duration reads them in the kubelet config.
import { ConfigError } from "../errors.js";

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
