// The CRI subset cri-logrotate uses, as plain TypeScript values. host/cri/client.ts implements `Cri` over
// gRPC (runtime.v1, see runtime.proto); tests pass test/fake-cri's runtime over a real unix socket.

export type ContainerState = "CONTAINER_CREATED" | "CONTAINER_RUNNING" | "CONTAINER_EXITED" | "CONTAINER_UNKNOWN";

export interface VersionInfo {
  version: string;
  runtimeName: string;
  runtimeVersion: string;
  runtimeApiVersion: string;
}

export interface ContainerSummary {
  id: string;
  podSandboxId: string;
  name: string;        // metadata.name
  attempt: number;     // metadata.attempt
  state: ContainerState;
  labels: Record<string, string>;
}

export interface ContainerStatusInfo {
  id: string;
  name: string;
  state: ContainerState;
  logPath: string;     // status.log_path, absolute for containerd and CRI-O
  exitCode: number;
}

/** What the log manager needs from the runtime. Every call has a deadline. */
export interface Cri {
  version(): Promise<VersionInfo>;
  listContainers(): Promise<ContainerSummary[]>;
  containerStatus(containerId: string): Promise<ContainerStatusInfo>;
  reopenContainerLog(containerId: string): Promise<void>;
  close(): void;
}

// Only tests and the e2e suite create pods; the shim never does.
export interface PodSandboxSpec {
  name: string;
  namespace: string;
  uid: string;
  attempt?: number;
  logDirectory: string;
  hostNetwork?: boolean;
  labels?: Record<string, string>;
}

export interface ContainerSpec {
  name: string;
  attempt?: number;
  image: string;
  command: string[];
  args?: string[];
  logPath: string;     // relative to the sandbox's logDirectory, e.g. "writer/0.log"
  labels?: Record<string, string>;
}

export interface CriAdmin extends Cri {
  runPodSandbox(pod: PodSandboxSpec): Promise<string>;
  createContainer(podSandboxId: string, pod: PodSandboxSpec, container: ContainerSpec): Promise<string>;
  startContainer(containerId: string): Promise<void>;
  stopContainer(containerId: string, timeoutSeconds: number): Promise<void>;
  removeContainer(containerId: string): Promise<void>;
  stopPodSandbox(podSandboxId: string): Promise<void>;
  removePodSandbox(podSandboxId: string): Promise<void>;
}
