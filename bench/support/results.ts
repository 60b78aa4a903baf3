// Every benchmark writes bench/results/<name>.json in one shape and prints a small table.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

export interface BenchResult {
  name: string;
  value: number;
  unit: string;
  peer?: string;
  peerValue?: number;
  ratio?: number;
  target?: number;
  [extra: string]: unknown;
}

export function writeResult(result: BenchResult): string {
  const dir = fileURLToPath(new URL("../../../bench/results", import.meta.url)); // dist/bench/support → the checkout
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${result.name}.json`);
  writeFileSync(path, JSON.stringify(result, null, 2) + "\n");
  const rows: [string, string][] = [
    ["benchmark", result.name],
    ["ours", `${round(result.value)} ${result.unit}`],
  ];
  if (result.peer !== undefined) rows.push(["peer", `${result.peer}: ${round(result.peerValue!)} ${result.unit}`]);
  if (result.ratio !== undefined) rows.push(["ratio", round(result.ratio).toString()]);
  if (result.target !== undefined) rows.push(["target", result.target.toString()]);
  const width = Math.max(...rows.map(([k]) => k.length));
  console.log(rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n"));
  console.log(`written ${path}`);
  return path;
}

export function round(n: number): number {
  return Math.abs(n) >= 100 ? Math.round(n) : Number(n.toPrecision(3));
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
