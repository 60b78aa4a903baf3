// Reads Fluent Bit's in_tail offsets DB (the `DB` key of [INPUT] tail; schema in plugins/in_tail/tail_sql.h)
// read-only. Each row is one file in_tail follows: its inode, the name it knows it by (in_tail renames the
// row and sets rotated=1 when it notices a rotation) and the offset AFTER the last line it read. Each row
// becomes an inode-name claim; the name is read as a BLOB, so a path that is not UTF-8 keeps its bytes.
//
// Fluent Bit writes this DB all the time, so a read may find it locked: then the last good claims are
// returned again (offsets only grow for a file, so an older report credits less, which is safe).
import Database from "better-sqlite3";
import type { ProgressClaim, ProgressReport, ProgressSource } from "./types.js";
import { ProgressSourceError } from "../errors.js";

export interface InTailDbOptions {
  /** Busy timeout in milliseconds: how long a read waits for Fluent Bit's write lock. */
  timeoutMs?: number;
}

interface Row {
  id: number;
  name: Buffer | null;
  offset: number | bigint | null;
  inode: number | bigint | null;
}

function sqliteCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown })?.code;
  return typeof code === "string" ? code : undefined;
}

function isBusy(err: unknown): boolean {
  const code = sqliteCode(err);
  return code === "SQLITE_BUSY" || code === "SQLITE_LOCKED" || (code?.startsWith("SQLITE_BUSY_") ?? false);
}

export class InTailDbSource implements ProgressSource {
  readonly name: string;
  private lastGood: ProgressClaim[] = [];
  private readonly timeoutMs: number;

  constructor(
    private readonly dbPath: string,
    opts: InTailDbOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 200;
    this.name = `progress.inTailDb ${JSON.stringify(dbPath)}`;
  }

  async read(): Promise<ProgressReport> {
    let db: Database.Database;
    try {
      db = new Database(this.dbPath, { readonly: true, fileMustExist: true, timeout: this.timeoutMs });
    } catch (cause) {
      // fileMustExist: a missing DB is SQLITE_CANTOPEN. Fluent Bit has not started (or runs without DB).
      if (sqliteCode(cause) === "SQLITE_CANTOPEN" || (cause as NodeJS.ErrnoException)?.code === "ENOENT") {
        this.lastGood = [];
        return { claims: [], errors: [] };
      }
      return this.failed(cause);
    }
    try {
      const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'in_tail_files'").get();
      if (!hasTable) {
        // The DB exists but in_tail has not created its table yet: nothing read.
        this.lastGood = [];
        return { claims: [], errors: [] };
      }
      const rows = db
        .prepare("SELECT id, CAST(name AS BLOB) AS name, offset, inode FROM in_tail_files ORDER BY id")
        .safeIntegers(true)
        .all() as Row[];
      const claims: ProgressClaim[] = [];
      for (const r of rows) {
        // A row without a name, an inode or an offset cannot be matched or credited: leave it out.
        if (r.name === null || r.inode === null || r.offset === null) continue;
        const offset = Number(r.offset);
        if (!Number.isSafeInteger(offset) || offset < 0) continue;
        claims.push({ kind: "inode-name", shipper: "fluent-bit-db", inode: BigInt.asUintN(64, BigInt(r.inode)), path: Buffer.from(r.name), offset });
      }
      this.lastGood = claims;
      return { claims, errors: [] };
    } catch (cause) {
      return this.failed(cause);
    } finally {
      db.close();
    }
  }

  private failed(cause: unknown): ProgressReport {
    if (isBusy(cause)) {
      const err = new ProgressSourceError("PROGRESS_DB_BUSY", this.dbPath, `in_tail DB "${this.dbPath}" is locked, using the last good read`, { cause });
      return { claims: this.lastGood, errors: [err] };
    }
    return { claims: [], errors: [new ProgressSourceError("PROGRESS_DB_READ", this.dbPath, `failed to read in_tail DB "${this.dbPath}"`, { cause })] };
  }
}
