// Reads a shipper's position file whole through Fs.readRange: no symlink followed, a FIFO configured by
// mistake fails at once instead of hanging the daemon, and a file past the limit is refused rather than
// read into memory.
import { ProgressSourceError } from "../errors.js";
import type { FileStat, Fs } from "../fs.js";

/** Larger than any position file of a node (a line or an entry per log file). */
export const MAX_POSITION_FILE_BYTES = 64 * 1024 * 1024;
const FIRST_READ = 1024 * 1024;

/** The file's bytes and fstat; null when it does not exist. */
export async function readWhole(fs: Fs, path: string, max = MAX_POSITION_FILE_BYTES): Promise<{ bytes: Buffer; stat: FileStat } | null> {
  try {
    const first = await fs.readRange(path, 0, FIRST_READ);
    if (first.stat.size <= first.bytes.length && first.bytes.length < FIRST_READ) return first;
    if (first.stat.size > max) throw new ProgressSourceError("PROGRESS_FILE_READ", path, `${path} is ${first.stat.size} bytes, more than the ${max} a position file may have`);
    // Bigger than the first read: once more, sized to the file (and a little room if it grows meanwhile).
    return await fs.readRange(path, 0, Math.min(max, first.stat.size + 64 * 1024));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}
