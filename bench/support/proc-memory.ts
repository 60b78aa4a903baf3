// What the kernel says about another process's memory (Linux /proc): its resident set now and at its peak
// (VmRSS, VmHWM), and its resident pages sorted by what they hold, from /proc/<pid>/smaps.
import { readFileSync } from "node:fs";

const KiB = 1024;

export interface RssNow {
  rssBytes: number;
  /** The peak resident set since the process started (the kernel's high-water mark). */
  peakBytes: number;
}

export function rssOf(pid: number): RssNow {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? NaN) * KiB;
  return { rssBytes: field("VmRSS"), peakBytes: field("VmHWM") };
}

export interface ResidentByKind {
  /** Pages of the node executable (shared with every other node process; file-backed, never swapped). */
  nodeBinary: number;
  /** Other file-backed pages: shared libraries, native addons. */
  otherFiles: number;
  /** malloc's main heap (brk). */
  mallocMain: number;
  /** malloc's per-thread arenas (64 MiB-aligned reservations). */
  mallocArenas: number;
  /** The WebAssembly memory of the rules module (the readable part of its 8 GiB guarded reservation). */
  wasmMemory: number;
  /** Everything else anonymous: V8's heap pages and code space, thread stacks, large mallocs. */
  otherAnonymous: number;
}

interface Mapping {
  start: number;
  end: number;
  perms: string;
  path: string;
  rss: number;
}

const ARENA_BYTES = 64 * 1024 * 1024;
const WASM_RESERVATION_BYTES = 8 * 1024 * 1024 * 1024;

export function residentByKind(pid: number, nodeBinary: string): ResidentByKind {
  const maps: Mapping[] = [];
  for (const line of readFileSync(`/proc/${pid}/smaps`, "utf8").split("\n")) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      maps.push({ start: parseInt(head[1]!, 16), end: parseInt(head[2]!, 16), perms: head[3]!, path: head[4]!, rss: 0 });
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && maps.length > 0) maps[maps.length - 1]!.rss = Number(rss[1]) * KiB;
  }
  const out: ResidentByKind = { nodeBinary: 0, otherFiles: 0, mallocMain: 0, mallocArenas: 0, wasmMemory: 0, otherAnonymous: 0 };
  maps.forEach((m, i) => {
    const next = maps[i + 1];
    // An accessible start followed by its inaccessible rest: the reservation is both together.
    const reservation = next && next.start === m.end && next.perms.startsWith("---") && next.path === "" ? next.end - m.start : m.end - m.start;
    if (m.path === nodeBinary) out.nodeBinary += m.rss;
    else if (m.path.startsWith("/")) out.otherFiles += m.rss;
    else if (m.path === "[heap]") out.mallocMain += m.rss;
    else if (m.path !== "") out.otherAnonymous += m.rss; // [stack], [vdso], …
    else if (m.perms.startsWith("rw") && reservation >= WASM_RESERVATION_BYTES) out.wasmMemory += m.rss;
    else if (m.perms.startsWith("rw") && m.start % ARENA_BYTES === 0 && reservation === ARENA_BYTES) out.mallocArenas += m.rss;
    else out.otherAnonymous += m.rss;
  });
  return out;
}
