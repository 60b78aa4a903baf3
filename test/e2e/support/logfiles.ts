// A container's log files as the kubelet's GetAllLogs (and a log shipper) see them: rotated files oldest
// first — bytewise name order is chronological thanks to the timestamp — then the live log; `.gz` files are
// read decompressed.
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { parseCriLogLine, type CriLogLine } from "./pods.js";

/** `0.log.20260101-000000`, or with the shim's collision counter (`…-000000_000001`), optionally `.gz`. */
export function rotatedNamePattern(logName = "0.log"): RegExp {
  return new RegExp(`^${logName.replace(/\./g, "\\.")}\\.(\\d{8}-\\d{6})(_\\d{6})?(\\.gz)?$`);
}

export interface LogFiles {
  /** Every entry of the directory whose name starts with the log name, as listed. */
  all: string[];
  /** Rotated files (plain or .gz), oldest first. */
  rotated: string[];
  /** Whether the live log exists. */
  live: boolean;
}

export async function listLogFiles(dir: string, logName = "0.log"): Promise<LogFiles> {
  const all = (await readdir(dir)).filter((n) => n.startsWith(logName)).sort();
  const stem = (n: string) => n.replace(/\.gz$/, "");
  const rotated = all.filter((n) => n !== logName).sort((a, b) => (stem(a) < stem(b) ? -1 : stem(a) > stem(b) ? 1 : 0));
  return { all, rotated, live: all.includes(logName) };
}

/** CRI log text to entries; a last line without its newline is still being written and is left out. */
export function parseCriText(text: string, origin: string): CriLogLine[] {
  const lines = text.split("\n");
  lines.pop();
  return lines.map((line, i) => {
    const parsed = parseCriLogLine(line);
    if (parsed === undefined) throw new Error(`line ${i + 1} of "${origin}" is not in CRI format: ${JSON.stringify(line.slice(0, 200))}`);
    return parsed;
  });
}

/** Reads one log file, gunzipping a `.gz` (which throws if it is not valid gzip). */
export async function readLogFile(path: string): Promise<CriLogLine[]> {
  const raw = await readFile(path);
  const text = (path.endsWith(".gz") ? gunzipSync(raw) : raw).toString("utf8");
  return parseCriText(text, path);
}

/** Every entry of every log file of the container, rotated files oldest first, then the live log. */
export async function readAllLogs(dir: string, logName = "0.log"): Promise<{ files: string[]; lines: CriLogLine[] }> {
  const { rotated, live } = await listLogFiles(dir, logName);
  const files = [...rotated, ...(live ? [logName] : [])];
  const parts: CriLogLine[][] = [];
  for (const f of files) parts.push(await readLogFile(join(dir, f)));
  return { files, lines: parts.flat() }; // not push(...part): a file holds more lines than a call has arguments
}

/** Name → size and mtime of each entry: a directory that is "untouched" lists the same. */
export async function describeDir(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) {
    const s = await stat(join(dir, name));
    out[name] = `${s.isFile() ? "file" : "other"} ${s.size} bytes ino ${s.ino} mtime ${s.mtimeMs}`;
  }
  return out;
}

/** Every path below `dir` (relative), sorted. */
export async function listTree(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true });
  return entries.map(String).sort();
}
