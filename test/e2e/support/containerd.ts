// A private containerd 1.6 + runc for the e2e suite: its own temp root, state, sockets and runc root, so it
// never meets a containerd the machine may already run. The working config and the two pitfalls of this
// kind of machine are in docs shared with the project (reference/containerd.md).
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { accessSync, closeSync, constants, existsSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, statSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, dirname, isAbsolute, join } from "node:path";
import { promisify } from "node:util";
import { BUSYBOX_PATH, buildBusyboxImage } from "./image.js";

const run = promisify(execFile);

const SOCKET_WAIT_MS = 10_000;
const STOP_GRACE_MS = 10_000;
const NAMESPACE = "k8s.io"; // the CRI plugin's containerd namespace
const CGROUP_ROOT = "/sys/fs/cgroup";
const SHIM_SOCKET_DIR = "/run/containerd/s";

// containerd finds containerd-shim-runc-v2 and the shim finds runc through PATH; Debian puts runc in /usr/sbin,
// which a non-login root shell may lack.
const SEARCH_PATH = [...(process.env.PATH ?? "").split(delimiter), "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
  .filter((d, i, all) => d !== "" && all.indexOf(d) === i);

export const INSTALL_HINT = "install with: apt-get install -y containerd runc busybox-static (as root)";

export class E2eSetupError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "E2eSetupError";
    this.code = code;
  }
}

export interface PrivateContainerd {
  base: string;
  socketPath: string;
  endpoint: string;        // unix://<socketPath>, what a CRI client dials
  logRoot: string;         // <base>/logs: pods' log directories go below it
  /**
   * The log root as containerd and its containers see it: logRoot, or the `logRootInRuntime` asked for
   * (log_directory in CRI requests, and the log paths CRI answers, are below it).
   */
  criLogRoot: string;
  /** A path under criLogRoot (what CRI reports) as this process reaches it. */
  hostPath(criPath: string): string;
  imageTar: string;
  readonly pid: number;    // changes on restart()
  /** `ctr images import` of a docker-archive tar into the CRI namespace. */
  importImage(tarPath: string): Promise<void>;
  stop(): Promise<void>;
  /** Stops and starts again on the same config and state; running shims and containers survive it. */
  restart(): Promise<void>;
  /** Stops containerd and removes every trace: containers, shims, mounts, cgroups, the base directory. */
  cleanup(): Promise<void>;
}

/**
 * Whether this machine can run the e2e suite. `missing` says what is not there ("runc not found, not root"),
 * `reason` is the whole skip message with the install hint.
 */
export function containerdAvailable(): { ok: boolean; reason?: string; missing?: string } {
  const notFound = ["containerd", "containerd-shim-runc-v2", "ctr", "runc"].filter((bin) => findExecutable(bin) === undefined);
  if (!isExecutable(BUSYBOX_PATH)) notFound.push(BUSYBOX_PATH);
  const problems = notFound.length > 0 ? [`${notFound.join(", ")} not found`] : [];
  if (process.getuid?.() !== 0) problems.push("not running as root");
  if (problems.length === 0) return { ok: true };
  const missing = problems.join(", ");
  return { ok: false, missing, reason: `skipping e2e: ${missing}; ${INSTALL_HINT}` };
}

export interface ContainerdOptions {
  /**
   * Where containerd, its shims and its containers see the log root, e.g. "/var/log/pods", as on a real
   * node: containerd then runs in a mount namespace of its own, with a tmpfs over that path's parent and
   * <base>/logs bound at the path, so nothing of the machine's own /var/log is touched. A container that
   * mounts the hostPath /var/log/pods at /var/log/pods then sees the very paths CRI reports — what
   * cri-logrotate in a DaemonSet relies on. Default: the log root is <base>/logs for everyone.
   */
  logRootInRuntime?: string;
}

export async function startContainerd(options: ContainerdOptions = {}): Promise<PrivateContainerd> {
  const base = await mkdtemp(join(tmpdir(), "crilr-e2e-"));
  const socketPath = join(base, "containerd.sock");
  const configPath = join(base, "config.toml");
  const logPath = join(base, "containerd.log");
  const logRoot = join(base, "logs");
  const criLogRoot = options.logRootInRuntime ?? logRoot;
  if (criLogRoot !== logRoot && (!isAbsolute(criLogRoot) || dirname(criLogRoot) === "/")) {
    throw new E2eSetupError("ELOGROOT", `logRootInRuntime must be an absolute path below a top-level directory, not ${JSON.stringify(criLogRoot)}`);
  }
  // Only k8s.io cgroup directories that did not exist before are ours to remove.
  const preexistingCgroups = new Set(k8sCgroupDirs());
  const hadRunContainerd = existsSync("/run/containerd");

  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const launch = async (): Promise<void> => {
    const logStart = existsSync(logPath) ? statSync(logPath).size : 0;
    const logFd = openSync(logPath, "a");
    try {
      // `unshare` execs sh, which execs containerd: the pid we hold is containerd's.
      const [command, args] = criLogRoot === logRoot
        ? ["containerd", ["--config", configPath]]
        : ["unshare", ["--mount", "--propagation", "private", "--", "/bin/sh", "-c", PRIVATE_LOG_ROOT_SCRIPT, "sh", configPath, logRoot, criLogRoot]];
      const proc = spawn(command, args as string[], {
        stdio: ["ignore", logFd, logFd],
        env: { ...process.env, PATH: SEARCH_PATH.join(delimiter) },
      });
      child = proc;
      exited = new Promise((resolve) => proc.once("exit", () => resolve()));
      proc.once("error", () => undefined); // reported through waitForSocket's log tail
    } finally {
      closeSync(logFd);
    }
    await waitForSocket(socketPath, logPath, logStart, child);
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    if (proc === undefined || proc.exitCode !== null || proc.signalCode !== null) return;
    proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), STOP_GRACE_MS);
    await exited;
    clearTimeout(timer);
  };

  let cleaning: Promise<void> | undefined;
  const cleanup = (): Promise<void> => (cleaning ??= removeEverything());
  const removeEverything = async (): Promise<void> => {
    const problems: unknown[] = [];
    const attempt = async (step: () => Promise<void>) => {
      try { await step(); } catch (e) { problems.push(e); }
    };
    await attempt(stop);
    await attempt(() => deleteRuncContainers(join(base, "runc")));
    await attempt(() => killProcessesMentioning(base));
    await attempt(async () => removeShimSockets(base, socketPath));
    await attempt(() => unmountUnder(base));
    await attempt(async () => removeCreatedCgroups(preexistingCgroups));
    // The runc-v2 shim of containerd 1.6 always puts its sockets in /run/containerd/s (not configurable).
    await attempt(async () => rmdirIfEmpty(SHIM_SOCKET_DIR));
    if (!hadRunContainerd) await attempt(async () => rmdirIfEmpty("/run/containerd"));
    await attempt(() => rm(base, { recursive: true, force: true, maxRetries: 3 }));
    if (problems.length > 0) {
      throw new AggregateError(problems, `failed to clean up private containerd under "${base}"`);
    }
  };

  try {
    await mkdir(logRoot, { recursive: true });
    await mkdir(join(base, "cni", "bin"), { recursive: true });
    await mkdir(join(base, "cni", "conf"), { recursive: true });
    await writeFile(configPath, renderConfig(base, socketPath));
    const imageTar = await buildBusyboxImage(join(base, "image"));
    await launch();
    await importImage(socketPath, imageTar, logPath);

    return {
      base,
      socketPath,
      endpoint: `unix://${socketPath}`,
      logRoot,
      criLogRoot,
      hostPath: (criPath: string) => (criPath === criLogRoot || criPath.startsWith(criLogRoot + "/") ? logRoot + criPath.slice(criLogRoot.length) : criPath),
      imageTar,
      get pid() { return child?.pid ?? -1; },
      importImage: (tarPath: string) => importImage(socketPath, tarPath, logPath),
      stop,
      restart: async () => { await stop(); await launch(); },
      cleanup,
    };
  } catch (e) {
    await cleanup().catch(() => undefined);
    throw e;
  }
}

// $1 config, $2 the log root here, $3 where containerd sees it. The tmpfs keeps the machine's own directory
// (/var/log) out of it and needs no mount point created on the machine.
const PRIVATE_LOG_ROOT_SCRIPT = 'set -e; parent=$(dirname "$3"); mount -t tmpfs -o mode=0755 cri-logrotate-e2e "$parent"; mkdir -p "$3"; mount --bind "$2" "$3"; exec containerd --config "$1"';

// See reference/containerd.md: restrict_oom_score_adj is required where root lacks CAP_SYS_RESOURCE (runc
// otherwise fails with "can't get final child's PID from pipe"); the CNI dirs are empty, so only host-network
// pods can run; opt.path keeps containerd from creating /opt/containerd.
function renderConfig(base: string, socketPath: string): string {
  const q = (s: string) => JSON.stringify(s); // TOML basic strings accept JSON string escapes
  return `version = 2
root = ${q(join(base, "root"))}
state = ${q(join(base, "state"))}
disabled_plugins = []
[grpc]
  address = ${q(socketPath)}
[ttrpc]
  address = ${q(socketPath + ".ttrpc")}
[debug]
  level = "info"
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = ${q(join(base, "opt"))}
  [plugins."io.containerd.grpc.v1.cri"]
    sandbox_image = "localhost/busybox:e2e"
    systemd_cgroup = false
    restrict_oom_score_adj = true
    stream_server_address = "127.0.0.1"
    stream_server_port = "0"
    [plugins."io.containerd.grpc.v1.cri".containerd]
      snapshotter = "overlayfs"
      default_runtime_name = "runc"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
        runtime_type = "io.containerd.runc.v2"
        [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
          SystemdCgroup = false
          Root = ${q(join(base, "runc"))}
    [plugins."io.containerd.grpc.v1.cri".cni]
      bin_dir = ${q(join(base, "cni", "bin"))}
      conf_dir = ${q(join(base, "cni", "conf"))}
`;
}

async function waitForSocket(socketPath: string, logPath: string, logStart: number, proc: ChildProcess | undefined): Promise<void> {
  const deadline = Date.now() + SOCKET_WAIT_MS;
  while (Date.now() < deadline) {
    if (proc !== undefined && (proc.exitCode !== null || proc.signalCode !== null)) {
      throw new E2eSetupError("ECONTAINERD_EXITED",
        `containerd exited (${proc.exitCode ?? proc.signalCode}) before serving ${socketPath}\n${logTail(logPath, logStart)}`);
    }
    if (await canConnect(socketPath)) return;
    await sleep(25);
  }
  throw new E2eSetupError("ECONTAINERD_TIMEOUT",
    `containerd did not serve ${socketPath} within ${SOCKET_WAIT_MS / 1000} s\n${logTail(logPath, logStart)}`);
}

function canConnect(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(socketPath);
    socket.once("connect", () => { socket.destroy(); resolve(true); });
    socket.once("error", () => { socket.destroy(); resolve(false); });
  });
}

async function importImage(socketPath: string, imageTar: string, logPath: string): Promise<void> {
  try {
    await run(findExecutable("ctr") ?? "ctr", ["--address", socketPath, "-n", NAMESPACE, "images", "import", imageTar], { timeout: 180_000 });
  } catch (cause) {
    const stderr = (cause as { stderr?: string }).stderr ?? "";
    throw new E2eSetupError("EIMAGE_IMPORT", `failed to import "${imageTar}" into containerd: ${stderr.trim()}\n${logTail(logPath, 0)}`, { cause });
  }
}

function logTail(logPath: string, from: number, lines = 20): string {
  try {
    const text = readFileSync(logPath, "utf8").slice(from);
    return `--- containerd.log (last ${lines} lines) ---\n${text.trimEnd().split("\n").slice(-lines).join("\n")}`;
  } catch {
    return `(no containerd log at ${logPath})`;
  }
}

// Every container of this containerd lives under its own runc root (<base>/runc/<namespace>, the shim adds
// the namespace); `runc delete --force` kills the container's processes (a killed shim would leave them
// running) and removes its cgroups. Roots are found by their containers' state.json, whatever the nesting.
async function deleteRuncContainers(runcBase: string): Promise<void> {
  const runc = findExecutable("runc") ?? "runc";
  for (const { root, id } of runcContainers(runcBase)) {
    await run(runc, ["--root", root, "delete", "--force", id], { timeout: 10_000 }).catch(() => undefined);
  }
}

function runcContainers(dir: string, depth = 0): { root: string; id: string }[] {
  if (depth > 3) return [];
  let entries: string[];
  try {
    entries = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return [];
  }
  return entries.flatMap((name) => existsSync(join(dir, name, "state.json"))
    ? [{ root: dir, id: name }]
    : runcContainers(join(dir, name), depth + 1));
}

// A shim killed by force leaves its socket behind in /run/containerd/s; containerd 1.6 names it
// sha256(<containerd address>/<namespace>/<shim id>), and each shim id has a task directory in the state.
function removeShimSockets(base: string, socketPath: string): void {
  const tasks = join(base, "state", "io.containerd.runtime.v2.task");
  let namespaces: string[] = [];
  try { namespaces = readdirSync(tasks); } catch { return; }
  for (const ns of namespaces) {
    let ids: string[] = [];
    try { ids = readdirSync(join(tasks, ns)); } catch { continue; }
    for (const id of ids) {
      const name = createHash("sha256").update(join(socketPath, ns, id)).digest("hex");
      rmSync(join(SHIM_SOCKET_DIR, name), { force: true });
    }
  }
}

/** Live (not zombie) containerd, shim and runc processes whose command line mentions `base`. */
export function processesMentioning(base: string): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const pid = Number(entry);
    if (pid === process.pid) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
    } catch {
      continue; // exited meanwhile
    }
    const command = argv[0] ?? "";
    if (!/(^|\/)(containerd-shim[^/]*|runc|containerd)$/.test(command)) continue;
    if (argv.some((arg) => arg.includes(base)) && isAlive(pid)) found.push(pid);
  }
  return found;
}

// Shims (containerd-shim-runc-v2 -address <base>/containerd.sock) and any runc still working for them.
async function killProcessesMentioning(base: string): Promise<void> {
  const victims = processesMentioning(base);
  for (const pid of victims) {
    try { process.kill(pid, "SIGKILL"); } catch { /* already gone */ }
  }
  const deadline = Date.now() + 5_000;
  while (victims.some(isAlive) && Date.now() < deadline) await sleep(25);
}

// A zombie is dead: here its parent is PID 1 (shims daemonize), which reaps it in its own time.
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

/** Mount points under `dir`, deepest first. */
export function mountsUnder(dir: string): string[] {
  const points = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => unescapeMountPath(line.split(" ")[4] ?? ""))
    .filter((p) => p === dir || p.startsWith(dir + "/"));
  return [...new Set(points)].sort((a, b) => b.split("/").length - a.split("/").length || b.length - a.length);
}

async function unmountUnder(base: string): Promise<void> {
  const failures: string[] = [];
  for (const point of mountsUnder(base)) {
    try {
      await run("umount", [point], { timeout: 10_000 });
    } catch {
      await run("umount", ["-l", point], { timeout: 10_000 }).catch((e) => { failures.push(`${point}: ${String(e)}`); });
    }
  }
  if (failures.length > 0) throw new Error(`failed to unmount under "${base}": ${failures.join("; ")}`);
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
function unescapeMountPath(p: string): string {
  return p.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

// cgroupfs driver: runc puts containers in /sys/fs/cgroup/<controller>/k8s.io/<id> (v1) or
// /sys/fs/cgroup/k8s.io/<id> (v2). rmdir only: a cgroup directory that is not empty still has processes.
function k8sCgroupDirs(): string[] {
  const dirs: string[] = [];
  if (existsSync(join(CGROUP_ROOT, NAMESPACE))) dirs.push(join(CGROUP_ROOT, NAMESPACE));
  let controllers: string[] = [];
  try { controllers = readdirSync(CGROUP_ROOT); } catch { return dirs; }
  for (const c of controllers) {
    const d = join(CGROUP_ROOT, c, NAMESPACE);
    if (d !== join(CGROUP_ROOT, NAMESPACE, NAMESPACE) && existsSync(d)) dirs.push(d);
  }
  return dirs;
}

function removeCreatedCgroups(preexisting: Set<string>): void {
  for (const dir of k8sCgroupDirs()) {
    if (preexisting.has(dir)) continue;
    rmdirTree(dir);
  }
}

// Removes empty cgroup subdirectories bottom-up, then the directory; stops quietly at a busy one.
function rmdirTree(dir: string): void {
  let entries: string[] = [];
  try {
    entries = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  } catch {
    return;
  }
  for (const name of entries) rmdirTree(join(dir, name));
  try { rmdirSync(dir); } catch { /* busy or already gone */ }
}

function rmdirIfEmpty(dir: string): void {
  try {
    if (readdirSync(dir).length === 0) rmdirSync(dir);
  } catch { /* missing */ }
}

function findExecutable(name: string): string | undefined {
  for (const dir of SEARCH_PATH) {
    const p = join(dir, name);
    if (isExecutable(p)) return p;
  }
  return undefined;
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The containerd log so far, for test failure messages. */
export async function readContainerdLog(c: PrivateContainerd): Promise<string> {
  return readFile(join(c.base, "containerd.log"), "utf8").catch(() => "");
}
