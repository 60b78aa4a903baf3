// Reads every log file of one container the way a shipper that missed nothing would — rotated files in name
// order (plain and .gz; a `.gz` sorts as the name it was compressed from), the live log last — and checks that
// the numbered lines a writer printed are all there, each exactly once, in order. Unlike the e2e helpers it
// never throws on damage: a corrupt .gz, a garbled line or a leftover .tmp is counted and reported, so a
// failing race says how much was lost and by which mechanism.
//
// Lines are CRI lines (`<ts> <stream> <P|F> <content>`); partial entries are joined across files, and the
// content starts with the line's number, either `N …` (test/fake-cri's writer) or `line N` (the busybox
// writers of the e2e suite).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";

export interface LogSet {
  /** The files read, in reading order (live last). */
  files: string[];
  /** Each line's number, in reading order. */
  numbers: number[];
  /** The index in `files` of the file each number was read from. */
  fileOf: number[];
  /** The CRI timestamp of each number's line (RFC 3339, as the runtime wrote it). */
  timeOf: string[];
  /** Files that could not be read or decompressed, with why. */
  unreadable: { file: string; error: string }[];
  /** Lines that are not CRI lines or carry no number (damage: interleaved writes, a cut archive). */
  garbled: { file: string; line: string }[];
  /** `.tmp` files present (read nowhere). */
  tmpLeft: string[];
  /** `X` present beside `X.gz` (both read: one of them is a duplicate or the newer data). */
  twins: string[];
}

export interface SequenceAudit {
  /** Lines seen, counting repeats. */
  lines: number;
  /** Numbers in 0..expected-1 never seen. */
  missing: number;
  /** Extra occurrences of numbers seen more than once. */
  doubled: number;
  /** Places where a number is lower than the one before it (read out of order). */
  outOfOrder: number;
  /** The first position where the sequence is not 0, 1, 2, …, or -1. */
  firstWrong: number;
  /** The first few runs of missing numbers, [from, to] inclusive. */
  missingRanges: [number, number][];
  expected: number;
  ok: boolean;
}

const CRI_LINE = /^(\S+) (stdout|stderr) ([FP])(?::\S*)? (.*)$/;
const NUMBERED = /^(?:line )?(\d+)(?: |$)/;

function stem(name: string): string {
  return name.endsWith(".gz") ? name.slice(0, -3) : name;
}

/** Every `<logName>` and `<logName>.*` file of `dir`, read as described above. */
export function readLogSet(dir: string, logName: string): LogSet {
  const names = readdirSync(dir).filter((n) => n === logName || n.startsWith(`${logName}.`));
  const tmpLeft = names.filter((n) => n.endsWith(".tmp")).sort();
  const rotated = names.filter((n) => n !== logName && !n.endsWith(".tmp"));
  rotated.sort((a, b) => (stem(a) < stem(b) ? -1 : stem(a) > stem(b) ? 1 : a.endsWith(".gz") ? -1 : 1));
  const twins = rotated.filter((n) => !n.endsWith(".gz") && rotated.includes(`${n}.gz`));
  const files = [...rotated, ...(names.includes(logName) ? [logName] : [])];
  const set: LogSet = { files, numbers: [], fileOf: [], timeOf: [], unreadable: [], garbled: [], tmpLeft, twins };
  const partial = new Map<string, string>(); // stream → content of its pending P entries
  for (const [index, file] of files.entries()) {
    let text: string;
    try {
      const raw = readFileSync(join(dir, file));
      text = (file.endsWith(".gz") ? gunzipSync(raw) : raw).toString("utf8");
    } catch (err) {
      set.unreadable.push({ file, error: (err as Error).message });
      continue;
    }
    const lines = text.split("\n");
    lines.pop(); // "" after the last newline, or a line still being written
    for (const line of lines) {
      const m = CRI_LINE.exec(line);
      if (m === null) {
        set.garbled.push({ file, line: line.slice(0, 120) });
        continue;
      }
      const stream = m[2]!;
      const content = (partial.get(stream) ?? "") + m[4]!;
      if (m[3] === "P") {
        partial.set(stream, content);
        continue;
      }
      partial.delete(stream);
      const n = NUMBERED.exec(content);
      if (n === null) set.garbled.push({ file, line: line.slice(0, 120) });
      else {
        set.numbers.push(Number(n[1]));
        set.fileOf.push(index);
        set.timeOf.push(m[1]!);
      }
    }
  }
  return set;
}

/** Checks `numbers` against 0, 1, …, expected-1 (default: up to the largest number seen). */
export function auditSequence(numbers: number[], expected?: number): SequenceAudit {
  const count = expected ?? (numbers.length === 0 ? 0 : maxOf(numbers) + 1);
  const seen = new Uint32Array(count);
  let doubled = 0;
  let outOfOrder = 0;
  let firstWrong = -1;
  for (let i = 0; i < numbers.length; i++) {
    const n = numbers[i]!;
    if (n < count) {
      if (seen[n]! > 0) doubled++;
      seen[n]!++;
    }
    if (i > 0 && n < numbers[i - 1]!) outOfOrder++;
    if (firstWrong < 0 && n !== i) firstWrong = i;
  }
  let missing = 0;
  const missingRanges: [number, number][] = [];
  for (let n = 0; n < count; n++) {
    if (seen[n] !== 0) continue;
    missing++;
    const last = missingRanges.at(-1);
    if (last !== undefined && last[1] === n - 1) last[1] = n;
    else if (missingRanges.length < 5) missingRanges.push([n, n]);
  }
  if (firstWrong < 0 && numbers.length !== count) firstWrong = numbers.length;
  return { lines: numbers.length, missing, doubled, outOfOrder, firstWrong, missingRanges, expected: count, ok: firstWrong < 0 };
}

/** Math.max over an array too long to spread into one call. */
function maxOf(numbers: number[]): number {
  let max = 0;
  for (const n of numbers) if (n > max) max = n;
  return max;
}

/** One line for a failure message or a diagnostic. */
export function describeAudit(name: string, set: LogSet, audit: SequenceAudit): string {
  const parts = [
    `${name}: ${audit.lines} lines read of ${audit.expected} written`,
    `missing ${audit.missing}`,
    `duplicated ${audit.doubled}`,
    `out of order ${audit.outOfOrder}`,
  ];
  if (audit.missingRanges.length > 0) parts.push(`missing lines ${audit.missingRanges.map(([a, b]) => (a === b ? `${a}` : `${a}-${b}`)).join(", ")}`);
  if (audit.firstWrong >= 0) {
    const at = audit.firstWrong;
    const where = at < set.numbers.length ? ` (line ${set.numbers[at]} in ${set.files[set.fileOf[at]!]}, after ${at > 0 ? `${set.numbers[at - 1]} in ${set.files[set.fileOf[at - 1]!]}` : "nothing"})` : "";
    parts.push(`first wrong at position ${at}${where}`);
  }
  if (set.unreadable.length > 0) parts.push(`unreadable: ${set.unreadable.map((u) => `${u.file} (${u.error})`).join("; ")}`);
  if (set.garbled.length > 0) parts.push(`${set.garbled.length} garbled lines, e.g. ${JSON.stringify(set.garbled[0])}`);
  if (set.tmpLeft.length > 0) parts.push(`.tmp left: ${set.tmpLeft.join(", ")}`);
  if (set.twins.length > 0) parts.push(`X beside X.gz: ${set.twins.join(", ")}`);
  parts.push(`${set.files.length} files`);
  return parts.join(", ");
}

/** The distinct warnings and errors, paths and numbers blanked, with how often each came. */
export function errorKinds(entries: { level: string; msg: string; err?: unknown }[]): string[] {
  const counts = new Map<string, number>();
  for (const e of entries) {
    if (e.level !== "error" && e.level !== "warn") continue;
    const err = (e.err as { message?: string } | undefined)?.message ?? "";
    const kind = `${e.msg}: ${err}`.replace(/"[^"]*\//g, '"…/').replace(/\d+/g, "N").slice(0, 240);
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  return [...counts].sort((a, b) => b[1] - a[1]).map(([k, n]) => `${n}× ${k}`);
}

/**
 * For each run of missing numbers (the first `limit`), when its neighbours were written: the line before the
 * gap and the line after it, found in `set`. What happened to the files between those two moments is what
 * lost the lines.
 */
export function gapWindows(set: LogSet, audit: SequenceAudit, limit = 5): { from: number; to: number; afterMs: number; beforeMs: number; lostFrom: string }[] {
  const position = new Map<number, number>();
  set.numbers.forEach((n, i) => position.set(n, i));
  return audit.missingRanges.slice(0, limit).map(([from, to]) => {
    const before = position.get(from - 1);
    const after = position.get(to + 1);
    return {
      from,
      to,
      afterMs: before === undefined ? NaN : Date.parse(set.timeOf[before]!),
      beforeMs: after === undefined ? NaN : Date.parse(set.timeOf[after]!),
      lostFrom: `between ${before === undefined ? "the start" : set.files[set.fileOf[before]!]} and ${after === undefined ? "the end" : set.files[set.fileOf[after]!]}`,
    };
  });
}
