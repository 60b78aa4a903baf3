// The CRI client: runtime.v1 RuntimeService over gRPC on a unix socket, mapped to the plain types of
// types.ts. Every call carries a deadline and fails fast (waitForReady=false) while the runtime is down;
// grpc-js reconnects the channel on its own with backoff, so the same client works again once the runtime
// is back. Errors are CriError with a stable `code` and the gRPC error as `cause`.

import * as fs from "node:fs";
import { packageRoot } from "../package-root.js";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import type {
  ContainerSpec,
  ContainerState,
  ContainerStatusInfo,
  ContainerSummary,
  CriAdmin,
  PodSandboxSpec,
  VersionInfo,
} from "./types.js";

export const CONTAINERD_SOCKET = "/run/containerd/containerd.sock";
export const CRIO_SOCKET = "/var/run/crio/crio.sock";
/** Tried in this order when no endpoint is configured (crictl's order, minus dockershim). */
export const DEFAULT_ENDPOINTS = [CONTAINERD_SOCKET, CRIO_SOCKET] as const;
export const DEFAULT_TIMEOUT_MS = 10_000;

export type CriErrorCode =
  | "CRI_BAD_ENDPOINT"    // the configured endpoint is not a unix socket path
  | "CRI_SOCKET_MISSING"  // no socket file at the endpoint
  | "CRI_UNAVAILABLE"     // the socket exists but nobody answers
  | "CRI_NOT_V1"          // the runtime does not serve runtime.v1 (gRPC UNIMPLEMENTED)
  | "CRI_DEADLINE"        // the call did not finish within timeoutMs
  | "CRI_CALL_FAILED";    // the runtime answered with an error (see grpcCode / details)

export class CriError extends Error {
  readonly code: CriErrorCode;
  readonly endpoint: string | undefined;
  readonly method: string | undefined;
  /** The gRPC status code when the runtime (or the channel) produced one, e.g. 5 for NOT_FOUND. */
  readonly grpcCode: grpc.status | undefined;
  /** The gRPC status details, e.g. containerd's "container is not running". */
  readonly details: string | undefined;

  constructor(
    message: string,
    opts: { code: CriErrorCode; endpoint?: string; method?: string; grpcCode?: grpc.status; details?: string; cause?: unknown },
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "CriError";
    this.code = opts.code;
    this.endpoint = opts.endpoint;
    this.method = opts.method;
    this.grpcCode = opts.grpcCode;
    this.details = opts.details;
  }
}

/** Structured logger (pino-compatible shape); every method optional. */
export interface CriLogger {
  debug?(fields: Record<string, unknown>, msg: string): void;
  info?(fields: Record<string, unknown>, msg: string): void;
  warn?(fields: Record<string, unknown>, msg: string): void;
}

export interface CriClientOptions {
  /** `unix:///path/to.sock` or `/path/to.sock`; default: containerd's socket, else CRI-O's. */
  endpoint?: string;
  /** Deadline of every call. Default 10s. */
  timeoutMs?: number;
  logger?: CriLogger;
  /** Injected for tests; defaults to fs.existsSync. */
  exists?: (p: string) => boolean;
  /** Extra grpc-js channel options (override the reconnect backoff defaults below). */
  channelOptions?: grpc.ChannelOptions;
}

export interface ResolvedEndpoint {
  /** gRPC target, always `unix:///abs/path`. */
  target: string;
  /** The socket file. */
  socketPath: string;
}

/**
 * Turns the configured endpoint into a unix socket, the way crictl does: `unix:///abs/path` or a plain
 * absolute path. Without one, the first default socket that exists (containerd, then CRI-O).
 * A configured endpoint is returned even if it does not exist yet: the runtime may come up later, and the
 * calls will say CRI_SOCKET_MISSING.
 */
export function resolveEndpoint(configured: string | undefined, exists: (p: string) => boolean = fs.existsSync): ResolvedEndpoint {
  if (configured === undefined || configured.trim() === "") {
    for (const candidate of DEFAULT_ENDPOINTS) {
      if (exists(candidate)) return { target: `unix://${candidate}`, socketPath: candidate };
    }
    throw new CriError(
      `no CRI endpoint configured and no runtime socket found at ${DEFAULT_ENDPOINTS.join(" (containerd) or ")} (CRI-O); ` +
        `start the container runtime or set the CRI endpoint to its socket, e.g. unix:///run/containerd/containerd.sock`,
      { code: "CRI_SOCKET_MISSING" },
    );
  }
  const value = configured.trim();
  let socketPath: string;
  if (value.startsWith("unix://")) {
    socketPath = value.slice("unix://".length);
  } else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    throw new CriError(
      `unsupported CRI endpoint "${value}": only unix sockets are supported; use unix:///path/to/runtime.sock or an absolute path`,
      { code: "CRI_BAD_ENDPOINT", endpoint: value },
    );
  } else {
    socketPath = value;
  }
  if (!path.isAbsolute(socketPath)) {
    throw new CriError(
      `CRI endpoint "${value}" is not an absolute path; use unix:///path/to/runtime.sock or /path/to/runtime.sock`,
      { code: "CRI_BAD_ENDPOINT", endpoint: value },
    );
  }
  socketPath = path.normalize(socketPath);
  return { target: `unix://${socketPath}`, socketPath };
}

// ---- proto loading (shared with test/fake-cri) ----


export const RUNTIME_PROTO_PATH = path.join(packageRoot(), "host", "cri", "runtime.proto");

// keepCase: the wire names (log_path) stay as in the proto; enums as their names; int64 as strings
// (converted to number where we expose them); defaults so absent proto3 fields read as ""/0/[].
const LOADER_OPTIONS: protoLoader.Options = { keepCase: true, enums: String, longs: String, defaults: true, oneofs: true };

let cachedDefinition: grpc.GrpcObject | undefined;

/** The runtime.v1 package as a grpc-js object; `.RuntimeService` is a client constructor with `.service`. */
export function loadRuntimeV1(): grpc.GrpcObject {
  if (cachedDefinition === undefined) {
    const packageDefinition = protoLoader.loadSync(RUNTIME_PROTO_PATH, LOADER_OPTIONS);
    const root = grpc.loadPackageDefinition(packageDefinition);
    cachedDefinition = (root.runtime as grpc.GrpcObject).v1 as grpc.GrpcObject;
  }
  return cachedDefinition;
}

export function runtimeServiceDefinition(): grpc.ServiceDefinition {
  return (loadRuntimeV1().RuntimeService as grpc.ServiceClientConstructor).service;
}

// ---- wire shapes (keepCase) ----

interface WireContainerMetadata { name: string; attempt: number }
interface WireContainer {
  id: string;
  pod_sandbox_id: string;
  metadata: WireContainerMetadata | null;
  state: ContainerState;
  labels: Record<string, string>;
}
interface WireContainerStatus {
  id: string;
  metadata: WireContainerMetadata | null;
  state: ContainerState;
  exit_code: number;
  log_path: string;
}
interface WireVersion { version: string; runtime_name: string; runtime_version: string; runtime_api_version: string }

const STATES: ReadonlySet<string> = new Set(["CONTAINER_CREATED", "CONTAINER_RUNNING", "CONTAINER_EXITED", "CONTAINER_UNKNOWN"]);

/** A state number this proto does not know comes back as a number; treat it as UNKNOWN. */
function toState(state: unknown): ContainerState {
  return typeof state === "string" && STATES.has(state) ? (state as ContainerState) : "CONTAINER_UNKNOWN";
}

export function toContainerSummary(c: WireContainer): ContainerSummary {
  return {
    id: c.id,
    podSandboxId: c.pod_sandbox_id,
    name: c.metadata?.name ?? "",
    attempt: Number(c.metadata?.attempt ?? 0),
    state: toState(c.state),
    labels: { ...(c.labels ?? {}) },
  };
}

export function toContainerStatus(s: WireContainerStatus): ContainerStatusInfo {
  return {
    id: s.id,
    name: s.metadata?.name ?? "",
    state: toState(s.state),
    logPath: s.log_path,
    exitCode: Number(s.exit_code ?? 0),
  };
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
    log_directory: pod.logDirectory,
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
    command: [...container.command],
    args: [...(container.args ?? [])],
    labels: { ...(container.labels ?? {}) },
    log_path: container.logPath,
    linux: { security_context: { namespace_options: namespaceOptions(pod.hostNetwork ?? true) } },
  };
}

// ---- the client ----

type UnaryMethod = (
  request: unknown,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null, response?: unknown) => void,
) => grpc.ClientUnaryCall;

class GrpcCriClient implements CriAdmin {
  private readonly stub: grpc.Client;
  private readonly timeoutMs: number;
  private readonly endpoint: ResolvedEndpoint;
  private readonly logger: CriLogger | undefined;
  private readonly exists: (p: string) => boolean;
  private closed = false;

  constructor(endpoint: ResolvedEndpoint, options: CriClientOptions) {
    this.endpoint = endpoint;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!(this.timeoutMs > 0)) throw new RangeError(`timeoutMs must be > 0, got ${options.timeoutMs}`);
    this.logger = options.logger;
    this.exists = options.exists ?? fs.existsSync;
    const Service = loadRuntimeV1().RuntimeService as grpc.ServiceClientConstructor;
    this.stub = new Service(endpoint.target, grpc.credentials.createInsecure(), {
      // The runtime restarts (upgrade, crash): retry the connection soon, but not in a tight loop.
      "grpc.initial_reconnect_backoff_ms": 200,
      "grpc.max_reconnect_backoff_ms": 5_000,
      // Large ListContainers answers on busy nodes (the kubelet allows 16 MiB).
      "grpc.max_receive_message_length": 16 * 1024 * 1024,
      ...options.channelOptions,
    });
  }

  async version(): Promise<VersionInfo> {
    const res = await this.call<WireVersion>("Version", { version: "v1" }, "failed to get the runtime version");
    return {
      version: res.version,
      runtimeName: res.runtime_name,
      runtimeVersion: res.runtime_version,
      runtimeApiVersion: res.runtime_api_version,
    };
  }

  async listContainers(): Promise<ContainerSummary[]> {
    // An empty filter, like the kubelet: the caller picks RUNNING containers itself.
    const res = await this.call<{ containers: WireContainer[] }>("ListContainers", { filter: {} }, "failed to list containers");
    return (res.containers ?? []).map(toContainerSummary);
  }

  async containerStatus(containerId: string): Promise<ContainerStatusInfo> {
    const res = await this.call<{ status: WireContainerStatus | null }>(
      "ContainerStatus",
      { container_id: containerId }, // verbose=false: the info map is not needed
      `failed to get status of container "${containerId}"`,
    );
    if (res.status == null) {
      throw new CriError(`failed to get status of container "${containerId}": the runtime returned no status`, {
        code: "CRI_CALL_FAILED",
        endpoint: this.endpoint.target,
        method: "ContainerStatus",
      });
    }
    return toContainerStatus(res.status);
  }

  async reopenContainerLog(containerId: string): Promise<void> {
    await this.call("ReopenContainerLog", { container_id: containerId }, `failed to reopen log of container "${containerId}"`);
  }

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

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stub.close();
  }

  private call<T>(method: string, request: object, what: string, timeoutMs = this.timeoutMs): Promise<T> {
    if (this.closed) {
      return Promise.reject(
        new CriError(`${what}: the CRI client for ${this.endpoint.target} is closed`, {
          code: "CRI_CALL_FAILED",
          endpoint: this.endpoint.target,
          method,
        }),
      );
    }
    const fn = (this.stub as unknown as Record<string, UnaryMethod>)[method];
    const started = Date.now();
    return new Promise<T>((resolve, reject) => {
      // waitForReady=false: while the runtime is down the call fails at once instead of queueing until the
      // deadline; the channel keeps reconnecting in the background.
      const metadata = new grpc.Metadata({ waitForReady: false });
      fn.call(this.stub, request, metadata, { deadline: started + timeoutMs }, (err, response) => {
        if (err) {
          const criError = this.toCriError(method, what, err, timeoutMs);
          this.logger?.debug?.(
            { method, endpoint: this.endpoint.target, code: criError.code, grpcCode: err.code, ms: Date.now() - started },
            "CRI call failed",
          );
          reject(criError);
        } else {
          resolve(response as T);
        }
      });
    });
  }

  private toCriError(method: string, what: string, err: grpc.ServiceError, timeoutMs: number): CriError {
    const endpoint = this.endpoint.target;
    const base = { endpoint, method, grpcCode: err.code, details: err.details, cause: err };
    switch (err.code) {
      case grpc.status.DEADLINE_EXCEEDED:
        return new CriError(
          `${what}: ${method} got no answer from ${endpoint} within ${timeoutMs}ms; the runtime is hung or overloaded (raise the CRI timeout if it is only slow)`,
          { ...base, code: "CRI_DEADLINE" },
        );
      case grpc.status.UNAVAILABLE:
        if (!this.exists(this.endpoint.socketPath)) {
          return new CriError(
            `${what}: CRI socket ${this.endpoint.socketPath} does not exist; start the container runtime or set the CRI endpoint to its socket`,
            { ...base, code: "CRI_SOCKET_MISSING" },
          );
        }
        return new CriError(
          `${what}: nobody answers on ${endpoint} (${err.details}); is the container runtime running? Check the CRI endpoint`,
          { ...base, code: "CRI_UNAVAILABLE" },
        );
      case grpc.status.UNIMPLEMENTED:
        return new CriError(
          `${what}: the runtime at ${endpoint} does not implement CRI runtime.v1 (${method}: ${err.details}); ` +
            `use a runtime that serves CRI v1 (containerd 1.6+ or CRI-O) or point the CRI endpoint at its socket`,
          { ...base, code: "CRI_NOT_V1" },
        );
      default:
        return new CriError(`${what}: ${grpc.status[err.code] ?? err.code}: ${err.details}`, { ...base, code: "CRI_CALL_FAILED" });
    }
  }
}

/** A client for the runtime at `options.endpoint` (or the default socket). Does not connect yet. */
export function createCriClient(options: CriClientOptions = {}): CriAdmin {
  const endpoint = resolveEndpoint(options.endpoint, options.exists ?? fs.existsSync);
  return new GrpcCriClient(endpoint, options);
}

/**
 * Asks the runtime for its version with CRI v1. Throws CriError: CRI_SOCKET_MISSING, CRI_UNAVAILABLE,
 * CRI_NOT_V1 (gRPC UNIMPLEMENTED), CRI_DEADLINE.
 */
export async function checkVersion(cri: Pick<CriAdmin, "version">): Promise<VersionInfo> {
  return cri.version();
}

/** createCriClient + checkVersion; closes the client when the check fails. */
export async function connectCri(options: CriClientOptions = {}): Promise<{ cri: CriAdmin; version: VersionInfo }> {
  // Resolve once, so the defaults are not probed twice.
  const endpoint = resolveEndpoint(options.endpoint, options.exists ?? fs.existsSync);
  const cri = createCriClient({ ...options, endpoint: endpoint.target });
  try {
    const version = await checkVersion(cri);
    options.logger?.info?.(
      { endpoint: endpoint.target, runtime: version.runtimeName, runtimeVersion: version.runtimeVersion, apiVersion: version.runtimeApiVersion },
      "connected to container runtime",
    );
    return { cri, version };
  } catch (err) {
    cri.close();
    throw err;
  }
}
