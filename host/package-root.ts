import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let cached: string | undefined;

/** The directory holding cri-logrotate's package.json, whether we run from host/ sources or dist/. */
export function packageRoot(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "asconfig.json"))) return (cached = dir);
    const up = dirname(dir);
    if (up === dir) throw new Error(`cannot find the cri-logrotate package root above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
}
