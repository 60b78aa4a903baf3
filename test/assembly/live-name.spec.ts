import { asciiBytes } from "../../assembly/rules/bytes";
import { liveNameLength } from "../../assembly/rules/names";

function live(name: string): i32 {
  return liveNameLength(asciiBytes(name));
}

describe("liveNameLength (the live log a rotated name was made from)", () => {
  it("finds <live> in <live>.<YYYYMMDD-HHMMSS>", () => {
    expect(live("0.log.20240102-030405")).toBe(5);
    expect(live("/var/log/pods/ns_pod_uid/app/0.log.20240102-030401")).toBe(34); // a stamp ending in 1
  });
  it("takes the collision suffix of 1s", () => {
    expect(live("0.log.20240102-0304051")).toBe(5);
    expect(live("0.log.20240102-030405111")).toBe(5);
  });
  it("refuses anything else", () => {
    expect(live("0.log")).toBe(-1);
    expect(live(".20240102-030405")).toBe(-1); // no live name
    expect(live("0.log.20240102-030405.gz")).toBe(-1);
    expect(live("0.log.20240102-030405.tmp")).toBe(-1);
    expect(live("0.log.20240102-0304052")).toBe(-1); // only 1s follow a stamp
    expect(live("0.log.2024010-2030405")).toBe(-1);
    expect(live("0.log.2024o102-030405")).toBe(-1);
    expect(live("")).toBe(-1);
  });
});
