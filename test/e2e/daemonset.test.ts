// The DaemonSet's cri-logrotate container, run on a private containerd the way the kubelet would run it from
// examples/kubernetes/daemonset.yaml: its image (built by hand as Containerfile builds it, under the name the
// manifest gives), its args with $(VAR) expanded from its env, the downward-API POD_IP, the hostPath mounts
// of the log root, the CRI socket and its state directories, the ConfigMap written to disk and mounted, its
// securityContext, its probes — beside busy pods. What the manifest says is what runs; the test substitutes
// only host paths (temp dirs, the private containerd's log root and socket) and what the downward API
// answers. No CNI here: the sandbox shares the host's network, so the pod's IP is a loopback address of its
// own (127.x.y.z, free for this run) and the metrics port is on the host.
import assert from "node:assert/strict";
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { after, before, describe, test } from "node:test";
import Database from "better-sqlite3";
import { parse as parseYaml } from "yaml";
import type { CriAdmin, PodSandboxSpec } from "../support/cri-admin.js";
import { INTAIL_SCHEMA } from "../support/slow-reader.js";
import { sharedPlugin } from "../support/harness.js";
import { repoFile } from "../support/repo.js";
import { loadConfig } from "../../host/config/index.js";
import { e2eSkip, startPrivateCri } from "./support/suite.js";
import { readContainerdLog, type PrivateContainerd } from "./support/containerd.js";
import {
  containerFromManifest, findManifest, prepareVolumes, readManifests,
  type ContainerManifest, type KubeletContainer, type Node, type PodTemplate, type PreparedVolume,
} from "./support/kubelet.js";
import { listLogFiles, parseCriText } from "./support/logfiles.js";
import { joinPartials, runContainer, runPod, stopAndRemoveAll, type RunningPod } from "./support/pods.js";
import { IMAGE_WASM_PATH } from "../support/containerfile.js";
import { buildShimImage, type ShimImage } from "./support/shim-image.js";

const MANIFEST = repoFile("examples/kubernetes/daemonset.yaml");
const SHIM = "cri-logrotate";
const LOCK_NAME = "cri-logrotate.lock"; // lockFile's default, in the /run/cri-logrotate hostPath

describe("the DaemonSet on a real containerd: cri-logrotate's container as the kubelet runs it", { skip: e2eSkip, timeout: 900_000 }, () => {
  let containerd: PrivateContainerd | undefined;
  let cri: CriAdmin | undefined;
  let work: string;
  let image: ShimImage;
  let template: PodTemplate;
  let node: Node;
  let volumes: Map<string, PreparedVolume>;
  let pod: RunningPod;
  let maxSize: number;
  const pods: RunningPod[] = [];
  const started = Date.now();
  const timings: string[] = [];
  const timed = async <T>(what: string, step: () => Promise<T>): Promise<T> => {
    const t0 = Date.now();
    const v = await step();
    timings.push(`${what} ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    return v;
  };

  before(async () => {
    // containerd sees its log root at /var/log/pods, as on a node: the CRI log paths are then the paths the
    // container, which mounts the hostPath /var/log/pods at /var/log/pods, finds them at.
    ({ containerd, cri } = await startPrivateCri({ logRootInRuntime: "/var/log/pods" }));
    work = await mkdtemp(join(tmpdir(), "crl-daemonset-"));
    const manifests = readManifests(await readFile(MANIFEST, "utf8"));
    const ds = findManifest(manifests, "DaemonSet");
    template = (ds.spec as { template: PodTemplate }).template;
    const shim = shimManifest();
    image = await timed("image build", () => buildShimImage(join(work, "image"), shim.image));
    await timed("image import", () => containerd!.importImage(image.tarPath));

    const configMaps = new Map(manifests.filter((m) => m.kind === "ConfigMap").map((m) => [m.metadata.name, (m as unknown as { data: Record<string, string> }).data]));
    const podName = `${ds.metadata.name}-${randomBytes(3).toString("hex").slice(0, 5)}`;
    const podUid = randomUUID();
    const host = (p: string) => join(work, "host", p);
    node = {
      // Every hostPath of the manifest, and nothing else, is given a place on this machine.
      hostPaths: {
        "/var/log/pods": containerd.criLogRoot,
        "/run/containerd/containerd.sock": containerd.socketPath,
        "/var/lib/fluent-bit": host("var/lib/fluent-bit"),
        "/var/lib/cri-logrotate": host("var/lib/cri-logrotate"),
        "/run/cri-logrotate": host("run/cri-logrotate"),
      },
      localPath: (p) => containerd!.hostPath(p),
      podDir: join(work, "kubelet", "pods", podUid),
      downwardApi: {
        "status.podIP": await freeLoopbackAddress(9787),
        "metadata.name": podName,
        "metadata.namespace": ds.metadata.namespace ?? "default",
        "metadata.uid": podUid,
        "spec.nodeName": "e2e-node",
      },
      configMaps,
    };
    volumes = await prepareVolumes(template.spec, node);
    maxSize = shimConfig().maxSizeBytes;

    const logDirName = `${node.downwardApi["metadata.namespace"]}_${podName}_${podUid}`;
    const spec: PodSandboxSpec = {
      name: podName,
      namespace: node.downwardApi["metadata.namespace"]!,
      uid: podUid,
      logDirectory: join(containerd.criLogRoot, logDirName),
      hostNetwork: true, // no CNI on this machine (the manifest asks for the pod network)
      labels: template.metadata.labels ?? {},
    };
    const logDirectory = join(containerd.logRoot, logDirName);
    await mkdir(logDirectory, { recursive: true });
    pod = { podId: await cri.runPodSandbox(spec), logDirectory, spec, containers: [] };
    pods.push(pod);
  }, { timeout: 20 * 60_000 }); // without an install of this tarball cached, npm compiles better-sqlite3

  after(async () => {
    try {
      if (cri !== undefined && pods.length > 0) await stopAndRemoveAll(cri, pods);
    } finally {
      cri?.close();
      await containerd?.cleanup();
      if (work) await rm(work, { recursive: true, force: true });
    }
    console.log(`# DaemonSet scenario: ${timings.join(", ")}; total ${((Date.now() - started) / 1000).toFixed(1)} s`);
  });

  const shimManifest = (): ContainerManifest => template.spec.containers.find((c) => c.name === SHIM)!;
  const shimConfig = () => {
    const cm = node.configMaps.get("cri-logrotate-config")!;
    return loadConfig(["--config", "/etc/cri-logrotate/config.yaml"], sharedPlugin(), () => cm["config.yaml"]!).config;
  };
  const lockPath = () => join(node.hostPaths["/run/cri-logrotate"]!, LOCK_NAME);
  const podIp = () => node.downwardApi["status.podIP"]!;

  /** CreateContainer + StartContainer of one container of the template, as the kubelet builds it. */
  const startFromManifest = async (c: ContainerManifest, attempt: number): Promise<KubeletContainer & { id: string }> => {
    const built = await containerFromManifest(template.spec, c, volumes, node, attempt);
    await mkdir(join(pod.logDirectory, c.name), { recursive: true });
    const id = await cri!.createContainer(pod.podId, pod.spec, built.spec);
    pod.containers.push({ id, name: c.name, attempt, logPath: join(pod.logDirectory, built.spec.logPath.toString()) });
    await cri!.startContainer(id);
    return { ...built, id };
  };

  /** A busy pod beside the DaemonSet: writes a little more than containerLogMaxSize at once, then idles. */
  const burstWriter = async (name: string, index: number) => {
    const busy = await runPod(cri!, {
      namespace: "busy", name, uid: `b0b0b0b0-0000-4000-8000-${String(index).padStart(12, "0")}`,
      logRoot: containerd!.logRoot, criLogRoot: containerd!.criLogRoot,
    });
    pods.push(busy);
    const bytes = Math.ceil(maxSize * 1.1);
    const script = `line=$(head -c 1000 /dev/zero | tr '\\0' x); yes "$line" | head -c ${bytes}; exec sleep 2147483647`;
    return runContainer(cri!, busy, { name: "writer", command: ["/bin/sh", "-c", script] });
  };

  let shim0: KubeletContainer & { id: string };
  let writers: { id: string; logPath: string }[];

  test("the init container copies the rules module from the image to where Fluent Bit loads it", async () => {
    const init = template.spec.initContainers?.find((c) => c.name === "copy-filter");
    assert.ok(init, "the DaemonSet has the copy-filter init container");
    const started = await startFromManifest(init, 0);
    const status = await waitForExit(started.id, 60_000);
    assert.equal(status.exitCode, 0, await containerLogText(join(pod.logDirectory, "copy-filter", "0.log")));
    const copied = join(volumes.get("filter-module")!.hostPath, "cri-logrotate.wasm");
    assert.equal(sha256(readFileSync(copied)), sha256(readFileSync(join(image.installed.root, "build", "cri-logrotate.wasm"))));
    // Where Fluent Bit's wasm_path (in the DaemonSet's ConfigMap) finds it: the emptyDir at /opt/cri-logrotate.
    const fb = template.spec.containers.find((c) => c.name === "fluent-bit")!;
    const fbMount = fb.volumeMounts!.find((m) => m.name === "filter-module")!;
    assert.equal(`${fbMount.mountPath}/cri-logrotate.wasm`, IMAGE_WASM_PATH);
    assert.match(node.configMaps.get("fluent-bit-config")!["fluent-bit.yaml"]!, new RegExp(`wasm_path: ${IMAGE_WASM_PATH}`));
  });

  test("beside busy pods, it rotates past containerLogMaxSize, compresses what Fluent Bit read, holds the rest", async () => {
    writers = [await burstWriter("burst-a", 1), await burstWriter("burst-b", 2)];
    const [a, b] = writers.map((w) => dirname(w.logPath)) as [string, string];
    // Files the kubelet rotated before the hand-over (root's, 0640, as the runtime makes them) and the
    // in_tail DB of a Fluent Bit that read burst-a's to the end: those may be compressed, burst-b's not.
    plantRotated(a, "0.log.20250101-000000");
    plantRotated(a, "0.log.20250101-000001");
    plantRotated(b, "0.log.20250101-000000");
    plantRotated(b, "0.log.20250101-000000.tmp"); // left by an interrupted compression: removed whatever was read
    const criDir = (hostDir: string) => containerd!.criLogRoot + hostDir.slice(containerd!.logRoot.length);
    writeInTailDb([a].flatMap((dir) => ["0.log.20250101-000000", "0.log.20250101-000001"].map((n) => ({ hostPath: join(dir, n), name: `${criDir(dir)}/${n}` }))));

    shim0 = await timed("attempt 0 start", () => startFromManifest(shimManifest(), 0));
    const log = new ContainerJsonLog(join(pod.logDirectory, SHIM, "0.log"));
    await log.waitFor((e) => e.msg === "serving metrics", "serving metrics", 60_000);
    for (const w of writers) {
      await timed(`rotation of ${w.id.slice(0, 8)}`, () => log.waitFor((e) => e.msg === "rotated container log" && e.containerId === w.id, `a rotation of ${w.id}`, 180_000));
    }
    const stamp = /^0\.log\.\d{8}-\d{6}$/;
    const planted = (files: string[]) => files.filter((n) => !stamp.test(n) || n.startsWith("0.log.2025"));
    // Compression may finish after the rotation (it never holds a rotation up): wait for the listing.
    const aFiles = await eventually(async () => {
      const files = (await listLogFiles(a)).all;
      assert.deepEqual(planted(files), ["0.log", "0.log.20250101-000000.gz", "0.log.20250101-000001.gz"]);
      return files;
    }, 60_000);
    const bFiles = (await listLogFiles(b)).all;
    assert.deepEqual(planted(bFiles), ["0.log", "0.log.20250101-000000"], "unread: held, not compressed");
    for (const [dir, files] of [[a, aFiles], [b, bFiles]] as const) {
      const fresh = files.filter((n) => stamp.test(n) && !n.startsWith("0.log.2025"));
      assert.equal(fresh.length, 1, `one rotation in ${dir}: ${files.join(", ")}`);
      assert.ok(statSync(join(dir, fresh[0]!)).size >= maxSize, "the rotated file holds the burst");
    }
    // gzip kept the mode of the file it replaced (chmod of a file the shim owns needs no capability).
    assert.equal(statSync(join(a, "0.log.20250101-000000.gz")).mode & 0o7777, 0o640);
    // No step failed: uid 0 without any capability may do all it does.
    assert.deepEqual(log.entries().filter((e) => e.level === "error" || e.level === "warn"), []);
  });

  test("its probes and Prometheus reach /healthz and /metrics on the pod IP", async () => {
    const c = await containerFromManifest(template.spec, shimManifest(), volumes, node, 0); // the probes, resolved
    for (const probe of [c.livenessProbe, c.readinessProbe]) {
      assert.ok(probe, "an httpGet probe");
      const res = await fetch(`http://${podIp()}:${probe.port}${probe.path}`);
      assert.equal(res.status, 200);
      assert.equal(await res.text(), "ok\n");
    }
    // Where the pod's scrape annotations point (the PodMonitor names the same port).
    const ann = template.metadata.annotations ?? {};
    assert.equal(ann["prometheus.io/scrape"], "true");
    const metricsPort = shimManifest().ports!.find((p) => p.name === "metrics")!.containerPort;
    assert.equal(Number(ann["prometheus.io/port"]), metricsPort);
    const res = await fetch(`http://${podIp()}:${metricsPort}${ann["prometheus.io/path"]}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    const text = await res.text();
    assert.ok(metricValue(text, "cri_logrotate_rotations_total") >= writers.length, text);
    assert.equal(metricValue(text, "cri_logrotate_compressions_total"), 2);
    assert.equal(metricValue(text, 'cri_logrotate_removals_total{reason="unused-tmp"}'), 1);
    // burst-b's planted file is unread (no source covers it): every pass holds it.
    const shimLog = new ContainerJsonLog(join(pod.logDirectory, SHIM, "0.log"));
    const passes = () => shimLog.entries().filter((e) => /pass|held|hold|progress/.test(String(e.msg))).slice(-20).map((e) => JSON.stringify(e)).join("\n");
    assert.ok(metricValue(text, "cri_logrotate_held_files") >= 1, `held_files in\n${text}\nshim log:\n${passes()}\nb: ${(await listLogFiles(dirname(writers[1]!.logPath))).all.join(", ")}`);
    assert.equal(metricValue(text, "cri_logrotate_runtime_up"), 1);
    for (const [series, v] of metricSeries(text, "cri_logrotate_errors_total")) assert.equal(v, 0, series);
    assert.equal(metricSeries(text, "cri_logrotate_unread_bytes_dropped_total").length, 3, "a 0 series per limit");
    assert.ok(metricValue(text, "process_resident_memory_bytes") > 0, "process metrics");
    assert.match(text, /^nodejs_version_info\{/m);
  });

  test("the runtime applied the securityContext: pid 1, uid 0, no capability, no_new_privs, read-only root", async () => {
    const pid = hostPidOf(shim0.id);
    const status = procStatus(pid);
    assert.equal(status.NSpid?.split(/\s+/).at(-1), "1", "the shim is PID 1 of its pid namespace");
    assert.deepEqual(status.Uid?.split(/\s+/), ["0", "0", "0", "0"]);
    assert.deepEqual(status.Gid?.split(/\s+/), ["0", "0", "0", "0"]);
    for (const set of ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"]) assert.equal(status[set], "0000000000000000", set);
    assert.equal(status.NoNewPrivs, "1");
    const root = readFileSync(`/proc/${pid}/mountinfo`, "utf8").split("\n").find((l) => l.split(" ")[4] === "/");
    assert.ok(root && root.split(" ")[5]!.split(",").includes("ro"), `root mount: ${root}`);
    // The entrypoint of the image and the args of the manifest, $(POD_IP) expanded.
    const argv = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    assert.deepEqual(argv.slice(1), ["/usr/local/bin/cri-logrotate", "run", "--config", "/etc/cri-logrotate/config.yaml", "--metrics-address", `${podIp()}:9787`]);
    assert.equal(readFileSync(lockPath(), "utf8"), "1\n", "the lock names pid 1");
  });

  test("a crash leaves its lock; the next container attempt in the same sandbox takes it over and rotates", async () => {
    const stale = statSync(lockPath());
    await cri!.stopContainer(shim0.id, 0); // timeout 0: SIGKILL, as an OOM kill or a node hiccup would
    assert.equal((await cri!.containerStatus(shim0.id)).exitCode, 137);
    assert.equal(readFileSync(lockPath(), "utf8"), "1\n", "a killed shim cannot release its lock");

    const shim1 = await timed("attempt 1 start", () => startFromManifest(shimManifest(), 1));
    const log = new ContainerJsonLog(join(pod.logDirectory, SHIM, "1.log"));
    await log.waitFor((e) => e.msg === "serving metrics", "serving metrics after the restart", 60_000);
    const taken = statSync(lockPath());
    assert.ok(taken.ino !== stale.ino || taken.ctimeMs > stale.ctimeMs, "a new lock file"); // the inode may be reused
    assert.equal(readFileSync(lockPath(), "utf8"), "1\n");

    const third = await burstWriter("burst-c", 3);
    await timed("rotation after restart", () => log.waitFor((e) => e.msg === "rotated container log" && e.containerId === third.id, "a rotation by the new attempt", 180_000));
    assert.equal((await fetch(`http://${podIp()}:9787/healthz`)).status, 200);

    // SIGTERM to PID 1, with the manifest's grace period: the pass in flight finishes, exit 0, lock released.
    const grace = template.spec.terminationGracePeriodSeconds ?? 30;
    await timed("SIGTERM stop", () => cri!.stopContainer(shim1.id, grace));
    const stopped = await cri!.containerStatus(shim1.id);
    assert.equal(stopped.state, "CONTAINER_EXITED");
    assert.equal(stopped.exitCode, 0, `${await containerLogText(join(pod.logDirectory, SHIM, "1.log"))}\n${(await readContainerdLog(containerd!)).slice(-2000)}`);
    assert.ok(log.entries().some((e) => e.msg === "stopped"), "it logged its orderly stop");
    assert.equal(existsSync(lockPath()), false, "the lock is released");
    assert.deepEqual(log.entries().filter((e) => e.level === "error" || e.level === "warn"), []);
  });

  // ---- helpers ----

  function plantRotated(dir: string, name: string): void {
    const lines = Array.from({ length: 50 }, (_, i) => `2025-01-01T00:00:00.000000000Z stdout F before the hand-over ${i}\n`).join("");
    writeFileSync(join(dir, name), lines, { mode: 0o640 });
  }

  /** Fluent Bit's in_tail DB as Fluent Bit would leave it: each file read to its end, by the path it sees. */
  function writeInTailDb(files: { hostPath: string; name: string }[]): void {
    const cm = node.configMaps.get("cri-logrotate-config")!;
    const dbPath = (parseYaml(cm["config.yaml"]!) as { progress: { inTailDb: string } }).progress.inTailDb;
    assert.equal(dirname(dbPath), "/var/lib/fluent-bit", "the DB is in the fluent-bit-state hostPath");
    const db = new Database(join(node.localPath(node.hostPaths["/var/lib/fluent-bit"]!), basename(dbPath)));
    try {
      db.exec(INTAIL_SCHEMA);
      const insert = db.prepare("INSERT INTO in_tail_files (name, offset, inode, created, rotated) VALUES (?, ?, ?, ?, 1)");
      for (const f of files) {
        const st = statSync(f.hostPath);
        insert.run(f.name, st.size, st.ino, Math.floor(Date.now() / 1000));
      }
    } finally {
      db.close();
    }
  }

  async function waitForExit(id: string, timeoutMs: number) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await cri!.containerStatus(id);
      if (s.state === "CONTAINER_EXITED") return s;
      if (Date.now() > deadline) throw new Error(`container ${id} still ${s.state} after ${timeoutMs} ms`);
      await sleep(100);
    }
  }
});

/** The shim's JSON log lines, read from its CRI log file (what `kubectl logs` shows). */
class ContainerJsonLog {
  constructor(private readonly path: string) {}

  entries(): Record<string, unknown>[] {
    let text: string;
    try {
      text = readFileSync(this.path, "utf8");
    } catch {
      return [];
    }
    return joinPartials(parseCriText(text, this.path)).filter((l) => l.tag === "F").flatMap((l) => {
      try {
        return [JSON.parse(l.content) as Record<string, unknown>];
      } catch {
        return [{ level: "raw", msg: l.content }];
      }
    });
  }

  async waitFor(pred: (e: Record<string, unknown>) => boolean, what: string, timeoutMs: number): Promise<Record<string, unknown>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.entries().find(pred);
      if (found) return found;
      if (Date.now() > deadline) {
        throw new Error(`timed out after ${timeoutMs} ms waiting for the shim to log ${what}\n${this.entries().slice(-15).map((e) => JSON.stringify(e)).join("\n")}`);
      }
      await sleep(200);
    }
  }
}

async function containerLogText(path: string): Promise<string> {
  return readFile(path, "utf8").catch(() => `(no log at ${path})`);
}

/** The host pid of a container's init process: the process whose cgroup path names the container id. */
function hostPidOf(containerId: string): number {
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (!readFileSync(`/proc/${entry}/cgroup`, "utf8").includes(containerId)) continue;
      const status = procStatus(Number(entry));
      if (status.NSpid?.split(/\s+/).at(-1) === "1") return Number(entry);
    } catch {
      // exited meanwhile
    }
  }
  throw new Error(`no process of container ${containerId}`);
}

function procStatus(pid: number): Record<string, string> {
  return Object.fromEntries(readFileSync(`/proc/${pid}/status`, "utf8").split("\n").filter(Boolean).map((l) => {
    const i = l.indexOf(":");
    return [l.slice(0, i), l.slice(i + 1).trim()];
  }));
}

/** Every series of a metric family in the text format: [series, value]. */
function metricSeries(text: string, name: string): [string, number][] {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return [...text.matchAll(new RegExp(`^(${escaped}(?:\\{[^}]*\\})?) (\\S+)$`, "gm"))].map((m) => [m[1]!, Number(m[2])]);
}

function metricValue(text: string, name: string): number {
  const s = metricSeries(text, name);
  assert.equal(s.length, 1, `${name}: ${s.length} series`);
  return s[0]![1];
}

/** A 127.x.y.z address nobody on this host listens on at `port`: the emulated pod IP. */
async function freeLoopbackAddress(port: number): Promise<string> {
  for (let i = 0; i < 20; i++) {
    const b = randomBytes(3);
    const address = `127.${1 + (b[0]! % 254)}.${b[1]! % 255}.${1 + (b[2]! % 254)}`;
    const free = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once("error", () => resolve(false));
      s.listen(port, address, () => s.close(() => resolve(true)));
    });
    if (free) return address;
  }
  throw new Error(`no free loopback address for port ${port}`);
}

/** Retries `check` until it passes or `timeoutMs` is over (then its last failure is thrown). */
async function eventually<T>(check: () => Promise<T>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(250);
    }
  }
}

function sha256(b: Buffer): string {
  return createHash("sha256").update(b).digest("hex");
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
