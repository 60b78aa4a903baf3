// The planner's exports: trampolines that check the request lies in memory and hand it to its decoder
// (assembly/abi/plan.ts, config.ts). Every entry starts with __collect(): the minimal runtime never
// collects on its own, so this is what keeps memory flat over a long-lived instance (the host pins what it
// still needs).
import { Status, ABI_VERSION, MAX_REQUEST_BYTES } from "./status";
import { inMemory, respondError } from "./codec";
import { respondCheckGrowth, respondListLogs, respondPlanBatch, respondRotatedName } from "./plan";
import { respondParseQuantity, respondValidateConfig } from "./config";

export function crl_abi_version(): i32 {
  return ABI_VERSION;
}

/** Rejects pointers outside memory and oversized requests before anything reads them; 0 when fine. */
function checkRequest(ptr: usize, len: usize): usize {
  if (!inMemory(ptr, len)) return respondError(Status.BadPointer, "request [" + ptr.toString() + ", +" + len.toString() + ") is outside linear memory");
  if (len > MAX_REQUEST_BYTES) return respondError(Status.TooLarge, "request is " + len.toString() + " bytes, the limit is " + MAX_REQUEST_BYTES.toString());
  return 0;
}

export function crl_plan_batch(ptr: usize, len: usize): usize {
  __collect();
  const bad = checkRequest(ptr, len);
  return bad != 0 ? bad : respondPlanBatch(ptr, len);
}

export function crl_list_logs(ptr: usize, len: usize): usize {
  __collect();
  const bad = checkRequest(ptr, len);
  return bad != 0 ? bad : respondListLogs(ptr, len);
}

export function crl_rotated_name(ptr: usize, len: usize): usize {
  __collect();
  const bad = checkRequest(ptr, len);
  return bad != 0 ? bad : respondRotatedName(ptr, len);
}

export function crl_check_growth(ptr: usize, len: usize): usize {
  __collect();
  const bad = checkRequest(ptr, len);
  return bad != 0 ? bad : respondCheckGrowth(ptr, len);
}

export function crl_parse_quantity(ptr: usize, len: usize): usize {
  __collect();
  const bad = checkRequest(ptr, len);
  return bad != 0 ? bad : respondParseQuantity(ptr, len);
}

export function crl_validate_config(ptr: usize, len: usize): usize {
  __collect();
  const bad = checkRequest(ptr, len);
  return bad != 0 ? bad : respondValidateConfig(ptr, len);
}
