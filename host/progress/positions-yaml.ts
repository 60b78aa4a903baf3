// Reads the positions file of Promtail (`positions.yaml`, default /var/log/positions.yaml) or of a Grafana
// Alloy `loki.source.file` component (`positions.yml` in its data path). Both write it whole every
// sync_period (10 s by default), atomically:
//
//   Promtail:  positions:
//                /var/log/pods/ns_pod_uid/c/0.log: "12345"
//   Alloy:     positions:
//                ? path: /var/log/pods/ns_pod_uid/c/0.log
//                  labels: '{job="pods"}'
//                : "12345"
//
// The offset (past the last line read) is a string; `cursor-` and `journal-` keys hold journal cursors,
// not offsets, and are skipped. There is no inode, so each entry is a `path` claim observed at the file's
// mtime: the rules tell the files at a path apart by the host's own rotation history. When several Alloy
// targets (label sets) read the same path, the least of their offsets counts: each of them must have read
// the bytes.
import { isMap, isScalar, parseDocument } from "yaml";
import type { Fs } from "../fs.js";
import { readWhole } from "./read-whole.js";
import type { ProgressClaim, ProgressReport, ProgressSource } from "./types.js";
import { ProgressSourceError } from "../errors.js";

const SKIPPED_PREFIXES = ["cursor-", "journal-"];

class Invalid extends Error {}

/** path → offset of one positions file (Promtail's plain keys or Alloy's {path, labels} keys). */
export function parsePositions(text: string): Map<string, number> {
  const doc = parseDocument(text, { uniqueKeys: false });
  if (doc.errors.length > 0) throw new Invalid(doc.errors[0]!.message.split("\n")[0]!);
  const out = new Map<string, number>();
  if (doc.contents === null) return out; // an empty file: nothing read yet
  if (!isMap(doc.contents)) throw new Invalid("the top level is not a mapping");
  const positions = doc.contents.get("positions", true);
  if (positions === undefined || (isScalar(positions) && positions.value === null)) return out;
  if (!isMap(positions)) throw new Invalid('"positions" is not a mapping');
  for (const pair of positions.items) {
    let path: unknown;
    if (isMap(pair.key)) path = pair.key.get("path");
    else if (isScalar(pair.key)) path = pair.key.value;
    if (typeof path !== "string" || path === "") throw new Invalid("an entry has no path");
    if (SKIPPED_PREFIXES.some((p) => path.startsWith(p))) continue;
    const raw = isScalar(pair.value) ? pair.value.value : undefined;
    const text = typeof raw === "number" ? String(raw) : raw;
    if (typeof text !== "string" || !/^(0|[1-9][0-9]*)$/.test(text) || !Number.isSafeInteger(Number(text))) continue; // not a file offset
    const offset = Number(text);
    const seen = out.get(path);
    out.set(path, seen === undefined ? offset : Math.min(seen, offset));
  }
  return out;
}

export class PositionsYamlSource implements ProgressSource {
  readonly name: string;
  constructor(
    private readonly shipper: "promtail" | "alloy",
    private readonly file: string,
    private readonly fs: Fs,
  ) {
    this.name = `progress.${shipper}Positions ${JSON.stringify(file)}`;
  }

  async read(): Promise<ProgressReport> {
    let got: Awaited<ReturnType<typeof readWhole>>;
    try {
      got = await readWhole(this.fs, this.file);
    } catch (cause) {
      return { claims: [], errors: [new ProgressSourceError("PROGRESS_FILE_READ", this.file, `failed to read ${this.shipper} positions "${this.file}"`, { cause })] };
    }
    if (!got) return { claims: [], errors: [] }; // not written yet: nothing read
    let positions: Map<string, number>;
    try {
      positions = parsePositions(got.bytes.toString("utf8"));
    } catch (err) {
      if (!(err instanceof Invalid)) throw err;
      return { claims: [], errors: [new ProgressSourceError("PROGRESS_FILE_CORRUPT", this.file, `${this.shipper} positions "${this.file}" cannot be used: ${err.message}`)] };
    }
    const takenAtMs = Math.floor(got.stat.mtimeMs);
    const claims: ProgressClaim[] = [];
    for (const [path, offset] of positions) claims.push({ kind: "path", shipper: this.shipper, path: Buffer.from(path, "utf8"), offset, takenAtMs });
    return { claims, errors: [] };
  }
}
