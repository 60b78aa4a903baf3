// The project's metrics on prom-client: their exact text (format 0.0.4), names, labels, and the series
// every label value has from the start. The server is metrics-server.test.ts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import { createMetrics, currentValue, DROP_REASONS, ERROR_KINDS, REMOVAL_REASONS } from "../../host/metrics.js";

test("counter with escaped labels: exact exposition", async () => {
  const r = new Registry();
  const c = new Counter({ name: "demo_removals_total", help: "Files removed.\nBy reason \\ path.", labelNames: ["reason", "path"], registers: [r] });
  c.inc({ reason: "excess", path: 'a\\b "c"\nd' }, 2);
  c.inc({ reason: "excess", path: 'a\\b "c"\nd' });
  c.inc({ reason: "unused-tmp", path: "/x" });
  const plain = new Counter({ name: "demo_rotations_total", help: "Rotations.", registers: [r] });
  plain.inc();
  assert.equal(
    await r.metrics(),
    [
      "# HELP demo_removals_total Files removed.\\nBy reason \\\\ path.",
      "# TYPE demo_removals_total counter",
      'demo_removals_total{reason="excess",path="a\\\\b \\"c\\"\\nd"} 3',
      'demo_removals_total{reason="unused-tmp",path="/x"} 1',
      "", // prom-client separates metrics with an empty line
      "# HELP demo_rotations_total Rotations.",
      "# TYPE demo_rotations_total counter",
      "demo_rotations_total 1",
      "",
    ].join("\n"),
  );
});

test("histogram: cumulative buckets, +Inf, _sum, _count", async () => {
  const r = new Registry();
  const h = new Histogram({ name: "demo_pass_duration_seconds", help: "Pass duration.", buckets: [0.1, 0.5, 2.5], registers: [r] });
  for (const v of [0.05, 0.1, 0.3, 3, 7]) h.observe(v);
  assert.equal(
    await r.metrics(),
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

test("gauge set and labelled-metric misuse", async () => {
  const r = new Registry();
  const g = new Gauge({ name: "demo_up", help: "Up.", registers: [r] });
  g.set(1);
  g.set(0);
  assert.equal(await r.metrics(), "# HELP demo_up Up.\n# TYPE demo_up gauge\ndemo_up 0\n");
  const c = new Counter({ name: "demo_errors_total", help: "Errors.", labelNames: ["kind"], registers: [r] });
  assert.throws(() => c.inc({ kind: "x", extra: "y" } as never), /not included in initial labelset/);
  assert.throws(() => c.inc({ kind: "x" }, -1), /not possible to decrease a counter/);
  assert.throws(() => new Counter({ name: "demo_up", help: "again", registers: [r] }), /already been registered/);
});

test("createMetrics: the project's metric names, errors pre-created per kind", async () => {
  const m = createMetrics();
  m.rotations.inc();
  m.removals.inc({ reason: "excess" });
  m.error("compress");
  m.unreadBytesDropped.inc({ reason: "limit-hold-timeout" }, 4096);
  m.runtimeUp.set(1);
  m.passDuration.observe(0.02);
  const text = await m.registry.metrics();
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
  assert.equal(await currentValue(m.errors, { kind: "compress" }), 1);
  assert.equal(await currentValue(m.runtimeUp), 1);
});

// increase() and rate() see a counter's first event only if the series existed before it.
const zeroFromTheStart: Record<string, { metric: string; label: string; values: readonly string[] }> = {
  "unread bytes dropped, per limit": { metric: "cri_logrotate_unread_bytes_dropped_total", label: "reason", values: DROP_REASONS },
  "removals, per reason": { metric: "cri_logrotate_removals_total", label: "reason", values: REMOVAL_REASONS },
  "errors, per kind": { metric: "cri_logrotate_errors_total", label: "kind", values: ERROR_KINDS },
};
for (const [name, tc] of Object.entries(zeroFromTheStart)) {
  test(`a 0 series from the start: ${name}`, async () => {
    const text = await createMetrics().registry.metrics();
    const series = [...text.matchAll(new RegExp(`^${tc.metric}\\{${tc.label}="([^"]+)"\\} (\\S+)$`, "gm"))].map((x) => `${x[1]} ${x[2]}`);
    assert.deepEqual(series, tc.values.map((v) => `${v} 0`));
  });
}

test("a limit the rules name is a drop reason and a removal reason", () => {
  for (const reason of DROP_REASONS) assert.ok((REMOVAL_REASONS as readonly string[]).includes(reason), reason);
});

test("process and Node.js runtime metrics only when asked (the daemon)", async () => {
  const plain = await createMetrics().registry.metrics();
  assert.doesNotMatch(plain, /^process_|^nodejs_/m);
  const daemon = await createMetrics({ processMetrics: true }).registry.metrics();
  for (const name of ["process_cpu_user_seconds_total", "process_resident_memory_bytes", "process_open_fds", "nodejs_eventloop_lag_seconds", "nodejs_heap_size_used_bytes", "nodejs_version_info"]) {
    assert.match(daemon, new RegExp(`^# TYPE ${name} `, "m"), name);
  }
  assert.match(daemon, /^cri_logrotate_rotations_total 0$/m);
});
