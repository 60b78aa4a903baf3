// The progress file the Fluent Bit filter writes into Fluent Bit's Accessible_Paths directory, as a
// ProgressSource. The format is parsed in host/plugin/progress-file.ts (docs/abi.md, "Progress file");
// this file only reads it and reshapes it. The filter replaces it by rename, so a reader never sees half a
// file; a file that does not parse anyway is reported as an error naming the path and line, and none of
// it is credited.
import { readFile } from "node:fs/promises";
import { type FilterGeneration, type FilterProgress, type ProgressReport, type ProgressSource } from "./types.js";
import { silentLogger, type Logger } from "../log.js";
import { ProgressSourceError } from "../errors.js";
import { parseProgressFile } from "../plugin/progress-file.js";

/** The progress file's generations by path (decoded as the rest of host/progress keys paths). */
export function toFilterProgress(bytes: Buffer, file: string): FilterProgress {
  const parsed = parseProgressFile(bytes, file);
  const paths = new Map<string, FilterGeneration[]>();
  for (const g of parsed.generations) {
    const key = g.path.toString("utf8");
    const gens = paths.get(key) ?? [];
    gens.push({
      index: g.index,
      firstOffset: g.firstOffset,
      maxOffset: g.maxOffset,
      records: g.records,
      firstSec: Math.floor(g.firstMs / 1000),
      lastSec: Math.floor(g.lastMs / 1000),
      firstMs: g.firstMs,
      lastMs: g.lastMs,
      precisionMs: g.precisionMs,
    });
    paths.set(key, gens);
  }
  return { file, recordsSeen: parsed.recordsSeen, errors: parsed.errors, sec: Math.floor(parsed.flushMs / 1000), paths };
}

/** The filter's progress file as a ProgressSource. */
export class FilterFileSource implements ProgressSource {
  constructor(
    private readonly file: string,
    private readonly logger: Logger = silentLogger,
    private readonly read_: (file: string) => Promise<Buffer> = (f) => readFile(f),
  ) {}

  async read(): Promise<ProgressReport> {
    let bytes: Buffer;
    try {
      bytes = await this.read_(this.file);
    } catch (cause) {
      // Missing: the filter has not flushed yet (or is not deployed). Nothing read, nothing credited.
      if ((cause as NodeJS.ErrnoException)?.code === "ENOENT") return { db: [], errors: [] };
      const err = new ProgressSourceError("PROGRESS_FILE_READ", this.file, `failed to read progress file "${this.file}"`, { cause });
      this.logger.warn(err.message, { path: this.file, code: err.code });
      return { db: [], errors: [err] };
    }
    try {
      return { filter: toFilterProgress(bytes, this.file), db: [], errors: [] };
    } catch (err) {
      if (!(err instanceof ProgressSourceError)) throw err;
      this.logger.warn(err.message, { path: this.file, code: err.code });
      return { db: [], errors: [err] };
    }
  }
}
