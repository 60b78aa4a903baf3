import { validateConfig, ConfigResult } from "../../assembly/rules/config";
import { asciiBytes } from "../../assembly/rules/bytes";
import { CONFIG_CASES, ConfigCase } from "./generated/config";

function describeResult(r: ConfigResult): string {
  return r.ok ? "ok " + r.maxSize.toString() : "error " + r.error;
}

/** One assertion per case: the parsed size, or the kubelet's exact message. */
function expectConfig(c: ConfigCase): void {
  const r = validateConfig(c.maxSize, c.maxFiles, c.maxWorkers, c.monitorIntervalMillis);
  const expected = c.ok ? "ok " + c.maxSizeBytes.toString() : "error " + c.error;
  expect(describeResult(r)).toBe(expected, c.name);
}

describe("validateConfig: fixture table (test/fixtures/config.json)", () => {
  it("applies the kubelet's checks with the kubelet's messages", () => {
    for (let i = 0; i < CONFIG_CASES.length; i++) expectConfig(CONFIG_CASES[i]);
  });
});

describe("validateConfig: edges", () => {
  it("quotes a max size holding control and non-ASCII bytes like Go's %q", () => {
    const text = new Uint8Array(4);
    text[0] = 0x31;
    text[1] = 0x0a;
    text[2] = 0xff;
    text[3] = 0x22;
    const r = validateConfig(text, 5, 1, 10000);
    expect(describeResult(r)).toBe('error failed to parse container log max size "1\\n\\xff\\"": invalid character "\\n" at offset 1');
  });

  it("accepts the largest settings", () => {
    const r = validateConfig(asciiBytes("9223372036854775807"), i32.MAX_VALUE, i32.MAX_VALUE, i64.MAX_VALUE);
    expect(describeResult(r)).toBe("ok 9223372036854775807");
  });

  it("rejects the smallest interval and counts", () => {
    const r = validateConfig(asciiBytes("10Mi"), i32.MIN_VALUE, 1, 10000);
    expect(describeResult(r)).toBe("error invalid MaxFiles -2147483648, must be > 1");
    const w = validateConfig(asciiBytes("10Mi"), 5, 1, i64.MIN_VALUE);
    expect(w.ok).toBe(false);
  });
});
