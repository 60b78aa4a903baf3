// One fixture table, read by both sides: test/fixtures/<name>.json is the case table; the node:test suites
// read the JSON directly, and this script turns each table into AssemblyScript source
// (test/assembly/generated/<name>.ts, not committed) through scripts/fixtures/<name>.mjs, whose
// `emit(table)` returns the source text. as-pect specs import the generated module.
import { readdirSync, readFileSync, writeFileSync, mkdirSync, existsSync } from "node:fs";
import { join, dirname, basename } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const fixtures = join(root, "test", "fixtures");
const out = join(root, "test", "assembly", "generated");
mkdirSync(out, { recursive: true });

for (const file of readdirSync(fixtures).filter((f) => f.endsWith(".json")).sort()) {
  const name = basename(file, ".json");
  const emitter = join(root, "scripts", "fixtures", `${name}.mjs`);
  if (!existsSync(emitter)) throw new Error(`fixture ${file} has no emitter: create scripts/fixtures/${name}.mjs`);
  const { emit } = await import(pathToFileURL(emitter).href);
  const table = JSON.parse(readFileSync(join(fixtures, file), "utf8"));
  writeFileSync(join(out, `${name}.ts`), `// Generated from test/fixtures/${file} by scripts/gen-fixtures.mjs. Do not edit.\n${emit(table)}`);
}
