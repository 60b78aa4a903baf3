import { parseQuantity, QuantityResult } from "../../assembly/rules/quantity";
import { asciiBytes } from "../../assembly/rules/bytes";
import { QUANTITY_CASES, QuantityCase } from "./generated/quantity";

/** What a result looks like in a failure message: "ok 1024" or "error <message>". */
function describeResult(r: QuantityResult): string {
  return r.ok ? "ok " + r.value.toString() : "error " + r.error;
}

/** One assertion per case: the value, or an error whose message contains the expected text. */
function expectQuantity(c: QuantityCase): void {
  const r = parseQuantity(c.input);
  const got = describeResult(r);
  if (c.ok) {
    expect(got).toBe("ok " + c.value.toString(), "parseQuantity(" + c.label + ")");
  } else {
    // The fixture holds a substring of the message; show the whole message when it is missing.
    const matched = !r.ok && r.error.includes(c.error);
    expect(matched ? "error containing " + c.error : got).toBe("error containing " + c.error, "parseQuantity(" + c.label + ")");
  }
}

function repeat(unit: string, count: i32): string {
  let s = "";
  for (let i = 0; i < count; i++) s += unit;
  return s;
}

describe("parseQuantity: fixture table (test/fixtures/quantity.json)", () => {
  it("parses every case as Kubernetes does, with the documented differences", () => {
    for (let i = 0; i < QUANTITY_CASES.length; i++) expectQuantity(QUANTITY_CASES[i]);
  });
});

describe("parseQuantity: hostile input", () => {
  it("rejects 10,000 nines as out of range", () => {
    const r = parseQuantity(asciiBytes(repeat("9", 10000)));
    expect(describeResult(r)).toBe("error value out of range (must be between -9223372036854775808 and 9223372036854775807)");
  });

  it("rounds a 10,000-digit fraction up exactly", () => {
    const r = parseQuantity(asciiBytes("1." + repeat("0", 10000) + "1"));
    expect(describeResult(r)).toBe("ok 2");
  });

  it("rounds a tiny 10,000-digit binary fraction up to 1", () => {
    const r = parseQuantity(asciiBytes("0." + repeat("0", 10000) + "1Ei"));
    expect(describeResult(r)).toBe("ok 1");
  });

  it("accepts 10,000 leading zeros", () => {
    const r = parseQuantity(asciiBytes(repeat("0", 10000) + "5Mi"));
    expect(describeResult(r)).toBe("ok 5242880");
  });

  it("rejects a 10,000-digit exponent as out of range", () => {
    const r = parseQuantity(asciiBytes("1e" + repeat("9", 10000)));
    expect(r.ok).toBe(false);
    expect(r.error.startsWith("exponent out of range")).toBe(true, r.error);
  });

  it("gives every single-byte input a value or an error: the digits parse, nothing else does", () => {
    for (let b = 0; b < 256; b++) {
      const input = new Uint8Array(1);
      input[0] = <u8>b;
      const r = parseQuantity(input);
      const expected = b >= 0x30 && b <= 0x39 ? "ok " + (b - 0x30).toString() : "error";
      const got = r.ok ? describeResult(r) : r.error.length > 0 ? "error" : "error without a message";
      expect(got).toBe(expected, "byte " + b.toString());
    }
  });

  it("accepts exactly the two-byte inputs of the grammar", () => {
    // Two bytes parse when they are: two digits; a sign or a dot and a digit; a digit and a dot; or a
    // digit and a one-letter decimal suffix.
    const suffixes = "numkMGTPE";
    for (let a = 0; a < 256; a++) {
      for (let b = 0; b < 256; b++) {
        const input = new Uint8Array(2);
        input[0] = <u8>a;
        input[1] = <u8>b;
        const r = parseQuantity(input);
        const aDigit = a >= 0x30 && a <= 0x39;
        const bDigit = b >= 0x30 && b <= 0x39;
        const valid =
          (aDigit && bDigit) ||
          ((a == 0x2b || a == 0x2d || a == 0x2e) && bDigit) ||
          (aDigit && b == 0x2e) ||
          (aDigit && suffixes.includes(String.fromCharCode(b)));
        if (r.ok != valid || (!r.ok && r.error.length == 0)) {
          expect(describeResult(r)).toBe(valid ? "ok" : "error", "bytes " + a.toString() + ", " + b.toString());
        }
      }
    }
  });
});
