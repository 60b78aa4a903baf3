// The metrics server: /metrics and /healthz on the address the operator sets, closed in `after`.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import * as http from "node:http";
import { createMetrics } from "../../host/metrics.js";
import { startMetricsServer, type Health } from "../../host/metrics-server.js";

function get(port: number, path: string, host = "127.0.0.1"): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host, port, path, agent: false }, (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (c) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode!, type: String(res.headers["content-type"]), body }));
      })
      .on("error", reject);
  });
}

test("server on 127.0.0.1:0 serves /metrics, /healthz 200 then 503, 404 otherwise, and closes", async () => {
  const m = createMetrics();
  m.rotations.inc();
  let health: Health = { ok: true, detail: "" };
  const server = await startMetricsServer("127.0.0.1:0", m.registry, () => health);
  let closed = false;
  after(async () => {
    if (!closed) await server.close();
  });
  assert.equal(server.address, "127.0.0.1");
  assert.ok(server.port > 0);

  const metrics = await get(server.port, "/metrics");
  assert.equal(metrics.status, 200);
  assert.equal(metrics.type, "text/plain; version=0.0.4; charset=utf-8");
  assert.equal(metrics.body, await m.registry.metrics());
  assert.match(metrics.body, /^cri_logrotate_rotations_total 1$/m);

  assert.deepEqual(await get(server.port, "/healthz"), { status: 200, type: "text/plain; charset=utf-8", body: "ok\n" });
  health = { ok: false, detail: "CRI runtime unreachable: connect ENOENT /run/containerd/containerd.sock" };
  const down = await get(server.port, "/healthz");
  assert.equal(down.status, 503);
  assert.equal(down.body, "CRI runtime unreachable: connect ENOENT /run/containerd/containerd.sock\n");
  assert.equal((await get(server.port, "/")).status, 404);
  assert.equal((await get(server.port, "/metrics/x")).status, 404);

  await server.close();
  closed = true;
  await assert.rejects(get(server.port, "/metrics"), /ECONNREFUSED/);
});

const addresses: Record<string, { listen: string; bound: string; reach: string }> = {
  "every interface": { listen: "0.0.0.0:0", bound: "0.0.0.0", reach: "127.0.0.1" },
  "one address (the pod IP)": { listen: "127.0.0.2:0", bound: "127.0.0.2", reach: "127.0.0.2" },
};
for (const [name, tc] of Object.entries(addresses)) {
  test(`server listens on any address the operator sets (Prometheus scrapes the pod IP): ${name}`, async () => {
    const server = await startMetricsServer(tc.listen, createMetrics().registry, () => ({ ok: true, detail: "" }));
    try {
      assert.equal(server.address, tc.bound);
      assert.equal((await fetch(`http://${tc.reach}:${server.port}/healthz`)).status, 200);
    } finally {
      await server.close();
    }
  });
}

const healthChecks: Record<string, { health: () => Health | Promise<Health>; status: number; body: string }> = {
  "async, up": { health: async () => ({ ok: true, detail: "ok" }), status: 200, body: "ok\n" },
  "async, down": { health: async () => ({ ok: false, detail: "container runtime unreachable" }), status: 503, body: "container runtime unreachable\n" },
  "throws": { health: () => { throw new Error("boom"); }, status: 503, body: "health check failed: boom\n" },
  "rejects": { health: () => Promise.reject(new Error("late boom")), status: 503, body: "health check failed: late boom\n" },
};
for (const [name, tc] of Object.entries(healthChecks)) {
  test(`/healthz from a health check that is ${name}`, async () => {
    const server = await startMetricsServer("127.0.0.1:0", createMetrics().registry, tc.health);
    try {
      const res = await get(server.port, "/healthz");
      assert.deepEqual({ status: res.status, body: res.body }, { status: tc.status, body: tc.body });
    } finally {
      await server.close();
    }
  });
}

test("server refuses what is not host:port", async () => {
  await assert.rejects(startMetricsServer("9787", createMetrics().registry, () => ({ ok: true, detail: "" })), (err: unknown) => {
    assert.equal((err as { code?: string }).code, "METRICS_ADDRESS");
    return true;
  });
});

test("server reports a port in use", async () => {
  const first = await startMetricsServer("127.0.0.1:0", createMetrics().registry, () => ({ ok: true, detail: "" }));
  try {
    await assert.rejects(startMetricsServer(`127.0.0.1:${first.port}`, createMetrics().registry, () => ({ ok: true, detail: "" })), (err: unknown) => {
      assert.equal((err as { code?: string }).code, "METRICS_LISTEN");
      assert.match((err as Error).message, /EADDRINUSE/);
      return true;
    });
  } finally {
    await first.close();
  }
});
