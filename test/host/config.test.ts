// loadConfig: defaults, YAML + flag precedence, and every validation message (the kubelet's verbatim,
// ours saying what to change). The kubelet's checks run in the real build/cri-logrotate.wasm.
import { test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULTS, loadConfig, parseDuration, parseDurationNs, type Config } from "../../host/config/index.js";
import { ConfigError } from "../../host/errors.js";
import { loadPlugin } from "../../host/plugin/index.js";

const plugin = loadPlugin();

/** A readFile over an in-memory map: the only file is /etc/crl.yaml unless a case says otherwise. */
function files(map: Record<string, string>) {
  return (p: string): string => {
    if (p in map) return map[p]!;
    throw Object.assign(new Error(`ENOENT: no such file or directory, open '${p}'`), { code: "ENOENT" });
  };
}
const yamlFile = (text: string) => files({ "/etc/crl.yaml": text });
const load = (argv: string[], yaml?: string) =>
  loadConfig(yaml === undefined ? argv : ["--config", "/etc/crl.yaml", ...argv], plugin, yamlFile(yaml ?? ""));

test("defaults are the kubelet's and ours", () => {
  const { config, positionals, flags } = load([]);
  const want: Config = {
    containerLogMaxSize: "10Mi",
    maxSizeBytes: 10 * 1024 * 1024,
    containerLogMaxFiles: 5,
    containerLogMaxWorkers: 1,
    containerLogMonitorInterval: "10s",
    monitorIntervalMs: 10_000,
    runtimeRequestTimeoutMs: 10_000,
    logRoot: "/var/log/pods",
    compression: "gzip",
    compressionLevel: 6,
    metricsAddress: "127.0.0.1:9787",
    logLevel: "info",
    lockFile: "/run/cri-logrotate/cri-logrotate.lock",
    growthChecks: true,
    progress: {},
  };
  assert.deepEqual(config, want);
  assert.equal("runtimeEndpoint" in config, false, "unset: the CRI client probes containerd then CRI-O");
  assert.deepEqual(positionals, []);
  assert.deepEqual(flags, { help: false, json: false });
  assert.equal(DEFAULTS.containerLogMaxSize, config.containerLogMaxSize);
});

test("YAML sets every key; flags override it; positionals and --json pass through", () => {
  const yaml = `
containerLogMaxSize: 50Mi
containerLogMaxFiles: 3
containerLogMaxWorkers: 4
containerLogMonitorInterval: 1m30s
runtimeEndpoint: unix:///run/containerd/containerd.sock
runtimeRequestTimeout: 2s
logRoot: /data/pods
compression: none
compressionLevel: 9
metricsAddress: "[::1]:9100"
logLevel: debug
lockFile: /run/crl.lock
growthChecks: false
progress:
  fluentBitProgressFile: /var/lib/fluent-bit/crl-progress
  inTailDb: /var/lib/fluent-bit/tail.db
  vectorCheckpoints: /var/lib/vector/kubernetes_logs/checkpoints.json
  fluentdPosFile: /var/log/fluentd-containers.log.pos
  promtailPositions: /run/promtail/positions.yaml
  alloyPositions: /var/lib/alloy/data/loki.source.file.pods/positions.yml
  otelFileStorage: /var/lib/otelcol/file_storage/receiver_filelog_
  maxUnreadBytesPerContainer: 64Mi
  holdTimeout: 1h
  logRootBudget: 2Gi
`;
  const fromFile = load([], yaml).config;
  assert.deepEqual(fromFile, {
    containerLogMaxSize: "50Mi",
    maxSizeBytes: 50 * 1024 * 1024,
    containerLogMaxFiles: 3,
    containerLogMaxWorkers: 4,
    containerLogMonitorInterval: "1m30s",
    monitorIntervalMs: 90_000,
    runtimeEndpoint: "unix:///run/containerd/containerd.sock",
    runtimeRequestTimeoutMs: 2000,
    logRoot: "/data/pods",
    compression: "none",
    compressionLevel: 9,
    metricsAddress: "[::1]:9100",
    logLevel: "debug",
    lockFile: "/run/crl.lock",
    growthChecks: false,
    progress: {
      fluentBitProgressFile: "/var/lib/fluent-bit/crl-progress",
      inTailDb: "/var/lib/fluent-bit/tail.db",
      vectorCheckpoints: "/var/lib/vector/kubernetes_logs/checkpoints.json",
      fluentdPosFile: "/var/log/fluentd-containers.log.pos",
      promtailPositions: "/run/promtail/positions.yaml",
      alloyPositions: "/var/lib/alloy/data/loki.source.file.pods/positions.yml",
      otelFileStorage: "/var/lib/otelcol/file_storage/receiver_filelog_",
      maxUnreadBytesPerContainer: 64 * 1024 * 1024,
      holdTimeoutSeconds: 3600,
      logRootBudget: 2 * 1024 ** 3,
    },
  } satisfies Config);

  const { config, positionals, flags } = load(
    ["--container-log-max-files", "7", "--log-root=/srv/pods", "--max-unread-bytes-per-container", "1Mi", "--hold-timeout", "30s",
      "--metrics-address", "", "--json", "pod-a", "pod-b"],
    yaml,
  );
  assert.equal(config.containerLogMaxFiles, 7, "flag beats file");
  assert.equal(config.containerLogMaxSize, "50Mi", "file beats default");
  assert.equal(config.logRoot, "/srv/pods");
  assert.equal(config.lockFile, "/run/crl.lock");
  assert.equal(config.progress.maxUnreadBytesPerContainer, 1024 * 1024);
  assert.equal(config.progress.holdTimeoutSeconds, 30);
  assert.equal(config.progress.logRootBudget, 2 * 1024 ** 3);
  assert.equal(config.metricsAddress, "", "empty disables metrics");
  assert.deepEqual(positionals, ["pod-a", "pod-b"]);
  assert.deepEqual(flags, { help: false, json: true });
});

test("the lock file never lives in the log root (the kubelet's GC removes unknown entries there)", () => {
  assert.equal(load(["--log-root", "/srv/pods"]).config.lockFile, "/run/cri-logrotate/cri-logrotate.lock", "the default does not follow logRoot");
  for (const lock of ["/srv/pods/.cri-logrotate.lock", "/srv/pods/a/b.lock", "/srv/pods"]) {
    assert.throws(() => load(["--log-root", "/srv/pods", "--lock-file", lock]), (err: unknown) => err instanceof ConfigError && /must be outside logRoot/.test(err.message), lock);
  }
  assert.equal(load(["--log-root", "/srv/pods", "--lock-file", "/srv/pods2.lock"]).config.lockFile, "/srv/pods2.lock", "a sibling is outside");
});

test("log level: setting and flag", () => {
  assert.equal(load(["--log-level", "warn"]).config.logLevel, "warn");
  assert.throws(() => load(["--log-level", "verbose"]), (err: unknown) => err instanceof ConfigError && /"debug", "info", "warn", "error"/.test(err.message));
});

test("an empty config file means all defaults", () => {
  assert.equal(load([], "# nothing here\n").config.containerLogMaxFiles, 5);
});

test("--help works even with a broken config file", () => {
  const r = loadConfig(["--help", "--config", "/missing.yaml"], plugin, files({}));
  assert.equal(r.flags.help, true);
  assert.equal(r.config.containerLogMaxFiles, 5);
});

test("negative max size disables rotation (the kubelet's stub manager)", () => {
  assert.equal(load(["--container-log-max-size=-1"]).config.maxSizeBytes, -1);
});

const KUBELET_WORKERS = "invalid configuration: containerLogMaxWorkers must be greater than or equal to 1";
const KUBELET_INTERVAL = "invalid configuration: containerLogMonitorInterval must be a positive time duration greater than or equal to 3s";

// [argv, yaml (undefined: no --config), expected message: exact string, or RegExp]
const invalid: Record<string, [string[], string | undefined, string | RegExp]> = {
  // The kubelet's four checks, verbatim.
  "maxFiles 1 (flag)": [["--container-log-max-files", "1"], undefined, "invalid MaxFiles 1, must be > 1"],
  "maxFiles 0 (yaml)": [[], "containerLogMaxFiles: 0", "invalid MaxFiles 0, must be > 1"],
  "workers 0": [["--container-log-max-workers", "0"], undefined, KUBELET_WORKERS],
  "interval 2s": [["--container-log-monitor-interval", "2s"], undefined, KUBELET_INTERVAL],
  "interval -1s": [["--container-log-monitor-interval=-1s"], undefined, KUBELET_INTERVAL],
  "interval 2999ms": [[], "containerLogMonitorInterval: 2999ms", KUBELET_INTERVAL],
  "bad size 10Qi": [["--container-log-max-size", "10Qi"], undefined, `failed to parse container log max size "10Qi": unable to parse quantity's suffix "Qi"`],
  // Ours.
  "unknown key (typo)": [[], "containerLogMaxFile: 3", /^unknown key "containerLogMaxFile" in config file "\/etc\/crl.yaml"; known keys: containerLogMaxSize, containerLogMaxFiles, .*progress$/],
  "unknown key, wrong case": [[], "logroot: /x", /unknown key "logroot" .*\(did you mean "logRoot"\?\)/],
  "unknown progress key": [[], "progress:\n  holdTimeoutSeconds: 10", /unknown key "holdTimeoutSeconds" in the progress section .*known keys: fluentBitProgressFile, inTailDb, vectorCheckpoints, fluentdPosFile, promtailPositions, alloyPositions, otelFileStorage, maxUnreadBytesPerContainer, holdTimeout, logRootBudget/],
  "unknown flag": [["--container-log-max-fils", "3"], undefined, /Unknown option '--container-log-max-fils'.*--help/],
  "maxFiles as a string in yaml": [[], 'containerLogMaxFiles: "5"', 'containerLogMaxFiles in config file "/etc/crl.yaml" must be an integer, got string "5"'],
  "maxFiles not an integer": [[], "containerLogMaxFiles: 2.5", /must be an integer, got number 2.5/],
  "workers flag not a number": [["--container-log-max-workers", "two"], undefined, '--container-log-max-workers must be an integer, got "two"'],
  "maxSize as a number": [[], "containerLogMaxSize: 10", /containerLogMaxSize .* must be a string such as "10Mi", got number 10 \(quote it in YAML\)/],
  "interval as a number": [[], "containerLogMonitorInterval: 10", /must be a string such as "10s", got number 10/],
  "interval without unit": [["--container-log-monitor-interval", "10"], undefined, /--container-log-monitor-interval: invalid duration "10": missing unit .*"10s"/],
  "progress not a mapping": [[], "progress: 3", /progress in config file .* must be a mapping/],
  "yaml not a mapping": [[], "- a\n- b", /must be a YAML mapping .*got a list/],
  "invalid yaml": [[], "logRoot: [", /is not valid YAML/],
  "missing config file": [["--config", "/nope.yaml"], undefined, /cannot read config file "\/nope.yaml" \(ENOENT\)/],
  "relative logRoot": [["--log-root", "var/log/pods"], undefined, '--log-root must be an absolute path (the directory holding the pods\' logs, e.g. /var/log/pods), got "var/log/pods"'],
  "logRoot not normalised": [["--log-root", "/var/log/../log/pods/"], undefined, /must be a normalised path .*write "\/var\/log\/pods" instead/],
  "logRoot trailing slash": [[], "logRoot: /var/log/pods/", /write "\/var\/log\/pods" instead of "\/var\/log\/pods\/"/],
  "logRoot /": [["--log-root", "/"], undefined, /must not be "\/"/],
  "endpoint tcp": [["--runtime-endpoint", "tcp://127.0.0.1:1234"], undefined, /--runtime-endpoint must be a unix socket: "unix:\/\/\/path\/to\/runtime.sock" or an absolute path, got "tcp:\/\/127.0.0.1:1234"/],
  "endpoint relative": [["--runtime-endpoint", "run/containerd.sock"], undefined, /must be a unix socket/],
  "endpoint unix relative": [["--runtime-endpoint", "unix://run/containerd.sock"], undefined, /must be a unix socket/],
  "compression unknown": [["--compression", "zstd"], undefined, '--compression must be "gzip" or "none", got "zstd"'],
  "compression level 0": [["--compression-level", "0"], undefined, "--compression-level must be between 1 (fastest) and 9 (smallest), got 0"],
  "compression level 10": [[], "compressionLevel: 10", /compressionLevel .* must be between 1 \(fastest\) and 9 \(smallest\), got 10/],
  "metrics ipv6 unbracketed": [["--metrics-address", "::1:9787"], undefined, /--metrics-address must be host:port \(.*0.0.0.0:9787 to be scraped over the pod IP.*got "::1:9787"/],
  "metrics no port": [["--metrics-address", "127.0.0.1"], undefined, /--metrics-address must be host:port/],
  "metrics port too big": [["--metrics-address", "127.0.0.1:70000"], undefined, /--metrics-address must be host:port/],
  "lock file inside the log root": [["--lock-file", "/var/log/pods/.cri-logrotate.lock"], undefined, /--lock-file must be outside logRoot "\/var\/log\/pods": the kubelet removes unknown entries/],
  "relative lock file": [["--lock-file", "crl.lock"], undefined, /--lock-file must be an absolute path/],
  "relative vector checkpoints": [["--vector-checkpoints", "checkpoints.json"], undefined, /--vector-checkpoints must be an absolute path \(Vector.s checkpoints.json/],
  "relative positions in the file": [[], "progress:\n  alloyPositions: positions.yml", /progress.alloyPositions in config file .* must be an absolute path/],
  "negative unread cap": [["--max-unread-bytes-per-container=-1Mi"], undefined, /--max-unread-bytes-per-container must not be negative, got "-1Mi"; leave it unset for no limit/],
  "negative budget (yaml)": [[], "progress:\n  logRootBudget: -5Gi", /progress.logRootBudget in config file .* must not be negative/],
  "bad budget quantity": [["--log-root-budget", "lots"], undefined, /--log-root-budget is not a quantity .*"64Mi"/],
  "negative hold timeout": [["--hold-timeout=-5m"], undefined, /--hold-timeout must not be negative/],
  "zero request timeout": [["--runtime-request-timeout", "0s"], undefined, /--runtime-request-timeout must be a positive duration such as "10s", got "0s"/],
};

for (const [name, [argv, yaml, want]] of Object.entries(invalid)) {
  test(`invalid: ${name}`, () => {
    assert.throws(() => load(argv, yaml), (err: unknown) => {
      assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
      assert.equal(err.code, "CONFIG_INVALID");
      if (typeof want === "string") assert.equal(err.message, want);
      else assert.match(err.message, want);
      return true;
    });
  });
}

test("a kubelet error keeps the plugin's error as its cause", () => {
  assert.throws(() => load(["--container-log-max-files", "1"]), (err: unknown) => {
    assert.ok(err instanceof ConfigError);
    assert.equal((err.cause as { code?: string }).code, "PLUGIN_INVALID_CONFIG");
    return true;
  });
});

// [metrics address, accepted]
// Any address the operator sets: Prometheus scrapes pods over their pod IP (0.0.0.0 in the pod's netns).
const addresses: [string, boolean][] = [
  ["127.0.0.1:9787", true],
  ["127.1.2.3:0", true],
  ["localhost:9787", true],
  ["[::1]:9787", true],
  ["", true],
  ["0.0.0.0:9787", true],
  ["[::]:9787", true],
  ["10.1.2.3:9100", true],
  ["node-1.example.com:80", true],
  ["127.0.0.256:9787", false],
  [":9787", false],
  ["9787", false],
  ["1.2.3:80", false],
  ["[not-v6]:80", false],
  ["127.0.0.1:65536", false],
];
for (const [address, ok] of addresses) {
  test(`metrics address ${JSON.stringify(address)} ${ok ? "accepted" : "rejected"}`, () => {
    if (ok) assert.equal(load(["--metrics-address", address]).config.metricsAddress, address);
    else assert.throws(() => load(["--metrics-address", address]), ConfigError);
  });
}

for (const endpoint of ["unix:///run/containerd/containerd.sock", "/var/run/crio/crio.sock"]) {
  test(`runtime endpoint ${endpoint} accepted as given`, () => {
    assert.equal(load(["--runtime-endpoint", endpoint]).config.runtimeEndpoint, endpoint);
  });
}

// [input, milliseconds] — Go's time.ParseDuration syntax.
const durations: [string, number][] = [
  ["10s", 10_000],
  ["1m30s", 90_000],
  ["500ms", 500],
  ["1h", 3_600_000],
  ["2.5s", 2_500],
  ["1us", 0.001],
  ["1\u00b5s", 0.001],
  ["1000ns", 0.001],
  ["0", 0],
  ["-1s", -1_000],
  ["+3s", 3_000],
  [".5s", 500],
  ["1.s", 1_000],
  ["1h2m3s4ms", 3_723_004],
];
for (const [input, ms] of durations) {
  test(`parseDuration(${JSON.stringify(input)}) = ${ms}ms`, () => assert.equal(parseDuration(input), ms));
}
test("parseDurationNs is exact", () => assert.equal(parseDurationNs("2562047h47m16.854775807s"), (1n << 63n) - 1n));

// [input, part of the message]
const badDurations: [string, string][] = [
  ["", "it is empty"],
  ["10", 'missing unit after "10"'],
  ["1d", 'unknown unit "d"'],
  ["s", "expected a number"],
  [".s", "expected a number"],
  ["1s 2s", 'unknown unit "s "'],
  ["-", "it is empty"],
  ["2562047h47m16.854775808s", "it is too large"],
];
for (const [input, why] of badDurations) {
  test(`parseDuration(${JSON.stringify(input)}) fails: ${why}`, () => {
    assert.throws(() => parseDuration(input), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.ok(err.message.startsWith(`invalid duration ${JSON.stringify(input)}: ${why}`), err.message);
      assert.match(err.message, /"10s"/, "the message shows the syntax");
      return true;
    });
  });
}
