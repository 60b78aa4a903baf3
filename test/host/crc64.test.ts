// CRC-64/ECMA-182 and Vector's first-line fingerprint. The table-driven implementation is checked against
// the published check value and against a bit-at-a-time reference written from the definition
// (test/support/shipper-files.ts: polynomial 0x42F0E1EBA9EA3693, init 0, no reflection, no final xor).
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { crc64Ecma182 } from "../../host/progress/crc64.js";
import { VECTOR_MAX_LINE_BYTES, firstLineChecksum } from "../../host/progress/facts.js";
import { referenceCrc64 } from "../support/shipper-files.js";

describe("crc64Ecma182", () => {
  test('the published check value: CRC of "123456789" is 0x6C40DF5F0B497347', () => {
    assert.equal(crc64Ecma182(Buffer.from("123456789")), 0x6c40df5f0b497347n);
    assert.equal(referenceCrc64(Buffer.from("123456789")), 0x6c40df5f0b497347n);
  });

  test("nothing is 0", () => assert.equal(crc64Ecma182(new Uint8Array(0)), 0n));

  test("agrees with the bit-at-a-time definition on 200 random inputs", () => {
    let x = 0x12345678;
    const next = () => ((x = (Math.imul(x, 1103515245) + 12345) >>> 0) >>> 16) & 0xff;
    for (let n = 0; n < 200; n++) {
      const data = Uint8Array.from({ length: n * 7 }, next);
      assert.equal(crc64Ecma182(data), referenceCrc64(data), `length ${data.length}`);
    }
  });
});

describe("firstLineChecksum (Vector's kubernetes_logs: first line incl. '\\n', up to 32 KiB)", () => {
  const line = Buffer.from("2026-01-02T03:04:05.123456789Z stdout F hello\n");
  const cases: Record<string, { head: Buffer; want: bigint | undefined }> = {
    "the first line with its newline": { head: Buffer.concat([line, Buffer.from("2026-01-02T03:04:06Z stdout F more\n")]), want: referenceCrc64(line) },
    "a file of exactly one line": { head: line, want: referenceCrc64(line) },
    "an incomplete first line: no fingerprint yet": { head: line.subarray(0, 20), want: undefined },
    "an empty file: no fingerprint": { head: Buffer.alloc(0), want: undefined },
    "a first line longer than the limit: its first 32 KiB": {
      head: Buffer.alloc(VECTOR_MAX_LINE_BYTES + 10, 0x61),
      want: referenceCrc64(Buffer.alloc(VECTOR_MAX_LINE_BYTES, 0x61)),
    },
    "a newline as the 32768th byte still ends the line": {
      head: Buffer.concat([Buffer.alloc(VECTOR_MAX_LINE_BYTES - 1, 0x62), Buffer.from("\nnext\n")]),
      want: referenceCrc64(Buffer.concat([Buffer.alloc(VECTOR_MAX_LINE_BYTES - 1, 0x62), Buffer.from("\n")])),
    },
  };
  for (const [name, tc] of Object.entries(cases)) test(name, () => assert.equal(firstLineChecksum(tc.head), tc.want));
});
