// What the rules are shown of a container: its live log alone (an lstat: enough for the rules to say
// "nothing to do" or "show me the directory"), or every entry of its directory with the facts the host
// knows about each: another container's live log (foreign), in use by our own compression (busy), the
// digests already read, and the shipper's progress.
import { toFileEntries, toFileEntry } from "../executor.js";
import type { Fs } from "../fs.js";
import type { ContainerSnapshot, FileEntry } from "../plugin/types.js";
import type { Compressor } from "./compressor.js";
import type { DigestCache } from "./digests.js";
import type { Container, Discovery } from "./discovery.js";
import type { ProgressAttacher } from "./progress.js";

export interface SnapshotOptions {
  fs: Fs;
  discovery: Discovery;
  compressor: Compressor;
  digests: DigestCache;
  progress?: ProgressAttacher;
}

export class Snapshots {
  constructor(private readonly o: SnapshotOptions) {}

  /** The live log alone (none when it is missing: the rules then recover it). */
  async live(c: Container): Promise<ContainerSnapshot> {
    const info = await this.o.fs.lstat(c.location.logPath);
    const entries: FileEntry[] = info === null ? [] : [toFileEntry(c.location.logName, info)];
    return { id: c.id, logName: c.location.logName, entries, liveOnly: true };
  }

  /** Every entry of the container's directory, with what the host knows about each. */
  async full(c: Container): Promise<ContainerSnapshot> {
    const { fs, discovery, compressor, digests, progress } = this.o;
    // A compression that runs at any moment of the listing is flagged, so X and its new X.gz (or X.tmp)
    // never look like two files or a leftover.
    const { result: listing, busy } = await compressor.busyDuring(c.location.dir, () => fs.listDir(c.location.dir));
    const entries = progress ? await progress.attach(c.id, c.location, listing) : toFileEntries(listing);
    const byInode = new Map(listing.map((e) => [e.name.toString("latin1"), e.inode]));
    const foreign = discovery.foreignNames(c.location.dir, c.id);
    for (const e of entries) {
      e.inode ??= byInode.get(e.name.toString("latin1"));
      if (foreign.some((n) => n.equals(e.name))) e.foreign = true;
      if (busy.some((n) => n.equals(e.name))) e.busy = true;
    }
    digests.apply(entries);
    return { id: c.id, logName: c.location.logName, entries };
  }
}
