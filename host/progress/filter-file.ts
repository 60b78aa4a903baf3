// The progress file the Fluent Bit filter writes into Fluent Bit's Accessible_Paths directory, as a
// ProgressSource: its generations as claims. The format is parsed in host/plugin/progress-file.ts
// (docs/abi.md, "Progress file"; formats 1 and 2); this file only reads it and reshapes it. The filter
// replaces it by rename, so a reader never sees half a file; a file that does not parse anyway is
// reported as an error naming the path and line, and none of it is credited.
import { readFile } from "node:fs/promises";
import type { ProgressClaim, ProgressReport, ProgressSource } from "./types.js";
import { ProgressSourceError } from "../errors.js";
import { parseProgressFile, type ProgressFile } from "../plugin/progress-file.js";

/** The generations as claims: times in ms with the precision of the file's format (1 ms, or 1000 for format 1). */
export function generationClaims(p: ProgressFile): ProgressClaim[] {
  return p.generations.map((g) => ({
    kind: "generation",
    shipper: "fluent-bit-filter",
    path: g.path,
    index: g.index,
    firstOffset: g.firstOffset,
    maxOffset: g.maxOffset,
    records: g.records,
    firstMs: g.firstMs,
    lastMs: g.lastMs,
    precisionMs: g.precisionMs,
  }));
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
      return { claims: generationClaims(parseProgressFile(bytes, this.file)), errors: [] };
    } catch (err) {
      if (!(err instanceof ProgressSourceError)) throw err;
      return { claims: [], errors: [err] };
    }
  }
}
