import { FileEntry } from "../../assembly/rules/types";
import { asciiBytes } from "../../assembly/rules/bytes";
import { isFullyRead, unreadBytes } from "../../assembly/rules/shipper";

function f(size: i64, readOffset: i64, lastLineStart: i64 = -1): FileEntry {
  return new FileEntry(asciiBytes("0.log.20231114-100000"), 0, size, 0, readOffset, lastLineStart);
}

describe("isFullyRead", () => {
  it("is true when the offset reached the size", () => {
    expect(isFullyRead(f(100, 100))).toBe(true);
    expect(isFullyRead(f(100, 150))).toBe(true); // offset past a truncated file
    expect(isFullyRead(f(0, 0))).toBe(true);
  });
  it("is false when the offset is short of the size and the last line start is unknown", () => {
    expect(isFullyRead(f(100, 99))).toBe(false);
  });
  it("is true once the start of the last line was read (Fluent Bit's Offset_Key)", () => {
    expect(isFullyRead(f(100, 90, 90))).toBe(true);
    expect(isFullyRead(f(100, 95, 90))).toBe(true);
    expect(isFullyRead(f(100, 89, 90))).toBe(false);
  });
  it("counts a .gz file as read: shippers skip compressed files, so it would be held for ever", () => {
    const gz = new FileEntry(asciiBytes("0.log.20231114-100000.gz"), 0, 100, 0, -1, -1);
    expect(isFullyRead(gz)).toBe(true);
    expect(unreadBytes(gz)).toBe(0);
  });
  it("treats an unknown offset as nothing read", () => {
    expect(isFullyRead(f(100, -1))).toBe(false);
    expect(isFullyRead(f(100, -1, 0))).toBe(false);
    expect(isFullyRead(f(0, -1))).toBe(false);
  });
});

describe("unreadBytes", () => {
  it("is 0 when fully read", () => {
    expect(unreadBytes(f(100, 100))).toBe(0);
    expect(unreadBytes(f(100, 90, 90))).toBe(0);
  });
  it("is size - offset otherwise", () => {
    expect(unreadBytes(f(4096, 100))).toBe(3996);
    expect(unreadBytes(f(100, 89, 90))).toBe(11);
  });
  it("is the whole size when the offset is unknown", () => {
    expect(unreadBytes(f(700, -1, 650))).toBe(700);
  });
  it("is never negative", () => {
    expect(unreadBytes(f(-5, -1))).toBe(0);
    expect(unreadBytes(f(0, -1))).toBe(0);
  });
});
