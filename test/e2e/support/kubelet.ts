// What the kubelet does with a pod template before it calls CreateContainer, for the few features our
// DaemonSet uses: env (literal values and downward-API fieldRefs), $(VAR) expansion of command and args,
// volumes (hostPath with its type checks, configMap written to disk and mounted read-only, emptyDir),
// volumeMounts with subPath, the container securityContext as kuberuntime converts it, the termination
// message file, and httpGet probes resolved to a port. Anything else in the manifest is refused, so the test
// cannot silently run something other than what the manifest says.
//
// Not emulated, and why: the pod network (no CNI here: the sandbox shares the host's network, so a port
// the pod binds is on the host), service-link env vars (no Services), the managed /etc/hosts (containerd
// mounts the host's for a host-network sandbox), resource limits (nothing here asserts them).
import { randomBytes } from "node:crypto";
import { chmod, mkdir, stat, writeFile } from "node:fs/promises";
import { dirname, join, normalize } from "node:path";
import { parseAllDocuments } from "yaml";
import type { ContainerSecurityContext, ContainerSpec, MountSpec } from "../../support/cri-admin.js";

// ---- the manifest ----------------------------------------------------------------------------------------

export interface Manifest {
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  [key: string]: unknown;
}

export interface PodTemplate {
  metadata: { labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: PodSpec;
}

export interface PodSpec {
  initContainers?: ContainerManifest[];
  containers: ContainerManifest[];
  volumes?: VolumeManifest[];
  hostNetwork?: boolean;
  terminationGracePeriodSeconds?: number;
  securityContext?: { runAsUser?: number; runAsGroup?: number };
  [key: string]: unknown;
}

export interface ContainerManifest {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  workingDir?: string;
  env?: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } & Record<string, unknown> }[];
  envFrom?: unknown[];
  ports?: { name?: string; containerPort: number; protocol?: string }[];
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean; subPath?: string }[];
  securityContext?: {
    runAsUser?: number;
    runAsGroup?: number;
    privileged?: boolean;
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    capabilities?: { add?: string[]; drop?: string[] };
  };
  livenessProbe?: ProbeManifest;
  readinessProbe?: ProbeManifest;
  terminationMessagePath?: string;
  [key: string]: unknown;
}

export interface ProbeManifest {
  httpGet?: { path?: string; port: number | string; scheme?: string; host?: string };
  exec?: unknown;
  [key: string]: unknown;
}

export interface VolumeManifest {
  name: string;
  hostPath?: { path: string; type?: string };
  configMap?: { name: string; items?: { key: string; path: string }[]; defaultMode?: number };
  emptyDir?: Record<string, unknown>;
}

/** Every document of a multi-document YAML file, parse errors refused. */
export function readManifests(text: string): Manifest[] {
  return parseAllDocuments(text).map((doc, i) => {
    if (doc.errors.length > 0) throw new Error(`YAML document ${i + 1}: ${doc.errors.map((e) => e.message).join("; ")}`);
    return doc.toJS() as Manifest;
  }).filter((m) => m !== null);
}

export function findManifest(manifests: Manifest[], kind: string, name?: string): Manifest {
  const found = manifests.filter((m) => m.kind === kind && (name === undefined || m.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? ` "${name}"` : ""} in the manifest, found ${found.length}`);
  return found[0]!;
}

// ---- $(VAR) expansion (k8s.io/kubernetes third_party/forked/golang/expansion) ----------------------------

/**
 * The kubelet's expansion of env values, command and args: `$(NAME)` becomes the variable's value when it is
 * defined and stays as written when not; `$$` is a literal `$` (so `$$(NAME)` stays `$(NAME)`); a `$` before
 * anything else is kept.
 */
export function expand(input: string, vars: ReadonlyMap<string, string>): string {
  let out = "";
  for (let i = 0; i < input.length; i++) {
    const c = input[i]!;
    if (c !== "$" || i + 1 >= input.length) {
      out += c;
      continue;
    }
    const next = input[i + 1]!;
    if (next === "$") {
      out += "$";
      i++;
    } else if (next === "(") {
      const close = input.indexOf(")", i + 2);
      if (close < 0) {
        out += input.slice(i); // unterminated: kept as written
        break;
      }
      const name = input.slice(i + 2, close);
      out += vars.has(name) ? vars.get(name)! : `$(${name})`;
      i = close;
    } else {
      out += c;
    }
  }
  return out;
}

// ---- volumes ---------------------------------------------------------------------------------------------

/** The node the pod lands on: where its host paths really are, and the downward API's answers. */
export interface Node {
  /** A hostPath in the manifest → the path on this machine as the runtime sees it (the test's temp dirs and sockets). */
  hostPaths: Record<string, string>;
  /** The runtime's path as the kubelet (this process) reaches it, for the hostPath type checks. */
  localPath: (runtimePath: string) => string;
  /** Where the kubelet keeps the pod's volumes (configMap contents, emptyDirs, termination logs). */
  podDir: string;
  /** fieldPath → value: status.podIP, spec.nodeName, metadata.name, … */
  downwardApi: Record<string, string>;
  /** ConfigMaps by name, as the API server would hand them to the kubelet. */
  configMaps: Map<string, Record<string, string>>;
}

export interface PreparedVolume {
  hostPath: string;
  /** configMap volumes are always mounted read-only. */
  readOnly: boolean;
}

/** Makes each volume exist on the node as the kubelet does before any container starts. */
export async function prepareVolumes(spec: PodSpec, node: Node): Promise<Map<string, PreparedVolume>> {
  const out = new Map<string, PreparedVolume>();
  for (const v of spec.volumes ?? []) {
    if (v.hostPath) {
      const real = node.hostPaths[v.hostPath.path];
      if (real === undefined) throw new Error(`volume "${v.name}": no host path given for ${v.hostPath.path}`);
      await checkHostPathType(v.name, node.localPath(real), v.hostPath.type ?? "");
      out.set(v.name, { hostPath: real, readOnly: false });
    } else if (v.configMap) {
      const data = node.configMaps.get(v.configMap.name);
      if (data === undefined) throw new Error(`volume "${v.name}": no ConfigMap "${v.configMap.name}" in the manifest`);
      const dir = join(node.podDir, "volumes", "configmap", v.name);
      await mkdir(dir, { recursive: true });
      const items = v.configMap.items ?? Object.keys(data).map((key) => ({ key, path: key }));
      for (const { key, path } of items) {
        if (!(key in data)) throw new Error(`volume "${v.name}": ConfigMap "${v.configMap.name}" has no key "${key}"`);
        const file = join(dir, path);
        await mkdir(dirname(file), { recursive: true });
        await writeFile(file, data[key]!);
        await chmod(file, v.configMap.defaultMode ?? 0o644);
      }
      out.set(v.name, { hostPath: dir, readOnly: true });
    } else if (v.emptyDir) {
      const dir = join(node.podDir, "volumes", "empty-dir", v.name);
      await mkdir(dir, { recursive: true });
      await chmod(dir, 0o777); // the kubelet's emptyDir mode
      out.set(v.name, { hostPath: dir, readOnly: false });
    } else {
      throw new Error(`volume "${v.name}": only hostPath, configMap and emptyDir are emulated`);
    }
  }
  return out;
}

// pkg/volume/hostpath: the type checks the kubelet makes before mounting.
async function checkHostPathType(volume: string, path: string, type: string): Promise<void> {
  const st = await stat(path).catch(() => undefined);
  const fail = (what: string) => new Error(`volume "${volume}": hostPath type check failed: ${path} ${what}`);
  switch (type) {
    case "":
      return;
    case "DirectoryOrCreate":
      if (!st) await mkdir(path, { recursive: true, mode: 0o755 });
      else if (!st.isDirectory()) throw fail("is not a directory");
      return;
    case "Directory":
      if (!st?.isDirectory()) throw fail("is not a directory");
      return;
    case "Socket":
      if (!st?.isSocket()) throw fail("is not a socket file");
      return;
    case "FileOrCreate":
      if (!st) await writeFile(path, "", { mode: 0o644 });
      else if (!st.isFile()) throw fail("is not a file");
      return;
    case "File":
      if (!st?.isFile()) throw fail("is not a file");
      return;
    default:
      throw new Error(`volume "${volume}": hostPath type ${type} is not emulated`);
  }
}

// ---- containers ------------------------------------------------------------------------------------------

export interface ResolvedProbe {
  path: string;
  port: number;
  scheme: "HTTP";
}

export interface KubeletContainer {
  spec: ContainerSpec;
  env: Map<string, string>;
  livenessProbe?: ResolvedProbe;
  readinessProbe?: ResolvedProbe;
}

/** The CreateContainer request the kubelet builds from one container of the pod template. */
export async function containerFromManifest(
  pod: PodSpec,
  c: ContainerManifest,
  volumes: Map<string, PreparedVolume>,
  node: Node,
  attempt: number,
): Promise<KubeletContainer> {
  if (c.envFrom && c.envFrom.length > 0) throw new Error(`container "${c.name}": envFrom is not emulated`);
  // Each value may refer to the variables defined before it.
  const env = new Map<string, string>();
  for (const e of c.env ?? []) {
    if (e.value !== undefined) env.set(e.name, expand(e.value, env));
    else if (e.valueFrom?.fieldRef) {
      const v = node.downwardApi[e.valueFrom.fieldRef.fieldPath];
      if (v === undefined) throw new Error(`container "${c.name}": env ${e.name}: no value for fieldRef ${e.valueFrom.fieldRef.fieldPath}`);
      env.set(e.name, v);
    } else throw new Error(`container "${c.name}": env ${e.name}: only value and fieldRef are emulated`);
  }

  const mounts: MountSpec[] = [];
  for (const m of c.volumeMounts ?? []) {
    const v = volumes.get(m.name);
    if (!v) throw new Error(`container "${c.name}": mount of unknown volume "${m.name}"`);
    const hostPath = m.subPath ? join(v.hostPath, normalize(m.subPath)) : v.hostPath;
    mounts.push({ containerPath: m.mountPath, hostPath, readonly: v.readOnly || m.readOnly === true });
  }
  // The termination message file: created per container attempt and mounted read-write.
  const terminationLog = join(node.podDir, "containers", c.name, randomBytes(4).toString("hex"));
  await mkdir(dirname(terminationLog), { recursive: true });
  await writeFile(terminationLog, "", { mode: 0o666 });
  mounts.push({ containerPath: c.terminationMessagePath ?? "/dev/termination-log", hostPath: terminationLog });

  return {
    spec: {
      name: c.name,
      attempt,
      image: c.image,
      command: (c.command ?? []).map((s) => expand(s, env)),
      args: (c.args ?? []).map((s) => expand(s, env)),
      workingDir: c.workingDir,
      envs: [...env].map(([key, value]) => ({ key, value })),
      mounts,
      securityContext: securityContext(pod, c),
      logPath: `${c.name}/${attempt}.log`,
    },
    env,
    livenessProbe: resolveProbe(c, c.livenessProbe),
    readinessProbe: resolveProbe(c, c.readinessProbe),
  };
}

// kuberuntime's determineEffectiveSecurityContext and convertToRuntimeSecurityContext: the container's
// settings over the pod's; allowPrivilegeEscalation: false sets no_new_privs; capability names pass as written.
function securityContext(pod: PodSpec, c: ContainerManifest): ContainerSecurityContext {
  const sc = c.securityContext ?? {};
  return {
    runAsUser: sc.runAsUser ?? pod.securityContext?.runAsUser,
    runAsGroup: sc.runAsGroup ?? pod.securityContext?.runAsGroup,
    privileged: sc.privileged ?? false,
    readonlyRootfs: sc.readOnlyRootFilesystem ?? false,
    noNewPrivs: sc.allowPrivilegeEscalation === false,
    capabilities: sc.capabilities ? { add: sc.capabilities.add ?? [], drop: sc.capabilities.drop ?? [] } : undefined,
  };
}

function resolveProbe(c: ContainerManifest, probe: ProbeManifest | undefined): ResolvedProbe | undefined {
  if (!probe) return undefined;
  if (!probe.httpGet) throw new Error(`container "${c.name}": only httpGet probes are emulated`);
  const { port, path, scheme, host } = probe.httpGet;
  if (host !== undefined) throw new Error(`container "${c.name}": a probe host other than the pod IP is not emulated`);
  if ((scheme ?? "HTTP") !== "HTTP") throw new Error(`container "${c.name}": probe scheme ${scheme} is not emulated`);
  const number = typeof port === "number" ? port : c.ports?.find((p) => p.name === port)?.containerPort;
  if (number === undefined) throw new Error(`container "${c.name}": probe port "${port}" is not one of its ports`);
  return { path: path ?? "/", port: number, scheme: "HTTP" };
}
