// crl_credit_progress: which shipper claims credit which of a container's files (docs/abi.md). The
// decoder checks the request, calls the rule (assembly/rules/credit.ts), encodes the credits; the export is
// in exports.ts.
import { Status, MAGIC_CREDIT, MAX_CREDIT_FILES, MAX_ROTATIONS, MAX_CLAIMS, MAX_PATH_BYTES, MAX_FINGERPRINT_BYTES } from "./status";
import { Reader, Writer, readHeader, respondError } from "./codec";
import { Claim, ClaimKind, Credit, CreditFile, Rotation, Shipper, creditFiles } from "../rules/credit";

const FILE_LIVE: u8 = 1;
const FILE_DEV_KNOWN: u8 = 2;
const FILE_CRC_KNOWN: u8 = 4;
const KNOWN_FILE_FLAGS: u8 = FILE_LIVE | FILE_DEV_KNOWN | FILE_CRC_KNOWN;
const CREDIT_LINE_START: u8 = 1;

const MIN_ROTATION_BYTES: u32 = 4 + 8 + 4 + 8 + 8;
const MIN_FILE_BYTES: u32 = 4 + 1 + 8 * 5 + 4 + 8;
const MIN_CLAIM_BYTES: u32 = 2 + 4 + 8;

class CreditRequest {
  history: Rotation[] = new Array<Rotation>();
  files: CreditFile[] = new Array<CreditFile>();
  claims: Claim[] = new Array<Claim>();
}

export function respondCreditProgress(ptr: usize, len: usize): usize {
  const r = new Reader(ptr, len);
  const req = decodeCreditRequest(r);
  if (!r.ok) return respondError(r.status, r.message);
  return encodeCredits(creditFiles(req.files, req.history, req.claims));
}

/** A path the host built (a file's, or one of its rotations): non-empty, no NUL. */
function hostPath(r: Reader, what: string): Uint8Array {
  const p = r.bytes(what, MAX_PATH_BYTES);
  if (!r.ok) return p;
  if (p.length == 0) r.fail(Status.BadName, r.label(what) + " is empty");
  for (let i = 0; i < p.length && r.ok; i++) {
    if (unchecked(p[i]) == 0) r.fail(Status.BadName, r.label(what) + " holds NUL at byte " + i.toString());
  }
  return p;
}

function atLeast(r: Reader, v: i64, min: i64, what: string): i64 {
  if (r.ok && v < min) r.fail(Status.BadValue, r.label(what) + " is " + v.toString() + ", must be >= " + min.toString());
  return v;
}

function decodeCreditRequest(r: Reader): CreditRequest {
  const req = new CreditRequest();
  readHeader(r, MAGIC_CREDIT, "credit_progress");

  const nr = r.count("rotation count", MAX_ROTATIONS, MIN_ROTATION_BYTES);
  for (let i: u32 = 0; i < nr && r.ok; i++) {
    r.entry = <i32>i;
    const h = new Rotation();
    h.livePath = hostPath(r, "rotation livePath");
    h.inode = <u64>r.i64("rotation inode");
    h.rotatedPath = hostPath(r, "rotation rotatedPath");
    h.rotatedAtMs = atLeast(r, r.i64("rotation rotatedAtMs"), 0, "rotation rotatedAtMs");
    h.liveSinceMs = atLeast(r, r.i64("rotation liveSinceMs"), -1, "rotation liveSinceMs");
    req.history.push(h);
  }
  r.entry = -1;

  const nf = r.count("file count", MAX_CREDIT_FILES, MIN_FILE_BYTES);
  for (let i: u32 = 0; i < nf && r.ok; i++) {
    r.entry = <i32>i;
    const f = new CreditFile();
    f.path = hostPath(r, "file path");
    const flags = r.u8("file flags");
    if (r.ok && (flags & ~KNOWN_FILE_FLAGS) != 0) r.fail(Status.BadValue, r.label("file flags") + " has unknown bits 0x" + (flags & ~KNOWN_FILE_FLAGS).toString(16));
    f.live = (flags & FILE_LIVE) != 0;
    f.devKnown = (flags & FILE_DEV_KNOWN) != 0;
    f.crcKnown = (flags & FILE_CRC_KNOWN) != 0;
    f.dev = <u64>r.i64("file dev");
    f.inode = <u64>r.i64("file inode");
    f.size = atLeast(r, r.i64("file size"), 0, "file size");
    f.lastLineStart = atLeast(r, r.i64("file lastLineStart"), -1, "file lastLineStart");
    f.crc = <u64>r.i64("file firstLineCrc64");
    f.firstBytes = r.bytes("file firstBytes", MAX_FINGERPRINT_BYTES);
    f.bornMs = atLeast(r, r.i64("file bornMs"), -1, "file bornMs");
    req.files.push(f);
  }
  r.entry = -1;

  const nc = r.count("claim count", MAX_CLAIMS, MIN_CLAIM_BYTES);
  for (let i: u32 = 0; i < nc && r.ok; i++) {
    r.entry = <i32>i;
    req.claims.push(decodeClaim(r));
  }
  r.entry = -1;
  r.expectEnd();
  return req;
}

function decodeClaim(r: Reader): Claim {
  const c = new Claim();
  c.kind = r.u8("claim kind");
  c.shipper = r.u8("claim shipper");
  if (!r.ok) return c;
  if (c.shipper < <u8>Shipper.FluentBitFilter || c.shipper > <u8>Shipper.Alloy) {
    r.fail(Status.BadValue, r.label("claim shipper") + " is " + c.shipper.toString() + ", must be 1..7");
    return c;
  }
  switch (<i32>c.kind) {
    case ClaimKind.InodeName:
      c.inode = <u64>r.i64("claim inode");
      c.path = r.bytes("claim path", MAX_PATH_BYTES);
      c.offset = atLeast(r, r.i64("claim offset"), 0, "claim offset");
      break;
    case ClaimKind.DevInode:
      c.dev = <u64>r.i64("claim dev");
      c.inode = <u64>r.i64("claim inode");
      c.offset = atLeast(r, r.i64("claim offset"), 0, "claim offset");
      c.modifiedMs = atLeast(r, r.i64("claim modifiedMs"), -1, "claim modifiedMs");
      break;
    case ClaimKind.FirstLineCrc64:
      c.checksum = <u64>r.i64("claim checksum");
      c.offset = atLeast(r, r.i64("claim offset"), 0, "claim offset");
      c.modifiedMs = atLeast(r, r.i64("claim modifiedMs"), -1, "claim modifiedMs");
      break;
    case ClaimKind.FirstBytes:
      c.firstBytes = r.bytes("claim firstBytes", MAX_FINGERPRINT_BYTES);
      c.offset = atLeast(r, r.i64("claim offset"), 0, "claim offset");
      break;
    case ClaimKind.Path:
      c.path = r.bytes("claim path", MAX_PATH_BYTES);
      c.offset = atLeast(r, r.i64("claim offset"), 0, "claim offset");
      c.takenAtMs = atLeast(r, r.i64("claim takenAtMs"), 0, "claim takenAtMs");
      break;
    case ClaimKind.Generation:
      c.path = r.bytes("claim path", MAX_PATH_BYTES);
      c.index = atLeast(r, r.i64("claim index"), 0, "claim index");
      c.offset = atLeast(r, r.i64("claim maxOffset"), 0, "claim maxOffset");
      c.firstMs = atLeast(r, r.i64("claim firstMs"), 0, "claim firstMs");
      c.precisionMs = atLeast(r, r.i64("claim precisionMs"), 1, "claim precisionMs");
      break;
    default:
      r.fail(Status.BadValue, r.label("claim kind") + " is " + c.kind.toString() + ", must be 1..6");
  }
  return c;
}

function encodeCredits(credits: Credit[]): usize {
  let size = 4;
  for (let i = 0; i < credits.length; i++) size += 8 + 3 + 4 + unchecked(credits[i]).detail.length;
  const w = new Writer(size);
  w.u32(<u32>credits.length);
  for (let i = 0; i < credits.length; i++) {
    const c = unchecked(credits[i]);
    w.i64(c.readOffset);
    w.u8(c.lineStart ? CREDIT_LINE_START : 0);
    w.u8(c.origin);
    w.u8(c.shipper);
    w.text(c.detail);
  }
  return w.finish(Status.Ok);
}
