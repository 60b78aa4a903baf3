// The package's own files, found relative to this module: the compiled host is dist/host/*.js both in a
// checkout and in the installed npm package, so the package root is two directories up — wherever npm put
// it. Nothing is read at import time: a file is read when first needed.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

const PACKAGE_ROOT = new URL("../../", import.meta.url);

/** Absolute path of a file shipped in the package, e.g. "build/cri-logrotate.wasm". */
export function packageFile(relative: string): string {
  return fileURLToPath(new URL(relative, PACKAGE_ROOT));
}

/** The rules module (npm run build:wasm). */
export const RULES_WASM = "build/cri-logrotate.wasm";
/** The CRI subset the client speaks. */
export const CRI_PROTO = "host/cri/runtime.proto";

let version: string | undefined;

/** The version in the package's package.json. */
export function packageVersion(): string {
  return (version ??= (JSON.parse(readFileSync(packageFile("package.json"), "utf8")) as { version: string }).version);
}
