// A log path comes from the container runtime, so it is input we check before acting on it: it must be
// absolute, normalised, strictly under the configured log root, and reached without a symlink. We never
// glob (names may hold '*', '[' or newlines) — directories are listed and names compared as bytes.
import { posix } from "node:path";
import { PathError } from "./errors.js";
import type { Fs } from "./fs.js";


export interface LogLocation {
  logPath: string;
  dir: string;
  logName: Buffer;
}

/** Pure checks on the text of a log path; throws PathError saying what is wrong. */
export function checkLogPath(logPath: string, logRoot: string): LogLocation {
  const shown = JSON.stringify(logPath);
  if (logPath === "") throw new PathError("PATH_UNSAFE", "log path is empty (refusing: an empty path would match everything)");
  if (logPath.includes("\0")) throw new PathError("PATH_UNSAFE", `log path ${shown} holds a NUL byte`);
  if (!posix.isAbsolute(logPath)) throw new PathError("PATH_UNSAFE", `log path ${shown} is not absolute`);
  if (posix.normalize(logPath) !== logPath || logPath.endsWith("/")) {
    throw new PathError("PATH_UNSAFE", `log path ${shown} is not normalised (it has "..", ".", "//" or a trailing "/")`);
  }
  const root = logRoot.endsWith("/") ? logRoot.slice(0, -1) : logRoot;
  if (!logPath.startsWith(root + "/")) throw new PathError("PATH_UNSAFE", `log path ${shown} is outside the log root ${JSON.stringify(logRoot)}`);
  const dir = posix.dirname(logPath);
  const name = posix.basename(logPath);
  if (dir === root) throw new PathError("PATH_UNSAFE", `log path ${shown} is directly in the log root; expected <root>/<pod>/<container>/<n>.log`);
  return { logPath, dir, logName: Buffer.from(name, "utf8") };
}

/** Every directory from below the root down to `dir` must be a real directory, not a symlink. */
export async function checkNoSymlinks(fs: Fs, dir: string, logRoot: string): Promise<void> {
  const root = logRoot.endsWith("/") ? logRoot.slice(0, -1) : logRoot;
  const rel = dir.slice(root.length + 1).split("/");
  let cur = root;
  for (const part of rel) {
    cur = `${cur}/${part}`;
    const info = await fs.lstat(cur);
    if (info === null) throw new PathError("PATH_MISSING", `log directory ${JSON.stringify(cur)} does not exist`);
    if (info.kind === "symlink") throw new PathError("PATH_UNSAFE", `refusing ${JSON.stringify(dir)}: ${JSON.stringify(cur)} is a symlink`);
    if (info.kind !== "directory") throw new PathError("PATH_UNSAFE", `refusing ${JSON.stringify(dir)}: ${JSON.stringify(cur)} is not a directory`);
  }
}

/** A name or path for messages and logs: quoted, with bytes that are not valid UTF-8 shown as \xNN. */
export function showPath(p: string | Buffer): string {
  if (typeof p === "string") return JSON.stringify(p);
  const text = p.toString("utf8");
  if (Buffer.from(text, "utf8").equals(p)) return JSON.stringify(text);
  let out = "";
  for (const byte of p) out += byte >= 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x5c ? String.fromCharCode(byte) : `\\x${byte.toString(16).padStart(2, "0")}`;
  return `"${out}"`;
}
