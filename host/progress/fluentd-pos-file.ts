// Reads fluentd's in_tail `pos_file` (lib/fluent/plugin/in_tail/position_file.rb): one line per file,
//
//   <path>\t<pos: 16 hex digits>\t<inode: 16 hex digits>\n
//
// where pos is past the last line read. fluentd updates a line in place (16 or 33 bytes at its offset,
// no fsync, no rename) and compacts by truncating and rewriting, so a read can see a line half-updated:
// the file is read until two reads agree. A pos of ffffffffffffffff marks an entry fluentd no longer
// watches. The last line per (path, inode) counts, as fluentd's own load keeps the last per key. Paths
// stay bytes (fluentd writes them as it got them from the glob).
import type { Fs } from "../fs.js";
import { readWhole } from "./read-whole.js";
import type { ProgressClaim, ProgressReport, ProgressSource } from "./types.js";
import { ProgressSourceError } from "../errors.js";

const UNWATCHED = 0xffffffffffffffffn;
const ATTEMPTS = 5;
const HEX = /^[0-9a-fA-F]{1,16}$/;

export interface PosFileParse {
  claims: ProgressClaim[];
  /** 1-based numbers of complete lines that are not `path\tpos\tinode` (fluentd skips them too). */
  badLines: number[];
}

export function parsePosFile(bytes: Buffer): PosFileParse {
  const byKey = new Map<string, ProgressClaim>();
  const badLines: number[] = [];
  let start = 0;
  let lineNo = 0;
  for (;;) {
    const nl = bytes.indexOf(0x0a, start);
    if (nl < 0) break; // no newline after it: a line being written, not yet a line
    lineNo++;
    const line = bytes.subarray(start, nl);
    start = nl + 1;
    if (line.length === 0) continue;
    const tab2 = line.lastIndexOf(0x09);
    const tab1 = tab2 > 0 ? line.lastIndexOf(0x09, tab2 - 1) : -1;
    const pos = tab1 > 0 ? line.subarray(tab1 + 1, tab2).toString("latin1") : "";
    const ino = tab1 > 0 ? line.subarray(tab2 + 1).toString("latin1") : "";
    if (tab1 <= 0 || !HEX.test(pos) || !HEX.test(ino)) {
      badLines.push(lineNo);
      continue;
    }
    const path = Buffer.from(line.subarray(0, tab1));
    const offset = BigInt(`0x${pos}`);
    const inode = BigInt(`0x${ino}`);
    const key = `${path.toString("latin1")}\0${inode}`;
    if (offset === UNWATCHED) {
      byKey.delete(key); // fluentd stopped watching it: it proves nothing any more
      continue;
    }
    if (offset > BigInt(Number.MAX_SAFE_INTEGER)) {
      badLines.push(lineNo);
      continue;
    }
    byKey.delete(key); // re-inserted last: the order of the lines as fluentd wrote them
    byKey.set(key, { kind: "inode-name", shipper: "fluentd", inode, path, offset: Number(offset) });
  }
  return { claims: [...byKey.values()], badLines };
}

export class FluentdPosFileSource implements ProgressSource {
  readonly name: string;
  constructor(
    private readonly file: string,
    private readonly fs: Fs,
  ) {
    this.name = `progress.fluentdPosFile ${JSON.stringify(file)}`;
  }

  async read(): Promise<ProgressReport> {
    let previous: Buffer | undefined;
    for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
      let got: Awaited<ReturnType<typeof readWhole>>;
      try {
        got = await readWhole(this.fs, this.file);
      } catch (cause) {
        return { claims: [], errors: [new ProgressSourceError("PROGRESS_FILE_READ", this.file, `failed to read fluentd pos_file "${this.file}"`, { cause })] };
      }
      if (!got) return { claims: [], errors: [] }; // fluentd has not started tailing: nothing read
      if (previous && previous.equals(got.bytes)) return this.parsed(got.bytes);
      previous = got.bytes;
    }
    return {
      claims: [],
      errors: [new ProgressSourceError("PROGRESS_FILE_BUSY", this.file, `fluentd pos_file "${this.file}" changed between each of ${ATTEMPTS} reads; nothing credited from it this pass`)],
    };
  }

  private parsed(bytes: Buffer): ProgressReport {
    const { claims, badLines } = parsePosFile(bytes);
    if (badLines.length === 0) return { claims, errors: [] };
    // Each good line proves its own file's position; the bad ones are skipped, as fluentd skips them.
    const err = new ProgressSourceError(
      "PROGRESS_FILE_CORRUPT",
      this.file,
      `fluentd pos_file "${this.file}" line ${badLines[0]}${badLines.length > 1 ? ` and ${badLines.length - 1} more` : ""} is not "path<TAB>pos<TAB>inode" in hex; those lines are skipped`,
    );
    return { claims, errors: [err] };
  }
}
