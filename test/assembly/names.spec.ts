import { asciiBytes, bytesOf, bytesToDisplay } from "../../assembly/rules/bytes";
import { formatTimestamp, rotatedName } from "../../assembly/rules/names";

function stamp(t: i64): string {
  return bytesToDisplay(formatTimestamp(t));
}

function names(list: string[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < list.length; i++) out.push(asciiBytes(list[i]));
  return out;
}

function rotated(existing: string[], now: i64): string {
  return bytesToDisplay(rotatedName(asciiBytes("0.log"), names(existing), now));
}

describe("formatTimestamp (Go's 20060102-150405, UTC)", () => {
  it("formats the epoch", () => {
    expect(stamp(0)).toBe('"19700101-000000"');
  });
  it("formats a leap day", () => {
    expect(stamp(1709164800)).toBe('"20240229-000000"'); // 2024-02-29T00:00:00Z
    expect(stamp(1709251199)).toBe('"20240229-235959"');
    expect(stamp(1709251200)).toBe('"20240301-000000"');
  });
  it("formats past the 32-bit limit", () => {
    expect(stamp(2147483647)).toBe('"20380119-031407"');
    expect(stamp(2147483648)).toBe('"20380119-031408"');
  });
  it("formats century years (2000 leap, 2100 not)", () => {
    expect(stamp(951782400)).toBe('"20000229-000000"');
    expect(stamp(4107456000)).toBe('"21000228-000000"'); // 2100-02-28
    expect(stamp(4107542400)).toBe('"21000301-000000"'); // the day after is March 1st
  });
  it("formats the last second of 9999", () => {
    expect(stamp(253402300799)).toBe('"99991231-235959"');
    expect(stamp(253370764800)).toBe('"99990101-000000"');
  });
  it("formats 2023-11-14T22:13:20Z", () => {
    expect(stamp(1700000000)).toBe('"20231114-221320"');
  });
  it("clamps negative and absurd times instead of trapping", () => {
    expect(stamp(-1)).toBe('"19700101-000000"');
    expect(stamp(i64.MIN_VALUE)).toBe('"19700101-000000"');
    expect(stamp(253402300800)).toBe('"99991231-235959"');
    expect(stamp(i64.MAX_VALUE)).toBe('"99991231-235959"');
  });
});

describe("rotatedName", () => {
  it("is <log>.<stamp> when nothing is rotated yet", () => {
    expect(rotated([], 1700000000)).toBe('"0.log.20231114-221320"');
  });
  it("is <log>.<stamp> when the stamp sorts after every rotated file", () => {
    expect(rotated(["0.log.20231114-221319.gz", "0.log.20231114-221310"], 1700000000)).toBe('"0.log.20231114-221320"');
  });
  it("appends 1 to the stem on the same second", () => {
    expect(rotated(["0.log.20231114-221320"], 1700000000)).toBe('"0.log.20231114-2213201"');
    expect(rotated(["0.log.20231114-221320.gz"], 1700000000)).toBe('"0.log.20231114-2213201"');
    expect(rotated(["0.log.20231114-221320.tmp"], 1700000000)).toBe('"0.log.20231114-2213201"');
  });
  it("appends 1 to the greatest name when the clock went back", () => {
    expect(rotated(["0.log.20231114-221330.gz", "0.log.20231114-221325"], 1700000000)).toBe('"0.log.20231114-2213301"');
  });
  it("keeps appending when the stem is already suffixed", () => {
    expect(rotated(["0.log.20231114-221320.gz", "0.log.20231114-2213201.gz"], 1700000000)).toBe('"0.log.20231114-22132011"');
  });
  it("sorts the suffixed name before the next second's stamp", () => {
    const suffixed = rotatedName(asciiBytes("0.log"), names(["0.log.20231114-221320"]), 1700000000);
    const next = rotatedName(asciiBytes("0.log"), [suffixed], 1700000001);
    expect(bytesToDisplay(next)).toBe('"0.log.20231114-221321"');
  });
  it("keeps odd bytes in the log name", () => {
    const got = rotatedName(bytesOf([0xff, 0x0a, 0x2e, 0x6c]), [], 0);
    expect(bytesToDisplay(got)).toBe('"\\xff\\n.l.19700101-000000"');
  });
});
