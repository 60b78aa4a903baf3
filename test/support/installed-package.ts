// The package as users get it: `npm pack` of the checkout (after `npm run build`), then `npm install -g` of
// the tarball into a prefix of its own. The installed-package test does both every run; the e2e image
// (test/e2e/support/shim-image.ts) reuses an install of the very same tarball (same sha256) when one
// is cached, since better-sqlite3 compiles from source where no prebuilt binary can be downloaded.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, statSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rename, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { repoFile } from "./repo.js";

const run = promisify(execFile);

/** What the tests add to the documented `npm install -g <tarball>`: besides --prefix, the local cache first. */
export const INSTALL_FLAGS = ["--prefer-offline"] as const;
/** better-sqlite3 builds its native module in an install script; npm 11 asks for it to be allowed. */
export const ALLOW_SCRIPTS = "--allow-scripts=better-sqlite3";

const INSTALL_TIMEOUT_MS = 15 * 60_000; // a compile of sqlite3 on a loaded 2-core machine takes minutes
const CACHE_DIR = join(tmpdir(), "cri-logrotate-installed");
const CACHE_MAX_AGE_MS = 24 * 3600_000;

export interface PackedTarball {
  path: string;
  sha256: string;
  /** Paths inside the package, as `npm pack` lists them. */
  files: string[];
  version: string;
}

export interface InstalledPackage {
  prefix: string;
  /** <prefix>/bin/cri-logrotate, the symlink npm makes. */
  bin: string;
  /** <prefix>/lib/node_modules/cri-logrotate */
  root: string;
  /** How long `npm install` took; 0 when reused from the cache. */
  installMs: number;
}

// Settings of an outer `npm test` (npm_config_*, npm_lifecycle_*) must not leak into the nested npm.
function npmEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k)) env[k] = v;
  // npm's shebang and better-sqlite3's build need this very node first in PATH.
  env.PATH = [dirname(process.execPath), process.env.PATH ?? ""].join(":");
  return env;
}

async function npm(args: string[], cwd: string, timeout: number): Promise<string> {
  try {
    const { stdout } = await run("npm", args, { cwd, env: npmEnv(), timeout, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (cause) {
    const stderr = String((cause as { stderr?: string }).stderr ?? "").trim().split("\n").slice(-30).join("\n");
    throw new Error(`npm ${args.join(" ")} failed in "${cwd}":\n${stderr}`, { cause });
  }
}

/** `npm pack` of the checkout into `dest`. Needs `npm run build` first (the prepack script checks). */
export async function packCheckout(dest: string): Promise<PackedTarball> {
  const out = await npm(["pack", "--json", "--pack-destination", dest], repoFile("."), 120_000);
  // prepack's output goes to stdout before the JSON array.
  const json = JSON.parse(out.slice(out.indexOf("[")));
  const [info] = json as { filename: string; version: string; files: { path: string }[] }[];
  const path = join(dest, info!.filename);
  return { path, sha256: createHash("sha256").update(await readFile(path)).digest("hex"), files: info!.files.map((f) => f.path).sort(), version: info!.version };
}

/** `npm install -g --prefix <prefix> <tarball>`: exactly what a user runs, in a prefix of its own. */
export async function installTarball(tarball: string, prefix: string): Promise<InstalledPackage> {
  await mkdir(prefix, { recursive: true });
  const t0 = Date.now();
  await npm(["install", "--global", "--prefix", prefix, ...INSTALL_FLAGS, ALLOW_SCRIPTS, tarball], prefix, INSTALL_TIMEOUT_MS);
  return { ...installedAt(prefix), installMs: Date.now() - t0 };
}

function installedAt(prefix: string): Omit<InstalledPackage, "installMs"> {
  return { prefix, bin: join(prefix, "bin", "cri-logrotate"), root: join(prefix, "lib", "node_modules", "cri-logrotate") };
}

/** Keeps an install of this tarball for later suites of the same run (moves `installed.prefix`). */
export async function storeInCache(tarball: PackedTarball, installed: InstalledPackage): Promise<void> {
  await mkdir(CACHE_DIR, { recursive: true });
  pruneCache();
  const target = join(CACHE_DIR, tarball.sha256);
  if (existsSync(target)) return;
  await rename(installed.prefix, target).catch(() => undefined); // a concurrent run stored it first
}

/** An install of this tarball: from the cache when an earlier suite made one, else installed now. */
export async function installedFromCache(tarball: PackedTarball): Promise<InstalledPackage> {
  const cached = join(CACHE_DIR, tarball.sha256);
  if (existsSync(join(cached, "bin", "cri-logrotate"))) return { ...installedAt(cached), installMs: 0 };
  await mkdir(CACHE_DIR, { recursive: true });
  const work = await mkdtemp(join(CACHE_DIR, `.installing-${tarball.sha256.slice(0, 12)}-`));
  try {
    const fresh = await installTarball(tarball.path, join(work, "prefix"));
    await storeInCache(tarball, fresh);
    return existsSync(cached) ? { ...installedAt(cached), installMs: fresh.installMs } : fresh;
  } finally {
    if (existsSync(cached)) await rm(work, { recursive: true, force: true });
  }
}

// Installs of older checkouts: gone after a day.
function pruneCache(): void {
  let names: string[] = [];
  try {
    names = readdirSync(CACHE_DIR);
  } catch {
    return;
  }
  const now = Date.now();
  for (const name of names) {
    const p = join(CACHE_DIR, name);
    try {
      if (now - statSync(p).mtimeMs > CACHE_MAX_AGE_MS) void rm(p, { recursive: true, force: true });
    } catch {
      // removed meanwhile
    }
  }
}
