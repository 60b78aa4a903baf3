// Reads the shared case tables in test/fixtures/ (the same tables the as-pect specs are generated from).
import { readFileSync } from "node:fs";
import { repoFile } from "./repo.js";
import type { ContainerSnapshot, EntryKindName, Policy } from "../../host/plugin/types.js";

export type FixtureName = string | { hex: string };

export function fixture<T>(name: string): T {
  return JSON.parse(readFileSync(repoFile(`test/fixtures/${name}.json`), "utf8")) as T;
}

export function nameOf(v: FixtureName): Buffer {
  return typeof v === "string" ? Buffer.from(v, "utf8") : Buffer.from(v.hex, "hex");
}

export function display(v: FixtureName): string {
  return typeof v === "string" ? JSON.stringify(v) : `hex:${v.hex}`;
}

export interface PlanCase {
  name: string;
  why?: string;
  policy: Policy;
  now: number;
  containers: {
    id: string;
    logName: FixtureName;
    /** The live log alone was shown (the rules may answer "needs-listing"). */
    liveOnly?: boolean;
    entries: {
      name: FixtureName;
      kind?: EntryKindName;
      size: number;
      mtime?: number;
      readOffset?: number;
      lastLineStart?: number;
      /** Another container's live log. */
      foreign?: boolean;
      /** In use by the host's own compression. */
      busy?: boolean;
      inode?: number;
      crc32?: number;
      isize?: number;
    }[];
  }[];
  /** Per container: the actions, or "needs-listing". */
  expect: ({ kind: string; reason: string; name: FixtureName; unreadBytes?: number }[] | "needs-listing")[];
}

export function snapshotsOf(c: PlanCase): ContainerSnapshot[] {
  return c.containers.map((ct) => ({
    id: ct.id,
    logName: nameOf(ct.logName),
    liveOnly: ct.liveOnly ?? false,
    entries: ct.entries.map((e) => ({
      name: nameOf(e.name),
      kind: e.kind ?? "file",
      size: e.size,
      mtime: e.mtime ?? 0,
      readOffset: e.readOffset === undefined || e.readOffset < 0 ? undefined : e.readOffset,
      lastLineStart: e.lastLineStart === undefined || e.lastLineStart < 0 ? undefined : e.lastLineStart,
      foreign: e.foreign,
      busy: e.busy,
      inode: e.inode,
      crc32: e.crc32,
      isize: e.isize,
    })),
  }));
}
