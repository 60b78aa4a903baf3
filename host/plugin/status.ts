// Mirrors assembly/abi/status.ts (docs/abi.md). Numbers are part of the ABI.
export const Status = {
  OK: 0,
  TRUNCATED: 1,
  BAD_MAGIC: 2,
  BAD_VERSION: 3,
  BAD_NAME: 4,
  BAD_POLICY: 5,
  BAD_QUANTITY: 6,
  TOO_LARGE: 7,
  BAD_POINTER: 8,
  TRAILING_BYTES: 9,
  INVALID_CONFIG: 10,
  BAD_VALUE: 11,
} as const;

export type StatusName = keyof typeof Status;

const names = new Map<number, StatusName>(Object.entries(Status).map(([k, v]) => [v, k as StatusName]));

/** The name of a status number (UNKNOWN_<n> for one this host does not know). */
export function statusName(code: number): StatusName | `UNKNOWN_${number}` {
  return names.get(code) ?? `UNKNOWN_${code}`;
}

/** The PluginError code for a status the module returned: PLUGIN_<NAME>, or PLUGIN_UNKNOWN_<n>. */
export function statusErrorCode(code: number): `PLUGIN_${string}` {
  return `PLUGIN_${statusName(code)}`;
}

export const ABI_VERSION = 2;
export const MAGIC_PLAN = 0x504c5243; // "CRLP"
export const MAGIC_VALIDATE = 0x564c5243; // "CRLV"
export const MAGIC_LIST = 0x4c4c5243; // "CRLL"
export const MAGIC_NAME = 0x4e4c5243; // "CRLN"
export const MAGIC_GROWTH = 0x474c5243; // "CRLG"

/** Mirrors ContainerOutcome in assembly/abi/status.ts: the u8 before each container's plan. */
export const ContainerOutcome = { PLANNED: 0, NEEDS_LISTING: 1, REJECTED: 2 } as const;

/** Mirrors the request limits of assembly/abi/status.ts: the host splits batches to stay within them. */
export const MAX_REQUEST_BYTES = 256 * 1024 * 1024;
export const MAGIC_CREDIT = 0x434c5243; // "CRLC"
/** Limits of crl_credit_progress (assembly/abi/status.ts). */
export const MAX_PATH_BYTES = 4096;
export const MAX_FINGERPRINT_BYTES = 4096;

/**
 * The Fluent Bit filter's lastStatus (crl_fluentbit_stats; mirrors FilterStatus in assembly/abi/status.ts).
 * A failed progress write is WRITE_FAILED + the WASI errno.
 */
export const FilterStatus = {
  NONE: 0,
  NOT_OBJECT: 1,
  SYNTAX: 2,
  TRUNCATED: 3,
  TOO_DEEP: 4,
  TRAILING_BYTES: 5,
  OFFSET_NOT_INTEGER: 12,
  OFFSET_OUT_OF_RANGE: 13,
  PATH_TOO_LONG: 20,
  RECORD_OUTSIDE_MEMORY: 30,
  EMPTY_RECORD: 31,
  WRITE_FAILED: 100,
} as const;

/** Why the filter did not read its last progress file back at start-up (mirrors RestoreStatus in assembly/abi/progress-file.ts). */
export const RestoreStatus = {
  RESTORED: 0,
  ABSENT: 1,
  OTHER_FORMAT: 2,
  CORRUPT: 3,
  READ_FAILED: 4,
} as const;
