// The rule tables of test/fixtures/, run against the release build/cri-logrotate.wasm through
// host/plugin — the same tables the as-pect specs run inside WebAssembly.
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadPlugin } from "../../host/plugin/index.js";
import { PluginError } from "../../host/errors.js";
import { display, fixture, nameOf, snapshotsOf, type FixtureName, type PlanCase } from "../support/fixtures.js";

const plugin = loadPlugin();

interface QuantityCase { input: FixtureName; value?: string; error?: string; why?: string }
for (const tc of fixture<{ cases: QuantityCase[] }>("quantity").cases) {
  test(`quantity ${display(tc.input)}`, () => {
    if (tc.error !== undefined) {
      assert.throws(() => plugin.parseQuantity(nameOf(tc.input)), (err: unknown) => {
        assert.ok(err instanceof PluginError);
        assert.equal(err.code, "PLUGIN_BAD_QUANTITY");
        assert.ok(err.message.includes(tc.error!), `message ${JSON.stringify(err.message)} should include ${JSON.stringify(tc.error)}`);
        return true;
      });
    } else {
      assert.equal(plugin.parseQuantity(nameOf(tc.input)), BigInt(tc.value!));
    }
  });
}

interface ConfigCase { name: string; maxSize: string; maxFiles: number; maxWorkers: number; monitorIntervalMs: number; maxSizeBytes?: string; error?: string }
for (const tc of fixture<{ cases: ConfigCase[] }>("config").cases) {
  test(`config: ${tc.name}`, () => {
    const check = {
      containerLogMaxSize: tc.maxSize,
      containerLogMaxFiles: tc.maxFiles,
      containerLogMaxWorkers: tc.maxWorkers,
      containerLogMonitorIntervalMs: tc.monitorIntervalMs,
    };
    if (tc.error !== undefined) {
      assert.throws(() => plugin.validateConfig(check), (err: unknown) => {
        assert.ok(err instanceof PluginError);
        assert.equal(err.code, "PLUGIN_INVALID_CONFIG");
        assert.ok(err.message.includes(tc.error!), `message ${JSON.stringify(err.message)} should include ${JSON.stringify(tc.error)}`);
        return true;
      });
    } else {
      assert.equal(plugin.validateConfig(check), BigInt(tc.maxSizeBytes!));
    }
  });
}

for (const tc of fixture<{ cases: PlanCase[] }>("plan").cases) {
  test(`plan: ${tc.name}`, () => {
    const plans = plugin.planRotation(snapshotsOf(tc), tc.now, tc.policy);
    assert.equal(plans.length, tc.expect.length);
    plans.forEach((plan, i) => {
      const expect = tc.expect[i]!;
      if (expect === "needs-listing") {
        assert.equal(plan.outcome, "needs-listing", `container ${plan.id}: ${tc.why ?? ""}`);
        return;
      }
      assert.equal(plan.outcome, "planned", `container ${plan.id}: ${plan.error?.message ?? ""}`);
      const got = plan.actions.map((a) => `${a.kind} ${a.reason} ${a.name.toString("hex")} ${a.unreadBytes}`);
      const want = expect.map((a) => `${a.kind} ${a.reason} ${nameOf(a.name).toString("hex")} ${a.unreadBytes ?? 0}`);
      assert.deepEqual(got, want, `container ${plan.id}: ${tc.why ?? ""}`);
      for (const a of plan.actions) assert.ok(a.detail.length > 0, "every action explains itself");
    });
  });
}

interface ListCase { name: string; logName: FixtureName; entries: (FixtureName | { name: FixtureName; kind: "file" | "symlink" | "directory" | "other" })[]; expect: FixtureName[] }
for (const tc of fixture<{ cases: ListCase[] }>("list-logs").cases) {
  test(`list logs: ${tc.name}`, () => {
    const entries = tc.entries.map((e) =>
      typeof e === "object" && "name" in e ? { name: nameOf(e.name), kind: e.kind, size: 0, mtime: 0 } : { name: nameOf(e as FixtureName), kind: "file" as const, size: 0, mtime: 0 },
    );
    const got = plugin.listLogs(nameOf(tc.logName), entries).map((b) => b.toString("hex"));
    assert.deepEqual(got, tc.expect.map((n) => nameOf(n).toString("hex")), tc.expect.map(display).join(" "));
  });
}
