// One instance per log root: a lock file holding the owner's pid.
//
// The lock is created whole — a temp file with our pid, then link() to the lock path, which fails with
// EEXIST if it exists — so nobody ever reads a half-written lock and mistakes it for garbage.
// A stale lock (dead pid, or content that is not a pid) is taken over by rename()-ing it to a name of our
// own: of several starters racing for the same stale lock, exactly one rename moves that inode. The
// winner checks it moved the inode it judged stale (not a fresh lock someone created meanwhile, which it
// puts back), deletes it, and creates its own lock with link() again — losing that link means another
// starter won, and the loop then reports that starter's pid.
//
// Liveness: the holder listens on a unix socket beside the lock (`<lock>.sock`) for as long as it holds
// it, and the kernel closes that socket when the process dies, whatever pid namespace it ran in (two pods
// on one node, or a pod and a systemd unit, see each other's pids as nothing or as someone else). A
// connect that succeeds means a live holder. Without an answer, `kill(pid, 0)` is asked as well (a holder
// in our own pid namespace that does not listen): a pid alive here is taken as the holder, the safe side.
// A lock holding our own pid is left over from an earlier incarnation (a container's pid 1 is always 1)
// unless this process holds it now.
import * as fs from "node:fs/promises";
import * as net from "node:net";
import { randomBytes } from "node:crypto";
import * as path from "node:path";
import { LockError } from "./errors.js";

export interface Lock {
  readonly path: string;
  release(): Promise<void>;
}

/** Locks this process holds now, by path → inode: a second acquire in one process is refused too. */
const heldHere = new Map<string, bigint>();

function parsePid(text: string): number | undefined {
  const m = /^\s*([0-9]{1,10})\s*$/.exec(text);
  if (!m) return undefined;
  const pid = Number(m[1]);
  return pid > 0 && pid <= 0x7fffffff ? pid : undefined; // kill(0, …) would mean "my process group"
}

/** True if a process with this pid exists (EPERM: it exists but belongs to someone else). */
export function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

/** The lock's content (first 64 bytes) and inode; undefined if there is no lock. Never follows a symlink. */
async function readLock(file: string): Promise<{ text: string; ino: bigint } | undefined> {
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(file, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  } catch (err) {
    if (errno(err) === "ENOENT") return undefined;
    throw err;
  }
  try {
    const st = await handle.stat({ bigint: true });
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(64), 0, 64, 0);
    return { text: buffer.subarray(0, bytesRead).toString("utf8"), ino: st.ino };
  } finally {
    await handle.close();
  }
}

/** Creates `file` holding our pid, atomically; false if it already exists. Returns its inode. */
async function createWhole(file: string): Promise<bigint | undefined> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  await fs.writeFile(tmp, `${process.pid}\n`, { flag: "wx", mode: 0o644 });
  try {
    await fs.link(tmp, file);
    return (await fs.stat(tmp, { bigint: true })).ino;
  } catch (err) {
    if (errno(err) === "EEXIST") return undefined;
    throw err;
  } finally {
    await fs.unlink(tmp).catch(() => {});
  }
}

/**
 * Takes the lock at `file`, or throws LockError "LOCK_HELD" naming the live pid that holds it. Creates its
 * directory when missing (the default, /run/cri-logrotate, is on a tmpfs that starts empty at boot).
 */
export async function acquireLock(file: string): Promise<Lock> {
  const lockPath = path.resolve(file);
  const fail = (what: string, err: unknown) =>
    new LockError("LOCK_FAILED", `cannot ${what} lock file "${lockPath}": ${(err as Error).message}`, { path: lockPath, cause: err });
  try {
    await fs.mkdir(path.dirname(lockPath), { recursive: true, mode: 0o755 });
  } catch (err) {
    throw fail("create the directory of the", err);
  }
  if (heldHere.has(lockPath)) {
    throw new LockError("LOCK_HELD", `lock file "${lockPath}" is already held by this process (pid ${process.pid})`, { path: lockPath, pid: process.pid });
  }

  // Each round either takes the lock, reports the live holder, or sees a concurrent change and looks again.
  for (let round = 0; round < 5; round++) {
    let ino: bigint | undefined;
    try {
      ino = await createWhole(lockPath);
    } catch (err) {
      throw fail("create", err);
    }
    if (ino !== undefined) return hold(lockPath, ino, await listen(socketOf(lockPath)));

    let current: { text: string; ino: bigint } | undefined;
    try {
      current = await readLock(lockPath);
    } catch (err) {
      throw fail("read", err);
    }
    if (!current) continue; // released between our link and our read
    const pid = parsePid(current.text);
    if (pid !== undefined && ((await holderAnswers(socketOf(lockPath))) || (pid !== process.pid && isProcessAlive(pid)))) {
      throw new LockError(
        "LOCK_HELD",
        `another cri-logrotate (pid ${pid}) holds the lock file "${lockPath}": only one instance may manage a log root; ` +
          `stop it, or remove the file if pid ${pid} is not cri-logrotate`,
        { path: lockPath, pid },
      );
    }

    // Stale: claim exactly the inode we judged, by moving it aside.
    const aside = `${lockPath}.${process.pid}.${randomBytes(4).toString("hex")}.stale`;
    try {
      await fs.rename(lockPath, aside);
    } catch (err) {
      if (errno(err) === "ENOENT") continue; // another starter claimed it first
      throw fail("take over stale", err);
    }
    const moved = await fs.stat(aside, { bigint: true }).catch(() => undefined);
    if (moved && moved.ino !== current.ino) {
      // We moved a lock created after our read — put it back; if that fails, someone else got there,
      // and the next round reports whoever holds the path now.
      await fs.link(aside, lockPath).catch(() => {});
    }
    await fs.unlink(aside).catch(() => {});
  }
  throw new LockError("LOCK_FAILED", `lock file "${lockPath}" keeps changing; is another cri-logrotate starting?`, { path: lockPath });
}

function socketOf(lockPath: string): string {
  return `${lockPath}.sock`;
}

/** A connect to the holder's socket succeeds (within a second): the holder is alive. */
function holderAnswers(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.connect(socketPath);
    const done = (alive: boolean) => {
      clearTimeout(timer);
      c.destroy();
      resolve(alive);
    };
    const timer = setTimeout(() => done(false), 1000);
    c.once("connect", () => done(true));
    c.once("error", () => done(false));
  });
}

/** Listens on the lock's socket (replacing a dead holder's socket file). Not fatal: liveness falls back to the pid. */
async function listen(socketPath: string): Promise<net.Server | undefined> {
  await fs.unlink(socketPath).catch(() => {});
  const server = net.createServer((socket) => socket.destroy());
  return new Promise((resolve) => {
    server.once("error", () => resolve(undefined));
    server.listen(socketPath, () => {
      server.unref(); // holding the lock must not keep the process alive
      resolve(server);
    });
  });
}

function hold(lockPath: string, ino: bigint, server: net.Server | undefined): Lock {
  heldHere.set(lockPath, ino);
  let released = false;
  return {
    path: lockPath,
    async release() {
      if (released) return;
      released = true;
      heldHere.delete(lockPath);
      if (server) {
        await new Promise<void>((r) => server.close(() => r()));
        await fs.unlink(socketOf(lockPath)).catch(() => {});
      }
      // Remove the file only if it is still ours: same inode and our pid. A lock taken over by
      // someone else (after we were judged dead) is theirs now.
      const current = await readLock(lockPath).catch(() => undefined);
      if (current && current.ino === ino && parsePid(current.text) === process.pid) {
        await fs.unlink(lockPath).catch((err) => {
          if (errno(err) !== "ENOENT") throw err;
        });
      }
    },
  };
}
