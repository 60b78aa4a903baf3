// host/cri/client.ts over a real unix socket: against test/fake-cri, against a raw server that checks the
// exact upstream field numbers byte by byte, against a server without runtime.v1, and against nothing.

import { after, before, describe, test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as grpc from "@grpc/grpc-js";
import { CONTAINERD_SOCKET, CRIO_SOCKET, connectCri, createCriClient, resolveEndpoint,  } from "../../host/cri/client.js";
import { CriError, type CriErrorCode } from "../../host/errors.js";
import { createCriAdmin, type CriAdmin } from "../support/cri-admin.js";
import { type FakeRuntime, type RuntimeMethod, startFakeRuntime } from "../fake-cri/index.js";
import { MemoryLogger } from "../support/memory-logger.js";

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cri-client-"));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Awaits a rejection and checks it is a CriError with `code`; returns it for further checks. */
async function expectCriError(promise: Promise<unknown>, code: CriErrorCode): Promise<CriError> {
  const err = await promise.then(
    () => assert.fail(`expected a CriError ${code}, got a result`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof CriError, `expected CriError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  return err;
}

function bindServer(server: grpc.Server, socketPath: string): Promise<void> {
  return new Promise((resolve, reject) =>
    server.bindAsync(`unix://${socketPath}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
}

describe("resolveEndpoint", () => {
  const only = (...present: string[]) => (p: string) => present.includes(p);
  const cases: Record<string, { configured: string | undefined; exists?: (p: string) => boolean; socketPath?: string; code?: CriErrorCode }> = {
    "unix:// prefix": { configured: "unix:///run/k3s/containerd/containerd.sock", socketPath: "/run/k3s/containerd/containerd.sock" },
    "plain absolute path": { configured: "/var/run/crio/crio.sock", socketPath: "/var/run/crio/crio.sock" },
    "surrounding spaces trimmed": { configured: "  /tmp/x.sock ", socketPath: "/tmp/x.sock" },
    "path normalized": { configured: "unix:///run//containerd/../containerd/containerd.sock", socketPath: "/run/containerd/containerd.sock" },
    // configured but absent: returned anyway, the runtime may start later (calls say CRI_SOCKET_MISSING)
    "configured, not there yet": { configured: "/nowhere/cri.sock", exists: only(), socketPath: "/nowhere/cri.sock" },
    "relative path rejected": { configured: "run/containerd/containerd.sock", code: "CRI_BAD_ENDPOINT" },
    "relative unix:// rejected": { configured: "unix://containerd.sock", code: "CRI_BAD_ENDPOINT" },
    "tcp rejected": { configured: "tcp://127.0.0.1:1234", code: "CRI_BAD_ENDPOINT" },
    "default: containerd first": { configured: undefined, exists: only(CONTAINERD_SOCKET, CRIO_SOCKET), socketPath: CONTAINERD_SOCKET },
    "default: CRI-O when no containerd": { configured: undefined, exists: only(CRIO_SOCKET), socketPath: CRIO_SOCKET },
    "empty string means default": { configured: "", exists: only(CRIO_SOCKET), socketPath: CRIO_SOCKET },
    "default: neither present": { configured: undefined, exists: only(), code: "CRI_SOCKET_MISSING" },
  };
  for (const [name, tc] of Object.entries(cases)) {
    test(name, () => {
      const run = () => resolveEndpoint(tc.configured, tc.exists ?? only());
      if (tc.code) {
        assert.throws(run, (err: unknown) => err instanceof CriError && err.code === tc.code);
      } else {
        assert.deepEqual(run(), { target: `unix://${tc.socketPath}`, socketPath: tc.socketPath });
      }
    });
  }

  test("the missing-defaults error names both sockets", () => {
    assert.throws(
      () => resolveEndpoint(undefined, () => false),
      (err: unknown) => err instanceof CriError && err.message.includes(CONTAINERD_SOCKET) && err.message.includes(CRIO_SOCKET),
    );
  });
});

describe("against the fake runtime", () => {
  const socketPath = path.join(tmp, "fake.sock");
  const logRoot = path.join(tmp, "logs");
  let rt: FakeRuntime;
  let cri: CriAdmin;

  before(async () => {
    rt = await startFakeRuntime({ socketPath, logRoot });
    cri = createCriAdmin({ endpoint: `unix://${socketPath}`, timeoutMs: 2_000 });
    rt.addContainer({ id: "run1", name: "app", podSandboxId: "pod1", state: "CONTAINER_RUNNING", logPath: "pod1/app/0.log", attempt: 2, labels: { "io.kubernetes.pod.name": "web" } });
    rt.addContainer({ id: "new1", name: "init", podSandboxId: "pod1", state: "CONTAINER_CREATED", logPath: "pod1/init/0.log" });
    rt.addContainer({ id: "dead1", name: "old", podSandboxId: "pod2", state: "CONTAINER_EXITED", logPath: "pod2/old/1.log", exitCode: 137 });
  });
  after(async () => {
    cri.close();
    await rt.close();
  });

  test("version sends v1 and maps the answer", async () => {
    rt.clearCalls();
    assert.deepEqual(await cri.version(), { version: "0.1.0", runtimeName: "fake-cri", runtimeVersion: "0.0.0", runtimeApiVersion: "v1" });
    rt.assertCalls(["Version"]);
    assert.equal(rt.calls[0]!.request.version, "v1");
  });

  test("listContainers sends an empty filter and returns every state", async () => {
    rt.clearCalls();
    const list = await cri.listContainers();
    assert.deepEqual(
      list.sort((a, b) => a.id.localeCompare(b.id)),
      [
        { id: "dead1", podSandboxId: "pod2", name: "old", attempt: 0, state: "CONTAINER_EXITED", labels: {} },
        { id: "new1", podSandboxId: "pod1", name: "init", attempt: 0, state: "CONTAINER_CREATED", labels: {} },
        { id: "run1", podSandboxId: "pod1", name: "app", attempt: 2, state: "CONTAINER_RUNNING", labels: { "io.kubernetes.pod.name": "web" } },
      ],
    );
    rt.assertCalls(["ListContainers"]);
    // present but empty, like the kubelet's &runtimeapi.ContainerFilter{}
    assert.deepEqual(rt.calls[0]!.request.filter, { id: "", state: null, pod_sandbox_id: "", label_selector: {} });
  });

  test("containerStatus keeps log_path as bytes, even when they are not UTF-8", async () => {
    const odd = Buffer.concat([Buffer.from(path.join(logRoot, "pod1")), Buffer.from([0xff, 0xfe]), Buffer.from("/0.log")]);
    rt.addContainer({ id: "odd1", name: "odd", state: "CONTAINER_RUNNING", logPath: odd });
    assert.ok((await cri.containerStatus("odd1")).logPath.equals(odd));
    rt.removeContainer("odd1");
  });

  test("containerStatus maps log_path, state and exit code", async () => {
    assert.deepEqual(await cri.containerStatus("run1"), {
      id: "run1",
      name: "app",
      state: "CONTAINER_RUNNING",
      logPath: Buffer.from(path.join(logRoot, "pod1/app/0.log")),
      exitCode: 0,
    });
    assert.deepEqual(await cri.containerStatus("dead1"), {
      id: "dead1",
      name: "old",
      state: "CONTAINER_EXITED",
      logPath: Buffer.from(path.join(logRoot, "pod2/old/1.log")),
      exitCode: 137,
    });
  });

  test("containerStatus of an unknown container is CRI_CALL_FAILED with NOT_FOUND", async () => {
    const err = await expectCriError(cri.containerStatus("nope"), "CRI_CALL_FAILED");
    assert.equal(err.grpcCode, grpc.status.NOT_FOUND);
    assert.match(err.message, /container "nope"/);
  });

  test("reopenContainerLog creates the log of a running container", async () => {
    const log = path.join(logRoot, "pod1/app/0.log");
    fs.mkdirSync(path.dirname(log), { recursive: true });
    await cri.reopenContainerLog("run1");
    assert.ok(fs.existsSync(log));
  });

  test("reopenContainerLog of a stopped container keeps containerd's error as cause", async () => {
    const err = await expectCriError(cri.reopenContainerLog("dead1"), "CRI_CALL_FAILED");
    assert.equal(err.grpcCode, grpc.status.UNKNOWN);
    assert.equal(err.details, "container is not running");
    assert.match(err.message, /failed to reopen log of container "dead1".*container is not running/);
    assert.equal((err.cause as grpc.ServiceError).code, grpc.status.UNKNOWN);
    assert.equal(err.endpoint, `unix://${socketPath}`);
    assert.equal(err.method, "ReopenContainerLog");
  });

  describe("injected errors surface as CriError with the gRPC error as cause", () => {
    const calls: Record<string, [RuntimeMethod, (c: CriAdmin) => Promise<unknown>]> = {
      version: ["Version", (c) => c.version()],
      listContainers: ["ListContainers", (c) => c.listContainers()],
      containerStatus: ["ContainerStatus", (c) => c.containerStatus("run1")],
      reopenContainerLog: ["ReopenContainerLog", (c) => c.reopenContainerLog("run1")],
    };
    const statuses: Record<string, [grpc.status, CriErrorCode]> = {
      INTERNAL: [grpc.status.INTERNAL, "CRI_CALL_FAILED"],
      UNKNOWN: [grpc.status.UNKNOWN, "CRI_CALL_FAILED"],
      UNIMPLEMENTED: [grpc.status.UNIMPLEMENTED, "CRI_NOT_V1"],
      UNAVAILABLE: [grpc.status.UNAVAILABLE, "CRI_UNAVAILABLE"], // the socket is there, so not SOCKET_MISSING
      DEADLINE_EXCEEDED: [grpc.status.DEADLINE_EXCEEDED, "CRI_DEADLINE"],
    };
    for (const [name, [method, invoke]] of Object.entries(calls)) {
      for (const [statusName, [status, code]] of Object.entries(statuses)) {
        test(`${name} ← ${statusName} is ${code}, once`, async () => {
          rt.injectError(method, { code: status, details: `injected ${statusName}` });
          const err = await expectCriError(invoke(cri), code);
          assert.equal(err.grpcCode, status);
          assert.equal((err.cause as grpc.ServiceError).code, status);
          assert.equal((err.cause as grpc.ServiceError).details, `injected ${statusName}`);
          assert.ok(err.message.includes(`unix://${socketPath}`) || code === "CRI_CALL_FAILED", err.message);
          await invoke(cri); // one-shot: the next call goes through
        });
      }
    }

    test("persistent errors last until clearErrors", async () => {
      rt.injectError("ListContainers", new Error("disk on fire"), "persistent");
      for (let i = 0; i < 3; i++) {
        const err = await expectCriError(cri.listContainers(), "CRI_CALL_FAILED");
        assert.equal(err.details, "disk on fire");
      }
      rt.clearErrors();
      assert.equal((await cri.listContainers()).length, 3);
    });

    test("an error injected for twice fails exactly two calls", async () => {
      rt.injectError("Version", { code: grpc.status.INTERNAL }, 2);
      await expectCriError(cri.version(), "CRI_CALL_FAILED");
      await expectCriError(cri.version(), "CRI_CALL_FAILED");
      await cri.version();
    });
  });

  test("a call the runtime never answers fails with CRI_DEADLINE within the timeout", async () => {
    const quick = createCriClient({ endpoint: socketPath, timeoutMs: 300 });
    try {
      await quick.version(); // connected, so the time below is the call's alone
      rt.delay("ListContainers", Infinity, 1);
      const started = Date.now();
      const err = await expectCriError(quick.listContainers(), "CRI_DEADLINE");
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 250 && elapsed < 2_000, `took ${elapsed}ms`);
      assert.match(err.message, /300ms/);
      assert.equal(err.grpcCode, grpc.status.DEADLINE_EXCEEDED);
    } finally {
      quick.close();
    }
  });

  test("a slow answer within the timeout is fine", async () => {
    rt.delay("ContainerStatus", 100, 1);
    assert.equal((await cri.containerStatus("run1")).state, "CONTAINER_RUNNING");
  });

  test("a closed client refuses calls", async () => {
    const c = createCriClient({ endpoint: socketPath });
    c.close();
    const err = await expectCriError(c.version(), "CRI_CALL_FAILED");
    assert.match(err.message, /closed/);
  });
});

describe("pod and container admin calls", () => {
  const socketPath = path.join(tmp, "admin.sock");
  const logDirectory = path.join(tmp, "pods", "default_demo-pod_0000");
  let rt: FakeRuntime;
  let cri: CriAdmin;
  before(async () => {
    rt = await startFakeRuntime({ socketPath });
    cri = createCriAdmin({ endpoint: socketPath });
  });
  after(async () => {
    cri.close();
    await rt.close();
  });

  test("run, create, start, stop, remove; requests built as the kubelet does", async () => {
    const pod = { name: "demo-pod", namespace: "default", uid: "0000", logDirectory, hostNetwork: true, labels: { app: "feas" } };
    const podId = await cri.runPodSandbox(pod);
    const containerId = await cri.createContainer(podId, pod, {
      name: "writer",
      image: "localhost/busybox:e2e",
      command: ["/bin/sh", "-c", "echo hi"],
      logPath: "writer/0.log",
      labels: { tier: "log" },
    });
    assert.equal((await cri.containerStatus(containerId)).state, "CONTAINER_CREATED");
    await cri.startContainer(containerId);
    assert.deepEqual(await cri.listContainers(), [
      { id: containerId, podSandboxId: podId, name: "writer", attempt: 0, state: "CONTAINER_RUNNING", labels: { tier: "log" } },
    ]);
    assert.equal((await cri.containerStatus(containerId)).logPath.toString(), path.join(logDirectory, "writer/0.log"));
    await cri.stopContainer(containerId, 2);
    assert.equal((await cri.containerStatus(containerId)).state, "CONTAINER_EXITED");
    await cri.removeContainer(containerId);
    assert.deepEqual(await cri.listContainers(), []);
    await cri.stopPodSandbox(podId);
    await cri.removePodSandbox(podId);

    const sandboxConfig = {
      metadata: { name: "demo-pod", uid: "0000", namespace: "default", attempt: 0 },
      hostname: "", // host network: runc cannot set a hostname in the host's UTS namespace
      log_directory: Buffer.from(logDirectory), // bytes here, string upstream (wire-compatible)
      labels: { app: "feas" },
      annotations: {},
      linux: { cgroup_parent: "", security_context: { namespace_options: { network: "NODE", pid: "CONTAINER", ipc: "POD" } } },
    };
    const byMethod = (m: RuntimeMethod) => rt.calls.find((c) => c.method === m)!.request;
    assert.deepEqual(byMethod("RunPodSandbox"), { config: sandboxConfig, runtime_handler: "" });
    const create = byMethod("CreateContainer");
    assert.equal(create.pod_sandbox_id, podId);
    assert.deepEqual(create.sandbox_config, sandboxConfig);
    assert.deepEqual(create.config, {
      metadata: { name: "writer", attempt: 0 },
      image: { image: "localhost/busybox:e2e" },
      command: ["/bin/sh", "-c", "echo hi"],
      args: [],
      working_dir: "",
      envs: [],
      mounts: [],
      labels: { tier: "log" },
      annotations: {},
      log_path: Buffer.from("writer/0.log"),
      // Nothing asked: no capability change, the image's user (run_as_user/group absent, not 0).
      linux: {
        security_context: {
          capabilities: null,
          privileged: false,
          namespace_options: { network: "NODE", pid: "CONTAINER", ipc: "POD" },
          run_as_user: null,
          readonly_rootfs: false,
          no_new_privs: false,
          run_as_group: null,
        },
      },
    });
    assert.deepEqual(byMethod("StopContainer"), { container_id: containerId, timeout: "2" }); // int64 as string
    assert.deepEqual(byMethod("StopPodSandbox"), { pod_sandbox_id: podId });
    assert.deepEqual(byMethod("RemovePodSandbox"), { pod_sandbox_id: podId });
  });

  test("a pod-network sandbox gets its name as hostname and network POD", async () => {
    rt.clearCalls();
    await cri.runPodSandbox({ name: "p", namespace: "ns", uid: "u", logDirectory, hostNetwork: false });
    const config = rt.calls[0]!.request.config;
    assert.equal(config.hostname, "p");
    assert.deepEqual(config.linux.security_context.namespace_options, { network: "POD", pid: "CONTAINER", ipc: "POD" });
  });
});

// ---- the wire, byte by byte, against the upstream field numbers (kubernetes/cri-api api.proto) ----

type Field = { field: number; wire: number; value: bigint | Buffer };

/** A tiny protobuf reader: top-level fields of one message. */
function decode(buf: Buffer): Field[] {
  const out: Field[] = [];
  let i = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const b = buf[i++]!;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(varint());
    const wire = key & 7;
    if (wire === 0) out.push({ field: key >> 3, wire, value: varint() });
    else if (wire === 2) {
      const len = Number(varint());
      out.push({ field: key >> 3, wire, value: buf.subarray(i, i + len) });
      i += len;
    } else throw new Error(`unexpected wire type ${wire}`);
  }
  return out;
}
const get = (fields: Field[], n: number) => fields.find((f) => f.field === n)?.value;
const str = (fields: Field[], n: number) => (get(fields, n) as Buffer | undefined)?.toString("utf8");
const sub = (fields: Field[], n: number) => decode(get(fields, n) as Buffer);
/** Enum fields 1..3 of a NamespaceOption, 0 when absent (protobufjs writes explicit defaults, Go omits them). */
const namespaceModes = (fields: Field[]) => [1, 2, 3].map((n) => Number(get(fields, n) ?? 0n));

/** A tiny protobuf writer. */
const tag = (field: number, wire: number) => encodeVarint(BigInt((field << 3) | wire));
function encodeVarint(v: bigint): Buffer {
  const bytes: number[] = [];
  do {
    let b = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) b |= 0x80;
    bytes.push(b);
  } while (v > 0n);
  return Buffer.from(bytes);
}
const pbVarint = (field: number, v: number) => Buffer.concat([tag(field, 0), encodeVarint(BigInt(v))]);
const pbBytes = (field: number, b: Buffer) => Buffer.concat([tag(field, 2), encodeVarint(BigInt(b.length)), b]);
const pbString = (field: number, s: string) => pbBytes(field, Buffer.from(s, "utf8"));
const pbMessage = (field: number, ...parts: Buffer[]) => pbBytes(field, Buffer.concat(parts));
const pbMapEntry = (field: number, k: string, v: string) => pbMessage(field, pbString(1, k), pbString(2, v));

describe("wire format matches upstream field numbers", () => {
  const socketPath = path.join(tmp, "raw.sock");
  const requests: Record<string, Buffer> = {};
  const responses: Record<string, Buffer> = {
    Version: Buffer.concat([pbString(1, "0.1.0"), pbString(2, "containerd"), pbString(3, "1.6.20~ds1"), pbString(4, "v1")]),
    // ListContainersResponse{containers=1: Container{id=1, pod_sandbox_id=2, metadata=3{name=1, attempt=2},
    //   image=4{image=1}, state=6 (RUNNING=1), created_at=7, labels=8}}
    ListContainers: pbMessage(
      1,
      pbString(1, "cid"),
      pbString(2, "sid"),
      pbMessage(3, pbString(1, "app"), pbVarint(2, 3)),
      pbMessage(4, pbString(1, "busybox")),
      pbVarint(6, 1),
      pbVarint(7, 1_700_000_000_000_000_000),
      pbMapEntry(8, "k", "v"),
    ),
    // ContainerStatusResponse{status=1: ContainerStatus{id=1, metadata=2, state=3 (EXITED=2), exit_code=7,
    //   log_path=15}, info=2}, plus an unknown field 16 (resources) that must be skipped
    ContainerStatus: Buffer.concat([
      pbMessage(
        1,
        pbString(1, "cid"),
        pbMessage(2, pbString(1, "app"), pbVarint(2, 1)),
        pbVarint(3, 2),
        pbVarint(7, 143),
        pbString(15, "/var/log/pods/ns_p_u/app/1.log"),
        pbMessage(16, pbMessage(1, pbVarint(1, 100))),
      ),
      pbMapEntry(2, "pid", "42"),
    ]),
    ReopenContainerLog: Buffer.alloc(0),
    StopContainer: Buffer.alloc(0),
    RunPodSandbox: pbString(1, "sid"),
    CreateContainer: pbString(1, "cid"),
  };
  let server: grpc.Server;
  let cri: CriAdmin;

  before(async () => {
    const identity = (b: Buffer) => b;
    const definition: Record<string, grpc.MethodDefinition<Buffer, Buffer>> = {};
    const impl: grpc.UntypedServiceImplementation = {};
    for (const method of Object.keys(responses)) {
      definition[method] = {
        path: `/runtime.v1.RuntimeService/${method}`,
        requestStream: false,
        responseStream: false,
        requestSerialize: identity,
        requestDeserialize: identity,
        responseSerialize: identity,
        responseDeserialize: identity,
      };
      impl[method] = (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        requests[method] = call.request;
        cb(null, responses[method]);
      };
    }
    server = new grpc.Server();
    server.addService(definition as grpc.ServiceDefinition, impl);
    await bindServer(server, socketPath);
    cri = createCriAdmin({ endpoint: socketPath });
  });
  after(() => {
    cri.close();
    server.forceShutdown();
  });

  test("VersionRequest.version=1; VersionResponse 1..4", async () => {
    assert.deepEqual(await cri.version(), { version: "0.1.0", runtimeName: "containerd", runtimeVersion: "1.6.20~ds1", runtimeApiVersion: "v1" });
    assert.deepEqual(requests.Version, pbString(1, "v1"));
  });

  test("ListContainersRequest.filter=1 sent empty; Container fields 1,2,3,6,8", async () => {
    assert.deepEqual(await cri.listContainers(), [
      { id: "cid", podSandboxId: "sid", name: "app", attempt: 3, state: "CONTAINER_RUNNING", labels: { k: "v" } },
    ]);
    assert.deepEqual(requests.ListContainers, Buffer.from([0x0a, 0x00])); // field 1, length 0
  });

  test("ContainerStatusRequest.container_id=1; ContainerStatus log_path=15, state=3, exit_code=7", async () => {
    assert.deepEqual(await cri.containerStatus("cid"), {
      id: "cid",
      name: "app",
      state: "CONTAINER_EXITED",
      logPath: Buffer.from("/var/log/pods/ns_p_u/app/1.log"),
      exitCode: 143,
    });
    assert.deepEqual(requests.ContainerStatus, pbString(1, "cid")); // verbose left at false
  });

  test("ReopenContainerLogRequest.container_id=1", async () => {
    await cri.reopenContainerLog("cid");
    assert.deepEqual(requests.ReopenContainerLog, pbString(1, "cid"));
  });

  test("StopContainerRequest{container_id=1, timeout=2 int64}", async () => {
    await cri.stopContainer("cid", 30);
    assert.deepEqual(requests.StopContainer, Buffer.concat([pbString(1, "cid"), pbVarint(2, 30)]));
  });

  test("RunPodSandbox / CreateContainer nest the namespace options at the upstream numbers", async () => {
    const pod = { name: "p", namespace: "ns", uid: "u", logDirectory: "/var/log/pods/ns_p_u", labels: { a: "b" } };
    assert.equal(await cri.runPodSandbox(pod), "sid");
    // RunPodSandboxRequest.config=1: PodSandboxConfig{metadata=1{name=1,uid=2,namespace=3}, hostname=2,
    //   log_directory=3, labels=6, linux=8: LinuxPodSandboxConfig{security_context=2:
    //   LinuxSandboxSecurityContext{namespace_options=1: NamespaceOption{network=1 NODE=2, pid=2 CONTAINER=1, ipc=3 POD=0}}}}
    const config = sub(decode(requests.RunPodSandbox!), 1);
    const metadata = sub(config, 1);
    assert.deepEqual([str(metadata, 1), str(metadata, 2), str(metadata, 3)], ["p", "u", "ns"]);
    assert.equal(str(config, 2) ?? "", ""); // hostname "" for a host-network pod
    assert.equal(str(config, 3), "/var/log/pods/ns_p_u");
    const label = sub(config, 6);
    assert.deepEqual([str(label, 1), str(label, 2)], ["a", "b"]);
    const sandboxNs = sub(sub(sub(config, 8), 2), 1);
    assert.deepEqual(namespaceModes(sandboxNs), [2, 1, 0]); // network NODE, pid CONTAINER, ipc POD

    assert.equal(await cri.createContainer("sid", pod, { name: "c", image: "img", command: ["sh"], args: ["-c", "x"], logPath: "c/0.log" }), "cid");
    // CreateContainerRequest{pod_sandbox_id=1, config=2, sandbox_config=3}; ContainerConfig{metadata=1{name=1},
    //   image=2{image=1}, command=3, args=4, log_path=11, linux=15: LinuxContainerConfig{security_context=2:
    //   LinuxContainerSecurityContext{namespace_options=3}}}
    const req = decode(requests.CreateContainer!);
    assert.equal(str(req, 1), "sid");
    const cc = sub(req, 2);
    assert.equal(str(sub(cc, 1), 1), "c");
    assert.equal(str(sub(cc, 2), 1), "img");
    assert.deepEqual(cc.filter((f) => f.field === 3).map((f) => f.value.toString()), ["sh"]);
    assert.deepEqual(cc.filter((f) => f.field === 4).map((f) => f.value.toString()), ["-c", "x"]);
    assert.equal(str(cc, 11), "c/0.log");
    const containerNs = sub(sub(sub(cc, 15), 2), 3);
    assert.deepEqual(namespaceModes(containerNs), [2, 1, 0]);
    assert.deepEqual(sub(req, 3), config); // the sandbox config again, same bytes
  });

  test("CreateContainer: working_dir=5, envs=6, mounts=7 and the securityContext at the upstream numbers", async () => {
    const pod = { name: "p", namespace: "ns", uid: "u", logDirectory: "/var/log/pods/ns_p_u" };
    await cri.createContainer("sid", pod, {
      name: "c",
      image: "img",
      logPath: "c/0.log",
      workingDir: "/work",
      envs: [{ key: "POD_IP", value: "10.0.0.7" }],
      mounts: [{ containerPath: "/var/log/pods", hostPath: "/var/log/pods" }, { containerPath: "/etc/x", hostPath: "/h/x", readonly: true }],
      securityContext: { capabilities: { add: ["NET_ADMIN"], drop: ["ALL"] }, runAsUser: 0, runAsGroup: 0, readonlyRootfs: true, noNewPrivs: true },
    });
    const cc = sub(decode(requests.CreateContainer!), 2);
    assert.deepEqual(cc.filter((f) => f.field === 3 || f.field === 4), [], "no command, no args: the image's entrypoint and cmd");
    assert.equal(str(cc, 5), "/work");
    // KeyValue{key=1, value=2}
    const env = sub(cc, 6);
    assert.deepEqual([str(env, 1), str(env, 2)], ["POD_IP", "10.0.0.7"]);
    // Mount{container_path=1, host_path=2, readonly=3}
    const mounts = cc.filter((f) => f.field === 7).map((f) => decode(f.value as Buffer));
    assert.deepEqual(mounts.map((m) => [str(m, 1), str(m, 2), Number(get(m, 3) ?? 0n)]), [["/var/log/pods", "/var/log/pods", 0], ["/etc/x", "/h/x", 1]]);
    // LinuxContainerConfig{security_context=2: LinuxContainerSecurityContext{capabilities=1: Capability{
    //   add_capabilities=1, drop_capabilities=2}, privileged=2, run_as_user=5: Int64Value{value=1},
    //   readonly_rootfs=7, no_new_privs=11, run_as_group=12: Int64Value{value=1}}}
    const sc = sub(sub(cc, 15), 2);
    const caps = sub(sc, 1);
    assert.deepEqual([str(caps, 1), str(caps, 2)], ["NET_ADMIN", "ALL"]);
    assert.equal(Number(get(sc, 2) ?? 0n), 0);
    assert.ok(get(sc, 5) !== undefined, "run_as_user 0 is sent: absent would mean the image's user");
    assert.equal(Number(get(sub(sc, 5), 1) ?? 0n), 0);
    assert.equal(get(sc, 7), 1n);
    assert.equal(get(sc, 11), 1n);
    assert.ok(get(sc, 12) !== undefined);
    assert.equal(Number(get(sub(sc, 12), 1) ?? 0n), 0);
  });
});

describe("runtime trouble", () => {
  test("a missing socket is CRI_SOCKET_MISSING naming the path", async () => {
    const socketPath = path.join(tmp, "missing.sock");
    const err = await expectCriError(connectCri({ endpoint: socketPath, timeoutMs: 1_000 }), "CRI_SOCKET_MISSING");
    assert.ok(err.message.includes(socketPath), err.message);
    assert.ok(err.cause, "keeps the gRPC error");
  });

  test("a socket nobody listens on is CRI_UNAVAILABLE", async () => {
    // A stale socket file, as after a runtime crash: bind, keep a second name, close (which unlinks the first).
    const live = path.join(tmp, "live.sock");
    const stale = path.join(tmp, "stale.sock");
    const listener = net.createServer();
    await new Promise<void>((resolve) => listener.listen(live, resolve));
    fs.linkSync(live, stale);
    await new Promise<void>((resolve) => listener.close(() => resolve()));
    const started = Date.now();
    const err = await expectCriError(connectCri({ endpoint: `unix://${stale}`, timeoutMs: 5_000 }), "CRI_UNAVAILABLE");
    assert.ok(Date.now() - started < 1_000, "fails fast, not at the deadline");
    assert.ok(err.message.includes(`unix://${stale}`), err.message);
  });

  test("a gRPC server without runtime.v1 is CRI_NOT_V1", async () => {
    const socketPath = path.join(tmp, "not-v1.sock");
    const server = new grpc.Server(); // no services: every method is UNIMPLEMENTED
    await bindServer(server, socketPath);
    try {
      const err = await expectCriError(connectCri({ endpoint: socketPath }), "CRI_NOT_V1");
      assert.ok(err.message.includes(`unix://${socketPath}`), err.message);
      assert.match(err.message, /runtime\.v1/);
      assert.equal((err.cause as grpc.ServiceError).code, grpc.status.UNIMPLEMENTED);
    } finally {
      server.forceShutdown();
    }
  });

  test("connectCri returns a working client and the version", async () => {
    const socketPath = path.join(tmp, "connect.sock");
    const rt = await startFakeRuntime({ socketPath, version: { runtimeName: "containerd", runtimeVersion: "1.6.20" } });
    const logger = new MemoryLogger();
    try {
      const { cri, version } = await connectCri({ endpoint: socketPath, logger });
      assert.equal(version.runtimeName, "containerd");
      assert.deepEqual(await cri.listContainers(), []);
      assert.deepEqual(logger.find({ level: "info" }).map((e) => e.msg), ["connected to container runtime"]);
      cri.close();
    } finally {
      await rt.close();
    }
  });

  test("while the runtime restarts calls fail fast, then the same client works again", async () => {
    const socketPath = path.join(tmp, "restart.sock");
    const rt = await startFakeRuntime({ socketPath });
    rt.addContainer({ id: "c", name: "app", state: "CONTAINER_RUNNING", logPath: "/dev/null" });
    const cri = createCriAdmin({ endpoint: socketPath, timeoutMs: 5_000 });
    try {
      assert.equal((await cri.listContainers()).length, 1);
      await rt.stop();
      // Down for a while: each call fails at once, none waits for the 5s deadline.
      for (let i = 0; i < 5; i++) {
        const started = Date.now();
        await expectCriError(cri.listContainers(), "CRI_SOCKET_MISSING"); // the runtime took its socket with it
        assert.ok(Date.now() - started < 500, `call ${i} took ${Date.now() - started}ms`);
        await new Promise((r) => setTimeout(r, 100));
      }
      await rt.serve();
      // The channel reconnects on its own backoff (200ms doubling, at most 5s).
      const deadline = Date.now() + 8_000;
      let failures = 0;
      for (;;) {
        try {
          assert.equal((await cri.listContainers()).length, 1);
          break;
        } catch (err) {
          assert.ok(err instanceof CriError && (err.code === "CRI_UNAVAILABLE" || err.code === "CRI_SOCKET_MISSING"), String(err));
          failures++;
          if (Date.now() > deadline) throw new Error(`client did not recover after ${failures} attempts`);
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      assert.equal((await cri.containerStatus("c")).state, "CONTAINER_RUNNING");
    } finally {
      cri.close();
      await rt.close();
    }
  });
});
