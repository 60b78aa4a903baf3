// Reads Vector's file checkpoints (kubernetes_logs and file sources; lib/file-source-common's
// checkpointer.rs): `<data_dir>/<component>/checkpoints.json`, written as `checkpoints.new.json`, fsync,
// rename. On start Vector prefers `checkpoints.new.json` when it parses (a write interrupted before the
// rename), so this source does too; a `.new` that does not parse is a write in progress, and the stable
// file counts.
//
//   {"version":"1","checkpoints":[{"fingerprint":{"first_lines_checksum":78910},"position":1234,
//    "modified":"2021-07-12T18:19:11.769003Z"},{"fingerprint":{"dev_inode":[2049,1234567]},...}]}
//
// Checksums, devices and inodes are u64, usually above 2^53, where JSON.parse would round them: numbers
// are parsed losslessly and kept as BigInt from their digits. `position` is past the last line read;
// `modified` is when the position last changed.
import { dirname, join } from "node:path";
import { isLosslessNumber, parse } from "lossless-json";
import type { Fs } from "../fs.js";
import { readWhole } from "./read-whole.js";
import type { ProgressClaim, ProgressReport, ProgressSource } from "./types.js";
import { ProgressSourceError } from "../errors.js";

const U64_MAX = (1n << 64n) - 1n;

class Invalid extends Error {
  /** A format Vector writes (another state version) that this reader does not read, rather than a broken file. */
  constructor(
    message: string,
    readonly unsupported = false,
  ) {
    super(message);
  }
}

function u64(v: unknown, what: string): bigint {
  if (!isLosslessNumber(v) || !/^(0|[1-9][0-9]*)$/.test(v.value)) throw new Invalid(`${what} is not a non-negative integer`);
  const n = BigInt(v.value);
  if (n > U64_MAX) throw new Invalid(`${what} is larger than a u64`);
  return n;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !isLosslessNumber(v);
}

/** chrono's RFC 3339 (`2021-07-12T18:19:11.769003Z`) to unix ms, rounded down; undefined if it is not one. */
export function parseRfc3339Ms(s: unknown): number | undefined {
  if (typeof s !== "string") return undefined;
  const m = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/.exec(s);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, sec, frac, zone] = m;
  let ms = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec)) + Number((frac ?? "").padEnd(3, "0").slice(0, 3));
  if (zone !== "Z" && zone !== "z") {
    const sign = zone![0] === "-" ? -1 : 1;
    ms -= sign * (Number(zone!.slice(1, 3)) * 60 + Number(zone!.slice(4, 6))) * 60_000;
  }
  return Number.isFinite(ms) ? ms : undefined;
}

/**
 * The claims of one checkpoints file. Throws Invalid when the file is not Vector's version-1 state:
 * like Vector itself (serde), one malformed entry makes the whole file unusable. Fingerprints of kinds
 * removed in Vector 0.51 (`checksum`, `unknown`) cannot be computed here and are left out.
 */
export function parseCheckpoints(text: string): ProgressClaim[] {
  let state: unknown;
  try {
    state = parse(text);
  } catch (cause) {
    throw new Invalid(`not JSON (${(cause as Error).message})`);
  }
  if (!isObject(state)) throw new Invalid("not a JSON object");
  if (state.version !== "1") throw new Invalid(`version ${JSON.stringify(state.version)} is not one this reader knows ("1"); nothing is credited from it`, true);
  if (!Array.isArray(state.checkpoints)) throw new Invalid('"checkpoints" is not an array');
  const claims: ProgressClaim[] = [];
  state.checkpoints.forEach((cp: unknown, i: number) => {
    const at = `checkpoint ${i}`;
    if (!isObject(cp) || !isObject(cp.fingerprint)) throw new Invalid(`${at} has no fingerprint object`);
    const position = u64(cp.position, `${at} position`);
    if (position > BigInt(Number.MAX_SAFE_INTEGER)) throw new Invalid(`${at} position ${position} is beyond any file`);
    const offset = Number(position);
    const modifiedMs = parseRfc3339Ms(cp.modified);
    const fp = cp.fingerprint;
    const kinds = Object.keys(fp);
    if (kinds.length !== 1) throw new Invalid(`${at} fingerprint has ${kinds.length} kinds, expected one`);
    const kind = kinds[0]!;
    const extra = modifiedMs !== undefined ? { modifiedMs } : {};
    if (kind === "first_lines_checksum" || kind === "first_line_checksum") {
      claims.push({ kind: "first-line-crc64", shipper: "vector", checksum: u64(fp[kind], `${at} checksum`), offset, ...extra });
    } else if (kind === "dev_inode") {
      const pair = fp[kind];
      if (!Array.isArray(pair) || pair.length !== 2) throw new Invalid(`${at} dev_inode is not [dev, inode]`);
      claims.push({ kind: "dev-inode", shipper: "vector", dev: u64(pair[0], `${at} dev`), inode: u64(pair[1], `${at} inode`), offset, ...extra });
    } else if (kind !== "checksum" && kind !== "unknown") {
      throw new Invalid(`${at} has an unknown fingerprint kind ${JSON.stringify(kind)}`);
    }
  });
  return claims;
}

export class VectorCheckpointsSource implements ProgressSource {
  readonly name: string;
  private readonly pending: string;

  /** `file`: the checkpoints.json of one Vector component; checkpoints.new.json beside it is read first. */
  constructor(
    private readonly file: string,
    private readonly fs: Fs,
  ) {
    this.name = `progress.vectorCheckpoints ${JSON.stringify(file)}`;
    this.pending = join(dirname(file), "checkpoints.new.json");
  }

  async read(): Promise<ProgressReport> {
    try {
      const pending = await readWhole(this.fs, this.pending);
      if (pending) {
        try {
          return { claims: parseCheckpoints(pending.bytes.toString("utf8")), errors: [] };
        } catch (err) {
          if (!(err instanceof Invalid)) throw err;
          // A write in progress (or one Vector itself could not recover): the stable file counts.
        }
      }
    } catch (cause) {
      return { claims: [], errors: [new ProgressSourceError("PROGRESS_FILE_READ", this.pending, `failed to read Vector checkpoints "${this.pending}"`, { cause })] };
    }
    let stable: Awaited<ReturnType<typeof readWhole>>;
    try {
      stable = await readWhole(this.fs, this.file);
    } catch (cause) {
      return { claims: [], errors: [new ProgressSourceError("PROGRESS_FILE_READ", this.file, `failed to read Vector checkpoints "${this.file}"`, { cause })] };
    }
    if (!stable) return { claims: [], errors: [] }; // Vector has not checkpointed yet: nothing read
    try {
      return { claims: parseCheckpoints(stable.bytes.toString("utf8")), errors: [] };
    } catch (err) {
      if (!(err instanceof Invalid)) throw err;
      const code = err.unsupported ? "PROGRESS_FILE_UNSUPPORTED" : "PROGRESS_FILE_CORRUPT";
      return { claims: [], errors: [new ProgressSourceError(code, this.file, `Vector checkpoints "${this.file}" cannot be used: ${err.message}`)] };
    }
  }
}
