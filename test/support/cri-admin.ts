// The CRI calls only tests make: create, start, stop and remove pod sandboxes and containers, the way the
// kubelet builds them. The shim itself never creates a pod, so none of this is shipped in host/.
import { resolveEndpoint, GrpcCri, type CriClientOptions } from "../../host/cri/client.js";
import type { Cri } from "../../host/cri/types.js";
import * as fs from "node:fs";

export interface PodSandboxSpec {
  name: string;
  namespace: string;
  uid: string;
  attempt?: number;
  logDirectory: string | Buffer;
  hostNetwork?: boolean;
  labels?: Record<string, string>;
}

export interface ContainerSpec {
  name: string;
  attempt?: number;
  image: string;
  /** Empty or absent: the image's ENTRYPOINT (a pod spec without `command`). */
  command?: string[];
  /** Empty or absent: the image's CMD (a pod spec without `args`). */
  args?: string[];
  workingDir?: string;
  /** In order, as the kubelet sends them (already $(VAR)-expanded). */
  envs?: { key: string; value: string }[];
  mounts?: MountSpec[];
  securityContext?: ContainerSecurityContext;
  logPath: string | Buffer; // relative to the sandbox's logDirectory, e.g. "writer/0.log"
  labels?: Record<string, string>;
}

/** A host path bind-mounted into the container (hostPath volumes; ConfigMaps the kubelet wrote to disk). */
export interface MountSpec {
  containerPath: string;
  hostPath: string;
  readonly?: boolean;
}

/** A container's securityContext as the kubelet hands it to the runtime (kuberuntime's security_context.go). */
export interface ContainerSecurityContext {
  capabilities?: { add?: string[]; drop?: string[] };
  privileged?: boolean;
  runAsUser?: number;
  runAsGroup?: number;
  readonlyRootfs?: boolean;
  /** allowPrivilegeEscalation: false */
  noNewPrivs?: boolean;
}

/** The CRI calls that create and remove pods: what the kubelet does, and the shim never. */
export interface CriAdmin extends Cri {
  runPodSandbox(pod: PodSandboxSpec): Promise<string>;
  createContainer(podSandboxId: string, pod: PodSandboxSpec, container: ContainerSpec): Promise<string>;
  startContainer(containerId: string): Promise<void>;
  stopContainer(containerId: string, timeoutSeconds: number): Promise<void>;
  removeContainer(containerId: string): Promise<void>;
  stopPodSandbox(podSandboxId: string): Promise<void>;
  removePodSandbox(podSandboxId: string): Promise<void>;
}

/**
 * The sandbox config as the kubelet builds it. A host-network pod gets hostname "" (runc cannot set a
 * hostname in the host's UTS namespace) and namespaces network NODE / pid CONTAINER / ipc POD; pid
 * CONTAINER is what the kubelet sets for v1 pods (the CRI default would be POD).
 */
export function podSandboxConfig(pod: PodSandboxSpec): Record<string, unknown> {
  // Host network unless told otherwise: the e2e machines have no CNI, and the log manager does not care.
  const hostNetwork = pod.hostNetwork ?? true;
  return {
    metadata: { name: pod.name, uid: pod.uid, namespace: pod.namespace, attempt: pod.attempt ?? 0 },
    hostname: hostNetwork ? "" : pod.name,
    log_directory: Buffer.from(pod.logDirectory), // bytes on the wire (host/cri/runtime.proto)
    labels: { ...(pod.labels ?? {}) },
    linux: {
      cgroup_parent: "",
      security_context: { namespace_options: namespaceOptions(hostNetwork) },
    },
  };
}

function namespaceOptions(hostNetwork: boolean): Record<string, string> {
  return { network: hostNetwork ? "NODE" : "POD", pid: "CONTAINER", ipc: "POD" };
}

export function containerConfig(pod: PodSandboxSpec, container: ContainerSpec): Record<string, unknown> {
  return {
    metadata: { name: container.name, attempt: container.attempt ?? 0 },
    image: { image: container.image },
    command: [...(container.command ?? [])],
    args: [...(container.args ?? [])],
    working_dir: container.workingDir ?? "",
    envs: (container.envs ?? []).map(({ key, value }) => ({ key, value })),
    mounts: (container.mounts ?? []).map((m) => ({ container_path: m.containerPath, host_path: m.hostPath, readonly: m.readonly ?? false })),
    labels: { ...(container.labels ?? {}) },
    log_path: Buffer.from(container.logPath),
    linux: { security_context: securityContext(pod, container.securityContext ?? {}) },
  };
}

// Int64Value wrappers: absent means "the image's user", present means this uid (0 included).
function securityContext(pod: PodSandboxSpec, sc: ContainerSecurityContext): Record<string, unknown> {
  const out: Record<string, unknown> = {
    namespace_options: namespaceOptions(pod.hostNetwork ?? true),
    privileged: sc.privileged ?? false,
    readonly_rootfs: sc.readonlyRootfs ?? false,
    no_new_privs: sc.noNewPrivs ?? false,
  };
  if (sc.capabilities) out.capabilities = { add_capabilities: sc.capabilities.add ?? [], drop_capabilities: sc.capabilities.drop ?? [] };
  if (sc.runAsUser !== undefined) out.run_as_user = { value: String(sc.runAsUser) };
  if (sc.runAsGroup !== undefined) out.run_as_group = { value: String(sc.runAsGroup) };
  return out;
}

class GrpcCriAdmin extends GrpcCri implements CriAdmin {
  async runPodSandbox(pod: PodSandboxSpec): Promise<string> {
    const res = await this.call<{ pod_sandbox_id: string }>(
      "RunPodSandbox",
      { config: podSandboxConfig(pod), runtime_handler: "" },
      `failed to run pod sandbox "${pod.namespace}/${pod.name}"`,
    );
    return res.pod_sandbox_id;
  }

  async createContainer(podSandboxId: string, pod: PodSandboxSpec, container: ContainerSpec): Promise<string> {
    const res = await this.call<{ container_id: string }>(
      "CreateContainer",
      // The sandbox config is passed again, as the kubelet does; containerd reads it.
      { pod_sandbox_id: podSandboxId, config: containerConfig(pod, container), sandbox_config: podSandboxConfig(pod) },
      `failed to create container "${container.name}" in pod sandbox "${podSandboxId}"`,
    );
    return res.container_id;
  }

  async startContainer(containerId: string): Promise<void> {
    await this.call("StartContainer", { container_id: containerId }, `failed to start container "${containerId}"`);
  }

  async stopContainer(containerId: string, timeoutSeconds: number): Promise<void> {
    // The runtime may take up to timeoutSeconds before it kills; give the call that much on top of ours.
    await this.call(
      "StopContainer",
      { container_id: containerId, timeout: timeoutSeconds },
      `failed to stop container "${containerId}"`,
      this.timeoutMs + Math.max(0, timeoutSeconds) * 1000,
    );
  }

  async removeContainer(containerId: string): Promise<void> {
    await this.call("RemoveContainer", { container_id: containerId }, `failed to remove container "${containerId}"`);
  }

  async stopPodSandbox(podSandboxId: string): Promise<void> {
    await this.call("StopPodSandbox", { pod_sandbox_id: podSandboxId }, `failed to stop pod sandbox "${podSandboxId}"`);
  }

  async removePodSandbox(podSandboxId: string): Promise<void> {
    await this.call("RemovePodSandbox", { pod_sandbox_id: podSandboxId }, `failed to remove pod sandbox "${podSandboxId}"`);
  }
}

/** A CRI client that can also create pods (tests and the e2e suite). */
export function createCriAdmin(options: CriClientOptions = {}): CriAdmin {
  return new GrpcCriAdmin(resolveEndpoint(options.endpoint, options.exists ?? fs.existsSync), options);
}
