// The rules as the host sees them: typed calls into cri-logrotate.wasm.
import { decodeI64, decodeNameList, decodePlanResponse, encodeListRequest, encodeValidateRequest, planRequestBound, writePlanRequest } from "./codec.js";
import { decodeCreditResponse, encodeCreditRequest } from "./credit-codec.js";
import type { ConfigCheck, ContainerPlan, ContainerSnapshot, CreditRequest, FileCredit, ListEntry, Plugin, Policy } from "./types.js";
import { WasmModule, expectOk } from "./wasm.js";
import { ABI_VERSION } from "./status.js";
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

  planRotation(snapshots: ContainerSnapshot[], now: number, policy: Policy): ContainerPlan[] {
    const size = planRequestBound(snapshots);
    const res = this.wasm.callWith("crl_plan_batch", size, (dst) => writePlanRequest(dst, snapshots, now, policy));
    const payload = expectOk("crl_plan_batch", res);
    return decodePlanResponse(payload, snapshots);
  }

  parseQuantity(text: string | Buffer): bigint {
    const bytes = typeof text === "string" ? Buffer.from(text, "utf8") : text;
    return decodeI64(expectOk("crl_parse_quantity", this.wasm.call("crl_parse_quantity", bytes)));
  }

  validateConfig(check: ConfigCheck): bigint {
    return decodeI64(expectOk("crl_validate_config", this.wasm.call("crl_validate_config", encodeValidateRequest(check))));
  }

  listLogs(logName: Buffer, entries: ListEntry[]): Buffer[] {
    return decodeNameList(expectOk("crl_list_logs", this.wasm.call("crl_list_logs", encodeListRequest(logName, entries))));
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
