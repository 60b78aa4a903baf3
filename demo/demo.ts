// npm run demo — cri-logrotate end to end with no cluster: a fake CRI runtime (test/fake-cri, the same
// gRPC API containerd serves) runs a few busy containers in a temp log root laid out like the kubelet's;
// the real shim (bin/cri-logrotate.js run) rotates their logs over the socket with small limits. The
// demo prints each rotation as the shim logs it, then the final tree, checks no line was lost, and
// removes everything it made.
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { startFakeRuntime } from "../test/fake-cri/index.js";
import { lineNumbers } from "../test/support/harness.js";

const seconds = Number(process.env.DEMO_SECONDS ?? 14);
const base = mkdtempSync(join(tmpdir(), "cri-logrotate-demo-"));
const logRoot = join(base, "pods");
const socket = join(base, "cri.sock");

const containers = [
  { id: "7f3a01c0ffee", pod: "shop_checkout-6d9f_0a1b", name: "api", linesPerTick: 40, lineBytes: 120 },
  { id: "9b2e02beef00", pod: "shop_worker-5c7b_2c3d", name: "worker", linesPerTick: 15, lineBytes: 200 },
  { id: "c41d03d00d11", pod: "ops_cron-1a2b_4e5f", name: "cron", linesPerTick: 2, lineBytes: 80 },
];

function say(line: string): void {
  process.stdout.write(line + "\n");
}

async function main(): Promise<number> {
  mkdirSync(logRoot);
  const runtime = await startFakeRuntime({ socketPath: socket, logRoot });
  for (const c of containers) {
    runtime.addContainer({
      id: c.id,
      name: c.name,
      state: "CONTAINER_RUNNING",
      logPath: join(logRoot, c.pod, c.name, "0.log"),
      writer: { linesPerTick: c.linesPerTick, intervalMs: 50, lineBytes: c.lineBytes },
    });
  }
  say(`fake runtime on ${socket} with ${containers.length} busy containers under ${logRoot}`);
  const args = [
    fileURLToPath(new URL("../../bin/cri-logrotate.js", import.meta.url)), // dist/demo → the checkout
    "run",
    "--runtime-endpoint", `unix://${socket}`,
    "--log-root", logRoot,
    "--lock-file", join(base, "cri-logrotate.lock"),
    "--container-log-max-size", "48Ki",
    "--container-log-max-files", "4",
    "--container-log-monitor-interval", "3s",
    "--metrics-address", "",
  ];
  say(`running: cri-logrotate ${args.slice(2).join(" ")}`);
  say(`for ${seconds} s (a pass every 3 s; DEMO_SECONDS changes the length)\n`);
  const shim = spawn(process.execPath, args, { stdio: ["ignore", "inherit", "pipe"] });
  const names = new Map(containers.map((c) => [c.id, c.name]));
  createInterface({ input: shim.stderr! }).on("line", (line) => {
    let e: Record<string, unknown>;
    try {
      e = JSON.parse(line);
    } catch {
      say(`  shim: ${line}`);
      return;
    }
    const who = names.get(String(e.containerId)) ?? "";
    const short = (v: unknown) => String(v).replace(logRoot + "/", "");
    const t = String(e.ts ?? "").slice(11, 19);
    if (e.msg === "rotated container log") say(`${t} ${who.padEnd(7)} rotated   ${short(e.file)} (${e.size} bytes) -> ${short(e.rotatedTo)}`);
    else if (e.msg === "compressed rotated log") say(`${t} ${who.padEnd(7)} gzipped   ${short(e.file)} ${e.bytesIn} -> ${e.bytesOut} bytes`);
    else if (e.msg === "removed log file") say(`${t} ${who.padEnd(7)} removed   ${short(e.file)} (${e.reason})`);
    else if (e.level === "warn" || e.level === "error") say(`${t} ${String(e.level).toUpperCase()} ${e.msg} ${e.err ? JSON.stringify(e.err) : ""}`);
    else if (e.msg === "starting container log rotation") say(`${t} shim started: ${JSON.stringify(e.policy)}`);
  });
  const exited = new Promise<number | null>((resolve) => shim.on("close", resolve));
  await new Promise((r) => setTimeout(r, seconds * 1000));

  shim.kill("SIGTERM");
  const code = await exited;
  for (const c of containers) runtime.stopWriter(c.id);
  await runtime.close();
  say(`\nshim exited with ${code} after SIGTERM\n\nfinal tree:`);
  let ok = code === 0;
  for (const c of containers) {
    const dir = join(logRoot, c.pod, c.name);
    say(`  ${relative(logRoot, dir)}/`);
    for (const name of readdirSync(dir).sort()) say(`    ${name.padEnd(32)} ${String(statSync(join(dir, name)).size).padStart(8)} bytes`);
    // Old rotated files are removed by design (containerLogMaxFiles), so what remains must be one
    // contiguous run of lines ending at the last line written: nothing lost or doubled by a rotation.
    const lines = lineNumbers(dir, "0.log");
    const written = runtime.linesWritten(c.id);
    const contiguous = lines.every((n, i) => i === 0 || n === lines[i - 1]! + 1) && lines[lines.length - 1] === written - 1;
    say(`    lines ${lines[0]}..${lines[lines.length - 1]} of ${written} written: ${contiguous ? "contiguous, none lost or doubled" : "GAP OR DUPLICATE"}`);
    ok &&= contiguous;
  }
  return ok ? 0 : 1;
}

try {
  process.exitCode = await main();
} finally {
  rmSync(base, { recursive: true, force: true });
  say(`\nremoved ${base}`);
}
