import { asciiBytes, bytesToDisplay } from "../../assembly/rules/bytes";
import { filterUnused, isInUse, isRotatedOf, listLogs } from "../../assembly/rules/prune";
import { LIST_LOGS_CASES, ListLogsCase } from "./generated/list-logs";

function names(list: string[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 0; i < list.length; i++) out.push(asciiBytes(list[i]));
  return out;
}

function show(list: Uint8Array[]): string {
  let s = "[";
  for (let i = 0; i < list.length; i++) s += (i > 0 ? ", " : "") + bytesToDisplay(list[i]);
  return s + "]";
}

function expectListLogs(c: ListLogsCase): void {
  expect(show(listLogs(c.logName, c.entries))).toBe(show(c.expect), "listLogs: " + c.name);
}

describe("listLogs: fixture table (test/fixtures/list-logs.json)", () => {
  it("lists every case as the kubelet's GetAllLogs would", () => {
    for (let i = 0; i < LIST_LOGS_CASES.length; i++) expectListLogs(LIST_LOGS_CASES[i]);
  });
});

describe("isRotatedOf", () => {
  it("needs the log name followed by a dot", () => {
    const log = asciiBytes("0.log");
    expect(isRotatedOf(log, asciiBytes("0.log.20231114-100000"))).toBe(true);
    expect(isRotatedOf(log, asciiBytes("0.log."))).toBe(true); // the glob's * matches nothing too
    expect(isRotatedOf(log, asciiBytes("0.log"))).toBe(false);
    expect(isRotatedOf(log, asciiBytes("0.logx"))).toBe(false);
    expect(isRotatedOf(log, asciiBytes("0.log-foo"))).toBe(false);
    expect(isRotatedOf(log, asciiBytes("1.log.20231114-100000"))).toBe(false);
    expect(isRotatedOf(log, asciiBytes("0.lo"))).toBe(false);
  });
});

function allNames(): Uint8Array[] {
  return names(["test-log.1", "test-log.1.tmp", "test-log.2", "test-log.2.gz", "test-log.3.gz", "test-log.3.gz.gz"]);
}

describe("isInUse (kubelet)", () => {
  it("a .tmp is unused", () => {
    expect(isInUse(asciiBytes("test-log.1.tmp"), allNames())).toBe(false);
  });
  it("X is unused when X.gz exists", () => {
    expect(isInUse(asciiBytes("test-log.2"), allNames())).toBe(false);
  });
  it("X is in use when no X.gz exists", () => {
    expect(isInUse(asciiBytes("test-log.1"), allNames())).toBe(true);
  });
  it("a .gz is in use, even if its own .gz exists", () => {
    expect(isInUse(asciiBytes("test-log.2.gz"), allNames())).toBe(true);
    expect(isInUse(asciiBytes("test-log.3.gz"), allNames())).toBe(true);
  });
});

describe("filterUnused (kubelet TestCleanupUnusedLog)", () => {
  it("splits in input order", () => {
    const p = filterUnused(names(["test-log-1", "test-log-1.tmp", "test-log-2", "test-log-2.gz"]));
    expect(show(p.inUse)).toBe('["test-log-1", "test-log-2.gz"]');
    expect(show(p.unused)).toBe('["test-log-1.tmp", "test-log-2"]');
  });
});
