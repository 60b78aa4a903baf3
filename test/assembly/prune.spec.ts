import { asciiBytes, bytesToDisplay } from "../../assembly/rules/bytes";
import { containerEntries, listLogs, splitFiles } from "../../assembly/rules/prune";
import { EntryFlag, EntryKind, FileEntry, Reason } from "../../assembly/rules/types";
import { LIST_LOGS_CASES, ListLogsCase } from "./generated/list-logs";

function show(list: Uint8Array[]): string {
  let s = "[";
  for (let i = 0; i < list.length; i++) s += (i > 0 ? ", " : "") + bytesToDisplay(list[i]);
  return s + "]";
}

function expectListLogs(c: ListLogsCase): void {
  expect(show(listLogs(c.logName, c.entries))).toBe(show(c.expect), "listLogs: " + c.name);
}

function file(name: string, size: i64 = 5, inode: i64 = 0): FileEntry {
  return new FileEntry(asciiBytes(name), <u8>EntryKind.Regular, size, 0, -1, -1, 0, inode);
}

function names(es: FileEntry[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < es.length; i++) out.push(es[i].name);
  return out;
}

describe("listLogs: fixture table (test/fixtures/list-logs.json)", () => {
  it("lists every case as the kubelet's GetAllLogs would", () => {
    for (let i = 0; i < LIST_LOGS_CASES.length; i++) expectListLogs(LIST_LOGS_CASES[i]);
  });
});

describe("splitFiles (the kubelet's filterUnusedLogs, with proofs)", () => {
  it("a .tmp is unused; a .gz is in use; X beside X.gz waits for its digests", () => {
    const s = splitFiles(asciiBytes("test-log"), [
      file("test-log", 20),
      file("test-log.00000000-000001"),
      file("test-log.00000000-000001.tmp"),
      file("test-log.00000000-000002"),
      file("test-log.00000000-000002.gz"),
    ]);
    expect(show(names(s.rotated))).toBe('["test-log.00000000-000001", "test-log.00000000-000002", "test-log.00000000-000002.gz"]');
    expect(s.unused.length).toBe(1);
    expect(bytesToDisplay(s.unused[0].entry.name)).toBe('"test-log.00000000-000001.tmp"');
    expect(show(names(s.verify))).toBe('["test-log.00000000-000002"]');
  });
  it("X whose .gz trailer records its size and CRC-32 is unused", () => {
    const x = file("0.log.20231114-100000", 300);
    x.crc32 = 9;
    const gz = file("0.log.20231114-100000.gz", 30);
    gz.crc32 = 9;
    gz.isize = 300;
    const s = splitFiles(asciiBytes("0.log"), [file("0.log", 1), x, gz]);
    expect(s.unused.length).toBe(1);
    expect(s.unused[0].reason).toBe(<u8>Reason.UnusedCompressedTwin);
    expect(show(names(s.rotated))).toBe('["0.log.20231114-100000.gz"]');
  });
  it("another container's live log is not ours, even named like a rotated file", () => {
    const foreign = file("0.log.20231114-100000", 500);
    foreign.flags = <u8>EntryFlag.Foreign;
    const s = splitFiles(asciiBytes("0.log"), [file("0.log", 1), foreign, file("0.log.1"), file("0.log.20231114-090000")]);
    expect(show(names(s.rotated))).toBe('["0.log.20231114-090000"]');
  });
  it("a rotated name on the live log's inode is an interrupted rotation", () => {
    const s = splitFiles(asciiBytes("0.log"), [file("0.log", 1, 42), file("0.log.20231114-100000", 1, 42)]);
    expect(s.unused.length).toBe(1);
    expect(s.unused[0].reason).toBe(<u8>Reason.InterruptedRotation);
    expect(s.rotated.length).toBe(0);
  });
});

describe("containerEntries (the kubelet's Clean, <log>*)", () => {
  it("takes the live log and its rotated names of any kind, never another container's", () => {
    const foreign = file("0.log.20231114-120000");
    foreign.flags = <u8>EntryFlag.Foreign;
    const link = new FileEntry(asciiBytes("0.log.20231114-110000.gz"), <u8>EntryKind.Symlink);
    const got = containerEntries(asciiBytes("0.log"), [file("0.log"), file("0.log.1"), file("0.log.20231114-100000.tmp"), link, foreign, file("1.log")]);
    expect(show(got)).toBe('["0.log", "0.log.20231114-100000.tmp", "0.log.20231114-110000.gz"]');
  });
});
