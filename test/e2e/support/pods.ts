// Pods and containers created the way the kubelet does it: the kubelet, not the runtime, makes the pod log
// directory <logRoot>/<namespace>_<name>_<uid> and the container directory below it, and passes a log path
// relative to the pod's directory ("<name>/<attempt>.log").
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { CriAdmin, PodSandboxSpec } from "../../support/cri-admin.js";
import { E2E_IMAGE } from "./image.js";

// Busybox shell loops. The container shell is PID 1 of its own PID namespace and ignores SIGTERM, so
// StopContainer waits out its timeout: stop with a small one (STOP_TIMEOUT_SECONDS).
export const fastWriterCommand = ["/bin/sh", "-c", "i=0; while true; do echo line $i; i=$((i+1)); done"];
export const slowWriterCommand = ["/bin/sh", "-c", "i=0; while true; do echo line $i; i=$((i+1)); sleep 0.2; done"];
export const idleCommand = ["/bin/sleep", "2147483647"];
export const STOP_TIMEOUT_SECONDS = 2;

export interface RunningPod {
  podId: string;
  logDirectory: string;    // as this process reaches it (spec.logDirectory is the runtime's view)
  spec: PodSandboxSpec;
  containers: RunningContainer[];
}

export interface RunningContainer {
  id: string;
  name: string;
  attempt: number;
  logPath: string; // absolute: <logDirectory>/<name>/<attempt>.log
}

export interface PodOptions {
  namespace: string;
  name: string;
  uid: string;
  /** Where the test makes the pod's log directory. */
  logRoot: string;
  /** The same directory as the runtime sees it (PrivateContainerd.criLogRoot); default logRoot. */
  criLogRoot?: string;
  labels?: Record<string, string>;
}

export interface ContainerOptions {
  name: string;
  command: string[];
  attempt?: number;
  labels?: Record<string, string>;
}

/** Runs a host-network pod sandbox (hostname "", as the kubelet sends for host-network pods). */
export async function runPod(cri: CriAdmin, opts: PodOptions): Promise<RunningPod> {
  const dirName = `${opts.namespace}_${opts.name}_${opts.uid}`;
  const logDirectory = join(opts.logRoot, dirName);
  await mkdir(logDirectory, { recursive: true });
  const spec: PodSandboxSpec = {
    name: opts.name,
    namespace: opts.namespace,
    uid: opts.uid,
    attempt: 0,
    logDirectory: join(opts.criLogRoot ?? opts.logRoot, dirName),
    hostNetwork: true,
    labels: opts.labels ?? {},
  };
  const podId = await cri.runPodSandbox(spec);
  return { podId, logDirectory, spec, containers: [] };
}

/** Creates and starts a container of the e2e busybox image writing to <logDirectory>/<name>/<attempt>.log. */
export async function runContainer(cri: CriAdmin, pod: RunningPod, opts: ContainerOptions): Promise<RunningContainer> {
  const attempt = opts.attempt ?? 0;
  await mkdir(join(pod.logDirectory, opts.name), { recursive: true });
  const id = await cri.createContainer(pod.podId, pod.spec, {
    name: opts.name,
    attempt,
    image: E2E_IMAGE,
    command: opts.command,
    logPath: `${opts.name}/${attempt}.log`,
    labels: opts.labels ?? {},
  });
  const container: RunningContainer = { id, name: opts.name, attempt, logPath: join(pod.logDirectory, opts.name, `${attempt}.log`) };
  pod.containers.push(container);
  await cri.startContainer(id);
  return container;
}

/**
 * Stops and removes the pods' containers and sandboxes. Best effort for cleanup: every pod is tried, and the
 * errors come back together at the end. StopPodSandbox kills what is still running without a grace period.
 */
export async function stopAndRemoveAll(cri: CriAdmin, pods: RunningPod[]): Promise<void> {
  const errors: unknown[] = [];
  await Promise.all(pods.map(async (pod) => {
    const step = async (what: string, call: () => Promise<void>) => {
      try {
        await call();
      } catch (cause) {
        if (!isNotFound(cause)) errors.push(new Error(`failed to ${what} of pod ${pod.spec.namespace}/${pod.spec.name}`, { cause }));
      }
    };
    await step("stop sandbox", () => cri.stopPodSandbox(pod.podId));
    for (const c of pod.containers) await step(`remove container ${c.name}`, () => cri.removeContainer(c.id));
    await step("remove sandbox", () => cri.removePodSandbox(pod.podId));
  }));
  pods.length = 0;
  if (errors.length > 0) throw new AggregateError(errors, "failed to remove e2e pods");
}

function isNotFound(e: unknown): boolean {
  const { grpcCode, code, message } = e as { grpcCode?: unknown; code?: unknown; message?: unknown };
  return grpcCode === 5 || code === 5 || /not ?found|does not exist/i.test(String(message ?? e));
}

/** Retries Version until the CRI plugin answers: it finishes initialising after containerd's socket is up. */
export async function waitForCri(cri: CriAdmin, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await cri.version();
      return;
    } catch (cause) {
      if (Date.now() > deadline) throw new Error(`CRI did not answer Version within ${timeoutMs} ms`, { cause });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

// --- CRI log files ---------------------------------------------------------------------------------------

export interface CriLogLine {
  time: string;               // RFC3339Nano
  stream: "stdout" | "stderr";
  tag: "F" | "P";             // full line or partial
  content: string;
}

// `2026-11-27T00:06:35.350706341Z stdout F line 192`
const CRI_LINE = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)) (stdout|stderr) ([FP]) (.*)$/;

export function parseCriLogLine(line: string): CriLogLine | undefined {
  const m = CRI_LINE.exec(line);
  if (m === null) return undefined;
  return { time: m[1]!, stream: m[2] as CriLogLine["stream"], tag: m[3] as CriLogLine["tag"], content: m[4]! };
}

/**
 * Reads a CRI log file. A last line without its newline is still being written and is left out.
 * Throws on a line that is not CRI format: the runtime never writes one.
 */
export async function readCriLog(path: string): Promise<CriLogLine[]> {
  const text = await readFile(path, "utf8");
  const lines = text.split("\n");
  lines.pop(); // "" after the final newline, or an incomplete line
  return lines.map((line, i) => {
    const parsed = parseCriLogLine(line);
    if (parsed === undefined) throw new Error(`line ${i + 1} of "${path}" is not in CRI format: ${JSON.stringify(line)}`);
    return parsed;
  });
}

/**
 * Joins partial entries (tag P) with the entry that completes them, per stream, the way a log shipper must:
 * containerd flushes the half-read line as P when it reopens the log, so a line can end one file in P and
 * finish the next in F. An unfinished P at the end is kept as it is.
 */
export function joinPartials(lines: CriLogLine[]): CriLogLine[] {
  const joined: CriLogLine[] = [];
  const pending = new Map<string, CriLogLine>();
  for (const line of lines) {
    const head = pending.get(line.stream);
    const whole = head === undefined ? line : { ...head, tag: line.tag, content: head.content + line.content };
    if (whole.tag === "P") {
      pending.set(line.stream, whole);
    } else {
      pending.delete(line.stream);
      joined.push(whole);
    }
  }
  joined.push(...pending.values());
  return joined;
}

/** The N of each "line N" a writer container printed, in order, partial entries joined; an unfinished tail is left out. */
export function writerSequence(lines: CriLogLine[]): number[] {
  return joinPartials(lines).filter((l) => l.tag === "F").map((l) => {
    const m = /^line (\d+)$/.exec(l.content);
    if (m === null) throw new Error(`not a writer line: ${JSON.stringify(l.content)}`);
    return Number(m[1]);
  });
}
