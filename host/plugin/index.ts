// The rules as the host sees them: typed calls into cri-logrotate.wasm.
import {
  PLAN_HEADER_BYTES,
  containerRequestBound,
  decodeGrowthResponse,
  decodeI64,
  decodeName,
  decodeNameList,
  decodePlanResponse,
  encodeGrowthRequest,
  encodeListRequest,
  encodeRotatedNameRequest,
  encodeValidateRequest,
  planRequestBound,
  writePlanRequest,
} from "./codec.js";
import type { ConfigCheck, ContainerPlan, ContainerSnapshot, CreditRequest, FileCredit, FileEntry, GrowthDecision, GrowthSample, Plugin, Policy } from "./types.js";
import { decodeCreditResponse, encodeCreditRequest } from "./credit-codec.js";
import { WasmModule, expectOk } from "./wasm.js";
import { ABI_VERSION, MAX_REQUEST_BYTES } from "./status.js";
import { PluginError } from "../errors.js";

export class WasmPlugin implements Plugin {
  constructor(private readonly wasm: WasmModule) {
    const version = wasm.abiVersion();
    if (version !== ABI_VERSION) {
      throw new PluginError("PLUGIN_LOAD", `${wasm.path} speaks ABI version ${version}, this host speaks ${ABI_VERSION}: rebuild with "npm run build"`);
    }
  }

  abiVersion(): number {
    return this.wasm.abiVersion();
  }

  /**
   * Plans the batch in as few calls as the module's request limit allows (one, on any real node: 1,000
   * containers take ~100 KB). A container too large for a request of its own is rejected here and the
   * others are planned. Splitting applies a logRootBudget per call instead of across the whole batch.
   */
  planRotation(snapshots: ContainerSnapshot[], now: number, policy: Policy): ContainerPlan[] {
    if (planRequestBound(snapshots) <= MAX_REQUEST_BYTES) return this.planChunk(snapshots, now, policy);
    const out: ContainerPlan[] = [];
    let chunk: ContainerSnapshot[] = [];
    let size = PLAN_HEADER_BYTES;
    const flush = () => {
      if (chunk.length > 0) out.push(...this.planChunk(chunk, now, policy));
      chunk = [];
      size = PLAN_HEADER_BYTES;
    };
    for (const c of snapshots) {
      const bound = containerRequestBound(c);
      if (PLAN_HEADER_BYTES + bound > MAX_REQUEST_BYTES) {
        flush();
        const error = new PluginError("PLUGIN_TOO_LARGE", `container ${c.id}: its ${c.entries.length} entries need ${bound} bytes, more than one request may hold (${MAX_REQUEST_BYTES})`);
        out.push({ id: c.id, outcome: "rejected", actions: [], error });
        continue;
      }
      if (size + bound > MAX_REQUEST_BYTES) flush();
      chunk.push(c);
      size += bound;
    }
    flush();
    return out;
  }

  private planChunk(snapshots: ContainerSnapshot[], now: number, policy: Policy): ContainerPlan[] {
    const size = planRequestBound(snapshots);
    const res = this.wasm.callWith("crl_plan_batch", size, (dst) => writePlanRequest(dst, snapshots, now, policy));
    return decodePlanResponse(expectOk("crl_plan_batch", res), snapshots);
  }

  parseQuantity(text: string | Buffer): bigint {
    const bytes = typeof text === "string" ? Buffer.from(text, "utf8") : text;
    return decodeI64(expectOk("crl_parse_quantity", this.wasm.call("crl_parse_quantity", bytes)));
  }

  validateConfig(check: ConfigCheck): bigint {
    return decodeI64(expectOk("crl_validate_config", this.wasm.call("crl_validate_config", encodeValidateRequest(check))));
  }

  listLogs(logName: Buffer, entries: FileEntry[]): Buffer[] {
    return decodeNameList(expectOk("crl_list_logs", this.wasm.call("crl_list_logs", encodeListRequest(logName, entries, "logs"))));
  }

  containerEntries(logName: Buffer, entries: FileEntry[]): Buffer[] {
    return decodeNameList(expectOk("crl_list_logs", this.wasm.call("crl_list_logs", encodeListRequest(logName, entries, "clean"))));
  }

  rotatedName(logName: Buffer, entries: FileEntry[], now: number): Buffer {
    return decodeName(expectOk("crl_rotated_name", this.wasm.call("crl_rotated_name", encodeRotatedNameRequest(logName, entries, now))));
  }

  checkGrowth(samples: GrowthSample[], maxSize: number, maxWaitMs: number): GrowthDecision[] {
    if (samples.length === 0) return [];
    const res = this.wasm.call("crl_check_growth", encodeGrowthRequest(samples, maxSize, maxWaitMs));
    return decodeGrowthResponse(expectOk("crl_check_growth", res), samples.length);
  }

  creditProgress(request: CreditRequest): FileCredit[] {
    const payload = expectOk("crl_credit_progress", this.wasm.call("crl_credit_progress", encodeCreditRequest(request)));
    return decodeCreditResponse(payload, request.files.length);
  }
}

/** Loads build/cri-logrotate.wasm (or `wasmPath`) and checks its ABI version. */
export function loadPlugin(wasmPath?: string): WasmPlugin {
  return new WasmPlugin(new WasmModule(wasmPath));
}

export { PluginError } from "../errors.js";
export { WasmModule } from "./wasm.js";
export type * from "./types.js";
