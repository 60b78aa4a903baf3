// A programmable CRI runtime for tests: serves host/cri/runtime.proto over a real unix socket with a grpc-js
// Server. Containers are just a state and a log path (plus an optional writer that behaves like containerd's
// log writer). Every call is recorded; errors and delays can be injected per method.
//
//   const rt = await startFakeRuntime({ socketPath });
//   rt.addContainer({ id: "c1", name: "app", state: "CONTAINER_RUNNING", logPath, writer: { linesPerTick: 10, intervalMs: 0 } });
//   rt.injectError("ReopenContainerLog", { code: grpc.status.UNKNOWN, details: "boom" });
//   ...; rt.assertCalls(["ListContainers", "ContainerStatus", "ReopenContainerLog"]);
//   await rt.stop();

import * as assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { runtimeServiceDefinition } from "../../host/cri/client.js";
import type { ContainerState } from "../../host/cri/types.js";
import { LogWriter, type WriterOptions } from "./log-writer.js";

export type { WriterOptions } from "./log-writer.js";

export const RUNTIME_METHODS = [
  "Version",
  "RunPodSandbox",
  "StopPodSandbox",
  "RemovePodSandbox",
  "CreateContainer",
  "StartContainer",
  "StopContainer",
  "RemoveContainer",
  "ListContainers",
  "ContainerStatus",
  "ReopenContainerLog",
] as const;
export type RuntimeMethod = (typeof RUNTIME_METHODS)[number];

export interface FakeRuntimeOptions {
  socketPath: string;
  /** Relative container log paths given to addContainer are resolved against this directory. */
  logRoot?: string;
  /** What Version answers. */
  version?: { runtimeName?: string; runtimeVersion?: string; runtimeApiVersion?: string };
  /** Writer given to containers made by CreateContainer; started by StartContainer. */
  containerWriter?: WriterOptions | ((containerName: string) => WriterOptions | undefined);
}

export interface FakeContainerInit {
  id: string;
  name: string;
  podSandboxId?: string;
  state: ContainerState;
  /** Absolute, or relative to logRoot. */
  logPath: string | Buffer;
  attempt?: number;
  labels?: Record<string, string>;
  exitCode?: number;
  /** Started now if the container is RUNNING, else when it becomes RUNNING. */
  writer?: WriterOptions;
}

export interface FakeContainer {
  id: string;
  name: string;
  podSandboxId: string;
  state: ContainerState;
  logPath: string | Buffer;
  attempt: number;
  labels: Record<string, string>;
  exitCode: number;
  createdAt: number;
  writerOptions?: WriterOptions;
}

interface FakeSandbox {
  id: string;
  config: Record<string, unknown>;
  state: "SANDBOX_READY" | "SANDBOX_NOTREADY";
}

export interface RecordedCall {
  method: RuntimeMethod;
  request: any;
}

/** What injectError accepts: a gRPC status, or an Error (sent as UNKNOWN with its message). */
export type InjectedError = { code: grpc.status; details?: string } | Error;

interface Injection {
  error: { code: grpc.status; details: string };
  remaining: number; // Infinity = persistent
}

interface PendingCall {
  timer?: NodeJS.Timeout;
  fail: () => void;
}

interface Delay {
  ms: number;
  remaining: number;
}

class RpcError extends Error {
  constructor(
    readonly code: grpc.status,
    readonly details: string,
  ) {
    super(details);
  }
}

const notFound = (id: string) =>
  new RpcError(grpc.status.NOT_FOUND, `an error occurred when try to find container "${id}": not found`);

export class FakeRuntime {
  readonly socketPath: string;
  readonly calls: RecordedCall[] = [];
  private readonly options: FakeRuntimeOptions;
  private server: grpc.Server | undefined;
  private readonly containers = new Map<string, FakeContainer>();
  private readonly sandboxes = new Map<string, FakeSandbox>();
  private readonly writers = new Map<string, LogWriter>();
  private readonly written = new Map<string, number>(); // lines of writers already stopped
  private readonly injections = new Map<RuntimeMethod, Injection[]>();
  private readonly delays = new Map<RuntimeMethod, Delay>();
  private readonly pendingCalls = new Set<PendingCall>();

  constructor(options: FakeRuntimeOptions) {
    this.options = options;
    this.socketPath = options.socketPath;
  }

  get address(): string {
    return `unix://${this.socketPath}`;
  }

  get serving(): boolean {
    return this.server !== undefined;
  }

  // ---- lifecycle ----

  async serve(): Promise<void> {
    if (this.server) return;
    // A socket file left by a killed runtime would make bind fail with EADDRINUSE; containerd removes it too.
    fs.rmSync(this.socketPath, { force: true });
    const server = new grpc.Server();
    server.addService(runtimeServiceDefinition(), this.handlers());
    await new Promise<void>((resolve, reject) =>
      server.bindAsync(this.address, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
    );
    this.server = server;
  }

  /** Closes the server at once (in-flight calls are cancelled). Containers, writers and settings stay. */
  async stop(): Promise<void> {
    for (const pending of this.pendingCalls) {
      if (pending.timer) clearTimeout(pending.timer);
      pending.fail();
    }
    this.pendingCalls.clear();
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.forceShutdown();
    // The socket file goes with the listener, as when a runtime exits.
    fs.rmSync(this.socketPath, { force: true });
  }

  /** stop() then serve() again on the same socket path: a runtime restart. */
  async restart(): Promise<void> {
    await this.stop();
    await this.serve();
  }

  /** stop() plus stopping every writer: what a test's `after` hook calls. */
  async close(): Promise<void> {
    await this.stop();
    for (const id of [...this.writers.keys()]) this.stopWriter(id);
  }

  // ---- containers ----

  addContainer(init: FakeContainerInit): FakeContainer {
    if (this.containers.has(init.id)) throw new Error(`fake runtime: container ${init.id} already exists`);
    // Bytes are taken as they are (absolute): a test of non-UTF-8 paths gives them so.
    const logPath = Buffer.isBuffer(init.logPath) || path.isAbsolute(init.logPath) || !this.options.logRoot ? init.logPath : path.join(this.options.logRoot, init.logPath);
    const container: FakeContainer = {
      id: init.id,
      name: init.name,
      podSandboxId: init.podSandboxId ?? "",
      state: init.state,
      logPath,
      attempt: init.attempt ?? 0,
      labels: { ...(init.labels ?? {}) },
      exitCode: init.exitCode ?? 0,
      createdAt: Date.now(),
      writerOptions: init.writer,
    };
    this.containers.set(container.id, container);
    if (container.state === "CONTAINER_RUNNING" && container.writerOptions) this.startWriter(container.id, container.writerOptions);
    return container;
  }

  container(id: string): FakeContainer | undefined {
    return this.containers.get(id);
  }

  containerIds(): string[] {
    return [...this.containers.keys()];
  }

  /** Leaving RUNNING stops the writer; entering RUNNING starts the configured one. */
  setState(id: string, state: ContainerState, exitCode?: number): void {
    const container = this.mustGet(id);
    container.state = state;
    if (exitCode !== undefined) container.exitCode = exitCode;
    if (state !== "CONTAINER_RUNNING") this.stopWriter(id);
    else if (container.writerOptions && !this.writers.has(id)) this.startWriter(id, container.writerOptions);
  }

  removeContainer(id: string): void {
    this.stopWriter(id);
    this.containers.delete(id);
  }

  // ---- writers ----

  startWriter(id: string, options: WriterOptions): LogWriter {
    const container = this.mustGet(id);
    if (container.state !== "CONTAINER_RUNNING") throw new Error(`fake runtime: container ${id} is not running`);
    if (this.writers.has(id)) throw new Error(`fake runtime: container ${id} already has a writer`);
    container.writerOptions = options;
    const writer = new LogWriter(container.logPath, options);
    this.writers.set(id, writer);
    return writer;
  }

  writer(id: string): LogWriter | undefined {
    return this.writers.get(id);
  }

  /** Writes lines now (synchronously) through the container's writer. */
  tick(id: string, lines?: number): void {
    const writer = this.writers.get(id);
    if (!writer) throw new Error(`fake runtime: container ${id} has no running writer`);
    writer.tick(lines);
  }

  stopWriter(id: string): void {
    const writer = this.writers.get(id);
    if (!writer) return;
    writer.stop();
    this.writers.delete(id);
    this.written.set(id, (this.written.get(id) ?? 0) + writer.linesWritten);
  }

  /** Lines written for the container so far, over all its writers; the next line's number if one writer. */
  linesWritten(id: string): number {
    return (this.written.get(id) ?? 0) + (this.writers.get(id)?.linesWritten ?? 0);
  }

  // ---- programming the calls ----

  /** The next `times` calls of `method` fail with `err` (default once; `Infinity` or "persistent" = until clearErrors). */
  injectError(method: RuntimeMethod, err: InjectedError, times: number | "persistent" = 1): void {
    const error = err instanceof Error ? { code: grpc.status.UNKNOWN, details: err.message } : { code: err.code, details: err.details ?? "" };
    const list = this.injections.get(method) ?? [];
    list.push({ error, remaining: times === "persistent" ? Infinity : times });
    this.injections.set(method, list);
  }

  clearErrors(): void {
    this.injections.clear();
  }

  /** The next `times` calls of `method` answer after `ms` (Infinity: never; stop() cancels them). */
  delay(method: RuntimeMethod, ms: number, times: number | "persistent" = "persistent"): void {
    this.delays.set(method, { ms, remaining: times === "persistent" ? Infinity : times });
  }

  clearDelays(): void {
    this.delays.clear();
  }

  callNames(): RuntimeMethod[] {
    return this.calls.map((c) => c.method);
  }

  /** Asserts the methods called so far, in order. */
  assertCalls(expected: RuntimeMethod[], message?: string): void {
    assert.deepEqual(this.callNames(), expected, message);
  }

  clearCalls(): void {
    this.calls.length = 0;
  }

  // ---- the service ----

  private handlers(): grpc.UntypedServiceImplementation {
    const impls: Record<RuntimeMethod, (req: any) => unknown> = {
      Version: () => ({
        version: "0.1.0",
        runtime_name: this.options.version?.runtimeName ?? "fake-cri",
        runtime_version: this.options.version?.runtimeVersion ?? "0.0.0",
        runtime_api_version: this.options.version?.runtimeApiVersion ?? "v1",
      }),
      RunPodSandbox: (req) => {
        const id = randomBytes(32).toString("hex");
        this.sandboxes.set(id, { id, config: req.config ?? {}, state: "SANDBOX_READY" });
        return { pod_sandbox_id: id };
      },
      StopPodSandbox: (req) => {
        const sandbox = this.sandboxes.get(req.pod_sandbox_id);
        if (sandbox) sandbox.state = "SANDBOX_NOTREADY";
        for (const c of this.containers.values()) {
          if (c.podSandboxId === req.pod_sandbox_id && c.state === "CONTAINER_RUNNING") this.setState(c.id, "CONTAINER_EXITED", 137);
        }
        return {};
      },
      RemovePodSandbox: (req) => {
        for (const c of [...this.containers.values()]) if (c.podSandboxId === req.pod_sandbox_id) this.removeContainer(c.id);
        this.sandboxes.delete(req.pod_sandbox_id); // idempotent, as the CRI requires
        return {};
      },
      CreateContainer: (req) => {
        const sandbox = this.sandboxes.get(req.pod_sandbox_id);
        if (!sandbox) throw new RpcError(grpc.status.NOT_FOUND, `failed to find sandbox id "${req.pod_sandbox_id}": not found`);
        const config = req.config ?? {};
        const name: string = config.metadata?.name ?? "";
        // Log paths are bytes on the wire (host/cri/runtime.proto): joined as bytes, as containerd does.
        const logDirectory: Buffer = Buffer.from((sandbox.config as any).log_directory ?? req.sandbox_config?.log_directory ?? []);
        const relative: Buffer = Buffer.from(config.log_path ?? []);
        const dir = logDirectory[logDirectory.length - 1] === 0x2f ? logDirectory.subarray(0, -1) : logDirectory;
        const logPath = dir.length > 0 && relative.length > 0 ? Buffer.concat([dir, Buffer.from("/"), relative]) : "";
        const writerOption = this.options.containerWriter;
        const id = randomBytes(32).toString("hex");
        this.addContainer({
          id,
          name,
          podSandboxId: req.pod_sandbox_id,
          state: "CONTAINER_CREATED",
          logPath,
          attempt: config.metadata?.attempt ?? 0,
          labels: config.labels ?? {},
          writer: typeof writerOption === "function" ? writerOption(name) : writerOption,
        });
        return { container_id: id };
      },
      StartContainer: (req) => {
        const c = this.containers.get(req.container_id);
        if (!c) throw notFound(req.container_id);
        if (c.state !== "CONTAINER_CREATED") {
          throw new RpcError(grpc.status.UNKNOWN, `container is in ${c.state} state`);
        }
        this.setState(c.id, "CONTAINER_RUNNING");
        return {};
      },
      StopContainer: (req) => {
        const c = this.containers.get(req.container_id);
        if (!c) throw notFound(req.container_id);
        if (c.state === "CONTAINER_RUNNING") this.setState(c.id, "CONTAINER_EXITED", 137);
        return {};
      },
      RemoveContainer: (req) => {
        this.removeContainer(req.container_id); // idempotent
        return {};
      },
      ListContainers: (req) => {
        const f = req.filter ?? {};
        const selector: Record<string, string> = f.label_selector ?? {};
        const containers = [...this.containers.values()].filter(
          (c) =>
            (!f.id || c.id === f.id) &&
            (!f.state || c.state === f.state.state) &&
            (!f.pod_sandbox_id || c.podSandboxId === f.pod_sandbox_id) &&
            Object.entries(selector).every(([k, v]) => c.labels[k] === v),
        );
        return {
          containers: containers.map((c) => ({
            id: c.id,
            pod_sandbox_id: c.podSandboxId,
            metadata: { name: c.name, attempt: c.attempt },
            image: { image: "localhost/fake:latest" },
            state: c.state,
            created_at: String(c.createdAt * 1_000_000),
            labels: c.labels,
          })),
        };
      },
      ContainerStatus: (req) => {
        const c = this.containers.get(req.container_id);
        if (!c) throw notFound(req.container_id);
        return {
          status: {
            id: c.id,
            metadata: { name: c.name, attempt: c.attempt },
            state: c.state,
            created_at: String(c.createdAt * 1_000_000),
            exit_code: c.exitCode,
            image: { image: "localhost/fake:latest" },
            labels: c.labels,
            log_path: Buffer.isBuffer(c.logPath) ? c.logPath : Buffer.from(c.logPath),
          },
        };
      },
      ReopenContainerLog: (req) => {
        const c = this.containers.get(req.container_id);
        if (!c) throw notFound(req.container_id);
        // containerd: errors.New("container is not running"), which goes out as code Unknown.
        if (c.state !== "CONTAINER_RUNNING") throw new RpcError(grpc.status.UNKNOWN, "container is not running");
        const writer = this.writers.get(c.id);
        try {
          if (writer) writer.reopen();
          else fs.closeSync(fs.openSync(c.logPath, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_APPEND, 0o640));
        } catch (err) {
          throw new RpcError(grpc.status.UNKNOWN, `failed to create and open log for container "${c.id}": ${(err as Error).message}`);
        }
        return {};
      },
    };

    const service: grpc.UntypedServiceImplementation = {};
    for (const method of RUNTIME_METHODS) {
      service[method] = (call: grpc.ServerUnaryCall<any, any>, callback: grpc.sendUnaryData<any>) => {
        this.calls.push({ method, request: call.request });
        const respond = () => {
          const injected = this.takeInjection(method);
          if (injected) return callback({ code: injected.code, details: injected.details });
          try {
            callback(null, impls[method](call.request));
          } catch (err) {
            if (err instanceof RpcError) callback({ code: err.code, details: err.details });
            else callback({ code: grpc.status.INTERNAL, details: String((err as Error)?.message ?? err) });
          }
        };
        const delay = this.takeDelay(method);
        if (delay === undefined) return respond();
        // A delayed call; stop() fails it so the server can shut down. Infinity: it never answers on its own.
        const pending: PendingCall = { fail: () => callback({ code: grpc.status.UNAVAILABLE, details: "fake runtime stopped" }) };
        if (delay !== Infinity) {
          pending.timer = setTimeout(() => {
            this.pendingCalls.delete(pending);
            respond();
          }, delay);
        }
        this.pendingCalls.add(pending);
      };
    }
    return service;
  }

  private takeInjection(method: RuntimeMethod): { code: grpc.status; details: string } | undefined {
    const list = this.injections.get(method);
    const head = list?.[0];
    if (!list || !head) return undefined;
    head.remaining -= 1;
    if (head.remaining <= 0) list.shift();
    return head.error;
  }

  private takeDelay(method: RuntimeMethod): number | undefined {
    const d = this.delays.get(method);
    if (!d) return undefined;
    d.remaining -= 1;
    if (d.remaining <= 0) this.delays.delete(method);
    return d.ms;
  }

  private mustGet(id: string): FakeContainer {
    const c = this.containers.get(id);
    if (!c) throw new Error(`fake runtime: no container ${id}`);
    return c;
  }
}

/** Starts a fake runtime serving on `options.socketPath`. Close it with `stop()` / `close()` in `after`. */
export async function startFakeRuntime(options: FakeRuntimeOptions): Promise<FakeRuntime> {
  const runtime = new FakeRuntime(options);
  await runtime.serve();
  return runtime;
}
