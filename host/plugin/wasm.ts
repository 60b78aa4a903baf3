// Loads cri-logrotate.wasm and makes raw (ptr, len) calls following docs/abi.md. The module is a WASI
// reactor that imports only wasi_snapshot_preview1; the planner never touches files, so the host gives it
// a minimal import object instead of node:wasi (no experimental warning, no preopens): fd_write collects
// what `abort` prints, proc_exit throws, and every other WASI call answers ENOSYS.
import { readFileSync } from "node:fs";
import { packageFile, RULES_WASM } from "../assets.js";
import { PluginError } from "../errors.js";
import { statusErrorCode } from "./status.js";

const WASI = "wasi_snapshot_preview1";
const ERRNO_BADF = 8;
const ERRNO_NOSYS = 52;
const ARRAY_BUFFER_CLASS_ID = 1;

export function defaultWasmPath(): string {
  return packageFile(RULES_WASM);
}

interface Exports {
  memory: WebAssembly.Memory;
  _initialize(): void;
  __new(size: number, id: number): number;
  __pin(ptr: number): number;
  __unpin(ptr: number): void;
  __collect(): void;
  crl_abi_version(): number;
  [entry: string]: unknown;
}

class ProcExit extends Error {
  constructor(readonly exitCode: number) {
    super(`module called proc_exit(${exitCode})`);
  }
}

/** Carries an error thrown by host code inside callWith past the trap handling. */
class HostError {
  constructor(readonly error: unknown) {}
}

export interface RawResponse {
  status: number;
  payload: Buffer;
}

/** One live instance. A trap leaves AssemblyScript's state unknown, so the instance is rebuilt after one. */
export class WasmModule {
  private exports!: Exports;
  private stderr: string[] = [];
  private readonly module: WebAssembly.Module;

  constructor(readonly path: string = defaultWasmPath()) {
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (cause) {
      throw new PluginError("PLUGIN_LOAD", `cannot read the rules module ${path} (run "npm run build" first)`, { cause });
    }
    try {
      this.module = new WebAssembly.Module(new Uint8Array(bytes));
    } catch (cause) {
      throw new PluginError("PLUGIN_LOAD", `${path} is not a valid WebAssembly module`, { cause });
    }
    const foreign = WebAssembly.Module.imports(this.module).filter((i) => i.module !== WASI);
    if (foreign.length > 0) {
      throw new PluginError("PLUGIN_LOAD", `${path} imports ${foreign.map((i) => `${i.module}.${i.name}`).join(", ")}; only ${WASI} is allowed`);
    }
    this.instantiate();
  }

  private instantiate(): void {
    const wasi: Record<string, (...args: number[]) => number | void> = {};
    for (const imp of WebAssembly.Module.imports(this.module)) {
      if (imp.kind === "function") wasi[imp.name] = () => ERRNO_NOSYS;
    }
    wasi.fd_write = (fd, iovs, iovsLen, nwritten) => this.fdWrite(fd!, iovs!, iovsLen!, nwritten!);
    wasi.proc_exit = (code) => {
      throw new ProcExit(code!);
    };
    const instance = new WebAssembly.Instance(this.module, { [WASI]: wasi });
    this.exports = instance.exports as unknown as Exports;
    for (const name of ["memory", "_initialize", "__new", "__pin", "__unpin", "__collect", "crl_abi_version"]) {
      if (!(name in this.exports)) throw new PluginError("PLUGIN_LOAD", `${this.path} does not export ${name}: build it with asconfig.json (reactor, --exportRuntime)`);
    }
    this.exports._initialize();
  }

  private fdWrite(fd: number, iovs: number, iovsLen: number, nwritten: number): number {
    if (fd !== 1 && fd !== 2) return ERRNO_BADF;
    const view = new DataView(this.exports.memory.buffer);
    let total = 0;
    for (let i = 0; i < iovsLen; i++) {
      const ptr = view.getUint32(iovs + i * 8, true);
      const len = view.getUint32(iovs + i * 8 + 4, true);
      this.stderr.push(Buffer.from(this.exports.memory.buffer, ptr, len).toString("utf8"));
      total += len;
    }
    view.setUint32(nwritten, total, true);
    return 0;
  }

  abiVersion(): number {
    return this.exports.crl_abi_version();
  }

  get memoryPages(): number {
    return this.exports.memory.buffer.byteLength >>> 16;
  }

  /** For ABI tests: calls `entry(ptr, len)` with raw numbers, e.g. a pointer outside memory. */
  rawCall(entry: string, ptr: number, len: number): RawResponse {
    const fn = this.exports[entry] as (p: number, l: number) => number;
    return this.readResponse(entry, fn(ptr, len));
  }

  /** Calls `entry(ptr, len)` with `request` copied into guest memory; returns the response header+payload. */
  call(entry: string, request: Uint8Array): RawResponse {
    return this.callWith(entry, request.length, (dst) => {
      dst.set(request);
      return request.length;
    });
  }

  /**
   * Calls `entry(ptr, len)` with a request that `write` puts straight into guest memory: it gets `size`
   * bytes and returns how many it used. An error thrown by `write` is the caller's own and reaches it as
   * it is (the instance has not run anything).
   */
  callWith(entry: string, size: number, write: (dst: Uint8Array) => number): RawResponse {
    const fn = this.exports[entry];
    if (typeof fn !== "function") throw new PluginError("PLUGIN_LOAD", `${this.path} does not export ${entry}`);
    const ex = this.exports;
    let input = 0;
    try {
      // The last call's garbage goes before the request is allocated, so the two never need memory at
      // once (the entry collects again, which then finds nothing): memory grows to one call's need, not two.
      ex.__collect();
      input = ex.__pin(ex.__new(size, ARRAY_BUFFER_CLASS_ID));
      let len: number;
      try {
        len = write(new Uint8Array(ex.memory.buffer, input, size));
      } catch (err) {
        throw new HostError(err);
      }
      const out = (fn as (p: number, l: number) => number)(input, len);
      return this.readResponse(entry, out);
    } catch (cause) {
      if (cause instanceof HostError) throw cause.error;
      if (cause instanceof PluginError) throw cause;
      const printed = this.stderr.join("").trim();
      this.stderr = [];
      // The instance may be half-way through something: start over with a fresh one.
      input = 0;
      this.instantiate();
      throw new PluginError("PLUGIN_TRAP", `${entry} trapped${printed ? `: ${printed}` : ""}`, { cause });
    } finally {
      if (input !== 0) ex.__unpin(input);
    }
  }

  private readResponse(entry: string, out: number): RawResponse {
    const ex = this.exports;
    const mem = ex.memory.buffer;
    if (out === 0 || out + 8 > mem.byteLength) throw new PluginError("PLUGIN_BAD_RESPONSE", `${entry} returned pointer ${out}, outside memory`);
    const view = new DataView(mem);
    const status = view.getUint32(out, true);
    const len = view.getUint32(out + 4, true);
    if (out + 8 + len > mem.byteLength) throw new PluginError("PLUGIN_BAD_RESPONSE", `${entry} returned ${len} bytes past the end of memory`);
    const payload = Buffer.from(new Uint8Array(mem, out + 8, len)); // copy before releasing it
    ex.__unpin(out);
    return { status, payload };
  }
}

/** Throws the PluginError a non-OK status stands for, with the guest's message. */
export function expectOk(entry: string, res: RawResponse): Buffer {
  if (res.status === 0) return res.payload;
  const code = statusErrorCode(res.status);
  throw new PluginError(code, res.payload.toString("utf8") || `${entry} failed with ${code}`);
}
