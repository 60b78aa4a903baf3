// The files in examples/ are what users copy: every YAML parses, the shim's config (the file and the copy
// in the DaemonSet's ConfigMap) loads through loadConfig with the real rules module, and the Fluent Bit
// configs, the filter's config and the shim's config agree on the paths and keys that tie them together.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import { readFileSync, readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import { loadConfig } from "../../host/config/index.js";
import { repoFile } from "../support/repo.js";
import { defaultWasmPath, FILTER_EXPORT } from "../support/fluentbit-harness.js";
import { sharedPlugin } from "../support/harness.js";

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

  // Not privileged; root for the socket and the files; the probe reaches the loopback-only /healthz.
  assert.equal(shim.securityContext.privileged, false);
  assert.equal(shim.securityContext.runAsUser, 0);
  assert.equal(spec.hostNetwork, undefined);
  assert.ok(shim.livenessProbe.exec.command.join(" ").includes("http://127.0.0.1:9787/healthz"));
  assert.equal(loadShimConfig(shimCm.data["config.yaml"]).metricsAddress, "127.0.0.1:9787");
});
