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
  logPath: Buffer;     // status.log_path, absolute for containerd and CRI-O; bytes, never decoded
  exitCode: number;
}

/** A call the caller may give up on (shutting down); ReopenContainerLog takes none: it is never cut short. */
export interface CallOptions {
  signal?: AbortSignal;
}

/** What the log manager needs from the runtime. Every call has a deadline. */
export interface Cri {
  version(): Promise<VersionInfo>;
  listContainers(options?: CallOptions): Promise<ContainerSummary[]>;
  containerStatus(containerId: string, options?: CallOptions): Promise<ContainerStatusInfo>;
  reopenContainerLog(containerId: string): Promise<void>;
  close(): void;
}
