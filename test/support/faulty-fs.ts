// A programmable Fs for tests: every call goes to a real Fs (realFs by default) unless a fault was injected
// for it, and every call is recorded. No global is patched; the code under test is handed this object.
//
//   const ffs = new FaultyFs();
//   ffs.injectError("link", Object.assign(new Error("EIO"), { code: "EIO" }), { match: (p) => p.endsWith(".gz") });
//   ffs.injectError("write", new Error("ENOSPC"), { afterBytes: 100 }); // a stream from createExclusive fails mid-write
//   ffs.delay("link", 20);                                              // every link takes 20 ms longer
//   ffs.trace = { enter(call) {...}, exit(call) {...} };                 // see calls in flight
import { Writable } from "node:stream";
import type { WriteStream } from "node:fs";
import { realFs, type Fs, type FsPath, type WatchListener } from "../../host/fs.js";

/** An Fs method, or a method of the handle createExclusive returns ("write" is a chunk written to its stream). */
export type FaultOp = keyof Fs | "write" | "sync" | "close";

export interface FsCall {
  op: FaultOp;
  /** The first path argument as text (file names in tests are UTF-8). */
  path: string;
  /** For link and rename: the new name. */
  to?: string;
}

export interface FaultOptions {
  /** How many matching calls fail (default 1; Infinity = until clearErrors). */
  times?: number;
  /** Only calls whose path satisfies this fail (and count towards `times`). */
  match?: (path: string) => boolean;
  /** "write" only: the stream accepts this many bytes first, then fails (default 0). */
  afterBytes?: number;
}

interface Fault {
  op: FaultOp;
  err: Error;
  remaining: number;
  match?: (path: string) => boolean;
  afterBytes: number;
}

interface Delay {
  op: FaultOp;
  ms: number;
  match?: (path: string) => boolean;
}

export interface FsTracer {
  enter(call: FsCall): void;
  exit(call: FsCall): void;
}

const text = (p: FsPath): string => (Buffer.isBuffer(p) ? p.toString("utf8") : p);

export class FaultyFs implements Fs {
  readonly calls: FsCall[] = [];
  /** Told when each call starts and ends (after any injected delay), e.g. to measure concurrency. */
  trace: FsTracer | undefined;
  private faults: Fault[] = [];
  private delays: Delay[] = [];

  constructor(private readonly inner: Fs = realFs) {}

  injectError(op: FaultOp, err: Error, options: FaultOptions = {}): void {
    this.faults.push({ op, err, remaining: options.times ?? 1, match: options.match, afterBytes: options.afterBytes ?? 0 });
  }

  /** Every matching call of `op` waits `ms` before it runs. */
  delay(op: FaultOp, ms: number, options: { match?: (path: string) => boolean } = {}): void {
    this.delays.push({ op, ms, match: options.match });
  }

  clearErrors(): void {
    this.faults = [];
  }

  clearDelays(): void {
    this.delays = [];
  }

  clearCalls(): void {
    this.calls.length = 0;
  }

  /** The recorded calls of `op` (all if omitted). */
  callsOf(op?: FaultOp): FsCall[] {
    return op === undefined ? [...this.calls] : this.calls.filter((c) => c.op === op);
  }

  /** The next fault for this call, consumed; undefined if none applies. */
  private take(op: FaultOp, path: string): Fault | undefined {
    const i = this.faults.findIndex((f) => f.op === op && (f.match === undefined || f.match(path)));
    if (i < 0) return undefined;
    const f = this.faults[i]!;
    f.remaining -= 1;
    if (f.remaining <= 0) this.faults.splice(i, 1);
    return f;
  }

  private async call<T>(op: FaultOp, path: FsPath, run: () => Promise<T>, to?: FsPath): Promise<T> {
    const call: FsCall = { op, path: text(path), ...(to !== undefined ? { to: text(to) } : {}) };
    this.calls.push(call);
    for (const d of this.delays) {
      if (d.op === op && (d.match === undefined || d.match(call.path))) await new Promise((r) => setTimeout(r, d.ms));
    }
    this.trace?.enter(call);
    try {
      const fault = this.take(op, call.path);
      if (fault) throw fault.err;
      return await run();
    } finally {
      this.trace?.exit(call);
    }
  }

  lstat(path: FsPath) {
    return this.call("lstat", path, () => this.inner.lstat(path));
  }

  listDir(dir: FsPath) {
    return this.call("listDir", dir, () => this.inner.listDir(dir));
  }

  link(from: FsPath, to: FsPath) {
    return this.call("link", from, () => this.inner.link(from, to), to);
  }

  rename(from: FsPath, to: FsPath) {
    return this.call("rename", from, () => this.inner.rename(from, to), to);
  }

  remove(path: FsPath, missingOk?: boolean) {
    return this.call("remove", path, () => this.inner.remove(path, missingOk));
  }

  openRead(path: FsPath) {
    return this.call("openRead", path, () => this.inner.openRead(path));
  }


  createExclusive(path: FsPath, mode: number) {
    return this.call("createExclusive", path, async () => {
      const handle = await this.inner.createExclusive(path, mode);
      const p = text(path);
      const writeFault = this.take("write", p);
      return {
        // The stream is the real one unless a "write" fault applies: then a stream that passes
        // `afterBytes` bytes through to the real file and fails on the write that would cross it.
        stream: writeFault ? failingStream(handle.stream, writeFault) : handle.stream,
        sync: () => this.call("sync", path, () => handle.sync()),
        close: () => this.call("close", path, () => handle.close()),
      };
    });
  }

  syncDir(dir: FsPath) {
    return this.call("syncDir", dir, () => this.inner.syncDir(dir));
  }

  readFile(path: FsPath) {
    return this.call("readFile", path, () => this.inner.readFile(path));
  }

  readRange(path: FsPath, position: number, length: number) {
    return this.call("readRange", path, () => this.inner.readRange(path, position, length));
  }

  /** Watching is passed through (recorded, not faultable: its failures are the kernel's to give). */
  watch(dir: FsPath, listener: WatchListener, onError: (err: Error) => void) {
    this.calls.push({ op: "watch", path: text(dir) });
    return this.inner.watch(dir, listener, onError);
  }
}

function failingStream(real: WriteStream, fault: Fault): WriteStream {
  let written = 0;
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      const room = fault.afterBytes - written;
      if (chunk.length <= room) {
        written += chunk.length;
        real.write(chunk, (err) => cb(err ?? null));
        return;
      }
      // Write what fits, so the temporary file really is half-written, then fail.
      const part = chunk.subarray(0, Math.max(0, room));
      written += part.length;
      if (part.length === 0) return cb(fault.err);
      real.write(part, () => cb(fault.err));
    },
    final(cb) {
      real.end(() => cb());
    },
  });
  // Only the Writable side of WriteStream is used by callers (pipeline's destination).
  return stream as unknown as WriteStream;
}
