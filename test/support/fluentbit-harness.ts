// Drives build/cri-logrotate.wasm exactly the way Fluent Bit's filter_wasm does under WAMR
// (src/wasm/flb_wasm.c, flb_wasm_call_function_format_json; reference/shippers.md §1 and §9):
//   - WASI preview1 with the Accessible_Paths directory preopened (here as "/progress"), `_initialize`
//     run once, one instance for the filter's whole life;
//   - per record: tag and record copied NUL-terminated into guest memory through the module's own
//     allocator (WAMR's wasm_runtime_module_dup_data finds `__new` + `__pin` and uses them), the six
//     i32 arguments (tag, tag_len, sec, nsec, record, record_len; lengths without the NUL), the result
//     read as a NUL-terminated string after checking it lies in memory (wasm_runtime_validate_app_str_addr),
//     then the two copies released with `__unpin` (wasm_runtime_module_free). The result is never freed.
// A result of 0 or "" is what Fluent Bit would drop; the harness throws FilterDroppedError for it.
import { readFileSync } from "node:fs";
import { setFlagsFromString } from "node:v8";
import { WASI } from "node:wasi";
import { repoFile } from "./repo.js";
import { decodeFilterStats, type FilterStats } from "../../host/plugin/fluentbit-stats.js";

export type { FilterStats } from "../../host/plugin/fluentbit-stats.js";

export const FILTER_EXPORT = "crl_fluentbit_filter";

interface FilterExports {
  memory: WebAssembly.Memory;
  _initialize(): void;
  __new(size: number, id: number): number;
  __pin(ptr: number): number;
  __unpin(ptr: number): void;
  crl_fluentbit_filter(tag: number, tagLen: number, sec: number, nsec: number, record: number, recordLen: number): number;
  crl_fluentbit_stats(): number;
}

export interface FluentBitFilter {
  /** One record through the filter, as Fluent Bit's json mode would; returns what Fluent Bit keeps. */
  filter(tag: string, sec: number, nsec: number, recordJson: string): string;
  /** The same with raw bytes (non-UTF-8 input, byte-exact comparisons). */
  filterBytes(tag: string, sec: number, nsec: number, record: Uint8Array): Buffer;
  /** What Fluent Bit keeps, or null when it would drop the record (a "" result). */
  filterOrDrop(tag: string, sec: number, nsec: number, record: string | Uint8Array): Buffer | null;
  memoryPages(): number;
  stats(): FilterStats;
}

/** What Fluent Bit does with a NULL or empty result: the record is dropped. */
export class FilterDroppedError extends Error {
  readonly code = "RECORD_DROPPED";
}

// Node 20's WASI imports are V8 "fast API" calls, and once optimized they corrupt the JS heap when a
// WASI call writes guest memory (SIGSEGV or "Check failed" aborts after a few thousand calls across
// instances; nodejs/node#53087). Measured here: 100 instances x 1 flush crash without this flag and run
// clean with it. Set before any WASI function is optimized; it only costs speed.
setFlagsFromString("--no-turbo-fast-api-calls");

export function defaultWasmPath(): string {
  return repoFile("build/cri-logrotate.wasm");
}

export function loadFluentBitFilter(opts: { wasmPath?: string; progressDir: string }): FluentBitFilter {
  const wasi = new WASI({
    version: "preview1",
    args: ["fluent-bit"],
    env: {},
    preopens: { "/progress": opts.progressDir }, // Accessible_Paths: the module's fd 3
    returnOnExit: true,
  });
  const module = new WebAssembly.Module(readFileSync(opts.wasmPath ?? defaultWasmPath()));
  const instance = new WebAssembly.Instance(module, wasi.getImportObject() as WebAssembly.Imports);
  wasi.initialize(instance); // runs _initialize, as WAMR does for a module that imports WASI
  const ex = instance.exports as unknown as FilterExports;

  /** wasm_runtime_module_dup_data: __pin(__new(len + 1, 0)), bytes, then a NUL. */
  const dup = (bytes: Uint8Array): number => {
    const ptr = ex.__pin(ex.__new(bytes.length + 1, 0));
    const mem = new Uint8Array(ex.memory.buffer); // after __new: memory may have grown
    mem.set(bytes, ptr);
    mem[ptr + bytes.length] = 0;
    return ptr;
  };

  const call = (tag: string, sec: number, nsec: number, record: Uint8Array): Buffer => {
    const tagBytes = Buffer.from(tag, "utf8");
    const tagPtr = dup(tagBytes);
    const recPtr = dup(record);
    let result: number;
    try {
      result = ex.crl_fluentbit_filter(tagPtr, tagBytes.length, sec >>> 0, nsec >>> 0, recPtr, record.length);
    } finally {
      // flb_wasm.c copies the result first, then frees; the copy below happens before these frees are
      // observable to the guest (no guest code runs in between), so the order does not matter here.
      ex.__unpin(tagPtr);
      ex.__unpin(recPtr);
    }
    const mem = new Uint8Array(ex.memory.buffer);
    const addr = result >>> 0;
    if (addr === 0 || addr >= mem.length) throw new FilterDroppedError(`filter returned an invalid string address ${addr}`);
    const end = mem.indexOf(0, addr);
    if (end < 0) throw new FilterDroppedError(`filter result at ${addr} has no NUL before the end of memory`);
    if (end === addr) throw new FilterDroppedError("filter returned an empty string");
    return Buffer.from(mem.subarray(addr, end)); // flb_strdup
  };

  return {
    filter: (tag, sec, nsec, recordJson) => call(tag, sec, nsec, Buffer.from(recordJson, "utf8")).toString("utf8"),
    filterBytes: (tag, sec, nsec, record) => call(tag, sec, nsec, record),
    filterOrDrop: (tag, sec, nsec, record) => {
      try {
        return call(tag, sec, nsec, typeof record === "string" ? Buffer.from(record, "utf8") : record);
      } catch (err) {
        if (err instanceof FilterDroppedError) return null;
        throw err;
      }
    },
    memoryPages: () => ex.memory.buffer.byteLength / 65536,
    stats: () => decodeFilterStats(ex.memory.buffer, ex.crl_fluentbit_stats() >>> 0),
  };
}

/**
 * Fluent Bit's JSON string escaping (flb_utils_write_str): '"' and '\' escaped, \n \t \r \b \f by
 * name, other control bytes as \u00XX, and every non-ASCII code point as \uXXXX (surrogate pairs above
 * U+FFFF). '/' is not escaped.
 */
export function fluentBitJsonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += "\\\\";
    else if (c === 0x0a) out += "\\n";
    else if (c === 0x09) out += "\\t";
    else if (c === 0x0d) out += "\\r";
    else if (c === 0x08) out += "\\b";
    else if (c === 0x0c) out += "\\f";
    else if (c < 0x20 || c > 0x7e) out += "\\u" + c.toString(16).padStart(4, "0"); // UTF-16 units: pairs stay pairs
    else out += s[i];
  }
  return out + '"';
}

/**
 * The body in_tail sends through filter_wasm in json mode for one CRI log line, with the cri
 * multiline parser and `Path_Key path`, `Offset_Key offset`: keys time, stream, _p, log, path, offset.
 * `offset` is the byte offset where the line starts in the file.
 */
export function inTailRecord(r: { path: string; offset: number; log: string; stream?: "stdout" | "stderr"; time?: string; partial?: boolean }): string {
  const time = r.time ?? "2024-01-02T03:04:05.123456789Z";
  return (
    "{" +
    `"time":${fluentBitJsonString(time)},` +
    `"stream":${fluentBitJsonString(r.stream ?? "stdout")},` +
    `"_p":${fluentBitJsonString(r.partial ? "P" : "F")},` +
    `"log":${fluentBitJsonString(r.log)},` +
    `"path":${fluentBitJsonString(r.path)},` +
    `"offset":${r.offset}` +
    "}"
  );
}
