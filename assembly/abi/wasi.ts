// Every host import of the module, declared once: the WASI preview1 file calls the Fluent Bit face uses
// to read its config file and its last progress file and to replace the progress file, all inside the
// first preopened directory (Fluent Bit's Accessible_Paths). (The shim's abort adds fd_write/proc_exit.)
// Every failure is an errno returned to the caller, never a trap.
import {
  fd_close,
  fd_prestat_get,
  fd_read,
  fd_write,
  path_open,
  path_rename,
  oflags,
  rights,
  preopentype,
  prestat,
} from "bindings/wasi_snapshot_preview1";

/** errno values this file produces or tests for (WASI numbering). */
export const ERRNO_SUCCESS: u16 = 0;
export const ERRNO_BADF: u16 = 8;
export const ERRNO_IO: u16 = 29;
export const ERRNO_NOENT: u16 = 44;
export const ERRNO_NOTCAPABLE: u16 = 76;
/** Not a WASI errno: the file is larger than the reader accepts. */
export const ERRNO_FBIG: u16 = 22;

// Out-parameters and iovecs of the WASI calls: a static area, so a call allocates nothing.
// 0: iovec {buf, len}; 8: nwritten/nread; 12: opened fd; 16: prestat (8 bytes).
const SCRATCH: usize = memory.data(32, 16);

/** The first fds a WASI host preopens start at 3; we look no further than this. */
const PREOPEN_SCAN_LIMIT: u32 = 64;

let preopenSearched = false;
let preopenFd: i32 = -1;

/** The first preopened directory's fd, or -1 when the host gave none. Looked up once. */
export function firstPreopenDir(): i32 {
  if (preopenSearched) return preopenFd;
  preopenSearched = true;
  for (let fd: u32 = 3; fd < PREOPEN_SCAN_LIMIT; fd++) {
    const err = fd_prestat_get(fd, changetype<prestat>(SCRATCH + 16));
    if (err == ERRNO_BADF) break; // past the last preopen
    if (err != ERRNO_SUCCESS) continue;
    if (load<u8>(SCRATCH + 16) == preopentype.DIR) {
      preopenFd = <i32>fd;
      break;
    }
  }
  return preopenFd;
}

/** The result of readSmallFile: the bytes (when errno is 0) and the errno. */
export class ReadResult {
  errno: u16 = ERRNO_SUCCESS;
  data: Uint8Array = new Uint8Array(0);
}

/**
 * Reads the whole file `name` in directory `dir`, refusing files longer than maxLen bytes. The buffer
 * starts small and doubles, so a large limit costs nothing for a small file.
 */
export function readSmallFile(dir: i32, name: Uint8Array, maxLen: i32): ReadResult {
  const r = new ReadResult();
  if (dir < 0) {
    r.errno = ERRNO_NOTCAPABLE;
    return r;
  }
  let err = path_open(<u32>dir, 0, name.dataStart, <usize>name.length, 0, rights.FD_READ, 0, 0, SCRATCH + 12);
  if (err != ERRNO_SUCCESS) {
    r.errno = err;
    return r;
  }
  const fd = load<u32>(SCRATCH + 12);
  let buf = new Uint8Array(maxLen < 4096 ? maxLen + 1 : 4096);
  let used: i32 = 0;
  while (used <= maxLen) {
    if (used == buf.length) {
      let cap = buf.length * 2;
      if (cap > maxLen + 1) cap = maxLen + 1;
      const grown = new Uint8Array(cap);
      grown.set(buf, 0);
      buf = grown;
    }
    store<usize>(SCRATCH, buf.dataStart + <usize>used);
    store<usize>(SCRATCH + 4, <usize>(buf.length - used));
    err = fd_read(fd, SCRATCH, 1, SCRATCH + 8);
    if (err != ERRNO_SUCCESS) break;
    const n = <i32>load<u32>(SCRATCH + 8);
    if (n == 0) break;
    used += n;
  }
  fd_close(fd);
  if (err != ERRNO_SUCCESS) {
    r.errno = err;
    return r;
  }
  if (used > maxLen) {
    r.errno = ERRNO_FBIG;
    return r;
  }
  r.data = buf.subarray(0, used);
  return r;
}

/** Writes all of [ptr, ptr+len) to fd, looping over short writes. */
function writeAll(fd: u32, ptr: usize, len: usize): u16 {
  let done: usize = 0;
  while (done < len) {
    store<usize>(SCRATCH, ptr + done);
    store<usize>(SCRATCH + 4, len - done);
    const err = fd_write(fd, SCRATCH, 1, SCRATCH + 8);
    if (err != ERRNO_SUCCESS) return err;
    const n = <usize>load<u32>(SCRATCH + 8);
    if (n == 0) return ERRNO_IO; // no progress: give up rather than spin
    done += n;
  }
  return ERRNO_SUCCESS;
}

/**
 * Replaces `name` in `dir` with [ptr, ptr+len) atomically: writes `tmpName` (created or truncated),
 * closes it, then renames it over `name`. A reader sees the old file or the new one, never a half.
 */
export function replaceFile(dir: i32, name: Uint8Array, tmpName: Uint8Array, ptr: usize, len: usize): u16 {
  if (dir < 0) return ERRNO_NOTCAPABLE;
  let err = path_open(<u32>dir, 0, tmpName.dataStart, <usize>tmpName.length, oflags.CREAT | oflags.TRUNC, rights.FD_WRITE, 0, 0, SCRATCH + 12);
  if (err != ERRNO_SUCCESS) return err;
  const fd = load<u32>(SCRATCH + 12);
  err = writeAll(fd, ptr, len);
  const closeErr = fd_close(fd);
  if (err == ERRNO_SUCCESS) err = closeErr;
  if (err != ERRNO_SUCCESS) return err;
  return path_rename(<u32>dir, tmpName.dataStart, <usize>tmpName.length, <u32>dir, name.dataStart, <usize>name.length);
}
