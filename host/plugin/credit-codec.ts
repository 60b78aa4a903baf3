// The host half of crl_credit_progress's wire format (docs/abi.md, "crl_credit_progress"); the guest half
// is assembly/abi/credit.ts. The numbering of claim kinds, shippers and origins mirrors
// assembly/rules/credit.ts.
import { ABI_VERSION, MAGIC_CREDIT, MAX_FINGERPRINT_BYTES, MAX_PATH_BYTES } from "./status.js";
import { BufferReader } from "./codec.js";
import { PluginError } from "../errors.js";
import type { CreditOrigin, CreditRequest, FileCredit } from "./types.js";
import type { ClaimKindName, ProgressClaim, ShipperName } from "../progress/types.js";

export const CLAIM_KINDS: Record<ClaimKindName, number> = {
  "inode-name": 1,
  "dev-inode": 2,
  "first-line-crc64": 3,
  "first-bytes": 4,
  path: 5,
  generation: 6,
};

export const SHIPPERS: ShipperName[] = ["fluent-bit-filter", "fluent-bit-db", "vector", "fluentd", "otel", "promtail", "alloy"]; // 1-based on the wire

export const ORIGINS: CreditOrigin[] = [
  "none",
  "inode-path",
  "inode-former-path",
  "generation-rotated-path",
  "generation-at-rename",
  "generation-live-path",
  "dev-inode",
  "first-line-crc64",
  "first-bytes",
  "path-rotated-path",
  "path-before-rename",
  "path-live",
]; // 0-based on the wire

const FILE_LIVE = 1;
const FILE_DEV_KNOWN = 2;
const FILE_CRC_KNOWN = 4;
const CREDIT_LINE_START = 1;
const U64 = (v: bigint): bigint => BigInt.asUintN(64, v);

/** Grows as needed; every integer little-endian (docs/abi.md, "Conventions"). */
class Out {
  private buf = Buffer.allocUnsafe(1024);
  private pos = 0;
  private reserve(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.pos + n) cap *= 2;
    const next = Buffer.allocUnsafe(cap);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }
  u8(v: number): void {
    this.reserve(1);
    this.buf[this.pos++] = v;
  }
  u32(v: number): void {
    this.reserve(4);
    this.buf.writeUInt32LE(v >>> 0, this.pos);
    this.pos += 4;
  }
  i64(v: number): void {
    if (!Number.isSafeInteger(v)) throw new RangeError(`${v} is not a safe integer`);
    this.reserve(8);
    this.buf.writeBigInt64LE(BigInt(v), this.pos);
    this.pos += 8;
  }
  u64(v: bigint): void {
    this.reserve(8);
    this.buf.writeBigUInt64LE(U64(v), this.pos);
    this.pos += 8;
  }
  bytes(b: Uint8Array): void {
    this.u32(b.length);
    this.reserve(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }
  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }
}

/**
 * Whether a claim can travel: a path or fingerprint longer than the module accepts cannot be one of our
 * files (no path of ours is longer than PATH_MAX), so such a claim is left out rather than failing the
 * whole request.
 */
export function fitsTheWire(c: ProgressClaim): boolean {
  switch (c.kind) {
    case "inode-name":
    case "path":
    case "generation":
      return c.path.length <= MAX_PATH_BYTES;
    case "first-bytes":
      return c.firstBytes.length <= MAX_FINGERPRINT_BYTES;
    default:
      return true;
  }
}

function shipperCode(s: ShipperName): number {
  return SHIPPERS.indexOf(s) + 1;
}

export function encodeCreditRequest(req: CreditRequest): Buffer {
  const w = new Out();
  w.u32(MAGIC_CREDIT);
  w.u32(ABI_VERSION);
  w.u32(req.history.length);
  for (const h of req.history) {
    w.bytes(h.livePath);
    w.u64(h.inode);
    w.bytes(h.rotatedPath);
    w.i64(Math.floor(h.rotatedAtMs));
    w.i64(h.liveSinceMs === undefined ? -1 : Math.floor(h.liveSinceMs));
  }
  w.u32(req.files.length);
  for (const f of req.files) {
    w.bytes(f.path);
    w.u8((f.live ? FILE_LIVE : 0) | (f.dev !== undefined ? FILE_DEV_KNOWN : 0) | (f.firstLineCrc64 !== undefined ? FILE_CRC_KNOWN : 0));
    w.u64(f.dev ?? 0n);
    w.u64(f.inode);
    w.i64(f.size);
    w.i64(f.lastLineStart ?? -1);
    w.u64(f.firstLineCrc64 ?? 0n);
    w.bytes(f.firstBytes !== undefined ? f.firstBytes.subarray(0, MAX_FINGERPRINT_BYTES) : Buffer.alloc(0));
    w.i64(f.bornMs === undefined ? -1 : Math.floor(f.bornMs));
  }
  const claims = req.claims.filter(fitsTheWire);
  w.u32(claims.length);
  for (const c of claims) {
    w.u8(CLAIM_KINDS[c.kind]);
    w.u8(shipperCode(c.shipper));
    switch (c.kind) {
      case "inode-name":
        w.u64(c.inode);
        w.bytes(c.path);
        w.i64(c.offset);
        break;
      case "dev-inode":
        w.u64(c.dev);
        w.u64(c.inode);
        w.i64(c.offset);
        w.i64(c.modifiedMs === undefined ? -1 : Math.floor(c.modifiedMs));
        break;
      case "first-line-crc64":
        w.u64(c.checksum);
        w.i64(c.offset);
        w.i64(c.modifiedMs === undefined ? -1 : Math.floor(c.modifiedMs));
        break;
      case "first-bytes":
        w.bytes(c.firstBytes);
        w.i64(c.offset);
        break;
      case "path":
        w.bytes(c.path);
        w.i64(c.offset);
        w.i64(Math.floor(c.takenAtMs));
        break;
      case "generation":
        w.bytes(c.path);
        w.i64(c.index);
        w.i64(c.maxOffset);
        w.i64(Math.floor(c.firstMs));
        w.i64(c.precisionMs);
        break;
    }
  }
  return w.finish();
}

export function decodeCreditResponse(payload: Buffer, files: number): FileCredit[] {
  const r = new BufferReader(payload);
  const n = r.u32();
  if (n !== files) throw new PluginError("PLUGIN_BAD_RESPONSE", `credit_progress answered for ${n} files, the request had ${files}`);
  const out: FileCredit[] = [];
  for (let i = 0; i < n; i++) {
    const readOffset = r.i64();
    const flags = r.u8();
    const origin = ORIGINS[r.u8()];
    const shipperCodeOnWire = r.u8();
    const detail = r.bytes().toString("utf8");
    if (!origin || shipperCodeOnWire > SHIPPERS.length) throw new PluginError("PLUGIN_BAD_RESPONSE", `unknown origin or shipper in the credit of file ${i}`);
    out.push({
      ...(readOffset >= 0 ? { readOffset } : {}),
      lineStart: (flags & CREDIT_LINE_START) !== 0,
      origin,
      ...(shipperCodeOnWire > 0 ? { shipper: SHIPPERS[shipperCodeOnWire - 1]! } : {}),
      detail,
    });
  }
  r.end();
  return out;
}
