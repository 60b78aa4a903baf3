// The Prometheus registry's exact text (format 0.0.4) and the loopback server.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import * as http from "node:http";
import { Registry, createMetrics, startMetricsServer, type Health } from "../../host/metrics.js";

test("counter with escaped labels: exact exposition", () => {
  const r = new Registry();
  const c = r.counter("demo_removals_total", "Files removed.\nBy reason \\ path.", ["reason", "path"]);
  c.inc({ reason: "excess", path: 'a\\b "c"\nd' }, 2);
  c.inc({ reason: "excess", path: 'a\\b "c"\nd' });
  c.inc({ reason: "unused-tmp", path: "/x" });
  const plain = r.counter("demo_rotations_total", "Rotations.");
  plain.inc();
  assert.equal(
    r.expose(),
    [
      "# HELP demo_removals_total Files removed.\\nBy reason \\\\ path.",
      "# TYPE demo_removals_total counter",
      'demo_removals_total{reason="excess",path="a\\\\b \\"c\\"\\nd"} 3',
      'demo_removals_total{reason="unused-tmp",path="/x"} 1',
      "# HELP demo_rotations_total Rotations.",
      "# TYPE demo_rotations_total counter",
      "demo_rotations_total 1",
      "",
    ].join("\n"),
  );
});

test("histogram: cumulative buckets, +Inf, _sum, _count", () => {
  const r = new Registry();
  const h = r.histogram("demo_pass_duration_seconds", "Pass duration.", [0.1, 0.5, 2.5]);
  for (const v of [0.05, 0.1, 0.3, 3, 7]) h.observe(v);
  assert.equal(
    r.expose(),
    [
      "# HELP demo_pass_duration_seconds Pass duration.",
      "# TYPE demo_pass_duration_seconds histogram",
      'demo_pass_duration_seconds_bucket{le="0.1"} 2',
      'demo_pass_duration_seconds_bucket{le="0.5"} 3',
      'demo_pass_duration_seconds_bucket{le="2.5"} 3',
      'demo_pass_duration_seconds_bucket{le="+Inf"} 5',
      "demo_pass_duration_seconds_sum 10.45",
      "demo_pass_duration_seconds_count 5",
      "",
    ].join("\n"),
  );
});

test("gauge set and labelled-metric misuse", () => {
  const r = new Registry();
  const g = r.gauge("demo_up", "Up.");
  g.set(1);
  g.set(0);
  assert.equal(r.expose(), "# HELP demo_up Up.\n# TYPE demo_up gauge\ndemo_up 0\n");
  const c = r.counter("demo_errors_total", "Errors.", ["kind"]);
  assert.throws(() => c.inc({ kind: "x", extra: "y" } as never), /do not match/);
  assert.throws(() => c.inc({ kind: "x" }, -1), /only goes up/);
  assert.throws(() => r.counter("demo_up", "again"), /registered twice/);
});

test("createMetrics: the project's metric names, errors pre-created per kind", () => {
  const m = createMetrics();
  m.rotations.inc();
  m.removals.inc({ reason: "excess" });
  m.error("compress");
  m.unreadBytesDropped.inc({ reason: "limit-hold-timeout" }, 4096);
  m.runtimeUp.set(1);
  m.passDuration.observe(0.02);
  const text = m.registry.expose();
  const types = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((x) => `${x[1]} ${x[2]}`);
  assert.deepEqual(types, [
    "cri_logrotate_rotations_total counter",
    "cri_logrotate_compressions_total counter",
    "cri_logrotate_compressed_bytes_in_total counter",
    "cri_logrotate_compressed_bytes_out_total counter",
    "cri_logrotate_removals_total counter",
    "cri_logrotate_recoveries_total counter",
    "cri_logrotate_errors_total counter",
    "cri_logrotate_pass_duration_seconds histogram",
    "cri_logrotate_containers_watched gauge",
    "cri_logrotate_held_files gauge",
    "cri_logrotate_held_unread_bytes gauge",
    "cri_logrotate_unread_bytes_dropped_total counter",
    "cri_logrotate_runtime_up gauge",
    "cri_logrotate_compression_backlog_files gauge",
    "cri_logrotate_compression_backlog_bytes gauge",
    "cri_logrotate_compressions_dropped_total counter",
  ]);
  assert.match(text, /^cri_logrotate_errors_total\{kind="compress"\} 1$/m);
  assert.match(text, /^cri_logrotate_errors_total\{kind="reopen"\} 0$/m);
  assert.match(text, /^cri_logrotate_removals_total\{reason="excess"\} 1$/m);
  assert.match(text, /^cri_logrotate_unread_bytes_dropped_total\{reason="limit-hold-timeout"\} 4096$/m);
  assert.equal(m.errors.get({ kind: "compress" }), 1);
});

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
  const server = await startMetricsServer("127.0.0.1:0", m, () => health);
  let closed = false;
  after(async () => {
    if (!closed) await server.close();
  });
  assert.equal(server.address, "127.0.0.1");
  assert.ok(server.port > 0);

  const metrics = await get(server.port, "/metrics");
  assert.equal(metrics.status, 200);
  assert.equal(metrics.type, "text/plain; version=0.0.4; charset=utf-8");
  assert.equal(metrics.body, m.registry.expose());
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

test("server listens on any address the operator sets (Prometheus scrapes the pod IP)", async () => {
  const server = await startMetricsServer("0.0.0.0:0", createMetrics(), () => ({ ok: true, detail: "" }));
  try {
    assert.equal(server.address, "0.0.0.0");
    assert.equal((await fetch(`http://127.0.0.1:${server.port}/healthz`)).status, 200);
  } finally {
    await server.close();
  }
});

test("server refuses what is not host:port", async () => {
  await assert.rejects(startMetricsServer("9787", createMetrics(), () => ({ ok: true, detail: "" })), (err: unknown) => {
    assert.equal((err as { code?: string }).code, "METRICS_ADDRESS");
    return true;
  });
});

test("server reports a port in use", async () => {
  const first = await startMetricsServer("127.0.0.1:0", createMetrics(), () => ({ ok: true, detail: "" }));
  try {
    await assert.rejects(startMetricsServer(`127.0.0.1:${first.port}`, createMetrics(), () => ({ ok: true, detail: "" })), (err: unknown) => {
      assert.equal((err as { code?: string }).code, "METRICS_LISTEN");
      assert.match((err as Error).message, /EADDRINUSE/);
      return true;
    });
  } finally {
    await first.close();
  }
});
