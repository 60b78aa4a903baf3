import { asciiBytes } from "../../assembly/rules/bytes";
import { liveNameLength } from "../../assembly/rules/names";

function live(name: string): i32 {
  return liveNameLength(asciiBytes(name));
}

describe("liveNameLength (the live log a rotated name was made from)", () => {
  it("finds <live> in <live>.<YYYYMMDD-HHMMSS>", () => {
    expect(live("0.log.20240102-030405")).toBe(5);
    expect(live("/var/log/pods/ns_pod_uid/app/0.log.20240102-030401")).toBe(34);
  });
  it("takes the collision counter", () => {
    expect(live("0.log.20240102-030405_000001")).toBe(5);
    expect(live("0.log.20240102-030405_123456")).toBe(5);
  });
  it("refuses anything else", () => {
    expect(live("0.log")).toBe(-1);
    expect(live(".20240102-030405")).toBe(-1); // no live name
    expect(live("0.log.20240102-030405.gz")).toBe(-1);
    expect(live("0.log.20240102-030405.tmp")).toBe(-1);
    expect(live("0.log.20240102-030405_00001")).toBe(-1); // five digits
    expect(live("0.log.20240102-030405_0000011")).toBe(-1);
    expect(live("0.log.2024010-2030405")).toBe(-1);
    expect(live("0.log.2024o102-030405")).toBe(-1);
    expect(live("0.log_20240102-030405")).toBe(-1);
    expect(live("")).toBe(-1);
  });
});
