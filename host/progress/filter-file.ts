// Reads the progress file the filter writes into Fluent Bit's Accessible_Paths directory
// (docs/abi.md, "Progress file"). The filter replaces it by rename, so a reader never sees half a file;
// a file that does not parse anyway is reported as an error naming the path and line, and none of it
// is credited.
import { readFile } from "node:fs/promises";
import type { FilterGeneration, FilterProgress, ProgressClaim, ProgressReport, ProgressSource } from "./types.js";
import { ProgressSourceError } from "../errors.js";

export const PROGRESS_MAGIC = "cri-logrotate-progress";
export const PROGRESS_VERSION = 1;

function corrupt(file: string, line: number, why: string): ProgressSourceError {
  return new ProgressSourceError("PROGRESS_FILE_CORRUPT", file, `corrupt progress file "${file}" line ${line}: ${why}`);
}

/** A non-negative decimal integer a JS number holds exactly, or undefined. */
function parseCount(s: string): number | undefined {
  if (!/^(0|[1-9][0-9]*)$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
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

/** Parses the whole text of a progress file. Throws ProgressSourceError (PROGRESS_FILE_CORRUPT). */
export function parseProgressFile(text: string, file: string): FilterProgress {
  if (!text.endsWith("\n")) throw corrupt(file, text.split("\n").length, "the file does not end with a newline");
  const lines = text.slice(0, -1).split("\n");
  const head = lines[0].split(" ");
  if (head.length !== 5 || head[0] !== PROGRESS_MAGIC) throw corrupt(file, 1, `header is not "${PROGRESS_MAGIC} <version> <records> <errors> <sec>"`);
  if (head[1] !== String(PROGRESS_VERSION)) throw corrupt(file, 1, `version ${JSON.stringify(head[1])} is not ${PROGRESS_VERSION}`);
  const [recordsSeen, errors, sec] = head.slice(2).map(parseCount);
  if (recordsSeen === undefined || errors === undefined || sec === undefined) throw corrupt(file, 1, "header counters are not integers");

  const paths = new Map<string, FilterGeneration[]>();
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const lineNo = i + 1;
    if (!line.startsWith('"')) throw corrupt(file, lineNo, "line does not start with a JSON string");
    const end = endOfJsonString(line);
    if (end < 0) throw corrupt(file, lineNo, "path string does not close");
    let path: unknown;
    try {
      path = JSON.parse(line.slice(0, end));
    } catch (cause) {
      throw new ProgressSourceError("PROGRESS_FILE_CORRUPT", file, `corrupt progress file "${file}" line ${lineNo}: path is not a JSON string`, { cause });
    }
    if (typeof path !== "string") throw corrupt(file, lineNo, "path is not a JSON string");
    if (line[end] !== " ") throw corrupt(file, lineNo, "no space after the path");
    const nums = line.slice(end + 1).split(" ").map(parseCount);
    if (nums.length !== 6 || nums.some((n) => n === undefined)) throw corrupt(file, lineNo, "expected six non-negative integers after the path");
    const [index, firstOffset, maxOffset, records, firstSec, lastSec] = nums as number[];
    if (maxOffset < firstOffset) throw corrupt(file, lineNo, `maxOffset ${maxOffset} is below firstOffset ${firstOffset}`);
    const gens = paths.get(path) ?? [];
    const prev = gens[gens.length - 1];
    if (prev && index <= prev.index) throw corrupt(file, lineNo, `generation ${index} does not follow ${prev.index}`);
    gens.push({ index, firstOffset, maxOffset, records, firstSec, lastSec });
    paths.set(path, gens);
  }
  return { file, recordsSeen, errors, sec, paths };
}

/**
 * The generations as claims. Format v1 carries whole seconds: a first record time of `firstSec` means
 * somewhere in [firstSec, firstSec + 1) s, hence precisionMs 1000.
 */
export function generationClaims(p: FilterProgress): ProgressClaim[] {
  const claims: ProgressClaim[] = [];
  for (const [path, gens] of p.paths) {
    const bytes = Buffer.from(path, "utf8");
    for (const g of gens) {
      claims.push({
        kind: "generation",
        shipper: "fluent-bit-filter",
        path: bytes,
        index: g.index,
        firstOffset: g.firstOffset,
        maxOffset: g.maxOffset,
        records: g.records,
        firstMs: g.firstSec * 1000,
        lastMs: g.lastSec * 1000,
        precisionMs: 1000,
      });
    }
  }
  return claims;
}

/** The filter's progress file as a ProgressSource. It reports what went wrong; the attacher logs. */
export class FilterFileSource implements ProgressSource {
  readonly name: string;
  constructor(
    private readonly file: string,
    private readonly read_: (file: string) => Promise<Buffer> = (f) => readFile(f),
  ) {
    this.name = `progress.fluentBitProgressFile ${JSON.stringify(file)}`;
  }

  async read(): Promise<ProgressReport> {
    let bytes: Buffer;
    try {
      bytes = await this.read_(this.file);
    } catch (cause) {
      // Missing: the filter has not flushed yet (or is not deployed). Nothing read, nothing credited.
      if ((cause as NodeJS.ErrnoException)?.code === "ENOENT") return { claims: [], errors: [] };
      return { claims: [], errors: [new ProgressSourceError("PROGRESS_FILE_READ", this.file, `failed to read progress file "${this.file}"`, { cause })] };
    }
    try {
      return { claims: generationClaims(parseProgressFile(bytes.toString("utf8"), this.file)), errors: [] };
    } catch (err) {
      if (!(err instanceof ProgressSourceError)) throw err;
      return { claims: [], errors: [err] };
    }
  }
}
