// npm run bench:gzip — compress a 64 MiB CRI log (`<RFC3339Nano> stdout F <text>`, words and numbers
// picked by a seeded PRNG so it compresses like real logs) with our Executor.compress at level 6 (read,
// gzip, write .tmp with the source's mode, fsync, rename) and, in the same run, with the system's
// `gzip -6 -c file > out`. Rounds alternate; MB/s = input MiB / wall seconds, medians. Target: ours >= 0.9 x gzip.
import { execFileSync, spawn } from "node:child_process";
import { closeSync, linkSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Executor } from "../host/executor.js";
import { realFs } from "../host/fs.js";
import { systemClock } from "../host/clock.js";
import { median, writeResult } from "./support/results.js";

const SIZE = 64 * 1024 * 1024;
const WARMUP = 1;
const ROUNDS = 5;
const LEVEL = 6;

/** mulberry32: small, fast, seeded — the same log every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Lines as services write them: a few message shapes with variable fields (ids, counts, durations).
const PATHS = ["/api/v1/orders", "/api/v1/users", "/api/v1/carts", "/healthz", "/metrics", "/api/v2/search", "/login"];
const METHODS = ["GET", "GET", "GET", "POST", "PUT", "DELETE"];
const STATUS = [200, 200, 200, 200, 201, 204, 304, 400, 404, 500, 503];
const WORDS = "order user cart payment session token cache queue worker shard replica lease".split(" ");

function message(rand: () => number): string {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const n = (max: number) => Math.floor(rand() * max);
  const hex8 = () => n(2 ** 32).toString(16).padStart(8, "0");
  switch (n(8)) {
    case 0:
    case 1:
    case 2:
      return `level=info msg="request completed" method=${pick(METHODS)} path=${pick(PATHS)}/${n(5000)} status=${pick(STATUS)} duration_ms=${n(800)} bytes=${n(20000)} trace_id=${hex8()}${hex8()}`;
    case 3:
      return `level=debug msg="cache ${rand() < 0.7 ? "hit" : "miss"}" key=${pick(WORDS)}:${n(100000)} ttl_s=${pick([30, 60, 300, 3600])}`;
    case 4:
      return `level=info msg="processed batch" worker=${n(16)} topic=${pick(WORDS)}-events partition=${n(12)} offset=${100000 + n(900000)} records=${n(500)}`;
    case 5:
      return `level=warn msg="slow query" table=${pick(WORDS)}s rows=${n(10000)} took_ms=${200 + n(5000)} query="SELECT * FROM ${pick(WORDS)}s WHERE id = $1"`;
    case 6:
      return `{"ts":${1767323045 + n(100000)}.${n(1000)},"level":"${pick(["info", "info", "error"])}","logger":"${pick(WORDS)}.service","msg":"${pick(WORDS)} ${pick(["created", "updated", "deleted", "expired"])}","id":${n(1000000)}}`;
    default:
      return `${pick(["INFO", "INFO", "WARN", "ERROR"])} [${pick(WORDS)}-${n(8)}] ${pick(["connection established to", "retrying request to", "lease renewed by", "timeout waiting for"])} ${pick(WORDS)}-${n(4)}.svc.cluster.local:${pick([80, 443, 5432, 6379, 9092])}`;
  }
}

function writeLog(path: string): void {
  const rand = prng(0x5eed);
  const fd = openSync(path, "w", 0o640);
  let ms = Date.UTC(2026, 0, 2, 3, 4, 5);
  let written = 0;
  const parts: string[] = [];
  let pending = 0;
  while (written + pending < SIZE) {
    ms += Math.floor(rand() * 3);
    const nanos = String(Math.floor(rand() * 1e9)).padStart(9, "0").replace(/0+$/, "");
    const ts = new Date(ms).toISOString().slice(0, 19) + (nanos === "" ? "" : "." + nanos) + "Z";
    const line = `${ts} ${rand() < 0.9 ? "stdout" : "stderr"} F ${message(rand)}\n`;
    parts.push(line);
    pending += line.length;
    if (pending >= 1 << 20) {
      written += writeSync(fd, parts.join(""));
      parts.length = 0;
      pending = 0;
    }
  }
  if (parts.length) written += writeSync(fd, parts.join(""));
  closeSync(fd);
}

function systemGzip(src: string, dst: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn("sh", ["-c", `exec gzip -${LEVEL} -c "$0" > "$1"`, src, dst], { stdio: ["ignore", "ignore", "inherit"] });
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`gzip exited with ${code}`))));
  });
}

const dir = mkdtempSync(join(tmpdir(), "crl-bench-gzip-"));
try {
  const master = join(dir, "0.log.master");
  writeLog(master);
  const inBytes = statSync(master).size;
  const mib = inBytes / (1024 * 1024);
  const gzipVersion = execFileSync("gzip", ["--version"]).toString().split("\n")[0];
  const executor = new Executor({ fs: realFs, cri: { reopenContainerLog: async () => {} }, clock: systemClock, rotatedName: () => { throw new Error("no rotation in this benchmark"); } });
  const target = { id: "bench", dir: Buffer.from(dir), logName: Buffer.from("0.log") };

  let round = 0;
  let oursOut = 0;
  let peerOut = 0;
  async function ours(): Promise<number> {
    // compress removes its source: give it a fresh hard link to the same (cached) bytes each round.
    const name = `0.log.20260102-0304${String(round++).padStart(2, "0")}`;
    linkSync(master, join(dir, name));
    const t0 = process.hrtime.bigint();
    const action = { kind: "compress" as const, reason: "compress-rotated" as const, name: Buffer.from(name), unreadBytes: 0, detail: "" };
    const r = await executor.compress(target, action, LEVEL);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (r.kind !== "compress") throw new Error(`compression skipped: ${r.kind === "skip" ? r.why : r.kind}`);
    oursOut = r.bytesOut;
    rmSync(join(dir, `${name}.gz`));
    return mib / s;
  }
  async function peer(): Promise<number> {
    const out = join(dir, "peer.gz");
    const t0 = process.hrtime.bigint();
    await systemGzip(master, out);
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    peerOut = statSync(out).size;
    rmSync(out);
    return mib / s;
  }

  for (let i = 0; i < WARMUP; i++) {
    await ours();
    await peer();
  }
  const oursMBs: number[] = [];
  const peerMBs: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    if (r % 2 === 0) {
      oursMBs.push(await ours());
      peerMBs.push(await peer());
    } else {
      peerMBs.push(await peer());
      oursMBs.push(await ours());
    }
  }

  const value = median(oursMBs);
  const peerValue = median(peerMBs);
  console.log(`${mib.toFixed(1)} MiB CRI log, level ${LEVEL}, median of ${ROUNDS} rounds each (${gzipVersion})`);
  console.log(`ours MiB/s: ${oursMBs.map((x) => x.toFixed(1)).join(" ")}`);
  console.log(`gzip MiB/s: ${peerMBs.map((x) => x.toFixed(1)).join(" ")}`);
  console.log(`compression ratio: ours ${(inBytes / oursOut).toFixed(2)}x, gzip ${(inBytes / peerOut).toFixed(2)}x`);
  writeResult({
    name: "gzip",
    value,
    unit: "MiB/s",
    peer: `gzip -${LEVEL}`,
    peerValue,
    ratio: value / peerValue,
    target: 0.9,
    inputBytes: inBytes,
    oursOutputBytes: oursOut,
    peerOutputBytes: peerOut,
    oursCompressionRatio: inBytes / oursOut,
    peerCompressionRatio: inBytes / peerOut,
    rounds: ROUNDS,
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
