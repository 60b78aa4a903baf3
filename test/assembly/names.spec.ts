import { asciiBytes, bytesOf, bytesToDisplay } from "../../assembly/rules/bytes";
import { formatTimestamp, isRotatedOf, rotatedName } from "../../assembly/rules/names";

function stamp(t: i64): string {
  return bytesToDisplay(formatTimestamp(t));
}

function names(list: string[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < list.length; i++) out.push(asciiBytes(list[i]));
  return out;
}

function rotated(existing: string[], now: i64): string {
  const name = rotatedName(asciiBytes("0.log"), names(existing), now);
  return name === null ? "null" : bytesToDisplay(changetype<Uint8Array>(name));
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

const LOG = asciiBytes("0.log");

describe("isRotatedOf: exactly <log>.<stamp>[_counter][.gz|.tmp]", () => {
  it("takes the kubelet's names and ours", () => {
    expect(isRotatedOf(LOG, asciiBytes("0.log.20231114-100000"))).toBe(true);
    expect(isRotatedOf(LOG, asciiBytes("0.log.20231114-100000.gz"))).toBe(true);
    expect(isRotatedOf(LOG, asciiBytes("0.log.20231114-100000.tmp"))).toBe(true);
    expect(isRotatedOf(LOG, asciiBytes("0.log.20231114-100000_000001"))).toBe(true);
    expect(isRotatedOf(LOG, asciiBytes("0.log.20231114-100000_999999.gz"))).toBe(true);
    expect(isRotatedOf(LOG, asciiBytes("0.log.00000000-000001"))).toBe(true); // the kubelet's tests: not a calendar check
  });
  it("refuses every other name, whoever it belongs to", () => {
    expect(isRotatedOf(LOG, asciiBytes("0.log"))).toBe(false);
    expect(isRotatedOf(LOG, asciiBytes("0.log."))).toBe(false);
    expect(isRotatedOf(LOG, asciiBytes("0.log.1"))).toBe(false); // another container may have chosen this name
    expect(isRotatedOf(LOG, asciiBytes("0.log.2.gz"))).toBe(false);
    expect(isRotatedOf(LOG, asciiBytes("0.logx"))).toBe(false);
    expect(isRotatedOf(LOG, asciiBytes("0.log-foo"))).toBe(false);
    expect(isRotatedOf(LOG, asciiBytes("1.log.20231114-100000"))).toBe(false);
    expect(isRotatedOf(LOG, asciiBytes("0.log.20231114-10000"))).toBe(false); // a digit short
    expect(isRotatedOf(LOG, asciiBytes("0.log.20231114_100000"))).toBe(false);
    expect(isRotatedOf(LOG, asciiBytes("0.log.20231114-1000001"))).toBe(false); // the old collision suffix
    expect(isRotatedOf(LOG, asciiBytes("0.log.20231114-100000_01"))).toBe(false);
    expect(isRotatedOf(LOG, asciiBytes("0.log.20231114-100000.gz.gz"))).toBe(false);
    expect(isRotatedOf(LOG, asciiBytes("0.log.20231114-100000.bak"))).toBe(false);
    expect(isRotatedOf(LOG, asciiBytes("0.log.20231114-100000.20231114-110000"))).toBe(false);
  });
});

describe("rotatedName", () => {
  it("stamps the second before the rename: the kubelet may still name its file after the current one", () => {
    expect(rotated([], 1700000000)).toBe('"0.log.20231114-221319"');
    expect(rotated(["0.log.20231114-221320"], 1700000000)).toBe('"0.log.20231114-221320_000001"'); // the kubelet's, this second
  });
  it("is <log>.<stamp> when nothing is rotated yet", () => {
    expect(rotated([], 1700000001)).toBe('"0.log.20231114-221320"');
  });
  it("is <log>.<stamp> when the stamp sorts after every rotated file", () => {
    expect(rotated(["0.log.20231114-221319.gz", "0.log.20231114-221310"], 1700000001)).toBe('"0.log.20231114-221320"');
  });
  it("adds a counter on the same second", () => {
    expect(rotated(["0.log.20231114-221320"], 1700000001)).toBe('"0.log.20231114-221320_000001"');
    expect(rotated(["0.log.20231114-221320.gz"], 1700000001)).toBe('"0.log.20231114-221320_000001"');
    expect(rotated(["0.log.20231114-221320.tmp"], 1700000001)).toBe('"0.log.20231114-221320_000001"');
  });
  it("continues the greatest name when the clock went back", () => {
    expect(rotated(["0.log.20231114-221330.gz", "0.log.20231114-221325"], 1700000001)).toBe('"0.log.20231114-221330_000001"');
  });
  it("counts on from an existing counter", () => {
    expect(rotated(["0.log.20231114-221320.gz", "0.log.20231114-221320_000001.gz"], 1700000001)).toBe('"0.log.20231114-221320_000002"');
  });
  it("ignores names that are not rotated files (they neither block nor order)", () => {
    expect(rotated(["0.log.99999999", "0.log.zzz", "1.log.20991231-235959"], 1700000001)).toBe('"0.log.20231114-221320"');
  });
  it("sorts the counted name before the next second's stamp", () => {
    const counted = rotatedName(asciiBytes("0.log"), names(["0.log.20231114-221320"]), 1700000001)!;
    const next = rotatedName(asciiBytes("0.log"), [counted], 1700000002)!;
    expect(bytesToDisplay(next)).toBe('"0.log.20231114-221321"');
  });
  it("stays bounded after a clock that ran ahead, and keeps sorting after every name", () => {
    // A file stamped in 2099, then 1,000 rotations at the real time: never longer, always the newest.
    let all = names(["0.log.20991231-235959"]);
    let previous = all[0];
    for (let i = 0; i < 1000; i++) {
      const name = rotatedName(asciiBytes("0.log"), all, 1700000001 + i)!;
      expect(name.length).toBe(28, "0.log + . + stamp + _ + 6 digits");
      expect(bytesToDisplay(name) > bytesToDisplay(previous)).toBe(true, "sorts after the previous one");
      previous = name;
      all.push(name);
      if (all.length > 4) all = all.slice(all.length - 4); // pruned as excess: the oldest go
    }
    expect(bytesToDisplay(previous)).toBe('"0.log.20991231-235959_001000"');
    // Once the clock passes the future stamp, plain stamps come back.
    expect(bytesToDisplay(rotatedName(asciiBytes("0.log"), all, 4102444801)!)).toBe('"0.log.21000101-000000"');
  });
  it("clock jumps both ways: forward uses the new stamp, back continues the greatest", () => {
    expect(rotated(["0.log.20231114-221320"], 1700003601)).toBe('"0.log.20231114-231320"');
    expect(rotated(["0.log.20231114-231320"], 1700000001)).toBe('"0.log.20231114-231320_000001"');
  });
  it("after a million rotations under one stamp, size safety first: a free counter under the current stamp", () => {
    expect(rotated(["0.log.20991231-235959_999999"], 1700000001)).toBe('"0.log.20231114-221320_000001"');
  });
  it("refuses a live log name too long for any rotated name to fit in 255 bytes", () => {
    const ok = new Uint8Array(228).fill(0x78);
    const long = new Uint8Array(229).fill(0x78);
    expect(rotatedName(ok, [], 0) !== null).toBe(true);
    expect(rotatedName(long, [], 0) === null).toBe(true);
  });
  it("keeps odd bytes in the log name", () => {
    const got = rotatedName(bytesOf([0xff, 0x0a, 0x2e, 0x6c]), [], 0)!;
    expect(bytesToDisplay(got)).toBe('"\\xff\\n.l.19700101-000000"');
  });
});
