// Size samples of the live logs, and what the rules make of them (crl_check_growth): rotate now, or look
// again at a given time. The host gathers the samples (an lstat when the directory watch says the log
// changed, or when the rules' time comes) and keeps the timers; the rules decide.
import type { Plugin } from "../plugin/types.js";

/** Two samples closer than this do not make a rate (timer jitter would dominate): the older one is kept. */
const RATE_WINDOW_MS = 20;
/**
 * A log growing faster than this (bytes/ms, i.e. 64 KiB/s) is "hot": its directory events would arrive
 * faster than they are worth handling (one per write), so it is looked at on the rules' schedule instead.
 */
export const HOT_BYTES_PER_MS = 64;

interface Track {
  size: number;
  atMs: number;
  baseSize: number;
  baseAtMs: number;
  nextCheckAtMs: number;
  bytesPerMs: number;
}

export interface GrowthOptions {
  plugin: Plugin;
  maxSize: number;
  /** The longest the rules may say to wait before the next look (ms). */
  maxWaitMs: number;
}

export class GrowthTracker {
  private readonly tracks = new Map<string, Track>();

  constructor(private readonly o: GrowthOptions) {}

  /**
   * Records live-log sizes taken at `atMs` and asks the rules about them all in one call. Returns the ids
   * that must rotate now.
   */
  sample(samples: { id: string; size: number }[], atMs: number): string[] {
    if (samples.length === 0) return [];
    const inputs = samples.map(({ id, size }) => {
      let t = this.tracks.get(id);
      if (!t) {
        t = { size, atMs, baseSize: size, baseAtMs: -1, nextCheckAtMs: -1, bytesPerMs: 0 };
        this.tracks.set(id, t);
      } else {
        if (size < t.size) {
          // A new file (rotated by someone else, or recreated): it grew from 0.
          t.baseSize = 0;
          t.baseAtMs = t.atMs;
        } else if (t.baseAtMs < 0 || atMs - t.atMs >= RATE_WINDOW_MS) {
          t.baseSize = t.size;
          t.baseAtMs = t.atMs;
        }
        t.size = size;
        t.atMs = atMs;
        if (t.baseAtMs >= 0 && atMs > t.baseAtMs) t.bytesPerMs = (size - t.baseSize) / (atMs - t.baseAtMs);
      }
      return { size, atMs, prevSize: t.baseAtMs >= 0 ? t.baseSize : -1, prevAtMs: t.baseAtMs };
    });
    const decisions = this.o.plugin.checkGrowth(inputs, this.o.maxSize, this.o.maxWaitMs);
    const due: string[] = [];
    decisions.forEach((d, i) => {
      const id = samples[i]!.id;
      this.tracks.get(id)!.nextCheckAtMs = d.nextCheckAtMs;
      if (d.rotateNow) due.push(id);
    });
    return due;
  }

  /** After a rotation the live log starts again from 0; the rate carries over. */
  rotated(id: string, atMs: number): void {
    const t = this.tracks.get(id);
    if (!t) return;
    Object.assign(t, { size: 0, atMs, baseSize: 0, baseAtMs: atMs, nextCheckAtMs: atMs + 1 });
  }

  forget(id: string): void {
    this.tracks.delete(id);
  }

  /** Forgets every container `ids` does not have. */
  keep(ids: { has(id: string): boolean }): void {
    for (const id of this.tracks.keys()) if (!ids.has(id)) this.tracks.delete(id);
  }

  /** Ids whose next look is due at `nowMs`. Asked several times a second: it allocates nothing but the answer. */
  due(nowMs: number): string[] {
    const out: string[] = [];
    this.tracks.forEach((t, id) => {
      if (t.nextCheckAtMs >= 0 && t.nextCheckAtMs <= nowMs) out.push(id);
    });
    return out;
  }

  /** The earliest next look, or undefined. */
  nextAt(): number | undefined {
    let next: number | undefined;
    for (const t of this.tracks.values()) if (t.nextCheckAtMs >= 0 && (next === undefined || t.nextCheckAtMs < next)) next = t.nextCheckAtMs;
    return next;
  }

  isHot(id: string): boolean {
    return (this.tracks.get(id)?.bytesPerMs ?? 0) >= HOT_BYTES_PER_MS;
  }

  lastSampleAt(id: string): number | undefined {
    return this.tracks.get(id)?.atMs;
  }
}
