// How far the log shipper has read each file. Every shipper keeps its read position in a file of its own
// format; a source (one per format) reads it and returns CLAIMS: what the file proves, in the shipper's own
// identity terms (an inode and a name, a fingerprint, a path). A source never decides which of our files a
// claim belongs to, and never logs: the rules module decides the first (crl_credit_progress, through
// host/progress/attacher.ts), the attacher the second.

export type ShipperName = "fluent-bit-filter" | "fluent-bit-db" | "vector" | "fluentd" | "otel" | "promtail" | "alloy";

/** What one entry of a shipper's position file proves. Offsets are bytes of the (uncompressed) file. */
export type ProgressClaim =
  /** A row keyed by inode that also names the file (Fluent Bit in_tail DB, fluentd pos_file).
   *  offset = position AFTER the last byte consumed. */
  | { kind: "inode-name"; shipper: ShipperName; inode: bigint; path: Buffer; offset: number }
  /** Vector's dev_inode fingerprint. modifiedMs = when the position last changed, if known. */
  | { kind: "dev-inode"; shipper: ShipperName; dev: bigint; inode: bigint; offset: number; modifiedMs?: number }
  /** Vector's first_lines_checksum (CRC-64/ECMA-182 of the first line incl. '\n'; u64, parsed as BigInt). */
  | { kind: "first-line-crc64"; shipper: ShipperName; checksum: bigint; offset: number; modifiedMs?: number }
  /** OpenTelemetry filelog: the file's first bytes (≤ 1000) as the fingerprint. */
  | { kind: "first-bytes"; shipper: ShipperName; firstBytes: Buffer; offset: number }
  /** Promtail / Alloy positions: path → offset, no inode; takenAtMs = upper bound of when it was taken
   *  (the positions file's mtime). */
  | { kind: "path"; shipper: ShipperName; path: Buffer; offset: number; takenAtMs: number }
  /** The Fluent Bit filter's generation under a path; maxOffset is the START of the last line read.
   *  firstMs/lastMs are record times; precisionMs is 1 when the progress file carries ms, 1000 when
   *  it carries whole seconds (format v1): the true first time lies in [firstMs, firstMs + precisionMs). */
  | {
      kind: "generation";
      shipper: ShipperName;
      path: Buffer;
      index: number;
      firstOffset: number;
      maxOffset: number;
      records: number;
      firstMs: number;
      lastMs: number;
      precisionMs: number;
    };

export type ClaimKindName = ProgressClaim["kind"];

export interface ProgressReport {
  claims: ProgressClaim[];
  /** What went wrong while reading; what could not be read is simply absent above (credit less). */
  errors: ProgressSourceError[];
}

export interface ProgressSource {
  /** For logs and errors: the setting it comes from and its file, e.g. `progress.fluentdPosFile "/var/log/td-agent/pos"`. */
  readonly name: string;
  read(): Promise<ProgressReport>;
}

export const emptyReport = (): ProgressReport => ({ claims: [], errors: [] });

export { ProgressSourceError } from "../errors.js";
import type { ProgressSourceError } from "../errors.js";
