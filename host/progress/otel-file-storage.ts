// How far the OpenTelemetry Collector's filelog receiver has read each file, from the bbolt file its
// file_storage extension keeps (extension/storage/filestorage; the receiver's checkpoints in
// pkg/stanza/fileconsumer/internal/checkpoint of opentelemetry-collector-contrib).
//
// The file is `<directory>/receiver_filelog_<name>` (otelFileStoragePath). Bucket `default`, keys scoped by the
// operator id: `file_input.knownFiles` (builds before the ids lost their "$." prefix wrote
// `$.file_input.knownFiles`). The value is what checkpoint.SaveKey writes with a Go json.Encoder: the count,
// then one object per file, each on its own line:
//   2
//   {"Fingerprint":{"first_bytes":"<base64>"},"Offset":1234,"RecordNum":9,"FileAttributes":{...},
//    "HeaderFinalized":false,"FlushState":{...},"TokenLenState":{...},"FileType":""}
// first_bytes are the file's first bytes (fingerprint_size, default 1000; fewer while the file was shorter);
// Offset is the byte after the last token read. A file matches when its first bytes start with first_bytes;
// the record holds the file's name, not its path, by default — so this source claims by first bytes only and
// the rules decide which file a claim belongs to.
//
// Archive slots: with `polls_to_archive` set, the tracker writes the metadata that ages out of its three
// in-memory poll generations to `file_input.knownFiles<N>` (a ring, N < polls_to_archive; earlier builds
// named them `knownFilesArchive<N>`), in the same encoding, and reads them back to resume a file whose
// fingerprint comes back. They record reads exactly as knownFiles does — they are only older — so they are
// read too: a rotated file the receiver finished and then stopped seeing stays provable after it leaves
// knownFiles. (`knownFilesArchiveIndex` is the ring's cursor, not a checkpoint.)
//
// Not read, on purpose:
//   - entries with FileType ".gz": with `compression: gzip|auto` their Offset is the compressed file's size,
//     not a position in the uncompressed bytes the claims speak of;
//   - entries without first bytes: an empty fingerprint would match every file;
//   - a protobuf-encoded checkpoint (the alpha gate `filelog.protobufCheckpointEncoding`, v0.143.0 on; the
//     collector's Load tries protobuf first): detected and reported, never read as JSON.
//
// bbolt's lock is an advisory flock the collector holds; this source takes no lock (that would stall the
// collector) and reads a consistent snapshot instead (viewBolt). A source never logs: what went wrong is in
// the report, and what could not be read is simply not claimed.
import { join } from "node:path";
import { BoltError, type BoltReader, viewBolt } from "./bbolt.js";
import { ProgressSourceError, type ProgressSourceErrorCode } from "../errors.js";

// ---- The claim types of the progress design this source needs ----------------------------------------
// host/progress/types.ts is to carry them: ProgressClaim (whose "first-bytes" member FirstBytesClaim is),
// ProgressReport and ProgressSource in the claims shape. Until it does, they are declared here under names that
// do not clash with today's ProgressReport/ProgressSource, shaped as the design has them.
export type ShipperName = "fluent-bit-filter" | "fluent-bit-db" | "vector" | "fluentd" | "otel" | "promtail" | "alloy";
/** OpenTelemetry filelog: the file's first bytes as the fingerprint; offset = the byte after the last one read. */
export interface FirstBytesClaim {
  kind: "first-bytes";
  shipper: ShipperName;
  firstBytes: Buffer;
  offset: number;
}
export interface ClaimReport {
  claims: FirstBytesClaim[];
  errors: ProgressSourceError[];
}
export interface ClaimSource {
  readonly name: string;
  read(): Promise<ClaimReport>;
}

export const OTEL_DEFAULT_STORAGE_DIRECTORY = "/var/lib/otelcol/file_storage";
const BUCKET = Buffer.from("default");
const SCOPE = "file_input.";
const KNOWN_FILES = "knownFiles";
const LEGACY_KEY = Buffer.from(`$.${SCOPE}${KNOWN_FILES}`);
const ARCHIVE_KEY = /^file_input\.knownFiles(?:Archive)?\d+$/;
const GZIP_FILE_TYPE = ".gz";

/**
 * The file file_storage keeps for a filelog receiver: `receiver_filelog_<name>` in its directory, the name
 * sanitized as the extension does (A-Z a-z 0-9 . - _ kept, anything else as ~ and 4+ hex digits). An unnamed
 * receiver (`filelog`) gives `receiver_filelog_` with the trailing underscore.
 */
export function otelFileStoragePath(directory: string = OTEL_DEFAULT_STORAGE_DIRECTORY, receiverName = ""): string {
  let safe = "";
  for (const ch of `receiver_filelog_${receiverName}`) {
    safe += /^[A-Za-z0-9._-]$/.test(ch) ? ch : `~${ch.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;
  }
  return join(directory, safe);
}

export interface OtelFileStorageOptions {
  /** The receiver's file_storage file (otelFileStoragePath). */
  path: string | Buffer;
  /** Read the archive slots too (default true). */
  archive?: boolean;
  /** Most bytes one read of the bbolt file may take (default: the reader's). */
  maxReadBytes?: number;
}

export class OtelFileStorageSource implements ClaimSource {
  readonly name = "otel-file-storage";
  private readonly path: string | Buffer;
  private readonly where: string;
  private readonly archive: boolean;
  private readonly maxReadBytes?: number;

  constructor(opts: OtelFileStorageOptions) {
    this.path = opts.path;
    this.where = typeof opts.path === "string" ? opts.path : opts.path.toString();
    this.archive = opts.archive ?? true;
    this.maxReadBytes = opts.maxReadBytes;
  }

  async read(): Promise<ClaimReport> {
    const errors: ProgressSourceError[] = [];
    let values: Array<[key: string, value: Buffer]>;
    try {
      values = await viewBolt(this.path, (db) => this.checkpoints(db, errors), { maxReadBytes: this.maxReadBytes });
    } catch (cause) {
      // The collector has not started (or runs without the storage extension): nothing to claim.
      if (cause instanceof BoltError && cause.code === "BOLT_MISSING") return { claims: [], errors: [] };
      return { claims: [], errors: [this.fileError(cause)] };
    }
    const claims: FirstBytesClaim[] = [];
    for (const [key, value] of values) claims.push(...this.parse(key, value, errors));
    return { claims, errors };
  }

  /** The checkpoint values, by key: knownFiles, the legacy key, then the archive slots in key order. */
  private async checkpoints(db: BoltReader, errors: ProgressSourceError[]): Promise<Array<[string, Buffer]>> {
    const out: Array<[string, Buffer]> = [];
    for (const key of [Buffer.from(SCOPE + KNOWN_FILES), LEGACY_KEY]) {
      const value = await db.get([BUCKET], key);
      if (value) out.push([key.toString(), value]);
    }
    if (!this.archive) return out;
    let keys;
    try {
      keys = await db.keys([BUCKET]);
    } catch (cause) {
      // A torn read while the collector commits: let viewBolt read again. Otherwise keep what was read.
      if (!(await db.unchanged())) throw cause;
      errors.push(this.fileError(cause, "its archive slots could not be listed"));
      return out;
    }
    for (const k of keys ?? []) {
      const name = k.key.toString("latin1");
      if (k.bucket || !ARCHIVE_KEY.test(name)) continue;
      const value = await db.get([BUCKET], k.key);
      if (value) out.push([name, value]);
    }
    return out;
  }

  private fileError(cause: unknown, what = "could not be read"): ProgressSourceError {
    const code: ProgressSourceErrorCode =
      cause instanceof BoltError
        ? cause.code === "BOLT_BUSY"
          ? "PROGRESS_FILE_BUSY"
          : cause.code === "BOLT_NOT_BOLT" || cause.code === "BOLT_CORRUPT"
            ? "PROGRESS_FILE_CORRUPT"
            : "PROGRESS_FILE_READ"
        : "PROGRESS_FILE_READ";
    const detail = cause instanceof Error ? cause.message : String(cause);
    return new ProgressSourceError(code, this.where, `OpenTelemetry file_storage "${this.where}" ${what}, nothing claimed from it: ${detail}`, { cause });
  }

  /** The claims one checkpoint value proves; what it does not prove is left out, with an error saying why. */
  private parse(key: string, value: Buffer, errors: ProgressSourceError[]): FirstBytesClaim[] {
    const where = `OpenTelemetry file_storage "${this.where}" key "${key}"`;
    const corrupt = (what: string, cause?: unknown) => errors.push(new ProgressSourceError("PROGRESS_FILE_CORRUPT", this.where, `${where}: ${what}`, { cause }));
    const lines = jsonStreamLines(value);
    if (!lines) {
      if (looksLikeProtobuf(value)) {
        errors.push(
          new ProgressSourceError(
            "PROGRESS_FILE_UNSUPPORTED",
            this.where,
            `${where} is protobuf-encoded (feature gate filelog.protobufCheckpointEncoding): only the JSON encoding is read; ` +
              "disable the gate (the collector reads either) to have rotated files credited",
          ),
        );
      } else {
        corrupt("not a checkpoint: neither the JSON stream nor protobuf the collector writes");
      }
      return [];
    }
    const [countLine, ...entries] = lines;
    const count = Number(countLine);
    const claims: FirstBytesClaim[] = [];
    for (let i = 0; i < Math.min(count, entries.length); i++) {
      let entry: unknown;
      try {
        entry = JSON.parse(entries[i]);
      } catch (cause) {
        // The rest of the stream cannot be trusted either (the collector's own Load stops here too).
        corrupt(`entry ${i + 1} of ${count} is not JSON; ${count - i} entries not read`, cause);
        return claims;
      }
      const claim = entryClaim(entry);
      if (typeof claim === "string") corrupt(`entry ${i + 1} of ${count}: ${claim}`);
      else if (claim) claims.push(claim);
    }
    if (entries.length < count) corrupt(`holds ${entries.length} of the ${count} entries it announces (cut short)`);
    if (entries.length > count) corrupt(`holds ${entries.length - count} entries after the ${count} it announces (ignored, as the collector does)`);
    return claims;
  }
}

/**
 * The lines of a checkpoint in the JSON encoding: the count, then one line per entry (a json.Encoder ends every
 * value with "\n" and never writes a raw newline inside one). Undefined when the value does not start so.
 */
function jsonStreamLines(value: Buffer): string[] | undefined {
  const text = value.toString("utf8");
  const m = /^(0|[1-9][0-9]{0,9})\n/.exec(text);
  if (!m) return undefined;
  const lines = text.slice(m[0].length).split("\n");
  // A complete stream ends with "\n": the last piece is empty. A piece after the last newline is a cut entry.
  if (lines[lines.length - 1] === "") lines.pop();
  return [m[1], ...lines];
}

/**
 * A protobuf MetadataList (checkpoint.proto): empty, or field 1 (metadata) length-delimited first, with a
 * length that fits. A JSON checkpoint is never empty (the count comes first).
 */
function looksLikeProtobuf(value: Buffer): boolean {
  if (value.length === 0) return true;
  if (value[0] !== 0x0a) return false;
  let length = 0;
  let shift = 0;
  for (let i = 1; i < value.length && i <= 10; i++) {
    length += (value[i] & 0x7f) * 2 ** shift;
    shift += 7;
    if ((value[i] & 0x80) === 0) return i + 1 + length <= value.length;
  }
  return false;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** One entry's claim; undefined when it proves nothing on purpose; a string saying what is wrong with it. */
function entryClaim(entry: unknown): FirstBytesClaim | undefined | string {
  if (typeof entry !== "object" || entry === null || Array.isArray(entry)) return "not an object";
  const e = entry as Record<string, unknown>;
  if (e.FileType === GZIP_FILE_TYPE) return undefined; // Offset counts compressed bytes (see the top).
  const fp = e.Fingerprint;
  if (fp === null || fp === undefined) return undefined; // no identity, nothing to match
  if (typeof fp !== "object" || Array.isArray(fp)) return "Fingerprint is not an object";
  const first = (fp as Record<string, unknown>).first_bytes;
  if (first === null || first === undefined || first === "") return undefined; // an empty fingerprint matches every file
  if (typeof first !== "string" || !BASE64.test(first)) return "Fingerprint.first_bytes is not base64";
  const offset = e.Offset;
  if (typeof offset !== "number" || !Number.isSafeInteger(offset) || offset < 0) return `Offset ${JSON.stringify(offset)} is not a byte offset`;
  return { kind: "first-bytes", shipper: "otel", firstBytes: Buffer.from(first, "base64"), offset };
}
