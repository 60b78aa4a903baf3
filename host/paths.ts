// A log path comes from the container runtime, so it is input we check before acting on it: it must be
// absolute, normalised, strictly under the configured log root, and reached without a symlink. Paths are
// bytes from the CRI answer to the syscall (containerd accepts and reports non-UTF-8 bytes in a log path;
// decoding them would point at another directory). We never glob (names may hold '*', '[' or newlines) —
// directories are listed and names compared as bytes.
import { PathError } from "./errors.js";
import type { Fs } from "./fs.js";

export interface LogLocation {
  logPath: Buffer;
  dir: Buffer;
  logName: Buffer;
}

const SLASH = 0x2f;

/** Pure checks on the bytes of a log path; throws PathError saying what is wrong. */
export function checkLogPath(logPath: Buffer, logRoot: string): LogLocation {
  const shown = showPath(logPath);
  if (logPath.length === 0) throw new PathError("PATH_UNSAFE", "log path is empty (refusing: an empty path would match everything)");
  if (logPath.includes(0)) throw new PathError("PATH_UNSAFE", `log path ${shown} holds a NUL byte`);
  if (logPath[0] !== SLASH) throw new PathError("PATH_UNSAFE", `log path ${shown} is not absolute`);
  if (!isNormalised(logPath)) throw new PathError("PATH_UNSAFE", `log path ${shown} is not normalised (it has "..", ".", "//" or a trailing "/")`);
  const root = Buffer.from(logRoot.endsWith("/") ? logRoot.slice(0, -1) : logRoot, "utf8");
  const prefix = Buffer.concat([root, Buffer.from("/")]);
  if (!logPath.subarray(0, prefix.length).equals(prefix) || logPath.length === prefix.length) {
    throw new PathError("PATH_UNSAFE", `log path ${shown} is outside the log root ${JSON.stringify(logRoot)}`);
  }
  const cut = logPath.lastIndexOf(SLASH);
  if (logPath.subarray(0, cut).equals(root)) throw new PathError("PATH_UNSAFE", `log path ${shown} is directly in the log root; expected <root>/<pod>/<container>/<n>.log`);
  // One copy of the bytes (the caller's buffer may be reused); dir and logName are views into it. The copy
  // lives as long as the container: outside Node's shared pool, where it would pin an 8 KiB slab.
  const own = Buffer.allocUnsafeSlow(logPath.length);
  logPath.copy(own);
  return { logPath: own, dir: own.subarray(0, cut), logName: own.subarray(cut + 1) };
}

/** No empty, "." or ".." component, and no trailing "/" (the path starts with "/"). */
function isNormalised(p: Buffer): boolean {
  if (p[p.length - 1] === SLASH) return false;
  let start = 1;
  for (let i = 1; i <= p.length; i++) {
    if (i < p.length && p[i] !== SLASH) continue;
    const len = i - start;
    if (len === 0) return false;
    if (len === 1 && p[start] === 0x2e) return false;
    if (len === 2 && p[start] === 0x2e && p[start + 1] === 0x2e) return false;
    start = i + 1;
  }
  return true;
}

/** Every directory from below the root down to `dir` must be a real directory, not a symlink. */
export async function checkNoSymlinks(fs: Fs, dir: Buffer, logRoot: string): Promise<void> {
  const root = Buffer.from(logRoot.endsWith("/") ? logRoot.slice(0, -1) : logRoot, "utf8");
  let at = root.length + 1;
  while (at <= dir.length) {
    let end = dir.indexOf(SLASH, at);
    if (end < 0) end = dir.length;
    const cur = dir.subarray(0, end);
    const info = await fs.lstat(cur);
    if (info === null) throw new PathError("PATH_MISSING", `log directory ${showPath(cur)} does not exist`);
    if (info.kind === "symlink") throw new PathError("PATH_UNSAFE", `refusing ${showPath(dir)}: ${showPath(cur)} is a symlink`);
    if (info.kind !== "directory") throw new PathError("PATH_UNSAFE", `refusing ${showPath(dir)}: ${showPath(cur)} is not a directory`);
    at = end + 1;
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
