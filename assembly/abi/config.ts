// The wire format of crl_parse_quantity and crl_validate_config (docs/abi.md).
import { Status, MAGIC_VALIDATE } from "./status";
import { Reader, Writer, readHeader, respondError } from "./codec";
import { parseQuantity } from "../rules/quantity";
import { validateConfig } from "../rules/config";

export function respondParseQuantity(ptr: usize, len: usize): usize {
  const text = new Uint8Array(<i32>len);
  memory.copy(text.dataStart, ptr, len);
  const q = parseQuantity(text);
  if (!q.ok) return respondError(Status.BadQuantity, q.error);
  const w = new Writer();
  w.i64(q.value);
  return w.finish(Status.Ok);
}

export function respondValidateConfig(ptr: usize, len: usize): usize {
  const r = new Reader(ptr, len);
  readHeader(r, MAGIC_VALIDATE, "validate_config");
  const maxSize = r.bytes("containerLogMaxSize");
  const maxFiles = r.i32("containerLogMaxFiles");
  const maxWorkers = r.i32("containerLogMaxWorkers");
  const intervalMs = r.i64("containerLogMonitorInterval");
  r.expectEnd();
  if (!r.ok) return respondError(r.status, r.message);
  const result = validateConfig(maxSize, maxFiles, maxWorkers, intervalMs);
  if (!result.ok) return respondError(Status.InvalidConfig, result.error);
  const w = new Writer();
  w.i64(result.maxSize);
  return w.finish(Status.Ok);
}
