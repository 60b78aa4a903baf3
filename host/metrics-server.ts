// The HTTP endpoint of the daemon: GET /metrics (a prom-client registry, text format 0.0.4) and /healthz.
import * as http from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";
import { parseListenAddress } from "./config/address.js";
import { MetricsServerError } from "./errors.js";

export interface Health {
  ok: boolean;
  detail: string;
}

export interface MetricsServer {
  address: string;
  port: number;
  close(): Promise<void>;
}

const TEXT = "text/plain; charset=utf-8";

/**
 * Serves GET /metrics and /healthz on host:port (port 0 picks a free one). The endpoint has no
 * authentication: the default is loopback; an operator who binds the pod IP (so Prometheus can scrape it)
 * exposes only counters, gauges and histograms (docs/operations.md, "Metrics").
 */
export function startMetricsServer(address: string, registry: Registry, health: () => Health | Promise<Health>): Promise<MetricsServer> {
  const parsed = parseListenAddress(address);
  if (!parsed) {
    return Promise.reject(new MetricsServerError("METRICS_ADDRESS", `metrics address ${JSON.stringify(address)} is not host:port`));
  }

  const server = http.createServer((req, res) => {
    const pathname = (req.url ?? "/").split("?")[0];
    const send = (status: number, type: string, body: string, extra: Record<string, string> = {}) => {
      res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(body), ...extra });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    if (pathname !== "/metrics" && pathname !== "/healthz") return send(404, TEXT, "not found\n");
    if (req.method !== "GET" && req.method !== "HEAD") return send(405, TEXT, "method not allowed\n", { Allow: "GET, HEAD" });
    if (pathname === "/metrics") {
      registry.metrics().then(
        (body) => send(200, registry.contentType, body),
        (err: Error) => send(500, TEXT, `cannot render metrics: ${err.message}\n`),
      );
      return;
    }
    Promise.resolve()
      .then(health)
      .catch((err: Error): Health => ({ ok: false, detail: `health check failed: ${err.message}` }))
      .then((h) => (h.ok ? send(200, TEXT, "ok\n") : send(503, TEXT, `${h.detail}\n`)));
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
