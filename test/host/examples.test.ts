// The files in examples/ are what users copy: every YAML parses, the shim's config (the file and the copy
// in the DaemonSet's ConfigMap) loads through loadConfig with the real rules module, and the Fluent Bit
// configs, the filter's config and the shim's config agree on the paths and keys that tie them together.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { loadConfig } from "../../host/config/index.js";
import { repoFile } from "../support/repo.js";
import { defaultWasmPath, FILTER_EXPORT } from "../support/fluentbit-harness.js";
import { sharedPlugin } from "../support/harness.js";
import { containerfileFinalStage, IMAGE_WASM_PATH } from "../support/containerfile.js";

/** The image name users replace (docs/operations.md, "Image"). */
const IMAGE_PLACEHOLDER = "registry.example.com/cri-logrotate";

const examples = repoFile("examples");
const read = (rel: string) => readFileSync(join(examples, rel), "utf8");

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [join(dir, n)]));
}

/** Fluent Bit's classic format: [SECTION] headers, `Key Value` lines, `#` comments. Keys lower-cased. */
function parseClassic(text: string): { section: string; props: Record<string, string> }[] {
  const out: { section: string; props: Record<string, string> }[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const header = /^\[([A-Z]+)\]$/.exec(line);
    if (header) {
      out.push({ section: header[1]!, props: {} });
      continue;
    }
    const kv = /^(\S+)\s+(.+)$/.exec(line);
    assert.ok(kv && out.length > 0, `classic config line not understood: ${JSON.stringify(raw)}`);
    out[out.length - 1]!.props[kv[1]!.toLowerCase()] = kv[2]!;
  }
  return out;
}

/** The filter's key=value file (docs/abi.md, "Configuration file"). */
function parseFilterConf(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const eq = line.indexOf("=");
    assert.ok(eq > 0, `filter config line without "=": ${raw}`);
    out[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  return out;
}

function loadShimConfig(yamlText: string) {
  return loadConfig(["--config", "/etc/cri-logrotate/config.yaml"], sharedPlugin(), () => yamlText).config;
}

test("every YAML example parses", () => {
  const files = walk(examples).filter((f) => /\.ya?ml$/.test(f));
  assert.ok(files.length >= 3, `found ${files.map((f) => relative(examples, f))}`);
  for (const f of files) {
    const docs = parseAllDocuments(readFileSync(f, "utf8"));
    for (const d of docs) assert.deepEqual(d.errors, [], `${relative(examples, f)}: ${d.errors.map((e) => e.message).join("; ")}`);
  }
});

test("examples/cri-logrotate/config.yaml is a valid shipper-aware config", () => {
  const config = loadShimConfig(read("cri-logrotate/config.yaml"));
  assert.equal(config.logRoot, "/var/log/pods");
  assert.equal(config.runtimeEndpoint, "unix:///run/containerd/containerd.sock");
  assert.equal(config.progress.fluentBitProgressFile, "/var/lib/cri-logrotate/cri-logrotate-progress");
  assert.equal(config.progress.inTailDb, "/var/lib/fluent-bit/tail.db");
  assert.ok(config.progress.maxUnreadBytesPerContainer! > 0);
  assert.ok(config.progress.holdTimeoutSeconds! > 0);
  assert.ok(config.progress.logRootBudget! > config.progress.maxUnreadBytesPerContainer!);
});

test("the Fluent Bit configs, the filter's config and the shim's config agree", () => {
  const shim = loadShimConfig(read("cri-logrotate/config.yaml"));
  const filterConf = parseFilterConf(read("fluent-bit/cri-logrotate-filter.conf"));
  assert.deepEqual(Object.keys(filterConf).sort(), ["drop_duplicates", "flush_records", "flush_seconds", "heartbeat_tag", "offset_key", "path_key", "progress_file"]);

  const classic = parseClassic(read("fluent-bit/fluent-bit.conf"));
  const yaml = parse(read("fluent-bit/fluent-bit.yaml"));
  const tails = [classic.find((s) => s.section === "INPUT")!.props, yaml.pipeline.inputs[0]];
  const heartbeats = [classic.find((s) => s.section === "INPUT" && s.props.name === "dummy")!.props, yaml.pipeline.inputs.find((i: { name: string }) => i.name === "dummy")];
  const wasms = [classic.find((s) => s.section === "FILTER" && s.props.name === "wasm")!.props, yaml.pipeline.filters.find((f: { name: string }) => f.name === "wasm")];
  for (const [i, tail] of tails.entries()) {
    const which = i === 0 ? "fluent-bit.conf" : "fluent-bit.yaml";
    assert.equal(tail.name, "tail", which);
    assert.equal(tail.path, "/var/log/pods/*/*/*.log*", which);
    assert.equal(tail.exclude_path, "*.gz,*.tmp", which);
    assert.equal(tail["multiline.parser"], "cri", which);
    assert.equal(tail.path_key, filterConf.path_key, which);
    assert.equal(tail.offset_key, filterConf.offset_key, which);
    assert.equal(tail.db, shim.progress.inTailDb, which);
    assert.match(String(tail.read_from_head), /^(On|true)$/, which);
    assert.ok(Number(tail.refresh_interval) > 0, which);
    // in_tail forgets a rotated file Rotate_Wait after noticing the rotation and reads it again from the
    // head: it must outlast the longest the shim holds a file.
    assert.ok(Number(tail.rotate_wait) > shim.progress.holdTimeoutSeconds!, `${which}: rotate_wait ${tail.rotate_wait} <= holdTimeout ${shim.progress.holdTimeoutSeconds}`);
    const wasm = wasms[i];
    // One filter instance sees both the logs (the tail input's tags) and the heartbeat, which it drops.
    assert.equal(heartbeats[i].tag, filterConf.heartbeat_tag, which);
    const match = new RegExp(String(wasm.match_regex));
    assert.ok(match.test("kube.var.log.pods.ns_pod_uid.app.0.log") && match.test(filterConf.heartbeat_tag!), `${which}: ${wasm.match_regex}`);
    assert.equal(wasm.function_name, FILTER_EXPORT, which);
    assert.equal(wasm.event_format, "json", which);
    assert.ok(wasm.wasm_heap_size, which);
    // The filter writes into its first Accessible_Paths directory; the shim must read that very file.
    assert.equal(`${String(wasm.accessible_paths).split(",")[0]}/${filterConf.progress_file}`, shim.progress.fluentBitProgressFile, which);
  }
  // The export the configs name is in the module.
  const module = new WebAssembly.Module(readFileSync(defaultWasmPath()));
  assert.ok(WebAssembly.Module.exports(module).some((e) => e.name === FILTER_EXPORT && e.kind === "function"));
});

test("the DaemonSet carries the same configs and mounts what each container needs", () => {
  const docs = parseAllDocuments(read("kubernetes/daemonset.yaml")).map((d) => d.toJS());
  const byKind = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata.name === name);
  const shimCm = byKind("ConfigMap", "cri-logrotate-config");
  const fbCm = byKind("ConfigMap", "fluent-bit-config");
  const ds = docs.find((d) => d.kind === "DaemonSet");
  assert.ok(shimCm && fbCm && ds);

  // The embedded shim config is the example file's settings and loads.
  assert.deepEqual(loadShimConfig(shimCm.data["config.yaml"]), loadShimConfig(read("cri-logrotate/config.yaml")));
  assert.deepEqual(parse(fbCm.data["fluent-bit.yaml"]).pipeline.inputs, parse(read("fluent-bit/fluent-bit.yaml")).pipeline.inputs);
  const wasmOf = (pipeline: { filters: { name: string }[] }) => pipeline.filters.find((f) => f.name === "wasm");
  assert.deepEqual(wasmOf(parse(fbCm.data["fluent-bit.yaml"]).pipeline), wasmOf(parse(read("fluent-bit/fluent-bit.yaml")).pipeline));
  assert.deepEqual(parseFilterConf(fbCm.data["cri-logrotate-filter.conf"]), parseFilterConf(read("fluent-bit/cri-logrotate-filter.conf")));

  const spec = ds.spec.template.spec;
  const volumes = Object.fromEntries(spec.volumes.map((v: { name: string }) => [v.name, v]));
  const container = (name: string) => spec.containers.find((c: { name: string }) => c.name === name);
  type Mount = { mountPath: string; name: string; readOnly?: boolean };
  const mountOf = (c: { volumeMounts: Mount[] }, path: string): Mount => {
    const m = c.volumeMounts.find((v) => v.mountPath === path);
    assert.ok(m, `no mount at ${path}`);
    return m;
  };
  const shim = container("cri-logrotate");
  const fb = container("fluent-bit");

  // The progress directory must exist before Fluent Bit starts (Accessible_Paths is preopened).
  assert.equal(volumes.progress.hostPath.type, "DirectoryOrCreate");
  assert.equal(mountOf(fb, "/var/lib/cri-logrotate").name, "progress");
  assert.equal(mountOf(shim, "/var/lib/cri-logrotate").name, "progress");
  assert.equal(mountOf(shim, "/var/log/pods").readOnly, undefined, "the shim rotates: /var/log/pods rw");
  assert.equal(mountOf(fb, "/var/log/pods").readOnly, true);
  assert.equal(volumes[mountOf(shim, "/run/containerd/containerd.sock").name].hostPath.type, "Socket");
  assert.equal(mountOf(shim, "/var/lib/fluent-bit").name, mountOf(fb, "/var/lib/fluent-bit").name);

  // Root for the socket and the files (all root's), and nothing more: no capability, no privilege.
  for (const c of [shim, ...spec.initContainers]) {
    assert.equal(c.securityContext.runAsUser, 0, c.name);
    assert.equal(c.securityContext.allowPrivilegeEscalation, false, c.name);
    assert.equal(c.securityContext.readOnlyRootFilesystem, true, c.name);
    assert.deepEqual(c.securityContext.capabilities, { drop: ["ALL"] }, c.name);
    assert.equal(c.securityContext.privileged ?? false, false, c.name);
  }
  assert.equal(spec.hostNetwork, undefined);

  // State outside the log root: the lock's directory is a hostPath of its own; no mount below /var/log/pods.
  assert.equal(volumes[mountOf(shim, "/run/cri-logrotate").name].hostPath.path, "/run/cri-logrotate");
  assert.equal(volumes[mountOf(shim, "/run/cri-logrotate").name].hostPath.type, "DirectoryOrCreate");
  const shimConfig = loadShimConfig(shimCm.data["config.yaml"]);
  assert.equal(shimConfig.lockFile, "/run/cri-logrotate/cri-logrotate.lock");
  for (const v of spec.volumes.filter((v: { hostPath?: unknown }) => v.hostPath)) {
    assert.ok(!v.hostPath.path.startsWith("/var/log/pods/"), `${v.name}: nothing of ours inside the log root`);
  }

  // Metrics on the pod IP (Prometheus scrapes it; the kubelet's httpGet probes go to it), port "metrics".
  const port = shim.ports.find((p: { name: string }) => p.name === "metrics");
  assert.deepEqual(shim.env, [{ name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } }]);
  assert.deepEqual(shim.args.slice(-2), ["--metrics-address", `$(POD_IP):${port.containerPort}`]);
  assert.deepEqual(shim.args.slice(0, 3), ["run", "--config", `${mountOf(shim, "/etc/cri-logrotate").mountPath}/config.yaml`]);
  for (const probe of [shim.livenessProbe, shim.readinessProbe]) assert.deepEqual(probe.httpGet, { path: "/healthz", port: "metrics" });
  const annotations = ds.spec.template.metadata.annotations;
  assert.deepEqual(annotations, { "prometheus.io/scrape": "true", "prometheus.io/port": String(port.containerPort), "prometheus.io/path": "/metrics" });
  const podMonitor = parse(read("kubernetes/podmonitor.yaml"));
  assert.equal(podMonitor.kind, "PodMonitor");
  assert.equal(podMonitor.metadata.namespace, ds.metadata.namespace);
  assert.deepEqual(podMonitor.spec.selector.matchLabels, ds.spec.template.metadata.labels);
  assert.deepEqual(podMonitor.spec.podMetricsEndpoints.map((e: { port: string; path: string }) => [e.port, e.path]), [["metrics", "/metrics"]]);

  // One pod per node at a time: the lock cannot tell two pods apart.
  assert.deepEqual(ds.spec.updateStrategy, { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 1, maxSurge: 0 } });

  // The module Fluent Bit loads is the one in the shim's image, copied where wasm_path points.
  const init = spec.initContainers.find((c: { name: string }) => c.name === "copy-filter");
  const fbWasm = parse(fbCm.data["fluent-bit.yaml"]).pipeline.filters.find((f: { name: string }) => f.name === "wasm").wasm_path;
  assert.equal(init.command[1], IMAGE_WASM_PATH);
  assert.equal(`${mountOf(fb, dirname(fbWasm)).name}`, init.volumeMounts[0].name);
  assert.equal(fbWasm, IMAGE_WASM_PATH);
});

test("one image name everywhere, tagged with the package's version", () => {
  const version = JSON.parse(readFileSync(repoFile("package.json"), "utf8")).version;
  const expected = `${IMAGE_PLACEHOLDER}:${version}`;
  const ds = parseAllDocuments(read("kubernetes/daemonset.yaml")).map((d) => d.toJS()).find((d) => d.kind === "DaemonSet");
  const images = [...ds.spec.template.spec.initContainers, ...ds.spec.template.spec.containers]
    .filter((c: { name: string }) => c.name !== "fluent-bit")
    .map((c: { image: string }) => c.image);
  assert.deepEqual(images, [expected, expected]);
  // Every mention of the placeholder in the docs and the Containerfile carries the same name and version.
  for (const file of ["README.md", "docs/operations.md", "Containerfile", "examples/kubernetes/daemonset.yaml"]) {
    const text = readFileSync(repoFile(file), "utf8");
    const mentions = [...text.matchAll(/registry\.example\.com\/[^\s"'`)]+/g)].map((m) => m[0]);
    assert.ok(mentions.length > 0, `${file} names the image`);
    for (const m of mentions) assert.equal(m, expected, file);
  }
});

test("Containerfile: the package on Node.js 20, the module where Fluent Bit loads it, the command as entrypoint", () => {
  const text = readFileSync(repoFile("Containerfile"), "utf8");
  assert.match(text, /^ARG NODE_IMAGE=node:20-bookworm-slim$/m);
  assert.ok(text.includes(IMAGE_WASM_PATH));
  const stage = containerfileFinalStage(text);
  assert.deepEqual(stage.entrypoint, ["/usr/local/bin/cri-logrotate"]);
  assert.deepEqual(stage.cmd, ["run", "--config", "/etc/cri-logrotate/config.yaml"]);
  assert.equal(stage.user, "0:0");
});

test("the systemd unit runs the command npm install -g puts in /usr/local/bin, with the lock's directory and no capability", () => {
  const unit = read("systemd/cri-logrotate.service");
  const keys = new Map<string, string>();
  for (const line of unit.split("\n")) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m) keys.set(m[1]!, m[2]!);
  }
  const pkg = JSON.parse(readFileSync(repoFile("package.json"), "utf8"));
  assert.deepEqual(Object.keys(pkg.bin), ["cri-logrotate"]);
  assert.equal(keys.get("ExecStart"), "/usr/local/bin/cri-logrotate run --config /etc/cri-logrotate/config.yaml");
  const config = loadShimConfig(read("cri-logrotate/config.yaml"));
  assert.equal(`/run/${keys.get("RuntimeDirectory")}`, dirname(config.lockFile));
  assert.equal(`/var/lib/${keys.get("StateDirectory")}`, dirname(config.progress.fluentBitProgressFile!));
  assert.equal(keys.get("User"), "root");
  assert.equal(keys.get("CapabilityBoundingSet"), "");
  assert.equal(keys.get("NoNewPrivileges"), "yes");
  // The same V8 sizing as the image (what bench:rss measures).
  const imageNodeOptions = containerfileFinalStage(readFileSync(repoFile("Containerfile"), "utf8")).env.find((kv) => kv.startsWith("NODE_OPTIONS="));
  assert.ok(imageNodeOptions !== undefined, "the image sets NODE_OPTIONS");
  assert.equal(keys.get("Environment"), `"${imageNodeOptions}"`);
  // The paths its comments tell the operator to copy from are in the package.
  for (const m of unit.matchAll(/\/usr\/local\/lib\/node_modules\/cri-logrotate\/(\S+)/g)) assert.ok(existsSync(repoFile(m[1]!)), m[1]);
});

// Each shipper's example and the shim's config beside it: the config loads, and the position file it
// reads is the one the shipper's config writes.
const shipperExamples: Record<string, () => void> = {
  vector: () => {
    const vector = parse(read("vector/vector.yaml"));
    const [id, source] = Object.entries(vector.sources as Record<string, { type: string; exclude_paths_glob_patterns: string[]; fingerprint_lines: number; max_line_bytes: number }>)[0]!;
    assert.equal(source.type, "kubernetes_logs");
    assert.deepEqual(source.exclude_paths_glob_patterns, ["**/*.gz", "**/*.tmp"]);
    assert.equal(source.fingerprint_lines, 1, "the shim fingerprints the first line");
    assert.equal(source.max_line_bytes, 32768, "…up to 32 KiB");
    assert.equal(loadShimConfig(read("vector/cri-logrotate.yaml")).progress.vectorCheckpoints, `${vector.data_dir}/${id}/checkpoints.json`);
  },
  fluentd: () => {
    const conf = read("fluentd/fluent.conf");
    const value = (key: string) => new RegExp(`^\\s*${key}\\s+(.+)$`, "m").exec(conf)?.[1]?.trim();
    assert.equal(value("path"), "/var/log/pods/*/*/*.log*");
    assert.equal(value("follow_inodes"), "true");
    assert.match(value("exclude_path")!, /\*\.gz.*\*\.tmp/);
    assert.equal(loadShimConfig(read("fluentd/cri-logrotate.yaml")).progress.fluentdPosFile, value("pos_file"));
  },
  "otel-collector": () => {
    const collector = parse(read("otel-collector/collector.yaml"));
    assert.deepEqual(collector.receivers.filelog.include, ["/var/log/pods/*/*/*.log*"]);
    assert.equal(collector.receivers.filelog.storage, "file_storage");
    const directory = collector.extensions.file_storage.directory;
    assert.ok(collector.service.extensions.includes("file_storage"));
    // The receiver is unnamed ("filelog"): its file is receiver_filelog_ with the trailing underscore.
    assert.ok("filelog" in collector.receivers);
    assert.equal(loadShimConfig(read("otel-collector/cri-logrotate.yaml")).progress.otelFileStorage, `${directory}/receiver_filelog_`);
  },
  alloy: () => {
    const alloy = read("alloy/config.alloy");
    const label = /loki\.source\.file "([^"]+)"/.exec(alloy)![1]!;
    const storage = /--storage\.path=([^\s:]+)/.exec(alloy)![1]!;
    assert.match(alloy, /"__path__" = "\/var\/log\/pods\/\*\/\*\/\*\.log"/, "the live logs only");
    assert.equal(loadShimConfig(read("alloy/cri-logrotate.yaml")).progress.alloyPositions, `${storage}/loki.source.file.${label}/positions.yml`);
  },
  promtail: () => {
    const promtail = parse(read("promtail/promtail.yaml"));
    assert.equal(promtail.scrape_configs[0].static_configs[0].labels.__path__, "/var/log/pods/*/*/*.log", "the live logs only");
    assert.equal(loadShimConfig(read("promtail/cri-logrotate.yaml")).progress.promtailPositions, promtail.positions.filename);
  },
};
for (const [name, check] of Object.entries(shipperExamples)) test(`examples/${name}: the shipper's config and the shim's agree`, check);
