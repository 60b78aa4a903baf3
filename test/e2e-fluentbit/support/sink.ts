// A slow HTTP log sink on 127.0.0.1: the far end of Fluent Bit's `http` output (Format json_lines). It
// answers a POST only after the time its bytes take at the current rate (one queue for all connections,
// so Fluent Bit's workers cannot multiply it), and only then counts what arrived. It holds a
// request as long as that takes rather than refusing it: a refused chunk goes to Fluent Bit's retry
// scheduler, whose back-off (up to scheduler.cap, 2,000 s) would make the run's end a matter of luck.
// out_http has no response timeout by default (net.io_timeout 0).
//
// What it records: for each container (the log file's directory, relative to the log root) how often each
// numbered line arrived. The writers put the line's number first in its content (test/fake-cri's LogWriter,
// the containerd scenario's busybox loop "line <n>").
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { relative, sep } from "node:path";

export interface SinkOptions {
  /** Root the records' `path` values lie under (the log root Fluent Bit tails). */
  logRoot: string;
  /** Bytes per second accepted; Infinity = no limit. Can be changed while running (setRate). */
  bytesPerSecond: number;
  /** Longest a request is held; beyond it the sink answers 503 (Fluent Bit retries). Default: no limit. */
  maxHoldMs?: number;
  /** The line number a record's `log` carries, or undefined (default lineNumber). */
  parseLine?: (log: string) => number | undefined;
  /** Keep every record as the raw JSON line it arrived as (`raw`). */
  keepRaw?: boolean;
}

export interface Delivery {
  /** container key → line number → times delivered */
  counts: Map<string, Map<number, number>>;
  /**
   * container key → logs that carry no line number: pieces of a line the runtime split across two files
   * (containerd flushes a half-read line as P when it reopens the log; in_tail joins P and F only within
   * one file). joinFragments() puts pairs back together.
   */
  fragments: Map<string, string[]>;
  /** records that are not JSON or have no path/log string */
  unreadable: string[];
}

/** Line number at the start of a record's log content: "<n> ..." (fake writer) or "line <n>" (busybox). */
export function lineNumber(log: string): number | undefined {
  const m = /^(?:line )?(\d+)(?:\s|$)/.exec(log);
  return m ? Number(m[1]) : undefined;
}

export class SlowSink {
  readonly delivery: Delivery = { counts: new Map(), fragments: new Map(), unreadable: [] };
  /** Every record's JSON line, as it arrived (keepRaw). */
  readonly raw: string[] = [];
  requests = 0;
  rejected = 0;
  bytes = 0;
  private server: Server | undefined;
  private rate: number;
  private readonly maxHoldMs: number;

  constructor(private readonly opts: SinkOptions) {
    this.rate = opts.bytesPerSecond;
    this.maxHoldMs = opts.maxHoldMs ?? Infinity;
  }

  async start(): Promise<number> {
    const server = createServer((req, res) => this.handle(req, res));
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "127.0.0.1", () => resolve());
    });
    this.server = server;
    return (server.address() as AddressInfo).port;
  }

  /** A new rate from now on (requests already waiting keep the time they were given). */
  setRate(bytesPerSecond: number): void {
    this.rate = bytesPerSecond;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Records delivered so far (each delivery of a line counted). */
  get records(): number {
    let n = 0;
    for (const lines of this.delivery.counts.values()) for (const c of lines.values()) n += c;
    return n;
  }

  private readonly queue: { body: Buffer; res: ServerResponse; at: number }[] = [];
  private pumping = false;

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      this.requests++;
      this.queue.push({ body: Buffer.concat(chunks), res, at: Date.now() });
      void this.pump();
    });
  }

  /** Answers queued requests in order, each after its bytes' time at the rate in force when it is served. */
  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.queue.length > 0) {
        const head = this.queue[0]!;
        if (Date.now() - head.at > this.maxHoldMs) {
          this.queue.shift();
          this.rejected++;
          head.res.writeHead(503).end();
          continue;
        }
        // Spend the bytes in slices, so that a rate change takes effect within 100 ms.
        let left = head.body.length;
        while (left > 0 && Number.isFinite(this.rate)) {
          const slice = Math.max(1, Math.floor(this.rate / 10));
          const n = Math.min(left, slice);
          await new Promise((r) => setTimeout(r, (n * 1000) / this.rate));
          left -= n;
        }
        this.queue.shift();
        this.take(head.body);
        this.bytes += head.body.length;
        head.res.writeHead(200, { "content-type": "text/plain" }).end("ok");
      }
    } finally {
      this.pumping = false;
    }
  }

  private take(body: Buffer): void {
    for (const line of body.toString("utf8").split("\n")) {
      if (line.trim() === "") continue;
      if (this.opts.keepRaw) this.raw.push(line);
      let rec: { path?: unknown; log?: unknown };
      try {
        rec = JSON.parse(line) as typeof rec;
      } catch {
        this.delivery.unreadable.push(line.slice(0, 200));
        continue;
      }
      if (typeof rec.path !== "string" || typeof rec.log !== "string") {
        this.delivery.unreadable.push(line.slice(0, 200));
        continue;
      }
      const key = containerKey(this.opts.logRoot, rec.path);
      const n = (this.opts.parseLine ?? lineNumber)(rec.log);
      if (n === undefined) {
        const list = this.delivery.fragments.get(key) ?? [];
        list.push(rec.log);
        this.delivery.fragments.set(key, list);
        continue;
      }
      this.count(key, n);
    }
  }

  private count(key: string, n: number): void {
    let lines = this.delivery.counts.get(key);
    if (!lines) this.delivery.counts.set(key, (lines = new Map()));
    lines.set(n, (lines.get(n) ?? 0) + 1);
  }

  /** Counts the lines that two fragments of one container make when joined (head first); returns how many. */
  joinFragments(): number {
    const parse = this.opts.parseLine ?? lineNumber;
    let joined = 0;
    for (const [key, list] of this.delivery.fragments) {
      for (let i = 0; i < list.length; i++) {
        for (let j = 0; j < list.length; j++) {
          if (i === j) continue;
          const n = parse(list[i]! + list[j]!);
          if (n === undefined) continue;
          this.count(key, n);
          joined++;
          const [a, b] = i < j ? [j, i] : [i, j];
          list.splice(a, 1);
          list.splice(b, 1);
          i = -1; // start over: indexes moved
          break;
        }
      }
    }
    return joined;
  }
}

/** "<ns>_<pod>_<uid>/<container>" for a log file path under logRoot. */
export function containerKey(logRoot: string, path: string): string {
  const parts = relative(logRoot, path).split(sep);
  return parts.slice(0, -1).join("/");
}

export interface Accounting {
  written: number;
  delivered: number;
  /** written lines never delivered (minus `expectedMissing`) */
  lost: number;
  /** lines delivered more than once (each such line counted once) */
  duplicates: number;
  /** extra deliveries in all (a line delivered 3 times counts 2) */
  extraDeliveries: number;
  /** per container: first few lost and duplicated line numbers, for failure messages */
  detail: Record<string, { written: number; lost: number; duplicates: number; lostSample: number[]; duplicateSample: number[]; unexpected: number[] }>;
}

/**
 * Compares what was written (container key → lines 0..n-1) with what the sink got. `expectedMissing`
 * lists lines Fluent Bit is configured to skip (Skip_Long_Lines): those must be missing, and are not loss.
 */
export function account(written: Map<string, number>, delivery: Delivery, expectedMissing: Map<string, Set<number>> = new Map()): Accounting {
  const out: Accounting = { written: 0, delivered: 0, lost: 0, duplicates: 0, extraDeliveries: 0, detail: {} };
  const keys = new Set([...written.keys(), ...delivery.counts.keys()]);
  for (const key of keys) {
    const n = written.get(key) ?? 0;
    const got = delivery.counts.get(key) ?? new Map<number, number>();
    const skip = expectedMissing.get(key) ?? new Set<number>();
    const d = { written: n, lost: 0, duplicates: 0, lostSample: [] as number[], duplicateSample: [] as number[], unexpected: [] as number[] };
    for (let i = 0; i < n; i++) {
      const c = got.get(i) ?? 0;
      if (skip.has(i)) {
        if (c > 0) d.unexpected.push(i); // should have been skipped by Fluent Bit
        continue;
      }
      if (c === 0) {
        d.lost++;
        if (d.lostSample.length < 10) d.lostSample.push(i);
      } else if (c > 1) {
        d.duplicates++;
        out.extraDeliveries += c - 1;
        if (d.duplicateSample.length < 10) d.duplicateSample.push(i);
      }
      out.delivered += c;
    }
    for (const i of got.keys()) if (i >= n && d.unexpected.length < 10) d.unexpected.push(i);
    out.written += n - skip.size;
    out.lost += d.lost;
    out.duplicates += d.duplicates;
    out.detail[key] = d;
  }
  return out;
}
