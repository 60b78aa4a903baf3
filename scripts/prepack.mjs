// `npm pack` / `npm publish`: the package ships the compiled host (dist/host/) and the rules module
// (build/cri-logrotate.wasm), not their sources. Refuse to pack a checkout that was not built, or whose
// dist/host/ holds output of a source that no longer exists (it would be shipped).
import { existsSync, readdirSync, statSync } from "node:fs";
import { join, dirname, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const missing = ["build/cri-logrotate.wasm", "dist/host/cli.js"].filter((f) => !existsSync(join(root, f)));
if (missing.length > 0) {
  console.error(`cannot pack: ${missing.join(", ")} missing; run "npm run build" first`);
  process.exit(1);
}

const walk = (dir) => readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [join(dir, n)]));
const stale = walk(join(root, "dist", "host"))
  .filter((f) => f.endsWith(".js"))
  .map((f) => relative(join(root, "dist"), f))
  .filter((f) => !existsSync(join(root, f.replace(/\.js$/, ".ts"))));
if (stale.length > 0) {
  console.error(`cannot pack: dist/${stale.join(", dist/")} ${stale.length === 1 ? "has" : "have"} no source in host/ any more; run "rm -rf dist && npm run build"`);
  process.exit(1);
}
