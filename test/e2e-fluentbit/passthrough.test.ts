// What Fluent Bit ships through cri-logrotate's filter is byte for byte what it ships through a module that
// does nothing (test/e2e-fluentbit/fixtures/passthrough.ts): two Fluent Bits on examples/fluent-bit/
// fluent-bit.conf tail the same files, one with each module. And what Fluent Bit itself does to records on
// its JSON round trip (filter_wasm's json event format): an invalid UTF-8 byte 0xXY comes out as U+E0XY.
import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, test } from "node:test";
import { fluentBitSkip } from "./support/fluent-bit.js";
import { TestNode } from "./support/node.js";
import { buildPassthrough, PASSTHROUGH_EXPORT } from "./support/passthrough.js";

const T = "2026-01-02T03:04:05.123456789Z";
const b = (s: string) => Buffer.from(s, "latin1"); // byte = char: the raw bytes as written
// Each line's content (what follows `<time> <stream> <F|P> `); odd bytes on purpose.
const LINES: Buffer[] = [
  b("0 plain ascii"),
  b('1 quotes " and \\ backslash / slash'),
  b("2 control \x01\x02\x7f tab\tend"),
  b("3 invalid \xff\xfe\xc3\x28 \xe2\x82 end"),
  b("4 overlong \xc0\xaf and a lone surrogate \xed\xa0\x80"),
  Buffer.from("5 valid é 中 😀", "utf8"),
  b("7 " + "z".repeat(20_000)),
  b("8 carriage \r return"),
  b("9"),
];

function criFile(): Buffer {
  const parts: Buffer[] = [];
  LINES.forEach((content, i) => parts.push(b(`${T} ${i % 2 ? "stderr" : "stdout"} F `), content, b("\n")));
  // A line the runtime wrote in two pieces: the cri parser joins P with the F that completes it.
  parts.push(b(`${T} stdout P 6 part-a `), b("\n"), b(`${T} stdout F part-b`), b("\n"));
  return Buffer.concat(parts);
}

describe("records pass the filter as they pass no filter at all", { skip: fluentBitSkip, timeout: 120_000 }, () => {
  test("the same bytes out of Fluent Bit through cri-logrotate.wasm and through a do-nothing module", async (t) => {
    const dir = await mkdtemp(join(tmpdir(), "crl-fb-pass-"));
    t.after(() => rm(dir, { recursive: true, force: true }));
    const logRoot = join(dir, "pods");
    const appDir = join(logRoot, "ns_pod_00000000-0000-4000-8000-000000000000", "app");
    await mkdir(appDir, { recursive: true });
    await writeFile(join(appDir, "0.log"), criFile());
    const passthrough = await buildPassthrough(dir);

    const start = (wasmPath?: string) =>
      TestNode.start({
        containers: 0, writer: { intervalMs: 0, linesPerTick: 0 }, mode: "kubelet", maxSize: "10Mi", maxFiles: 5,
        sinkBytesPerSecond: Infinity, noShim: true, logRoot, keepRaw: true, wasmPath,
        fluentBitReplacements: wasmPath ? [["Function_Name     crl_fluentbit_filter", `Function_Name     ${PASSTHROUGH_EXPORT}`]] : [],
      });
    const ours = await start();
    t.after(() => ours.close());
    const none = await start(passthrough);
    t.after(() => none.close());

    const want = LINES.length + 1;
    const deadline = Date.now() + 60_000;
    while ((ours.sink.raw.length < want || none.sink.raw.length < want) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 250));
    await new Promise((r) => setTimeout(r, 2_000)); // nothing more comes
    assert.equal(ours.sink.raw.length, want, `through cri-logrotate.wasm\n${ours.fluentBit!.tail()}`);
    assert.equal(none.sink.raw.length, want, `through the do-nothing module\n${none.fluentBit!.tail()}`);
    assert.deepEqual([...ours.sink.raw].sort(), [...none.sink.raw].sort(), "the same records, byte for byte");

    const logs = ours.sink.raw.map((r) => (JSON.parse(r) as { log: string }).log);
    const invalid = logs.find((l) => l.startsWith("3 invalid"));
    const escaped = (x: string) => JSON.stringify(x).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
    for (const l of logs) if (!l.startsWith("7 ")) t.diagnostic(`arrived: ${escaped(l)}`);
    assert.ok(invalid?.includes("\ue0ff\ue0fe"), `Fluent Bit maps invalid bytes to U+E0xx: ${JSON.stringify(invalid)}`);
    assert.ok(logs.includes("5 valid é 中 😀"), "valid UTF-8 arrives as it was written");
    assert.ok(logs.includes("6 part-a part-b"), "P and F joined by the cri parser");
  });
});
