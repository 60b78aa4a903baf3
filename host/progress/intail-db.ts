// Reads Fluent Bit's in_tail offsets DB (the `DB` key of [INPUT] tail; schema in plugins/in_tail/tail_sql.h)
// read-only. Each row is one file in_tail follows: its inode, the name it knows it by (in_tail renames the
// row and sets rotated=1 when it notices a rotation) and the offset AFTER the last line it read.
//
// Fluent Bit writes this DB all the time, so a read may find it locked: then the last good report is
// returned again (offsets only grow for a file, so an older report credits less, which is safe).
import Database from "better-sqlite3";
import { type DbFileProgress, type ProgressReport, type ProgressSource } from "./types.js";
import { silentLogger, type Logger } from "../log.js";
import { ProgressSourceError } from "../errors.js";

export interface InTailDbOptions {
  /** Busy timeout in milliseconds: how long a read waits for Fluent Bit's write lock. */
  timeoutMs?: number;
  logger?: Logger;
}

interface Row {
  id: number;
  name: string;
  offset: number | null;
  inode: number | null;
  created: number | null;
  rotated: number | null;
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
  private lastGood: DbFileProgress[] = [];
  private readonly timeoutMs: number;
  private readonly logger: Logger;

  constructor(
    private readonly dbPath: string,
    opts: InTailDbOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 200;
    this.logger = opts.logger ?? silentLogger;
  }

  async read(): Promise<ProgressReport> {
    let db: Database.Database;
    try {
      db = new Database(this.dbPath, { readonly: true, fileMustExist: true, timeout: this.timeoutMs });
    } catch (cause) {
      // fileMustExist: a missing DB is SQLITE_CANTOPEN. Fluent Bit has not started (or runs without DB).
      if (sqliteCode(cause) === "SQLITE_CANTOPEN" || (cause as NodeJS.ErrnoException)?.code === "ENOENT") {
        this.lastGood = [];
        return { db: [], errors: [] };
      }
      return this.failed(cause);
    }
    try {
      const hasTable = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'in_tail_files'").get();
      if (!hasTable) {
        // The DB exists but in_tail has not created its table yet: nothing read.
        this.lastGood = [];
        return { db: [], errors: [] };
      }
      const rows = db.prepare("SELECT id, name, offset, inode, created, rotated FROM in_tail_files ORDER BY id").all() as Row[];
      const files: DbFileProgress[] = [];
      for (const r of rows) {
        // A row without an inode or offset cannot be matched or credited: leave it out.
        if (typeof r.inode !== "number" || typeof r.offset !== "number" || r.offset < 0) continue;
        files.push({ id: r.id, name: r.name, inode: r.inode, offset: r.offset, created: r.created ?? 0, rotated: r.rotated === 1 });
      }
      this.lastGood = files;
      return { db: files, errors: [] };
    } catch (cause) {
      return this.failed(cause);
    } finally {
      db.close();
    }
  }

  private failed(cause: unknown): ProgressReport {
    if (isBusy(cause)) {
      const err = new ProgressSourceError("PROGRESS_DB_BUSY", this.dbPath, `in_tail DB "${this.dbPath}" is locked, using the last good read`, { cause });
      this.logger.warn(err.message, { path: this.dbPath, code: err.code });
      return { db: this.lastGood, errors: [err] };
    }
    const err = new ProgressSourceError("PROGRESS_DB_READ", this.dbPath, `failed to read in_tail DB "${this.dbPath}"`, { cause });
    this.logger.warn(err.message, { path: this.dbPath, code: err.code, cause: String(cause) });
    return { db: [], errors: [err] };
  }
}
