// Builds test/e2e-fluentbit/fixtures/passthrough.ts (a filter that returns every record as it came) the
// way build/cri-logrotate.wasm is built: a WASI reactor, minimal runtime, runtime exported for WAMR.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { repoFile } from "../../support/repo.js";

export const PASSTHROUGH_EXPORT = "passthrough";

export async function buildPassthrough(outDir: string): Promise<string> {
  const out = join(outDir, "passthrough.wasm");
  await promisify(execFile)(
    process.execPath,
    [
      repoFile("node_modules/assemblyscript/bin/asc.js"),
      // Paths relative to the checkout: asc resolves the shim's `lib` wrongly from an absolute --config.
      "test/e2e-fluentbit/fixtures/passthrough.ts",
      "--config", "test/e2e-fluentbit/fixtures/asconfig.json", // extends the wasi-shim, as asconfig.json does
      "-o", out,
    ],
    { cwd: repoFile("."), timeout: 60_000 },
  );
  return out;
}
