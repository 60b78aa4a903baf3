// The planner's exports: trampolines that check the request lies in memory and hand it to its decoder
// (assembly/abi/plan.ts, config.ts, credit.ts). Every entry starts with __collect(): the minimal runtime never
// collects on its own, so this is what keeps memory flat over a long-lived instance (the host pins what it
// still needs).
import { ABI_VERSION } from "./status";
import { requestProblem } from "./codec";
import { respondCheckGrowth, respondListLogs, respondPlanBatch, respondRotatedName } from "./plan";
import { respondParseQuantity, respondValidateConfig } from "./config";
import { respondCreditProgress } from "./credit";

export function crl_abi_version(): i32 {
  return ABI_VERSION;
}

export function crl_plan_batch(ptr: usize, len: usize): usize {
  __collect();
  const bad = requestProblem(ptr, len);
  return bad != 0 ? bad : respondPlanBatch(ptr, len);
}

export function crl_list_logs(ptr: usize, len: usize): usize {
  __collect();
  const bad = requestProblem(ptr, len);
  return bad != 0 ? bad : respondListLogs(ptr, len);
}

export function crl_rotated_name(ptr: usize, len: usize): usize {
  __collect();
  const bad = requestProblem(ptr, len);
  return bad != 0 ? bad : respondRotatedName(ptr, len);
}

export function crl_check_growth(ptr: usize, len: usize): usize {
  __collect();
  const bad = requestProblem(ptr, len);
  return bad != 0 ? bad : respondCheckGrowth(ptr, len);
}

export function crl_parse_quantity(ptr: usize, len: usize): usize {
  __collect();
  const bad = requestProblem(ptr, len);
  return bad != 0 ? bad : respondParseQuantity(ptr, len);
}

export function crl_validate_config(ptr: usize, len: usize): usize {
  __collect();
  const bad = requestProblem(ptr, len);
  return bad != 0 ? bad : respondValidateConfig(ptr, len);
}

export function crl_credit_progress(ptr: usize, len: usize): usize {
  __collect();
  const bad = requestProblem(ptr, len);
  return bad != 0 ? bad : respondCreditProgress(ptr, len);
}
