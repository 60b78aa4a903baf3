// The in_tail offsets DB, created with Fluent Bit's own schema (plugins/in_tail/tail_sql.h) in a temp dir.
import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { InTailDbSource } from "../../host/progress/intail-db.js";

const SCHEMA = `CREATE TABLE IF NOT EXISTS in_tail_files (id INTEGER PRIMARY KEY, name TEXT NOT NULL, offset INTEGER,
  inode INTEGER, created INTEGER, rotated INTEGER DEFAULT 0,
  offset_marker INTEGER DEFAULT 0, offset_marker_size INTEGER DEFAULT 0);`;

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "crl-db-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

function makeDb(name: string, rows: [name: string, offset: number | null, inode: number | null, rotated: number][], journal = "wal"): string {
  const path = join(dir, name);
  const db = new Database(path);
  db.pragma(`journal_mode = ${journal}`);
  db.exec(SCHEMA);
  const ins = db.prepare("INSERT INTO in_tail_files (name, offset, inode, created, rotated) VALUES (?, ?, ?, 1700000000, ?)");
  for (const r of rows) ins.run(...r);
  db.close();
  return path;
}

const claim = (name: string, inode: number, offset: number) => ({ kind: "inode-name", shipper: "fluent-bit-db", inode: BigInt(inode), path: Buffer.from(name), offset });

describe("InTailDbSource", () => {
  test("reads every row with the real schema", async () => {
    const path = makeDb("tail.db", [
      ["/var/log/pods/a/c/0.log", 4096, 11, 0],
      ["/var/log/pods/a/c/0.log.20240102-030405", 10485760, 10, 1], // renamed by in_tail after the rotation
      ["/var/log/pods/b/c/0.log", null, 12, 0], // no offset yet: left out
    ]);
    const report = await new InTailDbSource(path).read();
    assert.deepEqual(report.errors, []);
    assert.deepEqual(report.claims, [claim("/var/log/pods/a/c/0.log", 11, 4096), claim("/var/log/pods/a/c/0.log.20240102-030405", 10, 10485760)]);
  });

  test("a missing DB is an empty report", async () => {
    const report = await new InTailDbSource(join(dir, "nope.db")).read();
    assert.deepEqual(report, { claims: [], errors: [] });
  });

  test("a DB without the table is an empty report", async () => {
    const path = join(dir, "empty.db");
    new Database(path).close();
    assert.deepEqual(await new InTailDbSource(path).read(), { claims: [], errors: [] });
  });

  test("a file that is not a DB is an error, nothing credited", async () => {
    const path = join(dir, "garbage.db");
    await writeFile(path, "this is not sqlite".repeat(100));
    const report = await new InTailDbSource(path).read();
    assert.deepEqual(report.claims, []);
    assert.equal(report.errors[0]?.code, "PROGRESS_DB_READ");
  });

  for (const journal of ["delete", "wal"]) {
    test(`locked by another connection (journal ${journal}): the last good report, no throw`, async () => {
      const path = makeDb(`locked-${journal}.db`, [["/l/0.log", 100, 5, 0]], journal);
      const source = new InTailDbSource(path, { timeoutMs: 20 });
      const first = await source.read();
      assert.deepEqual(first.claims, [claim("/l/0.log", 5, 100)]);

      const writer = new Database(path);
      writer.pragma("locking_mode = EXCLUSIVE"); // in WAL mode only this keeps readers out
      writer.prepare("UPDATE in_tail_files SET offset = 200").run();
      writer.exec("BEGIN EXCLUSIVE");
      try {
        const locked = await source.read();
        assert.deepEqual(locked.claims, first.claims);
        assert.equal(locked.errors[0]?.code, "PROGRESS_DB_BUSY");
        assert.match(locked.errors[0]!.message, /is locked/);
      } finally {
        writer.exec("COMMIT");
        writer.close();
      }
      const again = await source.read();
      assert.deepEqual(again.errors, []);
      assert.deepEqual(again.claims, [claim("/l/0.log", 5, 200)]);
    });
  }
});
