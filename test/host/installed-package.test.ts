// The package as a user installs it: `npm pack` of this (built) checkout, `npm install -g` of the tarball
// into a temporary prefix, and the INSTALLED `cri-logrotate` run from outside the checkout against the fake
// runtime (a real unix socket, a temp log root). Every other test runs the checkout; this one would catch a
// file `files` does not ship, or a path computed from the checkout's layout.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { startHarness, writeFiles, listing, type Harness } from "../support/harness.js";
import { installTarball, packCheckout, storeInCache, type InstalledPackage, type PackedTarball } from "../support/installed-package.js";
import { repoFile } from "../support/repo.js";

const run = promisify(execFile);

let work: string;
let packed: PackedTarball;
let installed: InstalledPackage;
let h: Harness;
let podDir: string;

before(async () => {
  work = mkdtempSync(join(tmpdir(), "crl-installed-"));
  packed = await packCheckout(work);
  installed = await installTarball(packed.path, join(work, "prefix"));
  h = await startHarness();
  podDir = join(h.logRoot, "default_web_uid1", "app");
  writeFiles(podDir, { "0.log": "x".repeat(100), "0.log.20250101-000000": "old\n", "0.log.20250101-000001": "older\n" });
  h.runtime.addContainer({ id: "c-web", name: "app", state: "CONTAINER_RUNNING", logPath: join(podDir, "0.log") });
}, { timeout: 20 * 60_000 }); // npm install compiles better-sqlite3 where no prebuilt binary can be downloaded

after(async () => {
  await h?.close();
  // The e2e image is built from an install of the same tarball: leave this one for it.
  if (installed) await storeInCache(packed, installed).catch(() => undefined);
  rmSync(work, { recursive: true, force: true });
});

/** Runs the installed command from outside the checkout, as a user's shell would. */
async function installedCli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(installed.bin, args, {
      cwd: work,
      env: { PATH: `${dirname(process.execPath)}:/usr/bin:/bin` },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    if (typeof e.code !== "number") throw err;
    return { code: e.code, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

function flags(...extra: string[]): string[] {
  return ["--runtime-endpoint", `unix://${h.runtime.socketPath}`, "--log-root", h.logRoot, "--lock-file", join(h.base, "run", "lock"), "--metrics-address", "", ...extra];
}

// What a pack must hold: the compiled host, the rules module, the CRI proto, the command; docs and examples
// for an operator. Nothing of the tests, benchmarks or sources; no source maps (their sources are not shipped).
const SHIPPED = [/^package\.json$/, /^README\.md$/, /^bin\/cri-logrotate\.js$/, /^dist\/host\/.+\.js$/, /^build\/cri-logrotate\.wasm$/, /^host\/cri\/runtime\.proto$/, /^docs\/[^/]+\.md$/, /^examples\/.+/];
const REQUIRED = ["bin/cri-logrotate.js", "dist/host/cli.js", "dist/host/assets.js", "build/cri-logrotate.wasm", "host/cri/runtime.proto", "package.json", "examples/kubernetes/daemonset.yaml", "examples/systemd/cri-logrotate.service"];

test("the tarball ships what the command needs and nothing of the tests", () => {
  const unexpected = packed.files.filter((f) => !SHIPPED.some((re) => re.test(f)));
  assert.deepEqual(unexpected, []);
  for (const f of REQUIRED) assert.ok(packed.files.includes(f), `${f} is not in the package`);
  assert.deepEqual(packed.files.filter((f) => /(^|\/)(test|bench|demo|assembly|node_modules)\/|\.map$|\.ts$/.test(f)), []);
  assert.equal(packed.version, JSON.parse(readFileSync(repoFile("package.json"), "utf8")).version);
});

test("npm installed the command into the prefix, not a link to the checkout", () => {
  assert.ok(existsSync(installed.bin), installed.bin);
  const target = realpathSync(installed.bin);
  assert.equal(target, join(realpathSync(installed.root), "bin", "cri-logrotate.js"));
  assert.ok(!target.startsWith(realpathSync(repoFile("."))), target);
  assert.ok(existsSync(join(installed.root, "build", "cri-logrotate.wasm")));
  assert.ok(existsSync(join(installed.root, "node_modules", "better-sqlite3")), "dependencies are installed with it");
});

test("installed: --version prints the package's version", async () => {
  const res = await installedCli(["--version"]);
  assert.deepEqual(res, { code: 0, stdout: `${packed.version}\n`, stderr: "" });
});

test("installed: plan says what a pass would do and touches nothing", async () => {
  const before = listing(podDir);
  const res = await installedCli(["plan", ...flags("--container-log-max-size", "10", "--container-log-max-files", "3")]);
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /rotate\s+"0\.log\.\d{8}-\d{6}"/);
  assert.match(res.stdout, /remove\s+"0\.log\.20250101-000000"/);
  assert.match(res.stdout, /1 of 1 running containers have work/);
  assert.deepEqual(listing(podDir), before);
});

test("installed: once rotates through the fake runtime and leaves the kubelet's layout", async () => {
  const res = await installedCli(["once", "--json", ...flags("--container-log-max-size", "10", "--container-log-max-files", "3")]);
  assert.equal(res.code, 0, res.stderr);
  const summary = JSON.parse(res.stdout);
  assert.deepEqual({ ...summary, failures: summary.failures.length }, { containers: 1, rotated: 1, compressed: 1, removed: 1, recovered: 0, failures: 0 });
  // Max files 3: the live log, the rotation just made (kept plain), the older one compressed.
  const files = listing(podDir);
  assert.equal(files.length, 3, files.join(", "));
  assert.ok(files.includes("0.log"));
  assert.ok(files.includes("0.log.20250101-000001.gz"), files.join(", "));
  assert.ok(files.some((f) => /^0\.log\.\d{8}-\d{6}$/.test(f) && f !== "0.log.20250101-000001"), files.join(", "));
  assert.deepEqual(h.runtime.calls.filter((c) => c.method === "ReopenContainerLog").map((c) => c.request.container_id), ["c-web"]);
});

test("installed: the time npm install took", (t) => {
  // Measured, not asserted (the machine is shared): reported in the test output.
  t.diagnostic(`npm pack + npm install -g of ${packed.path.split("/").pop()}: install ${(installed.installMs / 1000).toFixed(1)} s`);
});
