// `npm test`: builds what the tests need, runs the as-pect specs (rules through WebAssembly) and the
// node:test suites (host; e2e against a real containerd when it is installed; fluentbit against a real
// Fluent Bit when FLUENT_BIT_BIN names one), then prints one
// closing line `N passed, N failed` totalled over all of them. Exit code 1 if anything failed.
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const only = process.argv.slice(2); // e.g. `npm test -- host` runs one group: as, host, e2e, fluentbit

function run(cmd, args, { capture = false } = {}) {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: root, stdio: ["ignore", capture ? "pipe" : "inherit", "inherit"] });
    let out = "";
    if (capture) {
      child.stdout.on("data", (d) => {
        process.stdout.write(d);
        out += d;
      });
    }
    child.on("close", (code, signal) => resolve({ code: code ?? (signal ? 1 : 0), out }));
  });
}

const totals = { passed: 0, failed: 0 };
const groups = [];

async function step(name, cmd, args) {
  const res = await run(cmd, args);
  if (res.code !== 0) {
    console.error(`\n${name} failed (exit ${res.code})`);
    console.log(`${totals.passed} passed, ${totals.failed + 1} failed`);
    process.exit(1);
  }
}

function want(group) {
  return only.length === 0 || only.includes(group);
}

await step("build:fixtures", "node", ["scripts/gen-fixtures.mjs"]);
await step("build", "npm", ["run", "--silent", "build"]);

if (want("as")) {
  // as-pect prints "[Tests]: P pass, F fail, T total" style summaries; take the numbers from its lines.
  const res = await run("npx", ["asp", "--config", "as-pect.config.js", "--summary"], { capture: true });
  const clean = res.out.replace(/\x1b\[[0-9;]*m/g, "");
  const m = clean.match(/\[Tests\]:\s*(\d+)\s*\/\s*(\d+)/);
  if (m) {
    const passed = Number(m[1]);
    const total = Number(m[2]);
    totals.passed += passed;
    totals.failed += total - passed;
  } else {
    totals.failed += 1;
  }
  if (res.code !== 0 && (!m || Number(m[1]) === Number(m[2]))) totals.failed += 1;
  groups.push(["as-pect", res.code]);
}

async function nodeTests(group, dir) {
  const abs = join(root, "dist", "test", dir);
  if (!existsSync(abs)) return;
  const files = readdirSync(abs).filter((f) => f.endsWith(".test.js")).sort().map((f) => join("dist", "test", dir, f));
  if (files.length === 0) return;
  const res = await run("node", ["--test", "--test-reporter=tap", "--test-timeout=240000", ...files], { capture: true });
  const pass = res.out.match(/^# pass (\d+)/m);
  const fail = res.out.match(/^# fail (\d+)/m);
  totals.passed += pass ? Number(pass[1]) : 0;
  totals.failed += fail ? Number(fail[1]) : 1;
  if (res.code !== 0 && fail && Number(fail[1]) === 0) totals.failed += 1;
  groups.push([group, res.code]);
}

if (want("host")) await nodeTests("host", "host");
if (want("e2e")) await nodeTests("e2e", "e2e");
// A real Fluent Bit (FLUENT_BIT_BIN, scripts/build-fluent-bit.sh): skipped with a hint without one, a
// failure under CI=true.
if (want("fluentbit")) await nodeTests("fluentbit", "e2e-fluentbit");

console.log("");
for (const [g, code] of groups) console.log(`${g}: ${code === 0 ? "ok" : `exit ${code}`}`);
console.log(`${totals.passed} passed, ${totals.failed} failed`);
process.exit(totals.failed > 0 ? 1 : 0);
