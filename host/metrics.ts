// A tiny Prometheus registry (text exposition format 0.0.4) and the loopback server that exposes it.
// No dependency: counters and gauges with fixed label names, histograms with fixed buckets.
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import { parseListenAddress } from "./config/address.js";
import { MetricsServerError } from "./errors.js";
import { ERROR_KINDS, type ErrorKind } from "./manager/observer.js";

type Labels<L extends string> = [L] extends [never] ? Record<string, never> : Record<L, string>;

interface Metric {
  readonly name: string;
  expose(): string;
}

function escapeHelp(s: string): string {
  return s.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

export function escapeLabelValue(s: string): string {
  return s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

/** Prometheus' float syntax: integers plain, +Inf/-Inf/NaN spelled out. */
export function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}

const NAME_RE = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_RE = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function header(name: string, help: string, type: string): string {
  return `# HELP ${name} ${escapeHelp(help)}\n# TYPE ${name} ${type}\n`;
}

function renderLabels(pairs: [string, string][]): string {
  if (pairs.length === 0) return "";
  return `{${pairs.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(",")}}`;
}

/** Counters and gauges: one value per label set. */
abstract class Scalar<L extends string> implements Metric {
  protected readonly series = new Map<string, { pairs: [string, string][]; value: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly L[],
    private readonly type: "counter" | "gauge",
  ) {
    if (!NAME_RE.test(name)) throw new Error(`invalid metric name ${JSON.stringify(name)}`);
    for (const l of labelNames) if (!LABEL_RE.test(l) || l.startsWith("__")) throw new Error(`invalid label name ${JSON.stringify(l)} on ${name}`);
    // An unlabelled metric has exactly one series and shows 0 from the start.
    if (labelNames.length === 0) this.series.set("", { pairs: [], value: 0 });
  }

  protected entry(labels: Labels<L> | undefined): { pairs: [string, string][]; value: number } {
    const given = (labels ?? {}) as Record<string, string>;
    const pairs: [string, string][] = this.labelNames.map((l) => {
      const v = given[l];
      if (typeof v !== "string") throw new Error(`${this.name}: missing label ${JSON.stringify(l)}`);
      return [l, v];
    });
    if (Object.keys(given).length !== pairs.length) {
      throw new Error(`${this.name}: labels ${JSON.stringify(Object.keys(given))} do not match ${JSON.stringify(this.labelNames)}`);
    }
    const key = JSON.stringify(pairs.map((p) => p[1]));
    const keyed = this.labelNames.length === 0 ? "" : key;
    let e = this.series.get(keyed);
    if (!e) this.series.set(keyed, (e = { pairs, value: 0 }));
    return e;
  }

  /** The current value (0 for a label set never touched). For tests and /healthz detail. */
  get(...[labels]: [L] extends [never] ? [] : [Labels<L>]): number {
    return this.entry(labels).value;
  }

  expose(): string {
    let out = header(this.name, this.help, this.type);
    const rows = [...this.series.values()].map((e) => `${this.name}${renderLabels(e.pairs)} ${formatValue(e.value)}\n`);
    rows.sort(); // stable output regardless of the order label sets first appeared
    return out + rows.join("");
  }
}

export class Counter<L extends string = never> extends Scalar<L> {
  constructor(name: string, help: string, labelNames: readonly L[] = []) {
    super(name, help, labelNames, "counter");
  }

  inc(...args: [L] extends [never] ? [n?: number] : [labels: Labels<L>, n?: number]): void {
    const [labels, n] = (this.labelNames.length === 0 ? [undefined, args[0]] : [args[0], args[1]]) as [Labels<L> | undefined, number | undefined];
    const by = n ?? 1;
    if (!(by >= 0)) throw new Error(`${this.name}: a counter only goes up (inc by ${by})`);
    this.entry(labels).value += by;
  }

  /** Creates the series at 0 so that rate() sees it before the first event. */
  init(labels: Labels<L>): void {
    this.entry(labels);
  }
}

export class Gauge<L extends string = never> extends Scalar<L> {
  constructor(name: string, help: string, labelNames: readonly L[] = []) {
    super(name, help, labelNames, "gauge");
  }

  set(...args: [L] extends [never] ? [value: number] : [labels: Labels<L>, value: number]): void {
    const [labels, v] = (this.labelNames.length === 0 ? [undefined, args[0]] : [args[0], args[1]]) as [Labels<L> | undefined, number];
    this.entry(labels).value = v;
  }
}

/** A histogram without labels (all ours need): cumulative buckets, _sum and _count. */
export class Histogram implements Metric {
  readonly buckets: readonly number[];
  private readonly counts: number[];
  private sum = 0;
  private count = 0;

  constructor(readonly name: string, readonly help: string, buckets: readonly number[]) {
    if (!NAME_RE.test(name)) throw new Error(`invalid metric name ${JSON.stringify(name)}`);
    const sorted = [...buckets].filter((b) => b !== Infinity);
    for (let i = 1; i < sorted.length; i++) {
      if (!(sorted[i]! > sorted[i - 1]!)) throw new Error(`${name}: buckets must be strictly increasing`);
    }
    this.buckets = sorted;
    this.counts = sorted.map(() => 0);
  }

  observe(v: number): void {
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]!) this.counts[i]!++;
    this.sum += v;
    this.count++;
  }

  /** Observes the seconds elapsed between `start()` and calling the returned function. */
  startTimer(now: () => number = () => performance.now()): () => number {
    const t0 = now();
    return () => {
      const seconds = (now() - t0) / 1000;
      this.observe(seconds);
      return seconds;
    };
  }

  get snapshot(): { buckets: number[]; sum: number; count: number } {
    return { buckets: [...this.counts], sum: this.sum, count: this.count };
  }

  expose(): string {
    let out = header(this.name, this.help, "histogram");
    // counts[] is already cumulative: observe() bumps every bucket whose bound is >= v.
    this.buckets.forEach((b, i) => (out += `${this.name}_bucket{le="${formatValue(b)}"} ${this.counts[i]}\n`));
    out += `${this.name}_bucket{le="+Inf"} ${this.count}\n`;
    out += `${this.name}_sum ${formatValue(this.sum)}\n`;
    out += `${this.name}_count ${this.count}\n`;
    return out;
  }
}

export class Registry {
  private readonly metrics: Metric[] = [];

  register<M extends Metric>(m: M): M {
    if (this.metrics.some((x) => x.name === m.name)) throw new Error(`metric ${m.name} registered twice`);
    this.metrics.push(m);
    return m;
  }

  counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return this.register(new Counter<L>(name, help, labelNames));
  }

  gauge<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
    return this.register(new Gauge<L>(name, help, labelNames));
  }

  histogram(name: string, help: string, buckets: readonly number[]): Histogram {
    return this.register(new Histogram(name, help, buckets));
  }

  /** The text exposition format 0.0.4, metrics in registration order. */
  expose(): string {
    return this.metrics.map((m) => m.expose()).join("");
  }
}

// ---------------------------------------------------------------------------------------------------
// The project's metrics.

/** Values of errors_total{kind}: which step failed (pre-created at 0). */
export { ERROR_KINDS, type ErrorKind };

/** Seconds; a pass spans CRI calls and gzip of up to containerLogMaxSize per container. */
export const PASS_DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60] as const;

export function createMetrics() {
  const registry = new Registry();
  const m = {
    registry,
    rotations: registry.counter("cri_logrotate_rotations_total", "Live logs renamed to a rotated name and reopened by the runtime."),
    compressions: registry.counter("cri_logrotate_compressions_total", "Rotated logs compressed."),
    compressedBytesIn: registry.counter("cri_logrotate_compressed_bytes_in_total", "Bytes read by compression."),
    compressedBytesOut: registry.counter("cri_logrotate_compressed_bytes_out_total", "Bytes written by compression."),
    removals: registry.counter("cri_logrotate_removals_total", "Log files removed, by the plan's reason.", ["reason"]),
    recoveries: registry.counter("cri_logrotate_recoveries_total", "Missing live logs recovered with ReopenContainerLog."),
    errors: registry.counter("cri_logrotate_errors_total", "Failures by step; one container's failure never stops the others.", ["kind"]),
    passDuration: registry.histogram("cri_logrotate_pass_duration_seconds", "Duration of one rotation pass over all containers.", PASS_DURATION_BUCKETS),
    containersWatched: registry.gauge("cri_logrotate_containers_watched", "Running containers whose logs are managed."),
    heldFiles: registry.gauge("cri_logrotate_held_files", "Rotated files kept uncompressed because the shipper has not read them to the end."),
    heldUnreadBytes: registry.gauge("cri_logrotate_held_unread_bytes", "Bytes in held files the shipper has not read yet."),
    unreadBytesDropped: registry.counter(
      "cri_logrotate_unread_bytes_dropped_total",
      "Bytes compressed or removed before the shipper read them, forced by a limit (reason).",
      ["reason"],
    ),
    runtimeUp: registry.gauge("cri_logrotate_runtime_up", "1 if the last CRI call succeeded, 0 otherwise."),
    compressionBacklogFiles: registry.gauge("cri_logrotate_compression_backlog_files", "Rotated logs waiting for or in background compression."),
    compressionBacklogBytes: registry.gauge("cri_logrotate_compression_backlog_bytes", "Bytes of the rotated logs waiting for or in background compression."),
    compressionsDropped: registry.counter(
      "cri_logrotate_compressions_dropped_total",
      "Rotated logs removed as excess before their compression ran (compression could not keep up).",
    ),
    /** Shorthand for errors.inc({ kind }). */
    error(kind: ErrorKind): void {
      m.errors.inc({ kind });
    },
  };
  for (const kind of ERROR_KINDS) m.errors.init({ kind });
  return m;
}

export type Metrics = ReturnType<typeof createMetrics>;

// ---------------------------------------------------------------------------------------------------
// The server.

export interface Health {
  ok: boolean;
  detail: string;
}

export interface MetricsServer {
  address: string;
  port: number;
  close(): Promise<void>;
}

/**
 * Serves GET /metrics and /healthz on host:port (port 0 picks a free one). The endpoint has no
 * authentication: the default is loopback; an operator who binds the pod IP (so Prometheus can scrape it)
 * exposes only counters and gauges (docs/operations.md, "Metrics").
 */
export function startMetricsServer(address: string, metrics: { registry: Registry } | Registry, health: () => Health): Promise<MetricsServer> {
  const parsed = parseListenAddress(address);
  if (!parsed) {
    return Promise.reject(new MetricsServerError("METRICS_ADDRESS", `metrics address ${JSON.stringify(address)} is not host:port`));
  }
  const registry = metrics instanceof Registry ? metrics : metrics.registry;

  const server = http.createServer((req, res) => {
    const pathname = (req.url ?? "/").split("?")[0];
    const send = (status: number, type: string, body: string, extra: Record<string, string> = {}) => {
      res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(body), ...extra });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    if (pathname !== "/metrics" && pathname !== "/healthz") return send(404, "text/plain; charset=utf-8", "not found\n");
    if (req.method !== "GET" && req.method !== "HEAD") return send(405, "text/plain; charset=utf-8", "method not allowed\n", { Allow: "GET, HEAD" });
    if (pathname === "/metrics") {
      let body: string;
      try {
        body = registry.expose();
      } catch (err) {
        return send(500, "text/plain; charset=utf-8", `cannot render metrics: ${(err as Error).message}\n`);
      }
      return send(200, "text/plain; version=0.0.4; charset=utf-8", body);
    }
    let h: Health;
    try {
      h = health();
    } catch (err) {
      h = { ok: false, detail: `health check failed: ${(err as Error).message}` };
    }
    return h.ok ? send(200, "text/plain; charset=utf-8", "ok\n") : send(503, "text/plain; charset=utf-8", `${h.detail}\n`);
  });

  return new Promise((resolve, reject) => {
    const onError = (err: Error) =>
      reject(new MetricsServerError("METRICS_LISTEN", `cannot listen on metrics address ${JSON.stringify(address)}: ${err.message}`, { cause: err }));
    server.once("error", onError);
    server.listen(parsed.port, parsed.host, () => {
      server.off("error", onError);
      const bound = server.address() as AddressInfo;
      resolve({
        address: bound.address,
        port: bound.port,
        close: () =>
          new Promise<void>((done, fail) => {
            server.close((err) => (err ? fail(err) : done()));
            server.closeAllConnections(); // keep-alive scrapers must not hold stop() open
          }),
      });
    });
  });
}
