import { Action, ActionKind, ContainerSnapshot, Detail, FileEntry, Policy, Reason } from "../../assembly/rules/types";
import { asciiBytes, bytesToDisplay, equalBytes } from "../../assembly/rules/bytes";
import { planBatch, planContainer } from "../../assembly/rules/plan";
import { NEEDS_LISTING, PLAN_CASES, PlanCase } from "./generated/plan";

function describeAction(kind: u8, reason: u8, name: Uint8Array, unread: i64): string {
  return "kind " + kind.toString() + " reason " + reason.toString() + " " + bytesToDisplay(name) + " unread " + unread.toString();
}

/** One plan case: every container's actions, in order, by kind, reason, name and (when given) unreadBytes. */
function expectPlan(c: PlanCase): void {
  const plans = planBatch(c.containers, c.now, c.policy);
  expect(plans.length).toBe(c.expect.length, c.name + ": number of plans");
  for (let i = 0; i < plans.length; i++) {
    const want = c.expect[i];
    const where = c.name + " / container " + i.toString();
    expect(plans[i].needsListing).toBe(want === NEEDS_LISTING, where + ": asks for the directory");
    if (want === NEEDS_LISTING) continue;
    const got = plans[i].actions;
    expect(got.length).toBe(want.length, where + ": number of actions, got " + describePlan(got));
    for (let j = 0; j < got.length && j < want.length; j++) {
      const a = got[j];
      const w = want[j];
      const at = where + " / action " + j.toString();
      expect(a.kind).toBe(w.kind, at + ": kind of " + describeAction(a.kind, a.reason, a.name, a.unreadBytes));
      expect(a.reason).toBe(w.reason, at + ": reason of " + describeAction(a.kind, a.reason, a.name, a.unreadBytes));
      expect(bytesToDisplay(a.name)).toBe(bytesToDisplay(w.name), at + ": name");
      if (w.checkUnread) expect(a.unreadBytes).toBe(w.unreadBytes, at + ": unreadBytes of " + bytesToDisplay(a.name));
      expect(a.detail.text.length > 0).toBe(true, at + ": detail is empty");
    }
  }
}

/** The sentence a Detail stands for (what the encoder writes). */
function detailText(d: Detail): string {
  const name = d.name;
  return d.text + (name === null ? "" : bytesToDisplay(changetype<Uint8Array>(name))) + d.tail;
}

function describePlan(plan: Action[]): string {
  let s = "[";
  for (let i = 0; i < plan.length; i++) {
    if (i > 0) s += ", ";
    s += describeAction(plan[i].kind, plan[i].reason, plan[i].name, plan[i].unreadBytes);
  }
  return s + "]";
}

function policy(maxSize: i64, maxFiles: i32, shipperAware: bool): Policy {
  const p = new Policy();
  p.maxSize = maxSize;
  p.maxFiles = maxFiles;
  p.shipperAware = shipperAware;
  return p;
}

function file(name: string, size: i64, readOffset: i64 = -1): FileEntry {
  return new FileEntry(asciiBytes(name), 0, size, 0, readOffset, -1);
}

describe("planBatch: fixture table (test/fixtures/plan.json)", () => {
  it("has at least 30 cases", () => {
    expect(PLAN_CASES.length >= 30).toBe(true);
  });
  it("plans every case as the table says (failure messages name the case)", () => {
    for (let i = 0; i < PLAN_CASES.length; i++) expectPlan(PLAN_CASES[i]);
  });
});

describe("planContainer", () => {
  it("gives the same plan as a one-container batch", () => {
    const c = new ContainerSnapshot(asciiBytes("c"), asciiBytes("0.log"), [
      file("0.log", 20),
      file("0.log.20231114-100000.gz", 5),
      file("0.log.20231114-110000", 5),
    ]);
    const single = planContainer(c, 1700000000, policy(10, 3, false)).actions;
    const batch = planBatch([c], 1700000000, policy(10, 3, false))[0].actions;
    expect(single.length).toBe(3);
    expect(batch.length).toBe(3);
    for (let i = 0; i < single.length; i++) {
      expect(single[i].kind).toBe(batch[i].kind);
      expect(single[i].reason).toBe(batch[i].reason);
      expect(equalBytes(single[i].name, batch[i].name)).toBe(true);
    }
  });

  it("does not apply logRootBudget (a batch-wide limit)", () => {
    const p = policy(10, 5, true);
    p.logRootBudget = 0;
    const c = new ContainerSnapshot(asciiBytes("c"), asciiBytes("0.log"), [file("0.log", 20), file("0.log.20231114-100000", 500, 100)]);
    const plan = planContainer(c, 1700000000, p).actions;
    expect(plan.length).toBe(2);
    expect(plan[0].kind).toBe(<u8>ActionKind.Rotate);
    expect(plan[1].kind).toBe(<u8>ActionKind.Hold);
    expect(plan[1].unreadBytes).toBe(400);
    const batch = planBatch([c], 1700000000, p)[0].actions;
    expect(batch[1].kind).toBe(<u8>ActionKind.Compress);
    expect(batch[1].reason).toBe(<u8>Reason.LimitRootBudget);
    expect(batch[1].unreadBytes).toBe(400);
  });
});

describe("action details", () => {
  it("say what happens in one sentence", () => {
    const p = policy(10485760, 5, true);
    p.holdTimeoutSeconds = 60;
    const c = new ContainerSnapshot(asciiBytes("c"), asciiBytes("0.log"), [
      new FileEntry(asciiBytes("0.log"), 0, 12582912, 1700000000),
      new FileEntry(asciiBytes("0.log.20231114-100000"), 0, 4096, 1699990000, 100),
      new FileEntry(asciiBytes("0.log.20231114-110000"), 0, 4096, 1699999990, 100),
    ]);
    const plan = planContainer(c, 1700000000, p).actions;
    expect(plan.length).toBe(3);
    expect(detailText(plan[0].detail)).toBe(
      'rotate: live log is 12582912 bytes, containerLogMaxSize is 10485760, renaming it to "0.log.20231114-221319"',
    );
    expect(detailText(plan[1].detail)).toBe(
      'compress: "0.log.20231114-100000" is an older rotated file (the newest stays uncompressed), giving up 3996 unread bytes: held 10000s, longer than holdTimeoutSeconds=60',
    );
    expect(detailText(plan[2].detail)).toBe('held: shipper read 100 of 4096 bytes of "0.log.20231114-110000", so it is not compressed yet');
  });

  it("quote odd names", () => {
    const c = new ContainerSnapshot(asciiBytes("c"), asciiBytes("0.log"), []);
    const plan = planContainer(c, 0, policy(10, 5, false)).actions;
    expect(plan.length).toBe(1);
    expect(detailText(plan[0].detail)).toBe('recover: live log "0.log" is missing, so the runtime is asked to reopen it');
    const d = new ContainerSnapshot(asciiBytes("c"), asciiBytes("a\nb.log"), [file("a\nb.log", 20), file("a\nb.log.19700101-000000", 1)]);
    const p2 = policy(10, 2, false);
    const plan2 = planContainer(d, 0, p2).actions;
    expect(detailText(plan2[0].detail)).toBe('remove: excess rotated file "a\\nb.log.19700101-000000" (keeping 0 for containerLogMaxFiles=2)');
  });
});

describe("after a kubelet pass", () => {
  it("a container holds at most maxFiles files", () => {
    // Ten rotated files, plain and compressed, maxFiles 4: live + newest plain + 2 compressed remain.
    const entries: FileEntry[] = [file("0.log", 20)];
    for (let i = 0; i < 10; i++) {
      const name = "0.log.20231114-1" + i.toString() + "0000" + (i % 2 == 0 ? ".gz" : "");
      entries.push(file(name, 10));
    }
    const c = new ContainerSnapshot(asciiBytes("c"), asciiBytes("0.log"), entries);
    const plan = planContainer(c, 1700000000, policy(10, 4, false)).actions;
    let removed = 0;
    let compressed = 0;
    let rotated = 0;
    for (let i = 0; i < plan.length; i++) {
      if (plan[i].kind == ActionKind.Remove) removed++;
      if (plan[i].kind == ActionKind.Compress) compressed++;
      if (plan[i].kind == ActionKind.Rotate) rotated++;
    }
    expect(removed).toBe(8);
    expect(compressed).toBe(1); // 0.log.20231114-190000 (plain) is compressed, 180000.gz is kept
    expect(rotated).toBe(1);
    // 11 files - 8 removed + 1 new rotated name (the live log is reopened by the runtime) = 4.
    expect(entries.length - removed + rotated).toBe(4);
  });
});
