import { asciiBytes } from "../../assembly/rules/bytes";
import { Claim, ClaimKind, CreditFile, Rotation, Shipper, creditFiles } from "../../assembly/rules/credit";

// A container with a live log L (inode NEW) and the rotated file R (inode OLD) the host renamed it to at
// T ms; OLD had lived at L since SINCE ms.
const L = "/var/log/pods/ns_pod_uid/app/0.log";
const R = "/var/log/pods/ns_pod_uid/app/0.log.20240102-030405";
const OLD: u64 = 10;
const NEW: u64 = 11;
const T: i64 = 1_000_000;
const SINCE: i64 = 800_000;

function file(path: string, inode: u64, live: bool, size: i64 = 5000, lastLineStart: i64 = 4900): CreditFile {
  const f = new CreditFile();
  f.path = asciiBytes(path);
  f.inode = inode;
  f.live = live;
  f.size = size;
  f.lastLineStart = live ? -1 : lastLineStart;
  return f;
}
function rotatedFile(): CreditFile {
  return file(R, OLD, false);
}
function liveFile(): CreditFile {
  return file(L, NEW, true);
}
function rotation(liveSince: i64 = SINCE): Rotation {
  const r = new Rotation();
  r.livePath = asciiBytes(L);
  r.inode = OLD;
  r.rotatedPath = asciiBytes(R);
  r.rotatedAtMs = T;
  r.liveSinceMs = liveSince;
  return r;
}
function claim(kind: ClaimKind, shipper: Shipper, offset: i64): Claim {
  const c = new Claim();
  c.kind = <u8>kind;
  c.shipper = <u8>shipper;
  c.offset = offset;
  return c;
}
function row(path: string, inode: u64, offset: i64): Claim {
  const c = claim(ClaimKind.InodeName, Shipper.Fluentd, offset);
  c.path = asciiBytes(path);
  c.inode = inode;
  return c;
}
function gen(path: string, index: i64, firstMs: i64, maxOffset: i64, precisionMs: i64 = 1): Claim {
  const c = claim(ClaimKind.Generation, Shipper.FluentBitFilter, maxOffset);
  c.path = asciiBytes(path);
  c.index = index;
  c.firstMs = firstMs;
  c.precisionMs = precisionMs;
  return c;
}
function checksum(crc: u64, offset: i64): Claim {
  const c = claim(ClaimKind.FirstLineCrc64, Shipper.Vector, offset);
  c.checksum = crc;
  return c;
}
function devInode(dev: u64, inode: u64, offset: i64, modifiedMs: i64): Claim {
  const c = claim(ClaimKind.DevInode, Shipper.Vector, offset);
  c.dev = dev;
  c.inode = inode;
  c.modifiedMs = modifiedMs;
  return c;
}
function firstBytes(text: string, offset: i64): Claim {
  const c = claim(ClaimKind.FirstBytes, Shipper.Otel, offset);
  c.firstBytes = asciiBytes(text);
  return c;
}
function seen(path: string, offset: i64, takenAtMs: i64): Claim {
  const c = claim(ClaimKind.Path, Shipper.Alloy, offset);
  c.path = asciiBytes(path);
  c.takenAtMs = takenAtMs;
  return c;
}
function withCrc(f: CreditFile, crc: u64): CreditFile {
  f.crcKnown = true;
  f.crc = crc;
  return f;
}
function withHead(f: CreditFile, head: string): CreditFile {
  f.firstBytes = asciiBytes(head);
  return f;
}
function withDev(f: CreditFile, dev: u64, bornMs: i64): CreditFile {
  f.devKnown = true;
  f.dev = dev;
  f.bornMs = bornMs;
  return f;
}

/** "<readOffset> <origin>" (or "-1 0") of the first file, crediting it among `files`. */
function credit(files: CreditFile[], history: Rotation[], claims: Claim[]): string {
  const c = creditFiles(files, history, claims)[0];
  expect(c.detail.length).toBeGreaterThan(0);
  return c.readOffset.toString() + " " + c.origin.toString() + (c.lineStart ? " line" : "");
}

describe("crediting inode-name claims (1 = inode-path, 2 = inode-former-path)", () => {
  it("credits by inode and path", () => expect(credit([rotatedFile()], [rotation()], [row(R, OLD, 4000)])).toBe("4000 1"));
  it("credits by inode and the live path the host renamed it from", () => expect(credit([rotatedFile()], [rotation()], [row(L, OLD, 3000)])).toBe("3000 2"));
  it("never credits the new file at the old path", () => expect(credit([liveFile()], [rotation()], [row(L, OLD, 3000)])).toBe("-1 0"));
  it("never credits a stranger's stale row with a reused inode", () => expect(credit([rotatedFile()], [rotation()], [row("/other/0.log", OLD, 10)])).toBe("-1 0"));
  it("never credits an offset past the size", () => expect(credit([rotatedFile()], [rotation()], [row(R, OLD, 5001)])).toBe("-1 0"));
  it("keeps the most of several rows", () => expect(credit([rotatedFile()], [rotation()], [row(R, OLD, 10), row(L, OLD, 4999), row(R, OLD, 20)])).toBe("4999 2"));
});

describe("crediting generations (3 rotated path, 4 at rename, 5 live path)", () => {
  it("credits the generation that started while the inode was at the live path", () => expect(credit([rotatedFile()], [rotation()], [gen(L, 0, 900_000, 4900)])).toBe("4900 4 line"));
  it("credits a generation in the rotation's second when ms say it started before", () => expect(credit([rotatedFile()], [rotation()], [gen(L, 0, T - 1, 4900)])).toBe("4900 4 line"));
  it("does not credit one that may have started at the rename", () => expect(credit([rotatedFile()], [rotation()], [gen(L, 0, T - 999, 4900, 1000)])).toBe("-1 0"));
  it("does not credit one that started before the inode arrived", () => expect(credit([rotatedFile()], [rotation()], [gen(L, 0, SINCE, 4900)])).toBe("-1 0"));
  it("credits nothing without a lower bound", () => expect(credit([rotatedFile()], [rotation(-1)], [gen(L, 0, 900_000, 4900)])).toBe("-1 0"));
  it("credits the smallest of several candidates", () => expect(credit([rotatedFile()], [rotation()], [gen(L, 0, 850_000, 4900), gen(L, 1, 900_000, 7)])).toBe("7 4 line"));
  it("credits generations under the rotated name", () => expect(credit([rotatedFile()], [rotation()], [gen(R, 0, 990_000, 4900)])).toBe("4900 3 line"));
  it("credits the live file's newest generation after the rotation", () => expect(credit([liveFile()], [rotation()], [gen(L, 0, 900_000, 4900), gen(L, 1, T + 1, 40)])).toBe("40 5 line"));
  it("credits the live file nothing before any rotation", () => expect(credit([liveFile()], [], [gen(L, 0, 900_000, 40)])).toBe("-1 0"));
});

describe("crediting Vector's fingerprints (6 dev-inode, 7 first-line-crc64)", () => {
  it("credits a unique first-line checksum", () => expect(credit([withCrc(rotatedFile(), 77), withCrc(liveFile(), 78)], [], [checksum(77, 5000)])).toBe("5000 7"));
  it("credits a checksum above 2^63 exactly", () => expect(credit([withCrc(rotatedFile(), 0xfedcba9876543210)], [], [checksum(0xfedcba9876543210, 12)])).toBe("12 7"));
  it("credits none of two files that share a checksum", () => expect(credit([withCrc(rotatedFile(), 77), withCrc(liveFile(), 77)], [], [checksum(77, 10)])).toBe("-1 0"));
  it("credits no checksum to a file without a complete first line", () => expect(credit([rotatedFile()], [], [checksum(0, 10)])).toBe("-1 0"));
  it("credits a checksum offset only up to the size", () => expect(credit([withCrc(rotatedFile(), 77)], [], [checksum(77, 5001)])).toBe("-1 0"));
  it("credits dev_inode moved after the file's birth", () => expect(credit([withDev(rotatedFile(), 2049, 500)], [], [devInode(2049, OLD, 4000, 501)])).toBe("4000 6"));
  it("refuses dev_inode last moved before the birth: a reused inode", () => expect(credit([withDev(rotatedFile(), 2049, 500)], [], [devInode(2049, OLD, 4000, 500)])).toBe("-1 0"));
  it("refuses dev_inode without a birth time", () => expect(credit([withDev(rotatedFile(), 2049, -1)], [], [devInode(2049, OLD, 4000, 900)])).toBe("-1 0"));
  it("refuses dev_inode on another device", () => expect(credit([withDev(rotatedFile(), 2049, 500)], [], [devInode(2050, OLD, 4000, 900)])).toBe("-1 0"));
});

describe("crediting the collector's first bytes (8)", () => {
  it("credits the file whose head starts with the fingerprint", () => expect(credit([withHead(rotatedFile(), "2024-01-02 line one\n"), withHead(liveFile(), "2024-01-03 x\n")], [], [firstBytes("2024-01-02 li", 300)])).toBe("300 8"));
  it("credits none when the fingerprint is a prefix of two heads", () => expect(credit([withHead(rotatedFile(), "2024-01-02 a\n"), withHead(liveFile(), "2024-01-02 b\n")], [], [firstBytes("2024-01-02 ", 3)])).toBe("-1 0"));
  it("credits nothing to a head shorter than the fingerprint", () => expect(credit([withHead(rotatedFile(), "2024")], [], [firstBytes("2024-01-02", 3)])).toBe("-1 0"));
});

describe("crediting path observations (9 rotated path, 10 before rename, 11 live)", () => {
  // The reader was on the previous file at 850 s, then on this one (offset down) at 860 s.
  it("credits the run that began after the inode arrived, observed before the rename", () => expect(credit([rotatedFile()], [rotation()], [seen(L, 9000, 850_000), seen(L, 100, 860_000), seen(L, 4200, 990_000)])).toBe("4200 10"));
  it("ignores observations of the run taken after the rename", () => expect(credit([rotatedFile()], [rotation()], [seen(L, 9000, 850_000), seen(L, 100, 860_000), seen(L, 5000, T + 10)])).toBe("100 10"));
  it("credits nothing for a run whose beginning was not seen", () => expect(credit([rotatedFile()], [rotation()], [seen(L, 4200, 990_000)])).toBe("-1 0"));
  it("credits nothing when the reader may still have drained the previous file then", () => expect(credit([rotatedFile()], [rotation()], [seen(L, 9000, SINCE + 500), seen(L, 100, 860_000)])).toBe("-1 0"));
  it("credits observations under the rotated name", () => expect(credit([rotatedFile()], [rotation()], [seen(R, 5000, T + 5000)])).toBe("5000 9"));
  it("credits the live file's run begun after the rotation", () => expect(credit([liveFile()], [rotation()], [seen(L, 4900, T + 2000), seen(L, 30, T + 12_000)])).toBe("30 11"));
  it("credits the live file nothing while the reader may be on the old file", () => expect(credit([liveFile()], [rotation()], [seen(L, 4900, T + 500), seen(L, 30, T + 12_000)])).toBe("-1 0"));
});

describe("several sources", () => {
  it("keeps the credit that counts the most bytes read", () => expect(credit([withCrc(rotatedFile(), 77)], [rotation()], [row(R, OLD, 3000), checksum(77, 4500), gen(L, 0, 900_000, 4900)])).toBe("4900 4 line"));
  it("credits nothing without claims", () => expect(credit([rotatedFile()], [rotation()], [])).toBe("-1 0"));
});
