// The CRI client: runtime.v1 RuntimeService over gRPC on a unix socket, mapped to the plain types of
// types.ts. Every call carries a deadline and fails fast (waitForReady=false) while the runtime is down;
// grpc-js reconnects the channel on its own with backoff, so the same client works again once the runtime
// is back. Errors are CriError with a stable `code` and the gRPC error as `cause`.

import * as fs from "node:fs";
import { CRI_PROTO, packageFile } from "../assets.js";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { CriError } from "../errors.js";
import { silentLogger, type Logger } from "../log.js";
import type { CallOptions, ContainerState, ContainerStatusInfo, ContainerSummary, Cri, VersionInfo } from "./types.js";

export const CONTAINERD_SOCKET = "/run/containerd/containerd.sock";
export const CRIO_SOCKET = "/var/run/crio/crio.sock";
/** Tried in this order when no endpoint is configured (crictl's order, minus dockershim). */
export const DEFAULT_ENDPOINTS = [CONTAINERD_SOCKET, CRIO_SOCKET] as const;
export const DEFAULT_TIMEOUT_MS = 10_000;

export interface CriClientOptions {
  /** `unix:///path/to.sock` or `/path/to.sock`; default: containerd's socket, else CRI-O's. */
  endpoint?: string;
  /** Deadline of every call. Default 10s. */
  timeoutMs?: number;
  logger?: Logger;
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


// keepCase: the wire names (log_path) stay as in the proto; enums as their names; int64 as strings
// (converted to number where we expose them); defaults so absent proto3 fields read as ""/0/[].
const LOADER_OPTIONS: protoLoader.Options = { keepCase: true, enums: String, longs: String, defaults: true, oneofs: true };

let cachedDefinition: grpc.GrpcObject | undefined;

/** The runtime.v1 package as a grpc-js object; `.RuntimeService` is a client constructor with `.service`. */
export function loadRuntimeV1(): grpc.GrpcObject {
  if (cachedDefinition === undefined) {
    const packageDefinition = protoLoader.loadSync(packageFile(CRI_PROTO), LOADER_OPTIONS);
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
  log_path: Buffer | null;
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
    logPath: Buffer.from(s.log_path ?? []),
    exitCode: Number(s.exit_code ?? 0),
  };
}

// ---- the client ----

type UnaryMethod = (
  request: unknown,
  metadata: grpc.Metadata,
  options: grpc.CallOptions,
  callback: (err: grpc.ServiceError | null, response?: unknown) => void,
) => grpc.ClientUnaryCall;

/** runtime.v1 over gRPC. Tests extend it with the calls that create pods (test/support/cri-admin.ts). */
export class GrpcCri implements Cri {
  private readonly stub: grpc.Client;
  protected readonly timeoutMs: number;
  private readonly endpoint: ResolvedEndpoint;
  private readonly logger: Logger;
  private readonly exists: (p: string) => boolean;
  private readonly inFlight = new Set<grpc.ClientUnaryCall>();
  private closed = false;

  constructor(endpoint: ResolvedEndpoint, options: CriClientOptions) {
    this.endpoint = endpoint;
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    if (!(this.timeoutMs > 0)) throw new RangeError(`timeoutMs must be > 0, got ${options.timeoutMs}`);
    this.logger = options.logger ?? silentLogger;
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

  async listContainers(options: CallOptions = {}): Promise<ContainerSummary[]> {
    // An empty filter, like the kubelet: the caller picks RUNNING containers itself.
    const res = await this.call<{ containers: WireContainer[] }>("ListContainers", { filter: {} }, "failed to list containers", this.timeoutMs, options.signal);
    return (res.containers ?? []).map(toContainerSummary);
  }

  async containerStatus(containerId: string, options: CallOptions = {}): Promise<ContainerStatusInfo> {
    const res = await this.call<{ status: WireContainerStatus | null }>(
      "ContainerStatus",
      { container_id: containerId }, // verbose=false: the info map is not needed
      `failed to get status of container "${containerId}"`,
      this.timeoutMs,
      options.signal,
    );
    if (res.status == null) {
      throw new CriError(`failed to get status of container "${containerId}": the runtime returned no status`, {
        code: "CRI_BAD_ANSWER",
        endpoint: this.endpoint.target,
        method: "ContainerStatus",
      });
    }
    return toContainerStatus(res.status);
  }

  async reopenContainerLog(containerId: string): Promise<void> {
    await this.call("ReopenContainerLog", { container_id: containerId }, `failed to reopen log of container "${containerId}"`);
  }

  /** Closes the channel; calls in flight are cancelled (they fail with CRI_CANCELLED). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const call of this.inFlight) call.cancel();
    this.stub.close();
  }

  protected call<T>(method: string, request: object, what: string, timeoutMs = this.timeoutMs, signal?: AbortSignal): Promise<T> {
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
      if (signal?.aborted) {
        reject(new CriError(`${what}: cancelled`, { code: "CRI_CANCELLED", endpoint: this.endpoint.target, method }));
        return;
      }
      // waitForReady=false: while the runtime is down the call fails at once instead of queueing until the
      // deadline; the channel keeps reconnecting in the background.
      const metadata = new grpc.Metadata({ waitForReady: false });
      const onAbort = () => call.cancel();
      const call = fn.call(this.stub, request, metadata, { deadline: started + timeoutMs }, (err, response) => {
        this.inFlight.delete(call);
        signal?.removeEventListener("abort", onAbort);
        if (err) {
          const criError = this.toCriError(method, what, err, timeoutMs);
          this.logger.debug("CRI call failed", { method, endpoint: this.endpoint.target, code: criError.code, grpcCode: err.code, ms: Date.now() - started });
          reject(criError);
        } else {
          resolve(response as T);
        }
      });
      this.inFlight.add(call);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  private toCriError(method: string, what: string, err: grpc.ServiceError, timeoutMs: number): CriError {
    const endpoint = this.endpoint.target;
    const base = { endpoint, method, grpcCode: err.code, details: err.details, cause: err };
    switch (err.code) {
      case grpc.status.CANCELLED:
        return new CriError(`${what}: cancelled`, { ...base, code: "CRI_CANCELLED" });
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
export function createCriClient(options: CriClientOptions = {}): GrpcCri {
  const endpoint = resolveEndpoint(options.endpoint, options.exists ?? fs.existsSync);
  return new GrpcCri(endpoint, options);
}

/**
 * Asks the runtime for its version with CRI v1. Throws CriError: CRI_SOCKET_MISSING, CRI_UNAVAILABLE,
 * CRI_NOT_V1 (gRPC UNIMPLEMENTED), CRI_DEADLINE.
 */
export async function checkVersion(cri: Pick<Cri, "version">): Promise<VersionInfo> {
  return cri.version();
}

/** createCriClient + checkVersion; closes the client when the check fails. */
export async function connectCri(options: CriClientOptions = {}): Promise<{ cri: Cri; version: VersionInfo }> {
  // Resolve once, so the defaults are not probed twice.
  const endpoint = resolveEndpoint(options.endpoint, options.exists ?? fs.existsSync);
  const cri = createCriClient({ ...options, endpoint: endpoint.target });
  try {
    const version = await checkVersion(cri);
    options.logger?.info("connected to container runtime", { endpoint: endpoint.target, runtime: version.runtimeName, runtimeVersion: version.runtimeVersion, apiVersion: version.runtimeApiVersion });
    return { cri, version };
  } catch (err) {
    cri.close();
    throw err;
  }
}
