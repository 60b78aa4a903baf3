// When must a live log rotate, and when should the host look at it again? The kubelet looks once per
// containerLogMonitorInterval, so a log written at 50 MB/s overshoots a 10Mi limit many times over
// (kubernetes#134324). The host watches the log directories and samples a live log's size as it grows;
// from the last two samples this rule says "rotate now" or when the size is expected to reach the limit.

import { Policy } from "./types";

/** The host looks again at least this often at a growing log whose rate is unknown (ms). */
export const UNKNOWN_RATE_RECHECK_MS: i64 = 250;
/** No closer than this (ms): bounds the cost of a log that grows very fast. */
export const MIN_RECHECK_MS: i64 = 10;

/** Two size samples of one live log: (size, at) now and before; prevAtMs < 0 means there is none. */
export class GrowthSample {
  constructor(
    public size: i64,
    public atMs: i64,
    public prevSize: i64 = -1,
    public prevAtMs: i64 = -1,
  ) {}
}

export class GrowthDecision {
  constructor(
    public rotateNow: bool,
    /** When to look again; -1 = no need before the next pass (not growing, or rotation disabled). */
    public nextCheckAtMs: i64,
  ) {}
}

/**
 * At size >= containerLogMaxSize: rotate now (the kubelet's own threshold). Below it: the time the
 * growth rate of the last two samples predicts it reaches the limit, looked at a little early (90 % of
 * the way there), so that the check lands just after the limit is crossed rather than a whole interval
 * later; between MIN_RECHECK_MS and `maxWaitMs` from now. A log that did not grow, or shrank (a new file
 * after a rotation by someone else), is looked at again when it next changes or at the next pass.
 */
export function decideGrowth(s: GrowthSample, policy: Policy, maxWaitMs: i64): GrowthDecision {
  if (policy.maxSize < 0) return new GrowthDecision(false, -1);
  if (s.size >= policy.maxSize) return new GrowthDecision(true, -1);
  if (s.prevAtMs < 0 || s.prevAtMs >= s.atMs) return new GrowthDecision(false, s.atMs + clamp(UNKNOWN_RATE_RECHECK_MS, maxWaitMs));
  const grown = s.size - s.prevSize;
  if (grown <= 0) return new GrowthDecision(false, -1);
  const elapsed = s.atMs - s.prevAtMs;
  // ms until the limit at this rate, computed in f64: sizes and times are far below 2^53.
  const remaining = <f64>(policy.maxSize - s.size);
  const eta = (remaining * <f64>elapsed) / <f64>grown;
  const wait = <i64>Math.floor(eta * 0.9);
  return new GrowthDecision(false, s.atMs + clamp(wait, maxWaitMs));
}

function clamp(wait: i64, maxWaitMs: i64): i64 {
  if (wait < MIN_RECHECK_MS) return MIN_RECHECK_MS;
  if (maxWaitMs >= 0 && wait > maxWaitMs) return maxWaitMs;
  return wait;
}
