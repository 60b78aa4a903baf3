// The progress file the Fluent Bit filter writes (docs/abi.md, "Progress file"): the host side of that
// wire format. The guest side is assembly/abi/progress-file.ts; change both and the doc together.
//   format 2: cri-logrotate-progress 2 <recordsSeen> <errors> <flushNs> <duplicatesDropped>
//             <pathJSONString> <index> <firstOffset> <maxOffset> <records> <firstNs> <lastNs>
//   format 1: cri-logrotate-progress 1 <recordsSeen> <errors> <sec>
//             <pathJSONString> <index> <firstOffset> <maxOffset> <records> <firstSec> <lastSec>
// Times come out in milliseconds with their precision: a format 1 time t (whole seconds) means the true
// time lies in [t·1000, t·1000 + 1000).
import { ProgressSourceError } from "../errors.js";

export const PROGRESS_MAGIC = "cri-logrotate-progress";
export const PROGRESS_FORMATS = [1, 2] as const;
export type ProgressFormat = (typeof PROGRESS_FORMATS)[number];

export interface ProgressFileGeneration {
  /**
   * The file's path as in_tail put it in the records: the JSON string decoded to bytes, with Fluent Bit's
   * mapping of invalid UTF-8 bytes undone (its JSON writer turns byte 0xXY into U+E0XY).
   */
  path: Buffer;
  /** Monotonic per path (0 for the first generation the filter saw there); only the newest are written. */
  index: number;
  /** Line-start offset of the generation's first record. */
  firstOffset: number;
  /** Highest line-start offset seen: the line starting there was read, bytes after it maybe not. */
  maxOffset: number;
  records: number;
  /** Record times (the log line's own, as Fluent Bit parsed it), floored to milliseconds. */
  firstMs: number;
  lastMs: number;
  /** 1 for format 2 (nanoseconds in the file), 1000 for format 1 (whole seconds). */
  precisionMs: number;
}

export interface ProgressFile {
  format: ProgressFormat;
  recordsSeen: number;
  errors: number;
  /** Record time of the flush that wrote the file (ms, same precision as the generations). */
  flushMs: number;
  /** Records the filter dropped as re-reads of lines it had passed (format 2; 0 for format 1). */
  duplicatesDropped: number;
  /** Generations in file order: per path oldest first. */
  generations: ProgressFileGeneration[];
}

function corrupt(file: string, line: number, why: string, cause?: unknown): ProgressSourceError {
  return new ProgressSourceError("PROGRESS_FILE_CORRUPT", file, `corrupt progress file "${file}" line ${line}: ${why}`, cause === undefined ? undefined : { cause });
}

const DECIMAL = /^(0|[1-9][0-9]*)$/;

/** A non-negative decimal integer a JS number holds exactly, or undefined. */
function parseCount(s: string): number | undefined {
  if (!DECIMAL.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Nanoseconds (possibly above 2^53) to whole milliseconds, or undefined. */
function nsToMs(s: string): number | undefined {
  if (!DECIMAL.test(s) || s.length > 19) return undefined;
  const ms = BigInt(s) / 1_000_000n;
  return ms <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(ms) : undefined;
}

/** Index just past the JSON string starting at text[0] === '"', or -1 when it does not close. */
function endOfJsonString(text: string): number {
  for (let i = 1; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5c) i++; // an escape: the next character is part of it
    else if (c === 0x22) return i + 1;
  }
  return -1;
}

/**
 * The bytes of a path Fluent Bit wrote as a JSON string: UTF-8, except that U+E080–U+E0FF stand for the
 * single invalid bytes 0x80–0xFF (flb_utils_write_str's private-use mapping).
 */
export function fluentBitStringBytes(s: string): Buffer {
  const out: number[] = [];
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp >= 0xe080 && cp <= 0xe0ff) out.push(cp - 0xe000);
    else for (const b of Buffer.from(ch, "utf8")) out.push(b);
  }
  return Buffer.from(out);
}

/** Parses a whole progress file (format 1 or 2). Throws ProgressSourceError: PROGRESS_FILE_CORRUPT / _UNSUPPORTED. */
export function parseProgressFile(bytes: Buffer, file: string): ProgressFile {
  const text = bytes.toString("latin1"); // byte = char: the file is ASCII (paths are JSON-escaped)
  if (!text.endsWith("\n")) throw corrupt(file, text.split("\n").length, "the file does not end with a newline");
  const lines = text.slice(0, -1).split("\n");
  const head = lines[0]!.split(" ");
  if (head[0] !== PROGRESS_MAGIC) throw corrupt(file, 1, `header does not start with "${PROGRESS_MAGIC}"`);
  const format = parseCount(head[1] ?? "");
  if (format !== 1 && format !== 2) {
    throw new ProgressSourceError("PROGRESS_FILE_UNSUPPORTED", file, `progress file "${file}" is format ${JSON.stringify(head[1])}; this shim reads formats ${PROGRESS_FORMATS.join(" and ")}: upgrade the shim`);
  }
  const expected = format === 1 ? 5 : 6;
  if (head.length !== expected) throw corrupt(file, 1, `a format ${format} header has ${expected} fields, not ${head.length}`);
  const [recordsSeen, errors] = head.slice(2, 4).map(parseCount);
  const flushMs = format === 1 ? mulSec(parseCount(head[4]!)) : nsToMs(head[4]!);
  const duplicatesDropped = format === 1 ? 0 : parseCount(head[5]!);
  if (recordsSeen === undefined || errors === undefined || flushMs === undefined || duplicatesDropped === undefined) throw corrupt(file, 1, "header counters are not integers");
  const time = format === 1 ? (s: string) => mulSec(parseCount(s)) : nsToMs;
  const precisionMs = format === 1 ? 1000 : 1;

  const generations: ProgressFileGeneration[] = [];
  const lastIndex = new Map<string, number>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const lineNo = i + 1;
    if (!line.startsWith('"')) throw corrupt(file, lineNo, "line does not start with a JSON string");
    const end = endOfJsonString(line);
    if (end < 0) throw corrupt(file, lineNo, "path string does not close");
    const raw = line.slice(0, end);
    let path: unknown;
    try {
      path = JSON.parse(Buffer.from(raw, "latin1").toString("utf8"));
    } catch (cause) {
      throw corrupt(file, lineNo, "path is not a JSON string", cause);
    }
    if (typeof path !== "string") throw corrupt(file, lineNo, "path is not a JSON string");
    if (line[end] !== " ") throw corrupt(file, lineNo, "no space after the path");
    const parts = line.slice(end + 1).split(" ");
    if (parts.length !== 6) throw corrupt(file, lineNo, "expected six non-negative integers after the path");
    const [index, firstOffset, maxOffset, records] = parts.slice(0, 4).map(parseCount);
    const firstMs = time(parts[4]!);
    const lastMs = time(parts[5]!);
    if (index === undefined || firstOffset === undefined || maxOffset === undefined || records === undefined || firstMs === undefined || lastMs === undefined) {
      throw corrupt(file, lineNo, "expected six non-negative integers after the path");
    }
    if (maxOffset < firstOffset) throw corrupt(file, lineNo, `maxOffset ${maxOffset} is below firstOffset ${firstOffset}`);
    const prev = lastIndex.get(raw);
    if (prev !== undefined && index <= prev) throw corrupt(file, lineNo, `generation ${index} does not follow ${prev}`);
    lastIndex.set(raw, index);
    generations.push({ path: fluentBitStringBytes(path), index, firstOffset, maxOffset, records, firstMs, lastMs, precisionMs });
  }
  return { format, recordsSeen, errors, flushMs, duplicatesDropped, generations };
}

function mulSec(sec: number | undefined): number | undefined {
  return sec === undefined || sec > Number.MAX_SAFE_INTEGER / 1000 ? undefined : sec * 1000;
}
